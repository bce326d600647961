//! Builds the components for wasm32-wasip2, each with spin.toml's own
//! command (`customer-web-wasm-cargo`), in its own target directory under
//! the workspace's `target/` (where `spin build` leaves it too, so the two
//! compile it once), then reruns only when a file the build read changes:
//! cargo's dep-info of each build names them (sources, WIT, templates,
//! stylesheet, data), and their packages' manifests.
//!
//! The component always; with the `spin` feature, the Spin adapter, the
//! dev mailbox and the conformance component as well.

use std::path::{Path, PathBuf};

use customer_web_wasm_cargo::{COMPONENT, SPIN_ADAPTER, SPIN_CONFORMANCE, SPIN_DEV_MAILBOX, WasmBuild};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("artifacts/ sits in the workspace root")
        .to_path_buf();
    let mut builds = vec![("CUSTOMER_WEB_COMPONENT_WASM", COMPONENT)];
    if std::env::var_os("CARGO_FEATURE_SPIN").is_some() {
        builds.extend([
            ("CUSTOMER_WEB_SPIN_ADAPTER_WASM", SPIN_ADAPTER),
            ("CUSTOMER_WEB_SPIN_DEV_MAILBOX_WASM", SPIN_DEV_MAILBOX),
            ("CUSTOMER_WEB_SPIN_CONFORMANCE_WASM", SPIN_CONFORMANCE),
        ]);
    }
    for (env, build) in builds {
        let wasm = built(&root, &build);
        println!("cargo:rustc-env={env}={}", wasm.display());
        for input in build.inputs(&root) {
            println!("cargo:rerun-if-changed={}", input.display());
        }
        // The built file itself, too: its digest below must be of the
        // bytes the crate embeds, whoever wrote them last.
        println!("cargo:rerun-if-changed={}", wasm.display());
        if build == COMPONENT {
            digest(&wasm);
        }
    }
    println!("cargo:rerun-if-env-changed=CUSTOMER_WEB_OFFLINE");
}

/// The component's SHA-256 as a Rust array in `OUT_DIR`, so a host that
/// embeds it names its precompiled file without hashing megabytes at every
/// start.
fn digest(wasm: &Path) {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    let digest: Vec<String> = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:#04x}"))
        .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("component_sha256.rs");
    std::fs::write(&out, format!("[{}]\n", digest.join(", ")))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

fn built(root: &Path, build: &WasmBuild) -> PathBuf {
    build.run(root).unwrap_or_else(|e| panic!("{e}"))
}
