//! What one call into the component sees: the WASI context (wall clock and
//! randomness only; no files, sockets or environment) and the host's
//! capabilities, shared by every call.

use std::path::Path;

use anyhow::Context as _;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::audit::{AuditLog, MemoryAuditLog, PostgresAuditLog, SqliteAuditLog};
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::{Directory, FileDirectory};
use crate::mail::{MemoryOutbox, PostgresOutbox, SharedOutbox, SqliteOutbox};
use crate::storage::{MemoryStore, PostgresStore, SharedStore, SqliteStore};

/// The name of the database file in a data directory.
pub const DATABASE_FILE: &str = "customer-web.sqlite3";

/// The capabilities the host supplies to the component.
#[derive(Clone)]
pub struct Capabilities {
    /// Versioned key-value storage, on [`Capabilities::clock`].
    pub store: Arc<dyn SharedStore>,
    /// The durable outbox mail goes into.
    pub outbox: Arc<dyn SharedOutbox>,
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
        let clock = Clock::system();
        Capabilities {
            store: Arc::new(MemoryStore::new(Arc::new(clock.clone()))),
            outbox: Arc::new(MemoryOutbox::new()),
            directory: Arc::new(FileDirectory::sample()),
            audit: Arc::new(MemoryAuditLog::new()),
            settings: Settings::default(),
            clock,
        }
    }

    /// The embedded default: storage, outbox and audit trail in one SQLite
    /// file (WAL) in `data_dir`, and the given directory.
    pub fn sqlite(data_dir: &Path, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        Self::sqlite_file(&data_dir.join(DATABASE_FILE), directory)
    }

    /// Storage, outbox and audit trail in the SQLite file at `path`.
    pub fn sqlite_file(db: &Path, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        let db = db.to_path_buf();
        let clock = Clock::system();
        Ok(Capabilities {
            store: Arc::new(SqliteStore::open(&db, Arc::new(clock.clone()))?),
            outbox: Arc::new(SqliteOutbox::open(&db)?),
            directory,
            audit: Arc::new(SqliteAuditLog::open(&db)?),
            settings: Settings::default(),
            clock,
        })
    }

    /// Storage, outbox and audit trail in the PostgreSQL database at `url`,
    /// over one pool of at most `connections`: what several hosts share.
    pub fn postgres(url: &str, connections: usize, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        let pool = Arc::new(customer_web_sql::postgres::PgPool::connect(url, connections)?);
        let clock = Clock::system();
        Ok(Capabilities {
            store: Arc::new(PostgresStore::on(pool.clone(), Arc::new(clock.clone()))?),
            outbox: Arc::new(PostgresOutbox::on(pool.clone())?),
            directory,
            audit: Arc::new(PostgresAuditLog::on(pool)?),
            settings: Settings::default(),
            clock,
        })
    }

    /// The capabilities on the database `spec` names: `postgres://…` (or
    /// `postgresql://…`, with a pool of at most `connections`),
    /// `sqlite:PATH`, or none: the SQLite file in `data_dir`.
    pub fn on_database(
        spec: Option<&str>,
        connections: usize,
        data_dir: &Path,
        directory: Arc<dyn Directory>,
    ) -> anyhow::Result<Self> {
        match spec {
            None => Self::sqlite(data_dir, directory),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::postgres(url, connections, directory)
                    .map_err(|e| anyhow::anyhow!("{e:#}"))
                    .with_context(|| format!("the database {}", redact_url(url)))
            }
            Some(path) if path.starts_with("sqlite:") => {
                Self::sqlite_file(Path::new(path.trim_start_matches("sqlite:")), directory)
            }
            Some(other) => anyhow::bail!(
                "--database {}: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:PATH",
                redact_url(other)
            ),
        }
    }
}

/// Connections each host keeps to PostgreSQL at most, unless told
/// (`--database-connections`): enough for the instance slots and the
/// workers, few enough that several hosts fit the server's default of 100.
pub const POSTGRES_CONNECTIONS: usize = 16;

/// A database URL as it may be logged: without its password.
pub use customer_web_sql::redact_url;

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
