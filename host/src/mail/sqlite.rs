//! An [`Outbox`] in a SQLite file: durable, so a queued message survives a
//! restart or a mail server that is down for hours.
//!
//! The table may live in the same file as the key-value store and the audit
//! trail. Claims run in one `BEGIN IMMEDIATE` transaction, so workers in
//! several threads or processes never claim the same message.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{DeliveryState, Outbox, OutboxError, OutgoingMessage, QueuedMessage, backoff};
use crate::db::{self, column_opt_u64, column_u64, to_sql_u64};
use customer_web_sql::Schema;

/// The outbox's tables. Append steps; never edit a shipped one.
const SCHEMA: Schema = Schema {
    name: "mail",
    postgres: &[],
    sqlite: &[
        "
        CREATE TABLE IF NOT EXISTS outbox (
            -- AUTOINCREMENT: an id is never reused, even after rows are
            -- removed, so an operator's reference stays unambiguous.
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            kind            TEXT NOT NULL,
            queued_at       INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing')),
            next_attempt_at INTEGER NOT NULL,
            -- A claim holds the message until this time; 0 when unclaimed.
            leased_until    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            sent_at         INTEGER
        );
        CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)
            WHERE state <> 'sent';
    ",
        // Dead letters: a state for messages refused for good. SQLite cannot
        // change a CHECK, so the table is rebuilt with every row kept.
        "
        CREATE TABLE outbox_v2 (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            kind            TEXT NOT NULL,
            queued_at       INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing', 'dead')),
            next_attempt_at INTEGER NOT NULL,
            leased_until    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            sent_at         INTEGER
        );
        INSERT INTO outbox_v2 SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
            next_attempt_at, leased_until, last_error, sent_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v2 RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'failing');
    ",
    ],
};

/// The columns [`read_message`] reads, in its order. The Spin adapter's
/// `cw_outbox` has the same columns, so its rows read alike.
pub const COLUMNS: &str = "id, recipient, subject, body, kind, queued_at, attempts, state, \
                       next_attempt_at, last_error, sent_at";

/// An [`Outbox`] backed by a SQLite file.
#[derive(Debug)]
pub struct SqliteOutbox {
    conn: Mutex<Connection>,
}

impl SqliteOutbox {
    /// Opens (or creates) the outbox in the SQLite file at `path`, creating
    /// the parent directory and the table as needed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = db::open(path, &SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // An interrupted transaction is rolled back when rusqlite drops it;
        // the connection stays usable after a panic elsewhere.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unavailable(error: rusqlite::Error) -> OutboxError {
    OutboxError::Unavailable(error.to_string())
}

fn unknown(id: u64) -> OutboxError {
    OutboxError::Unavailable(format!("no message {id} in the outbox"))
}

fn limit_for_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Reads a row selected with [`COLUMNS`].
pub fn read_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedMessage> {
    let state_name: String = row.get(7)?;
    let state = DeliveryState::from_name(&state_name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            7,
            rusqlite::types::Type::Text,
            format!("unknown delivery state {state_name:?}").into(),
        )
    })?;
    Ok(QueuedMessage {
        id: column_u64(row, 0)?,
        message: OutgoingMessage {
            to: row.get(1)?,
            subject: row.get(2)?,
            text: row.get(3)?,
            kind: row.get(4)?,
        },
        queued_at: column_u64(row, 5)?,
        attempts: row.get(6)?,
        state,
        next_attempt_at: column_u64(row, 8)?,
        last_error: row.get(9)?,
        sent_at: column_opt_u64(row, 10)?,
    })
}

