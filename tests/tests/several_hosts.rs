//! Several `customer-web serve` processes on one PostgreSQL database, as a
//! portal runs them behind a load balancer: a flow begun on one host ends
//! on another; a keyword race split across hosts has one winner; a host
//! killed while it holds outbox leases loses no mail and doubles none; a
//! database restart mid-flow shows clear 503 pages and loses nothing.
//!
//! The database: the test server `CUSTOMER_WEB_TEST_POSTGRES` names (a
//! schema per test), or for the restart a server of the test's own
//! (`.ci/postgres`). Without PostgreSQL the tests say SKIPPED (under CI
//! they fail).

use customer_web_e2e::support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::postgres::{PgConnection, PgPool};
use customer_web_sql::{Connection, Database, Value, kv, outbox};
use serde_json::json;
use support::browser::Browser;
use support::serve_process::{OwnPostgres, ServeProcess};
use support::smtp::{SmtpServer, free_port};
use support::walks::{self, KEYWORD, PASSWORD, link_from_dev_mailbox, post_json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A connection of the test's own to the database the hosts share.
fn inspect(url: &str) -> PgPool {
    PgPool::connect(url, 1).expect("the test's connection")
}

/// The one-time token of the newest mail to `to`.
fn mailed_token(db: &PgPool, to: &str) -> String {
    let mails = db.with(|c| outbox::list(c, 1000)).expect("the outbox");
    let mail = mails.iter().find(|m| m.message.to == to).expect("a mail");
    walks::token_in(&mail.message.text)
}

/// Hosts sharing one database may differ in who hashes: A leaves it to
/// the component, B hashes natively (`--native-hashing`). The keyword
/// hashed in WebAssembly on A is checked natively on B, and the password
/// B hashed natively is checked in WebAssembly on A.
#[test]
fn a_flow_begun_on_one_host_is_finished_on_another() {
    let Some(db) = TestDatabase::create("several hosts") else {
        return;
    };
    let a = ServeProcess::start(&db.url, &["--dev"]);
    let b = ServeProcess::start(&db.url, &["--dev", "--native-hashing"]);
    assert!(a.log().contains("hashing=component"), "{}", a.log());
    assert!(b.log().contains("hashing=native"), "{}", b.log());

    // Screens 1–5 on A.
    let mut pc = a.browser();
    let screen5 = walks::enroll_until_mail(&mut pc);
    assert_eq!(screen5.status, 200, "{}", screen5.body);
    assert!(screen5.body.contains(KEYWORD));

    // The mail shows in B's dev mailbox too: one outbox. The link is
    // opened on B, and every step after it runs there.
    let mut on_b = b.browser();
    let link = link_from_dev_mailbox(&mut on_b);
    let mut phone = b.browser();
    walks::finish_enrollment(&mut phone, &link, "taro.hosts@example.jp");

    // The session B began is good on A, and the spent link is spent on A.
    walks::same_session_and_spent_link_on(&mut phone, a.address, &link);

    // Sign-in on either host with the credentials made on B.
    for host in [&a, &b] {
        let mut fresh = host.browser();
        let (status, body) = post_json(
            &mut fresh,
            "/api/v1/session",
            json!({ "user_id": "taro.hosts@example.jp", "password": PASSWORD }),
        );
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
fn a_hundred_racing_keywords_across_two_hosts_have_one_winner() {
    let Some(db) = TestDatabase::create("several hosts") else {
        return;
    };
    let a = ServeProcess::start(&db.url, &["--dev"]);
    let b = ServeProcess::start(&db.url, &["--dev"]);
    let inspect = inspect(&db.url);

    let mut starter = a.browser();
    let holder = customer_web_host::directory::FileDirectory::sample();
    let holder = &holder.policyholders()[0];
    let (status, body) =
        walks::api_enroll_until_mail(&mut starter, &walks::api_customer(holder), "race@example.jp");
    assert_eq!(status, 200, "{body}");
    let token = mailed_token(&inspect, "race@example.jp");

    // A hundred clients (each its own loopback address, so no per-client
    // limit is what stops them), half on each host, all at once.
    let hosts = [a.address, b.address];
    let outcomes = walks::race_keyword(
        100,
        &|i| {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 10 + i as u8));
            Browser::from_source(hosts[i % 2], source)
        },
        &token,
    );
    let winners: Vec<_> = outcomes.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, body) in &outcomes {
        match status {
            200 => assert!(body["ticket"].is_string(), "{body}"),
            // Lost the race, or turned away by a full hashing queue.
            410 => assert_eq!(body["error"], "link-spent", "{body}"),
            503 => assert_eq!(body["error"], "busy", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let tickets = inspect
        .with(|c| kv::count_prefix(c, "ticket/", now()))
        .expect("storage");
    assert_eq!(tickets, 1, "exactly one ticket in the shared store");
}

#[test]
fn a_host_killed_while_holding_outbox_leases_loses_no_mail_and_doubles_none() {
    const MAILS: usize = 12;
    let Some(db) = TestDatabase::create("several hosts") else {
        return;
    };
    let inspect = inspect(&db.url);
    // Host A's mail server takes the connection and never answers: A's
    // delivery worker claims every due message and hangs on the first.
    let stalling = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let stalling_port = stalling.local_addr().expect("address").port();
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in stalling.incoming() {
            held.push(conn);
        }
    });
    // The mail was queued before either host started.
    inspect.migrate(&outbox::SCHEMA).expect("the outbox's schema");
    let queued_at = now();
    let ids: Vec<u64> = (0..MAILS)
        .map(|i| {
            let message = outbox::OutgoingMessage {
                to: format!("lease{i}@example.jp"),
                subject: "【お客さまWebサービス】ご登録のご案内".into(),
                text: format!("message {i}\n"),
                kind: "enrollment-link".into(),
            };
            inspect
                .with(|c| outbox::enqueue(c, &message, queued_at))
                .expect("enqueue")
        })
        .collect();
    let mut a = ServeProcess::start(
        &db.url,
        &[
            "--smtp",
            &format!("smtp://127.0.0.1:{stalling_port}"),
            "--mail-lease",
            "6",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leased = inspect
            .with(|c| {
                c.query(
                    "SELECT count(*) FROM cw_outbox WHERE leased_until > $1",
                    &[Value::uint(now())],
                )
            })
            .expect("the outbox")[0]
            .uint(0, "count")
            .expect("a count");
        if leased == MAILS as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A never claimed the mail:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    a.kill9();

    // Host B, with a working mail server, sends every message once A's
    // leases run out.
    let maildir = tempfile::tempdir().expect("a maildir");
    let port = free_port();
    let server = SmtpServer::start(port, &maildir.path().join("maildir"));
    let b = ServeProcess::start(&db.url, &["--smtp", &format!("smtp://127.0.0.1:{port}")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = inspect.with(|c| outbox::list(c, 1000)).expect("the outbox");
        if all.iter().all(|m| m.state == outbox::DeliveryState::Sent) {
            for m in &all {
                assert_eq!(m.attempts, 1, "one delivery each: {m:?}");
                assert!(m.message.text.is_empty(), "the body is dropped once sent");
            }
            break;
        }
        assert!(Instant::now() < deadline, "B did not deliver:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let received = server.received();
    assert_eq!(received.len(), MAILS, "each message once");
    let mut bodies: Vec<String> = received.into_iter().map(|(_, body)| body).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), MAILS, "no message twice");
    assert_eq!(ids.len(), MAILS);
}

#[test]
fn a_database_restart_mid_flow_shows_503_and_loses_nothing() {
    let Some(pg) = OwnPostgres::start() else { return };
    let a = ServeProcess::start(&pg.url, &["--dev"]);
    let mut pc = a.browser();
    let screen2 = pc.get("/enroll?agent=AG001");
    let terms = screen2.field("accepted-terms").expect("terms");
    let mut fields = walks::customer(&terms);
    fields.push(("agent-code", "AG001".into()));
    let to_contact = pc.submit("/enroll?agent=AG001", "/enroll", &walks::refs(&fields));
    assert_eq!(to_contact.location(), "/enroll/contact");
    let contact_page = pc.get("/enroll/contact");
    let csrf = contact_page.field("csrf").expect("a CSRF field");
    let contact = [
        ("keyword", KEYWORD),
        ("email", "restart@example.jp"),
        ("email-confirm", "restart@example.jp"),
        ("csrf", csrf.as_str()),
    ];

    pg.stop();
    // Every page that needs the database says plainly that the service is
    // unavailable, and when to come back; nothing is half-done.
    let refused = pc.post_form("/enroll/contact", &contact);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.contains("ただいまサービスをご利用いただけません"),
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("30"));
    let mut api = a.browser();
    let (status, body) = post_json(&mut api, "/api/v1/enrollment", json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );

    pg.resume();
    // The flow begun before the outage goes on from where it was.
    let deadline = Instant::now() + Duration::from_secs(30);
    let to_review = loop {
        let page = pc.post_form("/enroll/contact", &contact);
        if page.status != 503 {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "still 503 after the database came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(to_review.location(), "/enroll/review", "{}", to_review.body);
    let sent = pc.submit("/enroll/review", "/enroll/confirm", &[]);
    assert_eq!(pc.follow(&sent).status, 200);
    let link = link_from_dev_mailbox(&mut pc);
    let mut phone = a.browser();
    let to_credentials = phone.submit(&link, &link, &[("keyword", KEYWORD)]);
    assert_eq!(to_credentials.location(), "/credentials");
    let mut c = PgConnection::open(&pg.url).expect("the database");
    let flows = c
        .query(
            "SELECT count(*) FROM cw_kv WHERE key >= 'enrollment/'::bytea AND key < 'enrollment0'::bytea",
            &[],
        )
        .expect("count")[0]
        .uint(0, "count")
        .expect("count");
    assert_eq!(flows, 1, "one enrollment flow, the one begun before the outage");
}

/// The hosts reach a database over TLS verified against the URL's
/// `sslrootcert`, and refuse a certificate for another name with an error
/// that says what to do and does not show the password.
#[test]
fn hosts_reach_postgres_over_verified_tls_and_refuse_a_wrong_certificate() {
    let Some(db) = TestDatabase::create("PostgreSQL TLS") else {
        return;
    };
    let ca = std::env::var("CUSTOMER_WEB_TEST_POSTGRES_CA")
        .expect(".ci/postgres sets CUSTOMER_WEB_TEST_POSTGRES_CA beside CUSTOMER_WEB_TEST_POSTGRES");
    let with = |host: &str| -> String {
        let url = db
            .url
            .replacen("postgres@127.0.0.1:", &format!("postgres:s3cret-pw@{host}:"), 1);
        format!("{url}&sslmode=verify-full&sslrootcert={ca}")
    };
    let data = tempfile::tempdir().expect("a data dir");
    let run = |url: &str| {
        std::process::Command::new(support::serve_process::binary())
            .arg("--data-dir")
            .arg(data.path())
            .arg("outbox")
            .env("CUSTOMER_WEB_DATABASE", url)
            .output()
            .expect("customer-web runs")
    };

    let verified = run(&with("localhost"));
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // The schema is there: the host migrated it over TLS.
    let migrated = inspect(&db.url)
        .with(|c| c.query("SELECT count(*) FROM cw_outbox", &[]))
        .expect("cw_outbox exists");
    assert_eq!(migrated[0].0[0], Value::Int(0));

    let refused = run(&with("127.0.0.1"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("not valid for name"), "{stderr}");
    assert!(stderr.contains("sslrootcert=PATH"), "{stderr}");
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password is never shown: {stderr}"
    );
}
