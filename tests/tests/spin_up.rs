//! The Spin app on the real Spin: `spin build`, then `spin up` on a free
//! loopback port with a throw-away state directory, driven over HTTP by
//! the same walks as the wasmtime host's `serve` (support/walks.rs).
//!
//! Needs the Spin CLI (`SPIN_BIN`, or `spin` on `PATH`; `.ci/run` puts
//! `../shared/tools` there). Without it each test says so loudly and
//! returns; with it, each must pass. The tests of the app on PostgreSQL
//! (Spin variable `database_url`) also need the test server
//! `CUSTOMER_WEB_TEST_POSTGRES` names (a schema per test); without it they
//! say SKIPPED, and under CI (`CI=true`) they fail.

use customer_web_e2e::{common, support};

use std::collections::BTreeSet;

use common::spin::SpinDb;
use customer_web_host::directory::FileDirectory;
use customer_web_host::mail::DeliveryState;
use customer_web_sql::postgres::PgPool;
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Database, audit, is_current, kv, outbox};
use serde_json::json;
use support::relay::Relay;
use support::spin_app::{self, SpinApp};
use support::walks::{self, KEYWORD, api_customer, api_enroll_until_mail, post_json, token_in};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn spin_up_serves_enrollment_from_the_agent_link_to_the_hand_over() {
    let Some(app) = SpinApp::start(&[], &[]) else {
        return;
    };
    walks::enrollment_to_handover(&|| app.browser());
    let db = SpinDb::new(app.database());
    let audit = db.audit_kinds();
    for kind in [
        "enrollment-started",
        "mail-sent",
        "account-created",
        "renewal-handover",
    ] {
        assert!(audit.iter().any(|k| k == kind), "{kind} in {audit:?}");
    }
}

#[test]
fn spin_up_serves_recovery() {
    let Some(app) = SpinApp::start(&[], &[]) else {
        return;
    };
    walks::recovery_after_enrollment(&|| app.browser());
    let kinds: Vec<String> = SpinDb::new(app.database())
        .mails()
        .into_iter()
        .map(|m| m.message.kind)
        .collect();
    assert_eq!(kinds, ["enrollment-link", "recovery-link"]);
}

