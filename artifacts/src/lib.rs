//! The customer-web WebAssembly components, built by this crate's build
//! script (see `build.rs`) with spin.toml's commands: their paths and
//! bytes.
//!
//! ```
//! assert!(customer_web_artifacts::COMPONENT.starts_with(b"\0asm"));
//! ```

/// The customer-web component's `.wasm`.
pub const COMPONENT_PATH: &str = env!("CUSTOMER_WEB_COMPONENT_WASM");

/// The customer-web component: what the host embeds, and what `spin
/// build` makes from the same command.
pub const COMPONENT: &[u8] = include_bytes!(env!("CUSTOMER_WEB_COMPONENT_WASM"));

/// SHA-256 of [`COMPONENT`], taken when it was built.
///
/// ```
/// use sha2::{Digest, Sha256};
/// assert_eq!(customer_web_artifacts::COMPONENT_SHA256, <[u8; 32]>::from(Sha256::digest(customer_web_artifacts::COMPONENT)));
/// ```
pub const COMPONENT_SHA256: [u8; 32] = include!(concat!(env!("OUT_DIR"), "/component_sha256.rs"));

/// The Spin adapter's `.wasm` (target/spin).
#[cfg(feature = "spin")]
pub const SPIN_ADAPTER_PATH: &str = env!("CUSTOMER_WEB_SPIN_ADAPTER_WASM");

/// The Spin dev mailbox's `.wasm` (target/spin).
#[cfg(feature = "spin")]
pub const SPIN_DEV_MAILBOX_PATH: &str = env!("CUSTOMER_WEB_SPIN_DEV_MAILBOX_WASM");

/// The conformance component's `.wasm` (target/spin).
#[cfg(feature = "spin")]
pub const SPIN_CONFORMANCE_PATH: &str = env!("CUSTOMER_WEB_SPIN_CONFORMANCE_WASM");
