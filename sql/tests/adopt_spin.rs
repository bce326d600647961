//! A database the Spin adapter made before migrations existed (its own
//! idempotent schema, no `schema_versions`) is adopted and migrated with
//! every row, version and id kept, and ends exactly as a fresh one.

use std::collections::BTreeSet;
use std::path::Path;

use customer_web_core::ports::{Condition, WriteOutcome};
use customer_web_sql::outbox::{DeliveryState, OutgoingMessage};
use customer_web_sql::{Connection, Schema, adopt_spin_tables, audit, is_current, kv, migrate, outbox};
use rusqlite::params;

/// The Spin adapter's schema as it shipped before migrations, word for
/// word: what its databases hold (shared with the e2e test on `spin up`).
const OLD_SPIN_SCHEMA: &str = include_str!("fixtures/old-spin-schema.sql");

/// What the adapter migrates, in its order.
const SCHEMAS: [&Schema; 3] = [&kv::SCHEMA, &outbox::SCHEMA, &audit::SCHEMA];

const NOW: u64 = 1_700_000_000;

/// A message as the old adapter stored it.
struct OldMessage {
    to: &'static str,
    state: &'static str,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<&'static str>,
    sent_at: Option<i64>,
}

const OLD_MESSAGES: [OldMessage; 3] = [
    OldMessage {
        to: "sent@example.jp",
        state: "sent",
        attempts: 1,
        next_attempt_at: 1_699_999_000,
        last_error: None,
        sent_at: Some(1_699_999_001),
    },
    OldMessage {
        to: "failing@example.jp",
        state: "failing",
        attempts: 2,
        next_attempt_at: 1_700_000_060,
        last_error: Some("mail relay answered 503"),
        sent_at: None,
    },
    OldMessage {
        to: "pending@example.jp",
        state: "pending",
        attempts: 0,
        next_attempt_at: 1_699_999_900,
        last_error: None,
        sent_at: None,
    },
];

/// The old adapter's database at `path`, with rows in every table, written
/// with its own statements. Returns the live keys with their versions and
/// the highest version ever handed out.
fn old_spin_database(path: &Path) -> (Vec<(String, u64)>, u64) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(OLD_SPIN_SCHEMA).unwrap();
    let put = |key: &str, value: &[u8], expires_at: Option<i64>| -> u64 {
        c.query_row::<i64, _, _>(
            "INSERT OR REPLACE INTO cw_kv (key, value, expires_at) VALUES (?1, ?2, ?3)
             RETURNING version",
            params![key, value, expires_at],
            |row| row.get(0),
        )
        .unwrap() as u64
    };
    put("flow:1", b"first", None);
    let rewritten = put("flow:1", b"second", None);
    let session = put("session:abc", b"\x00\xffbytes", Some(1_700_000_500));
    let highest = put("flow:gone", b"deleted", None);
    c.execute("DELETE FROM cw_kv WHERE key = 'flow:gone'", [])
        .unwrap();
    for message in &OLD_MESSAGES {
        c.execute(
            "INSERT INTO cw_outbox (recipient, subject, body, kind, queued_at, attempts, state,
                                    next_attempt_at, leased_until, last_error, sent_at)
             VALUES (?1, '件名', '本文 http://127.0.0.1:3000/link/x', 'enrollment-link', ?2, ?3, ?4,
                     ?5, 0, ?6, ?7)",
            params![
                message.to,
                1_699_999_000,
                message.attempts,
                message.state,
                message.next_attempt_at,
                message.last_error,
                message.sent_at
            ],
        )
        .unwrap();
    }
    for (at, kind) in [
        (1_699_999_000, "enrollment-started"),
        (1_699_999_001, "mail-sent"),
    ] {
        c.execute(
            "INSERT INTO cw_audit (at, kind, subject, detail) VALUES (?1, ?2, 'flow:1', 'detail')",
            params![at, kind],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO cw_policyholders VALUES ('X1', '田中', '一', 'タナカ', 'ハジメ', '1970-01-01', '0311112222', '1000001', '田中　一')",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO cw_directory_source (id, source, loaded_at) VALUES (0, 'sample', 0)",
        [],
    )
    .unwrap();
    let live = vec![
        ("flow:1".to_owned(), rewritten),
        ("session:abc".to_owned(), session),
    ];
    (live, highest)
}