#[test]
fn fifty_racing_keywords_on_one_link_under_spin_have_exactly_one_winner() {
    let Some(app) = SpinApp::start(&[], &[]) else {
        return;
    };
    let holder = FileDirectory::sample().policyholders()[0].clone();
    let (status, body) = api_enroll_until_mail(&mut app.browser(), &api_customer(&holder), "race@example.jp");
    assert_eq!(status, 200, "{body}");
    let db = SpinDb::new(app.database());
    let token = token_in(&db.mails().last().expect("the mail").message.text);

    let outcomes = walks::race_keyword(50, &|_| app.browser(), &token);
    // A loser is told the link is gone: spent, or out of attempts (every
    // attempt is counted before its keyword is checked, so at most five
    // of the fifty were ever checked).
    let winner = walks::one_winner(&outcomes);
    // One ticket exists, and it is the winner's.
    let ticket = winner["ticket"].as_str().expect("a ticket");
    let (status, body) = post_json(
        &mut app.browser(),
        "/api/v1/credentials",
        json!({ "ticket": ticket, "user_id": "race.winner@example.jp", "password": walks::PASSWORD }),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(db.count_prefix("ticket/", now()), 1, "{:?}", db.versions(now()));
}

#[test]
fn the_mail_relay_gets_each_message_once_through_an_outage() {
    let mut relay = Relay::start();
    let relay_url = format!("{}/send", relay.origin());
    let Some(app) = SpinApp::start(
        &[
            ("mail_relay_url", relay_url.as_str()),
            ("mail_relay_origin", relay.origin().as_str()),
        ],
        &[],
    ) else {
        return;
    };
    let db = SpinDb::new(app.database());
    let holders = FileDirectory::sample().policyholders().to_vec();
    let enroll = |i: usize| {
        let email = format!("relay{i}@example.jp");
        let (status, body) = api_enroll_until_mail(&mut app.browser(), &api_customer(&holders[i]), &email);
        assert_eq!(status, 200, "{body}");
        email
    };

    // Up: delivered at once.
    let first = enroll(0);
    assert_eq!(relay.received().len(), 1);
    assert_eq!(db.mails()[0].state, DeliveryState::Sent);

    // Down: the flow goes on, the message waits.
    relay.stop();
    let second = enroll(1);
    let waiting = &db.mails()[1];
    assert_eq!(
        (waiting.state, waiting.attempts),
        (DeliveryState::Failing, 1),
        "{waiting:?}"
    );
    assert_eq!(relay.received().len(), 1);

    // Up again, and the backoff over (the test moves the message's next
    // attempt to now rather than wait 30 s): the next mail anyone sends
    // carries the waiting one out first.
    relay.restart();
    let conn = rusqlite::Connection::open(db.path()).expect("the Spin database");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("timeout");
    conn.execute(
        "UPDATE cw_outbox SET next_attempt_at = 0 WHERE state = 'failing'",
        [],
    )
    .expect("backoff over");
    let third = enroll(2);

    let received = relay.received();
    let keys: Vec<&str> = received
        .iter()
        .map(|r| r.header("idempotency-key").expect("an idempotency key"))
        .collect();
    let distinct: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(keys.len(), 3, "nothing doubled: {keys:?}");
    assert_eq!(distinct.len(), 3, "nothing doubled: {keys:?}");
    let to: BTreeSet<String> = received
        .iter()
        .map(|r| r.json()["to"].as_str().expect("to").to_owned())
        .collect();
    assert_eq!(to, BTreeSet::from([first, second.clone(), third]), "nothing lost");
    for r in &received {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/send"));
    }
    assert!(
        db.mails().iter().all(|m| m.state == DeliveryState::Sent),
        "{:?}",
        db.mails()
    );

    // The message that waited out the outage still works.
    let late = received
        .iter()
        .find(|r| r.json()["to"] == second)
        .expect("the waiting message");
    let token = token_in(late.json()["text"].as_str().expect("text"));
    let (status, body) = post_json(
        &mut app.browser(),
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn spin_up_loads_the_insurers_directory_from_directory_sql() {
    let insurer = FileDirectory::from_json(
        r#"{"policyholders": [{"customer_id": "K0000042", "family_name": "鈴木", "given_name": "一郎",
            "family_name_kana": "スズキ", "given_name_kana": "イチロウ", "birth_date": "1972-11-03",
            "phone": "0312345678", "postal_code": "1500001",
            "contracts": [{"policy_number": "K42000001", "product": "火災保険", "subject": "東京都渋谷区神宮前",
                           "expiry_date": "2027-03-31", "renewable": true}]}]}"#,
    )
    .expect("a directory");
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("directory.sql");
    std::fs::write(&script, customer_web_host::directory_sql::directory_sql(&insurer))
        .expect("directory.sql");
    let Some(app) = SpinApp::start(&[], &[&format!("@{}", script.display())]) else {
        return;
    };
    let db = SpinDb::new(app.database());

    // The insurer's policyholder is found: the mail carries a link.
    let holder = &insurer.policyholders()[0];
    let (status, body) =
        api_enroll_until_mail(&mut app.browser(), &api_customer(holder), "ichiro@example.jp");
    assert_eq!(status, 200, "{body}");
    assert_eq!(db.mails().last().expect("a mail").message.kind, "enrollment-link");

    // The sample's is not: it was never seeded beside the insurer's.
    let sample = FileDirectory::sample().policyholders()[0].clone();
    let (status, body) = api_enroll_until_mail(&mut app.browser(), &api_customer(&sample), "taro@example.jp");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        db.mails().last().expect("a mail").message.kind,
        "enrollment-unverified"
    );
}

