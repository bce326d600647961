//! An [`Outbox`] on SQL: durable, so a queued message survives a restart
//! or a mail server that is down for hours. A SQLite file (which it may
//! share with the store and the audit trail) or PostgreSQL, where several
//! hosts deliver side by side.
//!
//! The schema and statements are `customer-web-sql`'s
//! ([`customer_web_sql::outbox`]): each operation is one statement, and a
//! claim leases what it picks in that statement, so workers in several
//! threads, processes or hosts never claim one message.

use std::sync::Arc;

use customer_web_sql::postgres::PgPool;
use customer_web_sql::sqlite::SqliteFile;

use super::SqlOutbox;

/// The outbox in a SQLite file.
pub type SqliteOutbox = SqlOutbox<SqliteFile>;

/// The outbox in PostgreSQL.
pub type PostgresOutbox = SqlOutbox<Arc<PgPool>>;

#[cfg(test)]
mod tests {

    use customer_web_sql::outbox;

    use super::super::{DeliveryState, Outbox, OutboxError, OutgoingMessage};
    use super::*;

    /// An outbox made by the first schema version (no dead letters) comes
    /// through the table rebuild whole, and takes dead letters after it.
    #[test]
    fn the_first_schema_migrates_with_every_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let first = customer_web_sql::Schema {
                name: outbox::SCHEMA.name,
                sqlite: &outbox::SCHEMA.sqlite[..1],
                postgres: &[],
            };
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            customer_web_sql::migrate(&mut conn, &first).unwrap();
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
        let clock = || Arc::new(customer_web_core::testing::FakeClock::at(1));
        let store = SqliteStore::open(&path, clock()).unwrap();
        let outbox = SqliteOutbox::open(&path).unwrap();
        assert!(matches!(
            store.put("k", b"v", Condition::Absent, None),
            Ok(WriteOutcome::Written(_))
        ));
        let id = outbox.enqueue(&message("a@example.jp"), 1).unwrap();
        drop((store, outbox));
        // Reopened in the other order: neither schema disturbs the other.
        let outbox = SqliteOutbox::open(&path).unwrap();
        let store = SqliteStore::open(&path, clock()).unwrap();
        assert_eq!(store.get("k").unwrap().unwrap().value, b"v");
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
        let workers: Vec<SqliteOutbox> = (0..4).map(|_| SqliteOutbox::open(&path).unwrap()).collect();
        super::super::tests::assert_each_claimed_once(&workers, 10, MESSAGES);
    }

    #[test]
    fn a_corrupt_state_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        let outbox = SqliteOutbox::open(&path).unwrap();
        let id = outbox.enqueue(&message("a@example.jp"), 1).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE cw_outbox SET queued_at = -1 WHERE id = ?1", [id as i64])
            .unwrap();
        assert!(matches!(outbox.get(id), Err(OutboxError::Unavailable(_))));
        assert!(matches!(outbox.list(10), Err(OutboxError::Unavailable(_))));
    }
}
