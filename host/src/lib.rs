//! The wasmtime host of customer-web, as a library: it runs the
//! customer-web component and supplies its capabilities — versioned
//! storage (SQLite, PostgreSQL or memory), a durable mail outbox, the
//! insurer's directory, configuration, the audit trail and, where chosen,
//! native hashing ([`hashing`]). The
//! `customer-web` command (`cli/`) is built on it.
//!
//! It links the capabilities into an embedder's own `Linker<T>`
//! ([`add_to_linker`], [`add_wasi_to_linker`], see [`link`]);
//! [`PluginHost`] is that with an engine around it:
//!
//! ```no_run
//! use customer_web_host::{Capabilities, HostOptions, PluginHost};
//!
//! let wasm = std::fs::read("customer_web_component.wasm")?;
//! let host = PluginHost::new(&wasm, Capabilities::in_memory(), HostOptions::default())?;
//! let flow = host.call(|plugin, store| plugin.customer_web_plugin_enrollment().call_start(store, Some("AG001")))?;
//! assert!(flow.is_ok());
//! # anyhow::Ok(())
//! ```
#![deny(missing_docs)]

pub mod audit;
#[allow(missing_docs)] // generated from wit/, whose items are all documented there
pub mod bindings;
mod blocking;
pub mod clock;
pub mod config;
pub mod ctx;
pub mod dev;
mod fields;
pub mod guard;
pub mod hashing;
/// The insurer's directory ([`FileDirectory`](directory::FileDirectory) and the
/// [`Directory`](directory::Directory) trait), shared with the Spin adapter.
pub use customer_web_directory as directory;
pub mod directory_sql;
mod imports;
pub mod link;
pub mod mail;
pub mod plugin;
pub mod precompiled;
pub mod serve;
pub mod storage;

pub use ctx::{CallExtension, Capabilities, HostCtx};
pub use link::{CustomerWeb, Fault, HasCustomerWeb, add_to_linker, add_wasi_to_linker};

/// The log filter `customer-web` runs with: `spec` (`RUST_LOG`'s syntax,
/// e.g. `info` or `trace`), with the libraries under the host held to
/// what cannot carry a request's contents whatever `spec` says. At TRACE,
/// wasmtime-wasi-http's generated bindings log every value the component
/// reads (paths with link tokens, cookies with sessions), hyper logs
/// headers and lettre the SMTP dialogue with the mail body; none of that
/// may reach a log.
pub fn log_filter(spec: &str) -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_new(spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    for clamp in [
        "wasmtime_wasi_http=warn",
        "wasmtime_wasi=warn",
        "wasmtime=warn",
        "hyper=info",
        "hyper_util=info",
        "lettre=info",
    ] {
        if let Ok(directive) = clamp.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}
pub use plugin::{HostOptions, PluginHost};

/// The CPUs this process may use, asked of the system once: the question
/// reads three files under `/proc` and `/sys` each time (cgroup quotas),
/// and a start asked it half a dozen times.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Lets the calling thread run on every CPU the process may use (the main
/// thread's mask). For threads started from the thread that opens the
/// capabilities at a start, which runs away from the main thread's CPU
/// and whose mask they would otherwise inherit: `customer-web serve`
/// builds its runtime there, and its workers call this as they start.
pub fn any_cpu() {
    #[cfg(target_os = "linux")]
    // SAFETY: the set is a plain bit array, zeroed, filled by the kernel
    // and passed with its size; the process id names the main thread.
    unsafe {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(libc::getpid(), size, &mut set) == 0 {
            let _ = libc::sched_setaffinity(0, size, &set);
        }
    }
}