/// A database the adapter made before it ran on customer-web-sql (its own
/// schema, no `schema_versions`), loaded with `--sqlite` before the first
/// request: the first request adopts and migrates it, every old row stays,
/// and new versions and ids follow the old ones.
#[test]
fn spin_up_adopts_a_database_the_old_adapter_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("old-adapter.sql");
    let rows = "
        INSERT INTO cw_kv (key, value, expires_at) VALUES ('legacy/kept', X'6F6C64', NULL);
        INSERT INTO cw_kv (version, key, value, expires_at) VALUES (41, 'legacy/gone', X'00', NULL);
        DELETE FROM cw_kv WHERE key = 'legacy/gone';
        INSERT INTO cw_outbox (recipient, subject, body, kind, queued_at, attempts, state,
                               next_attempt_at, last_error)
            VALUES ('old@example.jp', '件名', '本文', 'enrollment-link', 1700000000, 2, 'failing',
                    4102444800, 'mail relay answered 503');
        INSERT INTO cw_audit (at, kind, subject, detail)
            VALUES (1700000000, 'legacy-event', 'flow:old', '');
    ";
    let old_schema = include_str!("../../sql/tests/fixtures/old-spin-schema.sql");
    std::fs::write(&script, format!("{old_schema}{rows}")).expect("the old database's script");
    let Some(app) = SpinApp::start(&[], &[&format!("@{}", script.display())]) else {
        return;
    };
    let holder = FileDirectory::sample().policyholders()[0].clone();
    let (status, body) = api_enroll_until_mail(&mut app.browser(), &api_customer(&holder), "new@example.jp");
    assert_eq!(status, 200, "{body}");
    let db = SpinDb::new(app.database());

    let mails = db.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let (old, new) = (&mails[0], &mails[1]);
    assert_eq!(
        (old.id, old.message.to.as_str(), old.state, old.attempts),
        (1, "old@example.jp", DeliveryState::Failing, 2)
    );
    assert_eq!(old.last_error.as_deref(), Some("mail relay answered 503"));
    assert_eq!((new.id, new.message.kind.as_str()), (2, "enrollment-link"));

    let versions = db.versions(0);
    assert!(versions.contains(&("legacy/kept".to_owned(), 1)), "{versions:?}");
    assert!(
        versions
            .iter()
            .filter(|(key, _)| key != "legacy/kept")
            .all(|(_, v)| *v > 41),
        "new versions above every old one: {versions:?}"
    );
    assert!(versions.len() > 1, "the flow wrote keys: {versions:?}");

    let audit = db.audit_kinds();
    assert_eq!(
        audit.last().map(String::as_str),
        Some("legacy-event"),
        "{audit:?}"
    );
    assert!(audit.iter().any(|k| k == "enrollment-started"), "{audit:?}");

    let conn = rusqlite::Connection::open(db.path()).expect("the Spin database");
    let schema_versions: Vec<(String, i64)> = conn
        .prepare("SELECT name, version FROM schema_versions ORDER BY name")
        .expect("schema_versions")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("schema_versions")
        .collect::<Result<_, _>>()
        .expect("schema_versions rows");
    assert_eq!(
        schema_versions,
        [
            ("audit".to_owned(), 2),
            ("mail".to_owned(), 3),
            ("storage".to_owned(), 2)
        ]
    );
}

fn start_on(variables: &[(&'static str, String)]) -> Option<SpinApp> {
    let refs: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    SpinApp::start(&refs, &[])
}

/// The contract's tables in a Spin app's SQLite file.
fn contract_tables_in_sqlite(app: &SpinApp) -> Vec<String> {
    let conn = rusqlite::Connection::open(app.database()).expect("the Spin database");
    let mut statement = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name IN ('cw_kv', 'cw_outbox', 'cw_audit', 'schema_versions') ORDER BY name",
        )
        .expect("sqlite_master");
    statement
        .query_map([], |row| row.get(0))
        .expect("sqlite_master")
        .collect::<Result<_, _>>()
        .expect("names")
}

#[test]
fn spin_up_with_database_url_keeps_store_outbox_and_audit_in_postgres() {
    let Some(db) = TestDatabase::create("Spin on PostgreSQL") else {
        return;
    };
    let Some(app) = start_on(&spin_app::on_postgres(&db.url)) else {
        return;
    };
    // The walk reads the mail in the dev mailbox, which reads PostgreSQL.
    walks::enrollment_to_handover(&|| app.browser());

    let pg = PgPool::connect(&db.url, 1).expect("the test's connection");
    let audit: Vec<String> = pg
        .with(|c| audit::recent(c, 1000))
        .expect("cw_audit")
        .into_iter()
        .map(|event| event.kind)
        .collect();
    for kind in [
        "enrollment-started",
        "mail-sent",
        "account-created",
        "renewal-handover",
    ] {
        assert!(audit.iter().any(|k| k == kind), "{kind} in cw_audit: {audit:?}");
    }
    let mails = pg.with(|c| outbox::list(c, 100)).expect("cw_outbox");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].message.kind, "enrollment-link");
    assert!(
        mails[0].message.text.contains("/link/"),
        "the dev mailbox keeps the body"
    );
    let versions = pg.with(|c| kv::versions(c, now())).expect("cw_kv");
    assert!(
        versions.iter().any(|(key, _)| key.starts_with("session/")),
        "a live session in cw_kv: {versions:?}"
    );
    let migrated = pg
        .with(|c| is_current(c, &[&kv::SCHEMA, &outbox::SCHEMA, &audit::SCHEMA]))
        .expect("schema_versions");
    assert!(migrated, "the adapter migrated the shared database");

    // SQLite holds the directory alone.
    assert_eq!(contract_tables_in_sqlite(&app), Vec::<String>::new());
    let sqlite = rusqlite::Connection::open(app.database()).expect("the Spin database");
    let holders: i64 = sqlite
        .query_row("SELECT count(*) FROM cw_policyholders", [], |row| row.get(0))
        .expect("the directory in SQLite");
    assert!(holders > 0);
}