/// The attempts and state of message `id`, if it exists.
fn progress(conn: &Connection, id: u64) -> rusqlite::Result<Option<(u32, String)>> {
    conn.prepare_cached("SELECT attempts, state FROM outbox WHERE id = ?1")?
        .query_row([to_sql_u64(id)], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

impl Outbox for SqliteOutbox {
    fn enqueue(&self, message: &OutgoingMessage, now: u64) -> Result<u64, OutboxError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5)
             RETURNING id",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    message.to,
                    message.subject,
                    message.text,
                    message.kind,
                    to_sql_u64(now)
                ],
                |row| column_u64(row, 0),
            )
        })
        .map_err(unavailable)
    }

    fn claim_due(&self, now: u64, lease: u64, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let due = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox
                 WHERE state IN ('pending', 'failing') AND next_attempt_at <= ?1 AND leased_until <= ?1
                 ORDER BY next_attempt_at, id
                 LIMIT ?2"
            ))
            .and_then(|mut statement| {
                statement
                    .query_map(params![to_sql_u64(now), limit_for_sql(limit)], read_message)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)?;
        {
            let mut lease_statement = tx
                .prepare_cached("UPDATE outbox SET leased_until = ?2 WHERE id = ?1")
                .map_err(unavailable)?;
            let until = to_sql_u64(now.saturating_add(lease));
            for queued in &due {
                lease_statement
                    .execute(params![to_sql_u64(queued.id), until])
                    .map_err(unavailable)?;
            }
        }
        tx.commit().map_err(unavailable)?;
        Ok(due)
    }

    fn mark_sent(&self, id: u64, now: u64, keep_body: bool) -> Result<(), OutboxError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        match progress(&tx, id).map_err(unavailable)? {
            None => return Err(unknown(id)),
            // A second report of the same delivery keeps the first record.
            Some((_, state)) if state == DeliveryState::Sent.as_str() => return Ok(()),
            Some(_) => {}
        }
        tx.prepare_cached(
            "UPDATE outbox
             SET state = 'sent', attempts = attempts + 1, sent_at = ?2, leased_until = 0,
                 body = CASE WHEN ?3 THEN body ELSE '' END
             WHERE id = ?1",
        )
        .and_then(|mut statement| statement.execute(params![to_sql_u64(id), to_sql_u64(now), keep_body]))
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)
    }

    fn mark_dead(&self, id: u64, error: &str, _now: u64) -> Result<(), OutboxError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        match progress(&tx, id).map_err(unavailable)? {
            None => return Err(unknown(id)),
            Some((_, state))
                if state == DeliveryState::Sent.as_str() || state == DeliveryState::Dead.as_str() =>
            {
                return Ok(());
            }
            Some(_) => {}
        }
        tx.prepare_cached(
            "UPDATE outbox
             SET state = 'dead', attempts = attempts + 1, last_error = ?2, leased_until = 0, body = ''
             WHERE id = ?1",
        )
        .and_then(|mut statement| statement.execute(params![to_sql_u64(id), error]))
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)
    }

    fn mark_failed(&self, id: u64, error: &str, now: u64) -> Result<(), OutboxError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let attempts = match progress(&tx, id).map_err(unavailable)? {
            None => return Err(unknown(id)),
            // A worker whose lease ran out may report after another
            // delivered the message (or it was dead-lettered): that stands.
            Some((_, state))
                if state == DeliveryState::Sent.as_str() || state == DeliveryState::Dead.as_str() =>
            {
                return Ok(());
            }
            Some((attempts, _)) => attempts.saturating_add(1),
        };
        tx.prepare_cached(
            "UPDATE outbox
             SET state = 'failing', attempts = ?2, next_attempt_at = ?3, last_error = ?4,
                 leased_until = 0
             WHERE id = ?1",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                to_sql_u64(id),
                attempts,
                to_sql_u64(now.saturating_add(backoff(attempts))),
                error
            ])
        })
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)
    }

    fn list(&self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        let conn = self.conn();
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"))
            .and_then(|mut statement| {
                statement
                    .query_map([limit_for_sql(limit)], read_message)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)
    }

    fn get(&self, id: u64) -> Result<Option<QueuedMessage>, OutboxError> {
        let conn = self.conn();
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))
            .and_then(|mut statement| statement.query_row([to_sql_u64(id)], read_message).optional())
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// An outbox made by the first schema version (no dead letters) comes
    /// through the table rebuild whole, and takes dead letters after it.
    #[test]
    fn the_first_schema_migrates_with_every_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let first = Schema {
                name: SCHEMA.name,
                sqlite: &SCHEMA.sqlite[..1],
                postgres: &[],
            };
            let conn = db::open(&path, &first).unwrap();
            conn.execute_batch(
                "INSERT INTO outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
                 VALUES ('a@example.jp', 's', 'the link', 'enrollment-link', 5, 'failing', 40);
                 INSERT INTO outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
                 VALUES ('b@example.jp', 's', 'b', 'enrollment-link', 6, 'sent', 6);",
            )
            .unwrap();
        }
        let outbox = SqliteOutbox::open(&path).unwrap();
        let listed = outbox.list(10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].message.text, "the link");
        assert_eq!(listed[1].state, DeliveryState::Failing);
        outbox.mark_dead(listed[1].id, "550", 50).unwrap();
        assert_eq!(
            outbox.get(listed[1].id).unwrap().unwrap().state,
            DeliveryState::Dead
        );
        let next = outbox.enqueue(&message("c@example.jp"), 60).unwrap();
        assert!(next > listed[0].id, "ids are never reused");
    }
    use crate::storage::{Condition, SqliteStore, Store, WriteOutcome};

    fn message(to: &str) -> OutgoingMessage {
        OutgoingMessage {
            to: to.into(),
            subject: "【重要】パスワード再設定のご案内".into(),
            text: "キーワードは画面に表示されています。\n".into(),
            kind: "recovery-link".into(),
        }
    }

    #[test]
    fn a_message_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/host.db");
        let (sent, failing, pending) = {
            let outbox = SqliteOutbox::open(&path).unwrap();
            let sent = outbox.enqueue(&message("a@example.jp"), 100).unwrap();
            let failing = outbox.enqueue(&message("b@example.jp"), 100).unwrap();
            let pending = outbox.enqueue(&message("c@example.jp"), 100).unwrap();
            outbox.claim_due(100, 60, 2).unwrap();
            outbox.mark_sent(sent, 101, false).unwrap();
            outbox.mark_failed(failing, "421 try later", 101).unwrap();
            (sent, failing, pending)
        };
        let outbox = SqliteOutbox::open(&path).unwrap();
        let reopened = outbox.get(pending).unwrap().unwrap();
        assert_eq!(reopened.message, message("c@example.jp"));
        assert_eq!(reopened.state, DeliveryState::Pending);
        assert_eq!(outbox.get(sent).unwrap().unwrap().state, DeliveryState::Sent);
        let retried = outbox.get(failing).unwrap().unwrap();
        assert_eq!(retried.state, DeliveryState::Failing);
        assert_eq!(retried.last_error.as_deref(), Some("421 try later"));
        assert_eq!(retried.next_attempt_at, 131);
        // The pending message is still due; the failing one after its backoff.
        let due: Vec<u64> = outbox
            .claim_due(131, 60, 10)
            .unwrap()
            .iter()
            .map(|queued| queued.id)
            .collect();
        assert_eq!(due, vec![pending, failing]);
    }

    #[test]
    fn shares_a_file_with_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        let store = SqliteStore::open(&path).unwrap();
        let outbox = SqliteOutbox::open(&path).unwrap();
        assert!(matches!(
            store.put("k", b"v", Condition::Absent, None, 1),
            Ok(WriteOutcome::Written(_))
        ));
        let id = outbox.enqueue(&message("a@example.jp"), 1).unwrap();
        drop((store, outbox));
        // Reopened in the other order: neither schema disturbs the other.
        let outbox = SqliteOutbox::open(&path).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get("k", 1).unwrap().unwrap().value, b"v");
        assert!(outbox.get(id).unwrap().is_some());
    }

    #[test]
    fn concurrent_workers_on_one_file_never_claim_a_message_twice() {
        const MESSAGES: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        let setup = SqliteOutbox::open(&path).unwrap();
        for index in 0..MESSAGES {
            setup
                .enqueue(&message(&format!("user{index}@example.jp")), 10)
                .unwrap();
        }
        let workers: Vec<_> = (0..4)
            .map(|_| Arc::new(SqliteOutbox::open(&path).unwrap()))
            .collect();
        let handles: Vec<_> = workers
            .into_iter()
            .map(|outbox| {
                std::thread::spawn(move || {
                    let mut claimed = Vec::new();
                    loop {
                        let batch = outbox.claim_due(10, 600, 7).unwrap();
                        if batch.is_empty() {
                            break claimed;
                        }
                        claimed.extend(batch.into_iter().map(|queued| queued.id));
                    }
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect();
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "a message was claimed twice");
        assert_eq!(all.len(), MESSAGES);
    }

    #[test]
    fn a_corrupt_state_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        let outbox = SqliteOutbox::open(&path).unwrap();
        let id = outbox.enqueue(&message("a@example.jp"), 1).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE outbox SET queued_at = -1 WHERE id = ?1", [to_sql_u64(id)])
            .unwrap();
        assert!(matches!(outbox.get(id), Err(OutboxError::Unavailable(_))));
        assert!(matches!(outbox.list(10), Err(OutboxError::Unavailable(_))));
    }
}