/// Adopts and migrates, as the Spin adapter opens its database; returns
/// whether it adopted.
fn open_as_the_adapter(c: &mut dyn Connection) -> bool {
    if is_current(c, &SCHEMAS).unwrap() {
        return false;
    }
    let adopted = adopt_spin_tables(c).unwrap();
    for schema in SCHEMAS {
        migrate(c, schema).unwrap();
    }
    assert!(is_current(c, &SCHEMAS).unwrap());
    adopted
}

fn versions(c: &mut dyn Connection) -> Vec<(String, u64)> {
    c.query("SELECT name, version FROM schema_versions ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|row| (row.text(0, "name").unwrap(), row.uint(1, "version").unwrap()))
        .collect()
}

/// The tables and indexes of the contract (the directory's left out), as
/// `(type, name, table)`.
fn contract_objects(c: &mut dyn Connection) -> BTreeSet<(String, String, String)> {
    c.query(
        "SELECT type, name, tbl_name FROM sqlite_master
         WHERE type IN ('table', 'index') AND tbl_name NOT IN
             ('cw_policyholders', 'cw_contracts', 'cw_directory_source')",
        &[],
    )
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.text(0, "type").unwrap(),
            row.text(1, "name").unwrap(),
            row.text(2, "table").unwrap(),
        )
    })
    .collect()
}

#[test]
fn the_old_spin_database_is_adopted_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlite_db.db");
    let (live, highest) = old_spin_database(&path);
    let mut c = rusqlite::Connection::open(&path).unwrap();
    assert!(
        !is_current(&mut c, &SCHEMAS).unwrap(),
        "no bookkeeping: not current"
    );

    assert!(open_as_the_adapter(&mut c), "the old tables are adopted");
    assert_eq!(
        versions(&mut c),
        [
            ("audit".to_owned(), 2),
            ("mail".to_owned(), 3),
            ("storage".to_owned(), 2)
        ]
    );
    let user_version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(user_version, 1);

    // The store: every live key with its version; a new version is above
    // every one handed out, the deleted key's too.
    assert_eq!(kv::versions(&mut c, NOW).unwrap(), live);
    let flow = kv::get(&mut c, "flow:1", NOW).unwrap().unwrap();
    assert_eq!((flow.value.as_slice(), flow.version), (&b"second"[..], live[0].1));
    let session = kv::get(&mut c, "session:abc", NOW).unwrap().unwrap();
    assert_eq!(session.value, b"\x00\xffbytes");
    assert_eq!(
        kv::get(&mut c, "session:abc", 1_700_000_500).unwrap(),
        None,
        "expiry kept"
    );
    let WriteOutcome::Written(next) = kv::put(
        &mut c,
        "flow:1",
        b"third",
        Condition::Version(flow.version),
        None,
        NOW,
    )
    .unwrap() else {
        panic!("the adopted version holds");
    };
    assert!(next > highest, "{next} > {highest}");

    // The outbox: every message, its delivery record kept.
    let listed = outbox::list(&mut c, 10).unwrap();
    assert_eq!(listed.len(), OLD_MESSAGES.len());
    for (queued, old) in listed.iter().rev().zip(&OLD_MESSAGES) {
        assert_eq!(queued.message.to, old.to);
        assert_eq!(queued.message.subject, "件名");
        assert!(queued.message.text.contains("/link/x"));
        assert_eq!(queued.state.as_str(), old.state);
        assert_eq!(i64::from(queued.attempts), old.attempts);
        assert_eq!(queued.next_attempt_at, old.next_attempt_at as u64);
        assert_eq!(queued.last_error.as_deref(), old.last_error);
        assert_eq!(queued.sent_at, old.sent_at.map(|t| t as u64));
        assert_eq!(queued.queued_at, 1_699_999_000);
    }
    let ids: Vec<u64> = listed.iter().rev().map(|q| q.id).collect();
    assert_eq!(ids, [1, 2, 3], "ids kept");
    // Due: the pending one, and the failing one once its backoff passed;
    // the preferred id first.
    let claimed = outbox::claim_due(&mut c, NOW + 60, 300, 5, Some(ids[1])).unwrap();
    assert_eq!(claimed.iter().map(|q| q.id).collect::<Vec<_>>(), [ids[1], ids[2]]);
    // The dead state the old table refused.
    outbox::mark_dead(&mut c, ids[1], "550 no such user").unwrap();
    assert_eq!(
        outbox::get(&mut c, ids[1]).unwrap().unwrap().state,
        DeliveryState::Dead
    );
    let new = outbox::enqueue(
        &mut c,
        &OutgoingMessage {
            to: "new@example.jp".into(),
            subject: "s".into(),
            text: "t".into(),
            kind: "k".into(),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(new, 4, "ids continue");

    // The trail.
    let events = audit::recent(&mut c, 10).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["enrollment-started", "mail-sent"]);
    assert_eq!(events[0].at, 1_699_999_000);

    // The directory is the adapter's own and untouched.
    let holders: i64 = c
        .query_row("SELECT count(*) FROM cw_policyholders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(holders, 1);

    // The same tables and indexes as a database migrated from nothing.
    let fresh_dir = tempfile::tempdir().unwrap();
    let mut fresh = rusqlite::Connection::open(fresh_dir.path().join("fresh.db")).unwrap();
    assert!(
        !open_as_the_adapter(&mut fresh),
        "nothing to adopt in an empty database"
    );
    assert_eq!(contract_objects(&mut c), contract_objects(&mut fresh));

    // Opening again: current, nothing adopted or migrated.
    let before = versions(&mut c);
    assert!(
        !adopt_spin_tables(&mut c).unwrap(),
        "a second adoption does nothing"
    );
    assert!(!open_as_the_adapter(&mut c));
    assert_eq!(versions(&mut c), before);
    assert_eq!(kv::get(&mut c, "flow:1", NOW).unwrap().unwrap().value, b"third");
}

/// Instances opening the old database at once: one adopts, the others
/// find it done, and every row is there once.
#[test]
fn instances_opening_at_once_adopt_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlite_db.db");
    let (live, _) = old_spin_database(&path);
    let adopted: Vec<bool> = std::thread::scope(|scope| {
        let openers: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let mut c = rusqlite::Connection::open(&path).unwrap();
                    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                    open_as_the_adapter(&mut c)
                })
            })
            .collect();
        openers.into_iter().map(|o| o.join().unwrap()).collect()
    });
    assert_eq!(adopted.iter().filter(|a| **a).count(), 1, "{adopted:?}");
    let mut c = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(kv::versions(&mut c, NOW).unwrap(), live);
    assert_eq!(outbox::list(&mut c, 10).unwrap().len(), OLD_MESSAGES.len());
    assert_eq!(audit::recent(&mut c, 10).unwrap().len(), 2);
}