#[test]
fn two_spin_apps_on_one_postgres_finish_each_others_flows_and_race_to_one_winner() {
    let Some(db) = TestDatabase::create("two Spin apps on PostgreSQL") else {
        return;
    };
    let variables = spin_app::on_postgres(&db.url);
    // Two `spin up`, each with its own port and state directory (its own
    // SQLite file): nothing is shared but the database.
    let Some(a) = start_on(&variables) else {
        return;
    };
    let b = start_on(&variables).expect("Spin ran once");
    assert_ne!(a.database(), b.database());

    // Screens 1–5 on A; the mail is read in B's dev mailbox, and the link
    // is opened and finished on B.
    let mut pc = a.browser();
    let screen5 = walks::enroll_until_mail(&mut pc);
    assert_eq!(screen5.status, 200, "{}", screen5.body);
    let link = walks::link_from_dev_mailbox(&mut b.browser());
    let mut phone = b.browser();
    walks::finish_enrollment(&mut phone, &link, "taro.spin@example.jp");
    // The session B made is good on A; the link B spent is spent on A.
    walks::same_session_and_spent_link_on(&mut phone, a.address, &link);

    // A keyword race on one link, split across the two apps.
    let holder = FileDirectory::sample().policyholders()[1].clone();
    let (status, body) = api_enroll_until_mail(&mut b.browser(), &api_customer(&holder), "race@example.jp");
    assert_eq!(status, 200, "{body}");
    let pg = PgPool::connect(&db.url, 1).expect("the test's connection");
    let mails = pg.with(|c| outbox::list(c, 100)).expect("cw_outbox");
    let mail = mails
        .iter()
        .find(|m| m.message.to == "race@example.jp")
        .expect("the race's mail");
    let token = token_in(&mail.message.text);
    // The first flow's ticket lives on until it expires.
    let tickets_before = pg.with(|c| kv::count_prefix(c, "ticket/", now())).expect("cw_kv");
    let apps = [&a, &b];
    let outcomes = walks::race_keyword(50, &|i| apps[i % 2].browser(), &token);
    walks::one_winner(&outcomes);
    assert_eq!(
        pg.with(|c| kv::count_prefix(c, "ticket/", now())).expect("cw_kv"),
        tickets_before + 1,
        "the race made exactly one ticket in the shared store"
    );
    for app in [&a, &b] {
        assert_eq!(contract_tables_in_sqlite(app), Vec::<String>::new());
    }
}

