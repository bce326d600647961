//! The security audit trail behind the component's `audit` import: an
//! append-only list of events the insurer's operators read.
//!
//! Events carry what happened, to which flow or account, and the outcome;
//! the component guarantees they hold no secret. [`MemoryAuditLog`] serves
//! tests; [`SqliteAuditLog`] keeps the trail in the host's database file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, params};

use crate::db::{self, column_u64, to_sql_u64};
use customer_web_sql::Schema;

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened, in seconds since the Unix epoch.
    pub at: u64,
    /// What happened, e.g. `keyword-failed`.
    pub kind: String,
    /// The flow or account it concerns: a public reference.
    pub subject: String,
    /// The outcome and details, e.g. `attempts-left=3`.
    pub detail: String,
}

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

/// The trail's table. Append steps; never edit a shipped one.
const SCHEMA: Schema = Schema {
    name: "audit",
    postgres: &[],
    sqlite: &["
        CREATE TABLE IF NOT EXISTS audit_events (
            -- The order of recording; AUTOINCREMENT so it never goes back.
            id      INTEGER PRIMARY KEY AUTOINCREMENT,
            at      INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail  TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (subject);
    "],
};

/// An [`AuditLog`] in a SQLite file, which it may share with the store and
/// the outbox.
#[derive(Debug)]
pub struct SqliteAuditLog {
    conn: Mutex<Connection>,
}

impl SqliteAuditLog {
    /// Opens (or creates) the trail in the SQLite file at `path`, creating
    /// the parent directory and the table as needed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = db::open(path, &SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Every operation is one statement, so a panic elsewhere cannot
        // leave the connection mid-transaction.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unavailable(error: rusqlite::Error) -> AuditError {
    AuditError::Unavailable(error.to_string())
}

impl AuditLog for SqliteAuditLog {
    fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let conn = self.conn();
        conn.prepare_cached("INSERT INTO audit_events (at, kind, subject, detail) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut statement| {
                statement.execute(params![
                    to_sql_u64(event.at),
                    event.kind,
                    event.subject,
                    event.detail
                ])
            })
            .map_err(unavailable)?;
        Ok(())
    }

    fn recent(&self, limit: usize) -> Result<Vec<AuditEvent>, AuditError> {
        let conn = self.conn();
        let mut events = conn
            .prepare_cached("SELECT at, kind, subject, detail FROM audit_events ORDER BY id DESC LIMIT ?1")
            .and_then(|mut statement| {
                statement
                    .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                        Ok(AuditEvent {
                            at: column_u64(row, 0)?,
                            kind: row.get(1)?,
                            subject: row.get(2)?,
                            detail: row.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)?;
        // Fetched newest first to take the window; handed out oldest first.
        events.reverse();
        Ok(events)
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
    fn sqlite_log_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/host.db");
        let recorded = event(1_700_000_000, "account-created", "outcome=ok");
        SqliteAuditLog::open(&path).unwrap().record(&recorded).unwrap();
        let log = SqliteAuditLog::open(&path).unwrap();
        assert_eq!(log.recent(5).unwrap(), vec![recorded]);
    }
}
