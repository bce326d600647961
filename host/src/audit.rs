//! The security audit trail behind the component's `audit` import: an
//! append-only list of events the insurer's operators read.
//!
//! Events carry what happened, to which flow or account, and the outcome;
//! the component guarantees they hold no secret. [`MemoryAuditLog`] serves
//! tests; [`SqliteAuditLog`] keeps the trail in the host's database file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use std::sync::Arc;

use customer_web_sql::postgres::PgPool;
use customer_web_sql::sqlite::SqliteFile;
use customer_web_sql::{Database, SqlError, audit};

pub use customer_web_sql::audit::AuditEvent;

/// An audit fault.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The trail could not take or give events; carries its description.
    #[error("audit trail unavailable: {0}")]
    Unavailable(String),
}

/// An append-only trail of security events.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an event.
    fn record(&self, event: &AuditEvent) -> Result<(), AuditError>;

    /// The last `limit` events recorded, oldest first within the returned
    /// window. Order is the order of recording, not of `at`.
    fn recent(&self, limit: usize) -> Result<Vec<AuditEvent>, AuditError>;
}

/// An [`AuditLog`] held in process memory; lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemoryAuditLog {
    /// An empty trail.
    pub fn new() -> Self {
        Self::default()
    }

    fn events(&self) -> MutexGuard<'_, Vec<AuditEvent>> {
        // Pushing cannot leave the list half-written, so a poisoned lock
        // still guards consistent data.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditLog for MemoryAuditLog {
    fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        self.events().push(event.clone());
        Ok(())
    }

    fn recent(&self, limit: usize) -> Result<Vec<AuditEvent>, AuditError> {
        let events = self.events();
        let start = events.len().saturating_sub(limit);
        Ok(events[start..].to_vec())
    }
}

/// An [`AuditLog`] on a [`Database`]: a SQLite file it may share with the
/// store and the outbox, or PostgreSQL. Schema and statements are
/// `customer-web-sql`'s ([`customer_web_sql::audit`]).
#[derive(Debug)]
pub struct SqlAuditLog<D> {
    db: D,
}

/// The trail in a SQLite file.
pub type SqliteAuditLog = SqlAuditLog<SqliteFile>;

/// The trail in PostgreSQL.
pub type PostgresAuditLog = SqlAuditLog<Arc<PgPool>>;

impl SqliteAuditLog {
    /// Opens (or creates) the trail in the SQLite file at `path`, creating
    /// the parent directory and the table as needed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        SqlAuditLog::on(SqliteFile::open(path)?)
    }
}

impl<D: Database> SqlAuditLog<D> {
    /// The trail on `db`, its schema brought up to date.
    pub fn on(db: D) -> anyhow::Result<Self> {
        db.migrate(&audit::SCHEMA)?;
        Ok(Self { db })
    }
}

fn unavailable(error: SqlError) -> AuditError {
    AuditError::Unavailable(error.0)
}

impl<D: Database + Send + Sync + 'static> AuditLog for SqlAuditLog<D> {
    fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        self.db.with(|c| audit::record(c, event)).map_err(unavailable)
    }

    fn recent(&self, limit: usize) -> Result<Vec<AuditEvent>, AuditError> {
        self.db.with(|c| audit::recent(c, limit)).map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: u64, kind: &str, detail: &str) -> AuditEvent {
        AuditEvent {
            at,
            kind: kind.into(),
            subject: "flow:7f3a".into(),
            detail: detail.into(),
        }
    }

    fn records_and_windows(log: &impl AuditLog) {
        assert!(log.recent(10).unwrap().is_empty());
        let events = [
            event(100, "enrollment-started", "agent=A001"),
            event(160, "mail-sent", "kind=enrollment-link"),
            event(150, "keyword-failed", "attempts-left=4"),
            event(170, "keyword-failed", "attempts-left=3"),
        ];
        for event in &events {
            log.record(event).unwrap();
        }
        assert_eq!(log.recent(10).unwrap(), events.to_vec());
        // The window is the latest events, oldest first, in recording order
        // even where `at` goes back.
        assert_eq!(log.recent(3).unwrap(), events[1..].to_vec());
        assert_eq!(log.recent(1).unwrap(), vec![events[3].clone()]);
        assert!(log.recent(0).unwrap().is_empty());
    }

    #[test]
    fn memory_log_follows_the_contract() {
        records_and_windows(&MemoryAuditLog::new());
    }

    #[test]
    fn sqlite_log_follows_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        records_and_windows(&SqliteAuditLog::open(&dir.path().join("audit.db")).unwrap());
    }

    #[test]
    fn postgres_log_follows_the_contract() {
        let Some(db) = customer_web_sql::postgres::testing::TestDatabase::create("PostgresAuditLog") else {
            return;
        };
        let pool = PgPool::connect(&db.url, 1).unwrap();
        records_and_windows(&PostgresAuditLog::on(Arc::new(pool)).unwrap());
    }

    /// A trail the first layout wrote (`audit_events`) keeps its events.
    #[test]
    fn a_trail_of_the_first_layout_keeps_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let first = customer_web_sql::Schema {
                name: audit::SCHEMA.name,
                sqlite: &audit::SCHEMA.sqlite[..1],
                postgres: &[],
            };
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            customer_web_sql::migrate(&mut conn, &first).unwrap();
            conn.execute_batch(
                "INSERT INTO audit_events (at, kind, subject, detail) VALUES (5, 'mail-sent', 'E-1', 'kind=x')",
            )
            .unwrap();
        }
        let log = SqliteAuditLog::open(&path).unwrap();
        log.record(&event(6, "link-spent", "ticket=T-1")).unwrap();
        let kinds: Vec<String> = log.recent(10).unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["mail-sent", "link-spent"]);
    }

    #[test]
    fn sqlite_log_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/host.db");
        let recorded = event(1_700_000_000, "account-created", "outcome=ok");
        SqliteAuditLog::open(&path).unwrap().record(&recorded).unwrap();
        let log = SqliteAuditLog::open(&path).unwrap();
        assert_eq!(log.recent(5).unwrap(), vec![recorded]);
    }
}
