//! How the customer-web component is built for embedding: one `cargo`
//! command, run from the workspace root. `host/build.rs` runs it, and
//! `spin.toml`'s build command must be this very command (checked by the
//! e2e crate's `spin` test), so `spin build` and the host make the same
//! bytes in the same place. The e2e crate's build script builds the Spin
//! components with [`wasm_cargo`] too.

use std::path::Path;
use std::process::Command;

/// `cargo` arguments; the target directory ([`TARGET_DIR`]) follows.
pub const CARGO_ARGS: &[&str] = &[
    "build",
    "--package",
    "customer-web-component",
    "--release",
    "--target",
    "wasm32-wasip2",
    "--target-dir",
];

/// The guest's own target directory, relative to the workspace root: the
/// outer build's would deadlock on cargo's build lock.
pub const TARGET_DIR: &str = "target/guest";

/// The built component, relative to the workspace root.
pub const WASM: &str = "target/guest/wasm32-wasip2/release/customer_web_component.wasm";

/// The target every wasm build is for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Makes sure the toolchain `rust-toolchain.toml` names in `root` has the
/// wasm32-wasip2 standard library. rustup adds a toolchain file's targets
/// when it installs the toolchain, but not to a toolchain that was already
/// there (a machine with Rust 1.95.0 installed before the project): then
/// the first build adds it, so no one installs anything by hand. Without
/// rustup there is nothing to add it with, and the wasm build's own error
/// names the missing target.
pub fn ensure_wasm_target(root: &Path) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let Some(sysroot) = sysroot else { return };
    let lib = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .join("lib");
    if lib.is_dir() {
        return;
    }
    // Two build scripts (the host's and the e2e crate's) may get here at
    // once; one adds the target, the other waits for it. A directory is
    // the lock: making one is atomic.
    let lock = root.join("target").join("wasm-target-add.lock");
    let _ = std::fs::create_dir_all(root.join("target"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while std::fs::create_dir(&lock).is_err() {
        if std::time::Instant::now() > deadline {
            // A lock left by a killed build: take it over.
            let _ = std::fs::remove_dir(&lock);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    if !lib.is_dir() {
        println!(
            "cargo:warning=adding the {WASM_TARGET} target to the toolchain (rustup target add {WASM_TARGET})"
        );
        let status = Command::new("rustup")
            .current_dir(root)
            .args(["target", "add", WASM_TARGET])
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => println!(
                "cargo:warning=`rustup target add {WASM_TARGET}` failed ({status}); run it yourself in {}",
                root.display()
            ),
            Err(e) => println!(
                "cargo:warning=rustup not found ({e}): install the {WASM_TARGET} target for this toolchain"
            ),
        }
    }
    let _ = std::fs::remove_dir(&lock);
}

/// `cargo ARGS` for a wasm32-wasip2 build run from a build script, in the
/// workspace `root`, as `spin build` runs it there: without the outer
/// build's `CARGO_*` (but `CARGO_HOME`), `RUSTFLAGS` and `RUSTC*` settings,
/// which describe the native build, not the wasm one (the inner build must name its own
/// `--target-dir`: sharing the outer one deadlocks on cargo's build lock).
/// `CUSTOMER_WEB_OFFLINE` adds `--offline`.
pub fn wasm_cargo(root: &Path, args: &[&str]) -> Command {
    ensure_wasm_target(root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(args);
    if std::env::var_os("CUSTOMER_WEB_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        // CARGO_HOME stays: it is where the crates are, not a setting of
        // the native build, and the registry's path ends up in the wasm
        // (panic locations): `spin build` in the same shell must see the
        // same one to make the same bytes.
        if (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key == "RUSTFLAGS"
            || key == "RUSTC"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTDOC"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}
