//! What one call into the component sees: the WASI context (wall clock and
//! randomness only; no files, sockets or environment) and the host's
//! capabilities, shared by every call.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::audit::{AuditLog, MemoryAuditLog, SqliteAuditLog};
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::{Directory, FileDirectory};
use crate::mail::{MemoryOutbox, Outbox, SqliteOutbox};
use crate::storage::{MemoryStore, SqliteStore, Store};

/// The name of the database file in a data directory.
pub const DATABASE_FILE: &str = "customer-web.sqlite3";

/// The capabilities the host supplies to the component.
#[derive(Clone)]
pub struct Capabilities {
    /// Versioned key-value storage.
    pub store: Arc<dyn Store>,
    /// The durable outbox mail goes into.
    pub outbox: Arc<dyn Outbox>,
    /// The insurer's policyholders and contracts.
    pub directory: Arc<dyn Directory>,
    /// The security audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The portal's settings.
    pub settings: Settings,
    /// The wall clock (the component's and the capabilities').
    pub clock: Clock,
}

impl Capabilities {
    /// Everything in memory, with the sample directory: for tests.
    pub fn in_memory() -> Self {
        Capabilities {
            store: Arc::new(MemoryStore::new()),
            outbox: Arc::new(MemoryOutbox::new()),
            directory: Arc::new(FileDirectory::sample()),
            audit: Arc::new(MemoryAuditLog::new()),
            settings: Settings::default(),
            clock: Clock::system(),
        }
    }

    /// The embedded default: storage, outbox and audit trail in one SQLite
    /// file (WAL) in `data_dir`, and the given directory.
    pub fn sqlite(data_dir: &Path, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        let db = data_dir.join(DATABASE_FILE);
        Ok(Capabilities {
            store: Arc::new(SqliteStore::open(&db)?),
            outbox: Arc::new(SqliteOutbox::open(&db)?),
            directory,
            audit: Arc::new(SqliteAuditLog::open(&db)?),
            settings: Settings::default(),
            clock: Clock::system(),
        })
    }
}

/// The data of one `Store`: one call, one instance.
pub struct HostCtx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) caps: Arc<Capabilities>,
    pub(crate) limits: Limits,
    /// The Spin stand-in's state, for a host made by `PluginHost::spin`.
    #[cfg(feature = "spin-harness")]
    pub(crate) spin: Option<crate::spin::SpinCtx>,
}

impl HostCtx {
    /// A context over shared capabilities, with these resource limits.
    pub fn new(caps: Arc<Capabilities>, limits: StoreLimits) -> Self {
        // No preopened directories, no environment, no arguments, no
        // network: the component gets a clock and randomness, nothing else.
        let wasi = WasiCtx::builder()
            .wall_clock(caps.clock.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostCtx {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            caps,
            limits: Limits {
                limits,
                peak_memory: 0,
            },
            #[cfg(feature = "spin-harness")]
            spin: None,
        }
    }

    /// The Spin stand-in's state of this call. Only a host made by
    /// `PluginHost::spin` links the functions that ask for it, and it gives
    /// every call one.
    #[cfg(feature = "spin-harness")]
    pub(crate) fn spin(&mut self) -> &mut crate::spin::SpinCtx {
        self.spin
            .as_mut()
            .expect("PluginHost::spin gives every call a Spin context")
    }

    /// The largest size, in bytes, that a linear memory of this store's
    /// instance has been allowed to reach, its initial size included: the
    /// call's peak memory, to set beside `HostOptions::memory_limit`.
    /// Read it at the end of the call, from the store.
    pub fn peak_memory(&self) -> usize {
        self.limits.peak_memory
    }

    /// Seconds since the Unix epoch on the host's clock.
    pub(crate) fn now(&self) -> u64 {
        self.caps.clock.now()
    }
}

/// The store's resource limiter: wasmtime's [`StoreLimits`], noting the
/// largest memory size it allows (one comparison per memory growth).
pub(crate) struct Limits {
    limits: StoreLimits,
    peak_memory: usize,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for HostCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        #[cfg(feature = "spin-harness")]
        if let Some(spin) = &mut self.spin {
            // Outgoing requests (the adapter's mail relay) go to the relay.
            return WasiHttpCtxView {
                ctx: &mut self.http,
                table: &mut self.table,
                hooks: &mut spin.relay,
            };
        }
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}
