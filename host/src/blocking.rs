//! Blocking work inside a call: the capabilities' backends (SQLite,
//! PostgreSQL's client, the outbox, the directory) block their thread.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, a call into a blocking backend. On a worker of a
/// multi-threaded tokio runtime (an instance serving HTTP on its request's
/// task, see [`PluginHost::handle_http_async`](crate::PluginHost::handle_http_async))
/// the worker's other tasks move to another thread first, so one slow
/// backend stalls one request, not the server, and a client that runs its
/// own runtime (PostgreSQL's) may block. Elsewhere (a blocking thread, a
/// thread of no runtime) `f` simply runs.
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
