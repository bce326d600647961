//! How the customer-web components are built for wasm32-wasip2: one
//! `cargo` command each, run from the workspace root. `spin.toml`'s build
//! commands are these very commands (the e2e crate's `spin` tests check
//! it), so `spin build` and the Rust build make the same bytes in the same
//! place and compile them once. `customer-web-artifacts` runs them from its
//! build script; the HTTP benchmark builds the hello-world with them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every wasm build is for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The cargo profile of every wasm build (the workspace's `[profile.wasm]`:
/// release, with one codegen unit and whole-program LTO), and the
/// directory under `{target_dir}/wasm32-wasip2` that holds its output.
pub const WASM_PROFILE: &str = "wasm";

/// One wasm component and the command that builds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WasmBuild {
    /// The cargo package.
    pub package: &'static str,
    /// Its own target directory, relative to the workspace root: an outer
    /// build's would deadlock on cargo's build lock.
    pub target_dir: &'static str,
    /// The file name of the built `.wasm`, without the extension.
    pub artifact: &'static str,
}

/// The customer-web component (`component/guest`).
pub const COMPONENT: WasmBuild = WasmBuild {
    package: "customer-web-component",
    target_dir: "target/guest",
    artifact: "customer_web_component",
};

/// The Spin adapter (`spin/adapter`).
pub const SPIN_ADAPTER: WasmBuild = WasmBuild {
    package: "customer-web-spin-adapter",
    target_dir: "target/spin",
    artifact: "customer_web_spin_adapter",
};

/// The Spin dev mailbox (`spin/dev-mailbox`).
pub const SPIN_DEV_MAILBOX: WasmBuild = WasmBuild {
    package: "customer-web-spin-dev-mailbox",
    target_dir: "target/spin",
    artifact: "customer_web_spin_dev_mailbox",
};

/// The component that runs the storage checks through the adapter under
/// `spin up` (`spin/conformance`; no build section in spin.toml: only the
/// tests serve it).
pub const SPIN_CONFORMANCE: WasmBuild = WasmBuild {
    package: "customer-web-spin-conformance",
    target_dir: "target/spin",
    artifact: "customer_web_spin_conformance",
};

/// The hello-world `wasi:http` component the HTTP benchmark measures the
/// host with (`component/hello`).
pub const HELLO: WasmBuild = WasmBuild {
    package: "customer-web-hello",
    target_dir: "target/hello",
    artifact: "customer_web_hello",
};

/// A wasm32-wasip2 command that prints argon2 outputs over a grid of
/// parameters (`tests/argon2-vectors`), which the e2e suite compares with
/// the same grid computed natively.
pub const ARGON2_VECTORS: WasmBuild = WasmBuild {
    package: "customer-web-argon2-vectors",
    target_dir: "target/vectors",
    artifact: "customer-web-argon2-vectors",
};

impl WasmBuild {
    /// `cargo`'s arguments, in spin.toml's order.
    pub fn args(&self) -> [&'static str; 9] {
        [
            "build",
            "--package",
            self.package,
            "--profile",
            WASM_PROFILE,
            "--target",
            WASM_TARGET,
            "--target-dir",
            self.target_dir,
        ]
    }

    /// The command as spin.toml writes it.
    pub fn command(&self) -> String {
        format!("cargo {}", self.args().join(" "))
    }

    /// The built `.wasm`, relative to the workspace root.
    pub fn wasm(&self) -> String {
        format!(
            "{}/{WASM_TARGET}/{WASM_PROFILE}/{}.wasm",
            self.target_dir, self.artifact
        )
    }

    /// Cargo's dep-info of the build: every source file it read.
    pub fn dep_info(&self) -> String {
        format!(
            "{}/{WASM_TARGET}/{WASM_PROFILE}/{}.d",
            self.target_dir, self.artifact
        )
    }

