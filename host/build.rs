//! Builds the customer-web component (a wasm32-wasip2 cdylib) so the host
//! can embed it: `CUSTOMER_WEB_WASM` names the built `.wasm`.
//!
//! The inner cargo gets its own target directory and a clean environment
//! (`guest_build::wasm_cargo`).

use std::env;
use std::path::PathBuf;

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
    let mut cmd = guest_build::wasm_cargo(&root, guest_build::CARGO_ARGS);
    cmd.arg(root.join(guest_build::TARGET_DIR));
    let status = cmd.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the customer-web component for {target} failed (a missing target: run `rustup target add {target}`)",
        target = guest_build::WASM_TARGET
    );
    let wasm = root.join(guest_build::WASM);
    println!("cargo:rustc-env=CUSTOMER_WEB_WASM={}", wasm.display());
}
