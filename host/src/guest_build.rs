//! How the customer-web component is built for embedding: one `cargo`
//! command, run from the workspace root. `host/build.rs` runs it, and
//! `spin.toml`'s build command must be this very command (checked by the
//! e2e crate's `spin` test), so `spin build` and the host make the same
//! bytes in the same place.

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