    /// Runs the build in the workspace `root` ([`wasm_cargo`]); the built
    /// `.wasm`, or what failed.
    pub fn run(&self, root: &Path) -> Result<PathBuf, String> {
        let status = wasm_cargo(root, &self.args())
            .status()
            .map_err(|e| format!("`{}` did not start: {e}", self.command()))?;
        if !status.success() {
            return Err(format!(
                "`{}` failed ({status}; a missing target: run `rustup target add {WASM_TARGET}`)",
                self.command()
            ));
        }
        Ok(root.join(self.wasm()))
    }

    /// What the build in `root` read there, by its dep-info
    /// ([`sources`]): the workspace's files (the registry's never change;
    /// `Cargo.lock` names their versions), the manifests of the packages
    /// they belong to, the workspace's manifest, lock file, toolchain and
    /// cargo configuration (the wasm target's flags).
    pub fn inputs(&self, root: &Path) -> Vec<PathBuf> {
        let mut inputs: Vec<PathBuf> = sources(&root.join(self.dep_info()))
            .into_iter()
            .filter(|source| source.starts_with(root))
            .collect();
        let manifests: Vec<PathBuf> = inputs
            .iter()
            .filter_map(|source| {
                source
                    .ancestors()
                    .skip(1)
                    .take_while(|dir| dir.starts_with(root))
                    .map(|dir| dir.join("Cargo.toml"))
                    .find(|manifest| manifest.is_file())
            })
            .collect();
        inputs.extend(manifests);
        inputs.extend(
            [
                "Cargo.toml",
                "Cargo.lock",
                "rust-toolchain.toml",
                ".cargo/config.toml",
            ]
            .map(|file| root.join(file)),
        );
        inputs.sort();
        inputs.dedup();
        inputs
    }
}

/// The files a cargo dep-info file (`target: source source …`, spaces in
/// names escaped with `\`) lists; none when it is missing.
pub fn sources(dep_info: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for line in text.lines() {
        let Some((_, list)) = line.split_once(": ") else {
            continue;
        };
        let mut current = String::new();
        let mut escaped = false;
        for c in list.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                ' ' if !escaped => {
                    if !current.is_empty() {
                        files.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                c => {
                    escaped = false;
                    current.push(c);
                }
            }
        }
        if !current.is_empty() {
            files.push(PathBuf::from(current));
        }
    }
    files
}

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
    // Two builds may get here at once; one adds the target, the other
    // waits for it. A directory is the lock: making one is atomic.
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

/// `cargo ARGS` for a wasm32-wasip2 build run from a build script or a
/// benchmark, in the workspace `root`, as `spin build` runs it there:
/// without the outer build's `CARGO_*` (but `CARGO_HOME`), `RUSTFLAGS` and
/// `RUSTC*` settings, which describe the native build, not the wasm one.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_are_spin_tomls() {
        assert_eq!(
            COMPONENT.command(),
            "cargo build --package customer-web-component --profile wasm --target wasm32-wasip2 --target-dir target/guest"
        );
        assert_eq!(
            COMPONENT.wasm(),
            "target/guest/wasm32-wasip2/wasm/customer_web_component.wasm"
        );
        assert_eq!(
            SPIN_ADAPTER.dep_info(),
            "target/spin/wasm32-wasip2/wasm/customer_web_spin_adapter.d"
        );
    }

    #[test]
    fn dep_info_lists_every_source_with_escaped_spaces() {
        let dir = std::env::temp_dir().join(format!("wasm-cargo-dep-info-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.join("x.d");
        std::fs::write(&d, "/t/x.wasm: /w/a.rs /w/my\\ dir/b.rs /w/c.wit\n\n/w/a.rs:\n").unwrap();
        assert_eq!(
            sources(&d),
            [
                PathBuf::from("/w/a.rs"),
                PathBuf::from("/w/my dir/b.rs"),
                PathBuf::from("/w/c.wit")
            ]
        );
        assert!(sources(&dir.join("missing.d")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
