//! The security audit trail, in SQL: an append-only list of events.

use crate::{Connection, Schema, SqlError, Statement, Value};

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

/// The trail's schema. Steps are append-only; SQLite's first is the
/// wasmtime host's shipped layout, the second gives the table the `cw_`
/// name it shares with the Spin adapter's.
pub const SCHEMA: Schema = Schema {
    name: "audit",
    sqlite: &[
        "CREATE TABLE IF NOT EXISTS audit_events (
            id      INTEGER PRIMARY KEY AUTOINCREMENT,
            at      INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail  TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (subject);",
        "ALTER TABLE audit_events RENAME TO cw_audit;
        DROP INDEX IF EXISTS audit_events_subject;
        CREATE INDEX IF NOT EXISTS cw_audit_subject ON cw_audit (subject);",
    ],
    postgres: &["CREATE TABLE cw_audit (
            id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at      BIGINT NOT NULL,
            kind    TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail  TEXT NOT NULL
        );
        CREATE INDEX cw_audit_subject ON cw_audit (subject);"],
};

/// 1 at, 2 kind, 3 subject, 4 detail.
pub const RECORD: Statement = Statement {
    sqlite: "INSERT INTO cw_audit (at, kind, subject, detail) VALUES (?1, ?2, ?3, ?4)",
    postgres: "INSERT INTO cw_audit (at, kind, subject, detail) VALUES ($1, $2, $3, $4)",
};

/// 1 most events → `(at, kind, subject, detail)`, last recorded first.
pub const RECENT: Statement = Statement {
    sqlite: "SELECT at, kind, subject, detail FROM cw_audit ORDER BY id DESC LIMIT ?1",
    postgres: "SELECT at, kind, subject, detail FROM cw_audit ORDER BY id DESC LIMIT $1",
};

/// Appends an event.
pub fn record(c: &mut dyn Connection, event: &AuditEvent) -> Result<(), SqlError> {
    let d = c.dialect();
    c.execute(
        RECORD.text(d),
        &[
            Value::uint(event.at),
            Value::Text(event.kind.clone()),
            Value::Text(event.subject.clone()),
            Value::Text(event.detail.clone()),
        ],
    )?;
    Ok(())
}

/// The last `most` events recorded, oldest first within the window (the
/// order of recording, not of `at`).
pub fn recent(c: &mut dyn Connection, most: usize) -> Result<Vec<AuditEvent>, SqlError> {
    let d = c.dialect();
    let rows = c.query(
        RECENT.text(d),
        &[Value::Int(i64::try_from(most).unwrap_or(i64::MAX))],
    )?;
    let mut events = rows
        .iter()
        .map(|row| {
            Ok(AuditEvent {
                at: row.uint(0, "at")?,
                kind: row.text(1, "kind")?,
                subject: row.text(2, "subject")?,
                detail: row.text(3, "detail")?,
            })
        })
        .collect::<Result<Vec<_>, SqlError>>()?;
    events.reverse();
    Ok(events)
}
