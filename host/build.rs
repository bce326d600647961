//! Builds the customer-web component (a wasm32-wasip2 cdylib) so the host
//! can embed it: `CUSTOMER_WEB_WASM` names the built `.wasm`.
//!
//! The inner cargo gets its own target directory (sharing the outer one
//! deadlocks on cargo's build lock) and none of the outer build's CARGO_* or
//! RUSTFLAGS settings, which describe the native build, not the guest.

use std::env;
use std::path::PathBuf;
use std::process::Command;

#[path = "src/guest_build.rs"]
mod guest_build;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();
    for watched in ["component", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(guest_build::CARGO_ARGS)
        .arg(root.join(guest_build::TARGET_DIR));
    if env::var_os("CUSTOMER_WEB_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_")
            || key == "RUSTFLAGS"
            || key == "RUSTC"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTDOC"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building the customer-web component failed");
    let wasm = root.join(guest_build::WASM);
    println!("cargo:rustc-env=CUSTOMER_WEB_WASM={}", wasm.display());
}
