//! The capabilities the host supplies ([`Capabilities`]), and what one call
//! of a [`PluginHost`](crate::PluginHost) sees ([`HostCtx`]): the WASI
//! context (wall clock and randomness only; no files, sockets or
//! environment), the capabilities shared by every call, and what an
//! embedder adds to each call ([`CallExtension`]).

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use hyper::http::HeaderName;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, ForbiddenHeaderFilter, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::audit::{AuditLog, MemoryAuditLog, PostgresAuditLog, SqliteAuditLog};
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::{Directory, FileDirectory};
use crate::hashing::Hashing;
use crate::mail::{MemoryOutbox, PostgresOutbox, SharedOutbox, SqliteOutbox};
use crate::storage::{MemoryStore, PostgresStore, SharedHousekeeping, SharedStore, SqliteStore};
use customer_web_sql::sqlite::SqliteFile;
use customer_web_sql::{Database as _, audit, outbox};

/// The name of the database file in a data directory.
pub const DATABASE_FILE: &str = "customer-web.sqlite3";

/// The capabilities the host supplies to the component.
#[derive(Clone)]
pub struct Capabilities {
    /// Versioned key-value storage, on [`Capabilities::clock`].
    pub store: Arc<dyn SharedStore>,
    /// What the host does to the same storage beside the flows (the
    /// scheduled purge, counts for operators); `None` for a store that
    /// keeps itself (the purge is then skipped).
    pub housekeeping: Option<Arc<dyn SharedHousekeeping>>,
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
    /// Who hashes keywords and passwords: the component (the default) or
    /// this host, natively.
    pub hashing: Hashing,
}

impl Capabilities {
    /// Everything in memory, with the sample directory and the system
    /// clock: for tests and throwaway runs.
    pub fn in_memory() -> Self {
        Self::in_memory_on(Clock::system())
    }

    /// Everything in memory, with the sample directory, on `clock`.
    pub fn in_memory_on(clock: Clock) -> Self {
        let store = Arc::new(MemoryStore::new(Arc::new(clock.clone())));
        Capabilities {
            store: store.clone(),
            housekeeping: Some(store),
            outbox: Arc::new(MemoryOutbox::new()),
            directory: Arc::new(FileDirectory::sample()),
            audit: Arc::new(MemoryAuditLog::new()),
            settings: Settings::default(),
            clock,
            hashing: Hashing::default(),
        }
    }

    /// The embedded default: storage, outbox and audit trail in one SQLite
    /// file (WAL) in `data_dir`, and the given directory.
    pub fn sqlite(data_dir: &Path, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        Self::sqlite_on(data_dir, directory, Clock::system())
    }

    /// [`Capabilities::sqlite`] on `clock`.
    pub fn sqlite_on(data_dir: &Path, directory: Arc<dyn Directory>, clock: Clock) -> anyhow::Result<Self> {
        Self::sqlite_file(&data_dir.join(DATABASE_FILE), directory, clock)
    }

    /// Storage, outbox and audit trail in the SQLite file at `db`, on
    /// `clock`. Each has a connection of its own; storage's opens now and
    /// brings all three schemas up to date (a database this release
    /// cannot use is refused here), the outbox's and the trail's at their
    /// first statement: a connection is most of a start's SQLite time.
    pub fn sqlite_file(db: &Path, directory: Arc<dyn Directory>, clock: Clock) -> anyhow::Result<Self> {
        let file = SqliteFile::open(db)?;
        // The store's own schema is brought up to date as it is made.
        for schema in [&outbox::SCHEMA, &audit::SCHEMA] {
            file.migrate(schema)?;
        }
        let store = Arc::new(SqliteStore::on(file, Arc::new(clock.clone()))?);
        Ok(Capabilities {
            store: store.clone(),
            housekeeping: Some(store),
            outbox: Arc::new(SqliteOutbox::on(SqliteFile::deferred(db))?),
            directory,
            audit: Arc::new(SqliteAuditLog::on(SqliteFile::deferred(db))?),
            settings: Settings::default(),
            clock,
            hashing: Hashing::default(),
        })
    }