/// Only some of the old tables (the adapter created them one statement at
/// a time): those are adopted, the rest made fresh.
#[test]
fn a_partial_old_schema_is_adopted_table_by_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = rusqlite::Connection::open(dir.path().join("partial.db")).unwrap();
    // The old schema's first two statements: `cw_kv` and its index.
    let kv_only: Vec<&str> = OLD_SPIN_SCHEMA
        .split(';')
        .take(2)
        .map(|statement| statement.trim())
        .collect();
    assert!(
        kv_only[0].contains("CREATE TABLE IF NOT EXISTS cw_kv"),
        "{kv_only:?}"
    );
    assert!(
        kv_only[1].starts_with("CREATE INDEX IF NOT EXISTS cw_kv_expires_at"),
        "{kv_only:?}"
    );
    for statement in kv_only {
        c.execute_batch(statement).unwrap();
    }
    c.execute(
        "INSERT INTO cw_kv (key, value, expires_at) VALUES ('k', X'01', NULL)",
        [],
    )
    .unwrap();
    assert!(open_as_the_adapter(&mut c));
    assert_eq!(kv::get(&mut c, "k", NOW).unwrap().unwrap().version, 1);
    assert!(outbox::list(&mut c, 10).unwrap().is_empty());
    assert!(audit::recent(&mut c, 10).unwrap().is_empty());
}

/// A database the wasmtime host migrated is no adapter's: left alone.
#[test]
fn a_migrated_database_is_not_adopted_and_stays_current() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = rusqlite::Connection::open(dir.path().join("host.db")).unwrap();
    assert!(!is_current(&mut c, &SCHEMAS).unwrap());
    migrate(&mut c, &kv::SCHEMA).unwrap();
    assert!(
        !is_current(&mut c, &SCHEMAS).unwrap(),
        "the outbox and the trail are still missing"
    );
    for schema in SCHEMAS {
        migrate(&mut c, schema).unwrap();
    }
    assert!(is_current(&mut c, &SCHEMAS).unwrap());
    assert!(!adopt_spin_tables(&mut c).unwrap());
    // A schema with a step this database has not seen is not current.
    const LONGER: Schema = Schema {
        name: "audit",
        sqlite: &[audit::SCHEMA.sqlite[0], audit::SCHEMA.sqlite[1], "SELECT 1;"],
        postgres: &[],
    };
    assert!(!is_current(&mut c, &[&kv::SCHEMA, &LONGER]).unwrap());
}
