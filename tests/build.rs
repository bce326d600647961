//! Builds the Spin app's own components, so the Spin tests find them after
//! a plain `cargo test`: the adapter (`SPIN_ADAPTER_WASM`) and the dev
//! mailbox (`SPIN_DEV_MAILBOX_WASM`), each with exactly the cargo command
//! of its build section in spin.toml, into target/spin; and beside them
//! the component that runs the storage checks through the adapter
//! (`SPIN_CONFORMANCE_WASM`). (The customer-web
//! component itself is host/build.rs's, in target/guest; its path is
//! `CUSTOMER_WEB_WASM` here too, for the tests that hand the very file the
//! host embeds to another runtime, such as Node.js.)
//!
//! Each inner cargo gets its own target directory and a clean environment
//! (`guest_build::wasm_cargo`, shared with host/build.rs).

use std::env;
use std::path::{Path, PathBuf};

#[path = "../host/src/guest_build.rs"]
#[allow(dead_code)] // the guest's build is host/build.rs's business; only its path is used
mod guest_build;

/// spin.toml's commands, word for word, after `cargo`.
const ADAPTER: [&str; 8] = [
    "build",
    "--package",
    "customer-web-spin-adapter",
    "--release",
    "--target",
    "wasm32-wasip2",
    "--target-dir",
    "target/spin",
];
/// The conformance component (no build section: only the tests serve it).
const CONFORMANCE: [&str; 8] = [
    "build",
    "--package",
    "customer-web-spin-conformance",
    "--release",
    "--target",
    "wasm32-wasip2",
    "--target-dir",
    "target/spin",
];
const DEV_MAILBOX: [&str; 8] = [
    "build",
    "--package",
    "customer-web-spin-dev-mailbox",
    "--release",
    "--target",
    "wasm32-wasip2",
    "--target-dir",
    "target/spin",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf();
    // What the two components are built from: their sources, the SQL
    // crate and the crates it and they use.
    for watched in [
        "spin",
        "sql",
        "wit",
        "component/core",
        "component/directory",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!(
        "cargo:rustc-env=CUSTOMER_WEB_WASM={}",
        root.join(guest_build::WASM).display()
    );
    let release = root.join("target/spin/wasm32-wasip2/release");
    build(&root, &ADAPTER);
    println!(
        "cargo:rustc-env=SPIN_ADAPTER_WASM={}",
        release.join("customer_web_spin_adapter.wasm").display()
    );
    build(&root, &DEV_MAILBOX);
    println!(
        "cargo:rustc-env=SPIN_DEV_MAILBOX_WASM={}",
        release.join("customer_web_spin_dev_mailbox.wasm").display()
    );
    build(&root, &CONFORMANCE);
    println!(
        "cargo:rustc-env=SPIN_CONFORMANCE_WASM={}",
        release.join("customer_web_spin_conformance.wasm").display()
    );
}

/// Runs `cargo ARGS` in the workspace root, as `spin build` runs it there.
fn build(root: &Path, args: &[&str]) {
    let mut cmd = guest_build::wasm_cargo(root, args);
    let status = cmd.status().expect("cargo runs");
    assert!(
        status.success(),
        "`cargo {}` failed (a missing target: run `rustup target add {}`)",
        args.join(" "),
        guest_build::WASM_TARGET
    );
}