    /// Storage, outbox and audit trail in the PostgreSQL database at `url`,
    /// over one pool of at most `connections`: what several hosts share.
    pub fn postgres(
        url: &str,
        connections: usize,
        directory: Arc<dyn Directory>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let pool = Arc::new(customer_web_sql::postgres::PgPool::connect(url, connections)?);
        let store = Arc::new(PostgresStore::on(pool.clone(), Arc::new(clock.clone()))?);
        Ok(Capabilities {
            store: store.clone(),
            housekeeping: Some(store),
            outbox: Arc::new(PostgresOutbox::on(pool.clone())?),
            directory,
            audit: Arc::new(PostgresAuditLog::on(pool)?),
            settings: Settings::default(),
            clock,
            hashing: Hashing::default(),
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
                Self::postgres(url, connections, directory, Clock::system())
                    .map_err(|e| anyhow::anyhow!("{e:#}"))
                    .with_context(|| format!("the database {}", redact_url(url)))
            }
            Some(path) if path.starts_with("sqlite:") => Self::sqlite_file(
                Path::new(path.trim_start_matches("sqlite:")),
                directory,
                Clock::system(),
            ),
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

/// What an embedder adds to each call of a [`PluginHost`](crate::PluginHost)
/// beside the capabilities: state for imports it links itself (see
/// [`Imports`](crate::plugin::Imports)), reached with
/// [`HostCtx::extension`].
pub trait CallExtension: Any + Send {
    /// Where the call's outgoing HTTP requests go, for an embedder that
    /// links `wasi:http/outgoing-handler`; `None`: wasi-http's default
    /// hooks. The host's own linking never links the outgoing handler.
    fn http_hooks(&mut self) -> Option<&mut dyn WasiHttpHooks> {
        None
    }
}

/// The data of one `Store`: one call, one instance.
pub struct HostCtx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) caps: Arc<Capabilities>,
    pub(crate) limits: Limits,
    extension: Option<Box<dyn CallExtension>>,
    hooks: Hooks,
}

/// wasi-http's hooks when the embedder brings none: its own defaults. The
/// one difference is how a field name is checked against
/// [`DEFAULT_FORBIDDEN_HEADERS`]: wasi-http's default builds the check as
/// an `Arc` closure for every field a component sends or receives (an
/// allocation and a free each, nine per page); this compares directly.
/// Both forms answer alike for every name.
struct Hooks;

/// [`DEFAULT_FORBIDDEN_HEADERS`] built once: the constant is a new array
/// of nine names at each use.
static FORBIDDEN_HEADERS: [HeaderName; 9] = DEFAULT_FORBIDDEN_HEADERS;

impl WasiHttpHooks for Hooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        FORBIDDEN_HEADERS.contains(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(|name| FORBIDDEN_HEADERS.contains(name))
    }
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
            extension: None,
            hooks: Hooks,
        }
    }

    /// This context with `extension` for the call.
    pub fn with_extension(mut self, extension: Box<dyn CallExtension>) -> Self {
        self.extension = Some(extension);
        self
    }

    /// The call's extension, if it is an `E`.
    pub fn extension<E: CallExtension>(&mut self) -> Option<&mut E> {
        let extension: &mut dyn Any = self.extension.as_deref_mut()?;
        extension.downcast_mut()
    }

    /// The capabilities, as the host library's imports see them.
    pub fn customer_web(&mut self) -> crate::CustomerWeb<'_> {
        crate::CustomerWeb::new(&self.caps)
    }

    /// The largest size, in bytes, that a linear memory of this store's
    /// instance has been allowed to reach, its initial size included: the
    /// call's peak memory, to set beside `HostOptions::memory_limit`.
    /// Read it at the end of the call, from the store.
    pub fn peak_memory(&self) -> usize {
        self.limits.peak_memory
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
        let hooks = match self.extension.as_deref_mut().and_then(|e| e.http_hooks()) {
            Some(hooks) => hooks,
            None => &mut self.hooks,
        };
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditEvent;
    use customer_web_sql::outbox::OutgoingMessage;

    /// A call without an embedder's hooks refuses exactly wasi-http's
    /// default forbidden fields, through either form of the check, and
    /// lets every other field through.
    #[test]
    fn the_hooks_without_an_embedder_forbid_wasi_http_s_default_fields_and_no_others() {
        use hyper::http::header;
        let mut ctx = HostCtx::new(Arc::new(Capabilities::in_memory()), StoreLimits::default());
        let view = ctx.http();
        let filter = view.hooks.forbidden_header_filter();
        for name in DEFAULT_FORBIDDEN_HEADERS {
            assert!(view.hooks.is_forbidden_header(&name), "{name}");
            assert!(filter(&name), "{name}");
        }
        let forbidden = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
            "host",
        ];
        for name in forbidden {
            let name = HeaderName::from_static(name);
            assert!(view.hooks.is_forbidden_header(&name), "{name}");
        }
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::SET_COOKIE,
            header::CONTENT_SECURITY_POLICY,
            HeaderName::from_static("x-custom"),
        ] {
            assert!(!view.hooks.is_forbidden_header(&name), "{name}");
            assert!(!filter(&name), "{name}");
        }
    }

    fn schemas(db: &Path) -> Vec<String> {
        let other = SqliteFile::open(db).unwrap();
        let recorded = other.with(customer_web_sql::recorded_versions).unwrap();
        recorded.into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn the_sqlite_file_holds_every_schema_from_the_start_and_each_part_writes_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let caps = Capabilities::sqlite(dir.path(), Arc::new(FileDirectory::sample())).unwrap();
        let db = dir.path().join(DATABASE_FILE);
        assert_eq!(schemas(&db), ["audit", "mail", "storage"]);

        let message = OutgoingMessage {
            to: "taro@example.jp".into(),
            subject: "件名".into(),
            text: "本文\n".into(),
            kind: "enrollment-link".into(),
        };
        let id = caps.outbox.enqueue(&message, 100).unwrap();
        let event = AuditEvent {
            at: 100,
            kind: "keyword-failed".into(),
            subject: "flow-1".into(),
            detail: "attempts-left=3".into(),
        };
        caps.audit.record(&event).unwrap();

        // Another process's view of the file: both writes are there.
        let other = rusqlite::Connection::open(&db).unwrap();
        let count = |sql: &str| other.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM cw_audit"), 1);
        assert_eq!(caps.outbox.get(id).unwrap().map(|m| m.message), Some(message));
    }

    #[test]
    fn a_sqlite_file_of_a_newer_release_is_refused_at_the_start() {
        let dir = tempfile::tempdir().unwrap();
        drop(Capabilities::sqlite(dir.path(), Arc::new(FileDirectory::sample())).unwrap());
        let db = dir.path().join(DATABASE_FILE);
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("UPDATE schema_versions SET version = version + 1 WHERE name = 'audit'")
            .unwrap();
        let error = Capabilities::sqlite(dir.path(), Arc::new(FileDirectory::sample()))
            .err()
            .expect("refused");
        assert!(format!("{error:#}").contains("newer"), "{error:#}");
    }
}
