//! The wasmtime host of customer-web: it runs the customer-web component
//! and supplies its capabilities — versioned storage (SQLite or memory), a
//! durable mail outbox, the insurer's directory, configuration and the audit
//! trail — and carries the `customer-web` command.
//!
//! ```no_run
//! use customer_web_host::{Capabilities, HostOptions, PluginHost};
//!
//! let host = PluginHost::embedded(Capabilities::in_memory(), HostOptions::default())?;
//! let flow = host.call(|plugin, store| plugin.customer_web_plugin_enrollment().call_start(store, Some("AG001")))?;
//! assert!(flow.is_ok());
//! # anyhow::Ok(())
//! ```
#![deny(missing_docs)]

pub mod audit;
#[allow(missing_docs)] // generated from wit/, whose items are all documented there
pub mod bindings;
pub mod clock;
pub mod config;
pub mod ctx;
pub mod db;
pub mod dev;
pub mod guard;
pub mod guest_build;
/// The insurer's directory ([`FileDirectory`](directory::FileDirectory) and the
/// [`Directory`](directory::Directory) trait), shared with the Spin adapter.
pub use customer_web_directory as directory;
pub mod directory_sql;
mod imports;
pub mod mail;
pub mod plugin;
pub mod serve;
#[cfg(feature = "spin-harness")]
pub mod spin;
pub mod storage;

pub use ctx::{Capabilities, HostCtx};
pub use plugin::{HostOptions, PluginHost};