#[test]
fn spin_instances_starting_together_on_a_fresh_postgres_database_migrate_it_once() {
    let Some(db) = TestDatabase::create("Spin migrating PostgreSQL") else {
        return;
    };
    let variables = spin_app::on_postgres(&db.url);
    let Some(a) = start_on(&variables) else {
        return;
    };
    let b = start_on(&variables).expect("Spin ran once");
    // Nothing has touched the database yet: twenty first requests, split
    // across the two apps, each in an instance that finds it unmigrated.
    // `migrate` holds BEGIN, the advisory lock and every step on one
    // connection resource; were they spread over Spin's pooled server
    // connections, the lock would be released at once and the racers'
    // CREATE TABLEs would collide (a 503 each).
    assert!(
        !PgPool::connect(&db.url, 1)
            .expect("the test's connection")
            .with(|c| is_current(c, &[&kv::SCHEMA]))
            .expect("schema_versions")
    );
    let barrier = std::sync::Barrier::new(20);
    let statuses: Vec<(u16, serde_json::Value)> = std::thread::scope(|scope| {
        let starters: Vec<_> = (0..20)
            .map(|i| {
                let app = if i % 2 == 0 { &a } else { &b };
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut browser = app.browser();
                    barrier.wait();
                    post_json(
                        &mut browser,
                        "/api/v1/enrollment",
                        json!({ "agent_code": "AG001" }),
                    )
                })
            })
            .collect();
        starters
            .into_iter()
            .map(|s| s.join().expect("a starter"))
            .collect()
    });
    for (status, body) in &statuses {
        assert_eq!(*status, 201, "{body}");
    }
    let pg = PgPool::connect(&db.url, 1).expect("the test's connection");
    let versions: Vec<(String, u64)> = pg
        .with(|c| {
            c.query(
                "SELECT name, version::bigint FROM schema_versions ORDER BY name",
                &[],
            )?
            .iter()
            .map(|row| Ok((row.text(0, "name")?, row.uint(1, "version")?)))
            .collect()
        })
        .expect("schema_versions");
    let expected: Vec<(String, u64)> = [&audit::SCHEMA, &outbox::SCHEMA, &kv::SCHEMA]
        .iter()
        .map(|schema| (schema.name.to_owned(), schema.postgres.len() as u64))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    assert_eq!(versions, expected);
    let flows = pg.with(|c| kv::versions(c, now())).expect("cw_kv");
    assert!(flows.len() >= 20, "twenty flows in the shared store: {flows:?}");
}

#[test]
fn a_postgres_database_spin_cannot_reach_is_a_503_that_never_shows_the_password() {
    const PASSWORD: &str = "never-shown-Pa55word";
    // A loopback port nobody listens on, allowed as the origin.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let url = format!("postgres://cw:{PASSWORD}@127.0.0.1:{port}/customer_web");
    let origin = format!("postgres://127.0.0.1:{port}");
    let Some(app) = SpinApp::start(&[("database_url", &url), ("database_origin", &origin)], &[]) else {
        return;
    };
    let (status, body) = post_json(
        &mut app.browser(),
        "/api/v1/enrollment",
        json!({ "agent_code": "AG001" }),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    // The dev mailbox shows the fault itself: where, without the password.
    let mailbox = app.browser().get("/_dev/mail");
    assert_eq!(mailbox.status, 503, "{}", mailbox.body);
    assert!(
        mailbox
            .body
            .contains(&format!("postgres://cw:…@127.0.0.1:{port}/customer_web")),
        "{}",
        mailbox.body
    );
    let mut logs = app.log();
    for entry in std::fs::read_dir(app.state.path().join("logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        logs.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    for (what, text) in [
        ("the page", &mailbox.body),
        ("the logs", &logs),
        ("the answer", &body.to_string()),
    ] {
        assert!(!text.contains(PASSWORD), "the password in {what}: {text}");
    }
}

/// A Spin app and a wasmtime host (`customer-web serve`) on one PostgreSQL
/// database are one service: a flow begun on the host is finished on
/// Spin with the link from Spin's dev mailbox, and the session and the
/// spent link are the same on the host.
#[test]
fn a_spin_app_and_a_serve_host_on_one_postgres_finish_each_others_flows() {
    let Some(db) = TestDatabase::create("Spin and serve on PostgreSQL") else {
        return;
    };
    let Some(spin) = start_on(&spin_app::on_postgres(&db.url)) else {
        return;
    };
    let host = support::serve_process::ServeProcess::start(&db.url, &["--dev"]);

    let mut pc = host.browser();
    let screen5 = walks::enroll_until_mail(&mut pc);
    assert_eq!(screen5.status, 200, "{}", screen5.body);
    // The host queued the mail; Spin's dev mailbox reads the same outbox.
    let link = walks::link_from_dev_mailbox(&mut spin.browser());
    let mut phone = spin.browser();
    walks::finish_enrollment(&mut phone, &link, "taro.both@example.jp");
    // Spin's session is good on the host, and the link Spin spent is
    // spent there too.
    walks::same_session_and_spent_link_on(&mut phone, host.address, &link);
    let pg = PgPool::connect(&db.url, 1).expect("the test's connection");
    let events: Vec<String> = pg
        .with(|c| audit::recent(c, 100))
        .expect("cw_audit")
        .into_iter()
        .map(|event| event.kind)
        .collect();
    for kind in ["enrollment-started", "account-created"] {
        assert!(events.iter().any(|k| k == kind), "{kind} in {events:?}");
    }
}
