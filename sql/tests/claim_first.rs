//! The outbox claims a preferred message first, and `is_current` and
//! `outbox::exists` follow the migrations, the same on SQLite and on
//! PostgreSQL.

use customer_web_sql::outbox::{self, OutgoingMessage};
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Connection, is_current, migrate};

const NOW: u64 = 1_700_000_000;

fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage {
        to: to.into(),
        subject: "件名".into(),
        text: "本文".into(),
        kind: "enrollment-link".into(),
    }
}

fn ids(c: &mut dyn Connection, now: u64, most: usize, first: Option<u64>) -> Vec<u64> {
    outbox::claim_due(c, now, 60, most, first)
        .unwrap()
        .iter()
        .map(|queued| queued.id)
        .collect()
}

fn run(c: &mut dyn Connection) {
    assert!(!is_current(c, &[&outbox::SCHEMA]).unwrap(), "no bookkeeping yet");
    assert!(!outbox::exists(c).unwrap());
    migrate(c, &outbox::SCHEMA).unwrap();
    assert!(outbox::exists(c).unwrap());
    assert!(is_current(c, &[&outbox::SCHEMA]).unwrap());
    assert!(
        !is_current(c, &[&outbox::SCHEMA, &customer_web_sql::audit::SCHEMA]).unwrap(),
        "the trail is not migrated"
    );

    let a = outbox::enqueue(c, &message("a@example.jp"), NOW).unwrap();
    let b = outbox::enqueue(c, &message("b@example.jp"), NOW).unwrap();
    let newest = outbox::enqueue(c, &message("c@example.jp"), NOW + 1).unwrap();
    // The message just queued goes first, even past the limit of older ones.
    assert_eq!(ids(c, NOW + 1, 1, Some(newest)), [newest]);
    outbox::mark_sent(c, newest, NOW + 1, false).unwrap();
    // Then the preferred one before the older due ones, the rest oldest first.
    assert_eq!(ids(c, NOW + 1, 5, Some(b)), [b, a]);
    outbox::mark_failed(c, a, "relay down", NOW + 1).unwrap();
    outbox::mark_failed(c, b, "relay down", NOW + 1).unwrap();
    let later = outbox::enqueue(c, &message("d@example.jp"), NOW + 100).unwrap();
    // A preferred id that is not due (or not there) changes nothing.
    assert_eq!(ids(c, NOW + 100, 5, Some(9_999)), [a, b, later]);
    assert!(ids(c, NOW + 100, 5, Some(later)).is_empty(), "leased");
    assert_eq!(
        ids(c, NOW + 200, 5, None),
        [a, b, later],
        "no preference: oldest due first"
    );
}

#[test]
fn a_preferred_message_first_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = rusqlite::Connection::open(dir.path().join("o.db")).unwrap();
    run(&mut c);
}

#[test]
fn a_preferred_message_first_on_postgres() {
    let Some(db) = TestDatabase::create("claim first") else {
        return;
    };
    let mut c = customer_web_sql::postgres::PgConnection::open(&db.url).unwrap();
    run(&mut c);
}
