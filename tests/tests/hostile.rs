//! `serve` against hostile clients, each attack as an attacker would make
//! it on loopback: stalled bodies, connection floods, hashing floods from
//! one client and from many, flow floods, oversized bodies without a
//! length, the dev pages asked for under a public host name, and a forged
//! client address. Every test bounds its own loops; none asserts on time
//! beyond "it answered".

use customer_web_e2e::support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use customer_web_host::directory::FileDirectory;
use customer_web_host::guard::{Limits, Rate};
use customer_web_host::{Capabilities, HostOptions};
use customer_web_testkit::MovableClock;
use serde_json::json;
use support::browser::{Browser, Server, test_limits};
use support::walks::post_json;

fn options(slots: usize) -> HostOptions {
    HostOptions {
        cache_dir: Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        max_concurrent: slots,
        ..HostOptions::default()
    }
}

fn server(slots: usize, limits: Limits) -> (Server, tempfile::TempDir) {
    server_on(slots, limits, &MovableClock::new())
}

/// [`server`] on `clock`.
fn server_on(slots: usize, limits: Limits, clock: &MovableClock) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let caps = Capabilities::sqlite_on(dir.path(), Arc::new(FileDirectory::sample()), clock.clock())
        .expect("capabilities");
    (Server::start_with(caps, options(slots), limits), dir)
}

/// Another client on this machine: 127.0.0.N.
fn client(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A connection that sends a request head promising `length` bytes, then
/// `sent`, then nothing.
fn stall(address: SocketAddr, path: &str, length: usize, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(sent).expect("a first byte");
    stream
}

/// The status line's code of whatever `stream` gets back (0: nothing).
fn status_of(mut stream: TcpStream) -> u16 {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn stalled_bodies_hold_no_instance_slot_and_time_out_with_408() {
    let limits = Limits {
        body_idle: Duration::from_secs(2),
        body_total: Duration::from_secs(4),
        ..test_limits()
    };
    let (server, _dir) = server(2, limits);
    // Twice as many stalled sign-ins as there are instance slots.
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| stall(server.address, "/api/v1/session", 1000, b"{"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let top = server.browser().get("/");
    assert_eq!(top.status, 200, "the top page while four bodies stall");
    for stream in stalled {
        assert_eq!(status_of(stream), 408, "a stalled body times out");
    }
}

#[test]
fn a_body_without_a_length_past_the_limit_is_refused_unread_with_413() {
    let (server, _dir) = server(2, test_limits());
    let mut stream = TcpStream::connect(server.address).expect("connect");
    let head = format!(
        "POST /api/v1/session HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        server.address
    );
    stream.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..5 {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).is_err() {
            break;
        }
    }
    assert_eq!(status_of(stream), 413);
}

#[test]
fn a_request_without_a_host_is_a_400_not_a_host_fault() {
    let (server, _dir) = server(2, test_limits());
    for (path, kind) in [("/", "text/html"), ("/api/v1/enrollment", "application/json")] {
        let mut stream = TcpStream::connect(server.address).expect("connect");
        // HTTP/1.0 lets a client leave `Host` out; the component's request
        // needs an authority.
        write!(stream, "GET {path} HTTP/1.0\r\n\r\n").expect("request");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.0 400"), "{path}: {answer}");
        assert!(
            answer.contains(&format!("content-type: {kind}")),
            "{path}: {answer}"
        );
        assert!(answer.contains("content-security-policy:"), "{path}: {answer}");
    }
    assert_eq!(server.browser().get("/").status, 200, "the server goes on");
}

#[test]
fn one_client_gets_only_its_share_of_connections() {
    let limits = Limits {
        connections_per_client: 4,
        ..test_limits()
    };
    let (server, _dir) = server(2, limits);
    let mut held = Vec::new();
    for _ in 0..4 {
        let b = Browser::from_source(server.address, client(2));
        let stream = b.connect().expect("connect");
        held.push(stream);
    }
    // Let the server count them.
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = Browser::from_source(server.address, client(2))
        .connect()
        .expect("the kernel accepts");
    let _ = fifth.write_all(format!("GET / HTTP/1.1\r\nhost: {}\r\n\r\n", server.address).as_bytes());
    assert_eq!(status_of(fifth), 0, "the fifth connection is closed unanswered");
    // Another client is served meanwhile.
    assert_eq!(
        Browser::from_source(server.address, client(3)).get("/").status,
        200
    );
    drop(held);
}

#[test]
fn one_client_hashing_in_a_loop_is_slowed_and_told_when_to_come_back() {
    let limits = Limits {
        hash_per_client: Rate {
            burst: 3,
            per: Duration::from_secs(60),
        },
        ..test_limits()
    };
    let (server, _dir) = server(4, limits);
    let mut attacker = Browser::from_source(server.address, client(4));
    let mut outcomes = Vec::new();
    for i in 0..6 {
        let (status, body) = post_json(
            &mut attacker,
            "/api/v1/session",
            json!({ "user_id": format!("nobody{i}@example.jp"), "password": "not the password" }),
        );
        outcomes.push((status, body));
    }
    let statuses: Vec<u16> = outcomes.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429], "{outcomes:?}");
    assert!(outcomes[3].1["retry_after"].as_u64().is_some_and(|s| s > 0));
    // The screens say it in a page, with Retry-After.
    let page = attacker.request(
        "POST",
        "/signin",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(b"user-id=a%40b.jp&password=x"),
    );
    assert_eq!(page.status, 429);
    assert!(page.header("retry-after").is_some());
    assert!(page.body.contains("しばらく"), "{}", page.body);
    // Someone else signs in meanwhile (and is told the password is wrong).
    let (status, _) = post_json(
        &mut Browser::from_source(server.address, client(5)),
        "/api/v1/session",
        json!({ "user_id": "someone@example.jp", "password": "not the password" }),
    );
    assert_eq!(status, 401);
}

#[test]
fn a_hashing_flood_from_many_clients_is_queued_and_turned_away_and_pages_stay_up() {
    let limits = Limits {
        hash_concurrency: 1,
        hash_queue: 2,
        hash_wait: Duration::from_secs(30),
        ..test_limits()
    };
    let (server, _dir) = server(4, limits);
    let address = server.address;
    let barrier = std::sync::Barrier::new(17);
    let (flood, top): (Vec<u16>, u16) = std::thread::scope(|scope| {
        let attackers: Vec<_> = (0..16u8)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut b = Browser::from_source(address, client(20 + i));
                    barrier.wait();
                    post_json(
                        &mut b,
                        "/api/v1/session",
                        json!({ "user_id": format!("flood{i}@example.jp"), "password": "guess guess guess" }),
                    )
                    .0
                })
            })
            .collect();
        barrier.wait();
        // While the flood hashes: the top page, from yet another client.
        std::thread::sleep(Duration::from_millis(100));
        let top = Browser::from_source(address, client(99)).get("/").status;
        (
            attackers
                .into_iter()
                .map(|a| a.join().expect("an attacker"))
                .collect(),
            top,
        )
    });
    assert_eq!(top, 200, "pages that don't hash stay up");
    let hashed = flood.iter().filter(|&&s| s == 401).count();
    let busy = flood.iter().filter(|&&s| s == 503).count();
    assert_eq!(hashed + busy, 16, "{flood:?}");
    assert!(busy >= 1, "the queue overflowed: {flood:?}");
    assert!(hashed >= 3, "one running and two queued at least: {flood:?}");
}

#[test]
fn one_client_cannot_start_flows_without_end() {
    let limits = Limits {
        flows_per_client: Rate {
            burst: 3,
            per: Duration::from_secs(600),
        },
        ..test_limits()
    };
    let (server, _dir) = server(2, limits);
    let mut b = Browser::from_source(server.address, client(6));
    let statuses: Vec<u16> = (0..5)
        .map(|_| post_json(&mut b, "/api/v1/enrollment", json!({})).0)
        .collect();
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    let other = post_json(
        &mut Browser::from_source(server.address, client(7)),
        "/api/v1/enrollment",
        json!({}),
    );
    assert_eq!(other.0, 201, "another client starts its own");
}

#[test]
fn the_dev_pages_answer_only_a_loopback_host_name() {
    let (server, _dir) = server(2, test_limits());
    let mut b = server.browser();
    assert_eq!(b.get("/_dev/mail").status, 200);
    for host in ["portal.example.co.jp", "10.0.0.5:3000", "localhost.example.com"] {
        let page = b.request("GET", "/_dev/mail", &[("host", host)], None);
        // The component's 404 for a path it does not know: never the
        // mailbox.
        assert_eq!(page.status, 404, "{host}: {}", page.body);
        assert!(
            !page.body.contains("開発用メールボックス"),
            "{host}: {}",
            page.body
        );
    }
    assert!(customer_web_host::serve::dev_pages_allowed(
        "127.0.0.1:5".parse().unwrap(),
        Some("localhost:3000")
    ));
    assert!(customer_web_host::serve::dev_pages_allowed(
        "[::1]:5".parse().unwrap(),
        Some("[::1]:3000")
    ));
    for (peer, host) in [
        ("127.0.0.1:5", Some("portal.example.co.jp")),
        ("127.0.0.1:5", None),
        ("192.0.2.1:5", Some("localhost")),
    ] {
        assert!(
            !customer_web_host::serve::dev_pages_allowed(peer.parse().unwrap(), host),
            "{peer} {host:?}"
        );
    }
}

#[test]
fn a_forged_client_address_never_reaches_the_component() {
    let request = hyper::Request::get("/")
        .header("spin-client-addr", "203.0.113.66:1")
        .header("spin-client-addr", "203.0.113.67:1")
        .body(())
        .expect("request");
    let request = customer_web_host::serve::with_client_address(request, client(8));
    let values: Vec<&str> = request
        .headers()
        .get_all("spin-client-addr")
        .iter()
        .map(|v| v.to_str().expect("text"))
        .collect();
    assert_eq!(values, ["127.0.0.8"]);
}

#[test]
fn abandoned_flows_are_purged_on_schedule_and_storage_stays_bounded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = MovableClock::new();
    let caps = Capabilities::sqlite_on(dir.path(), Arc::new(FileDirectory::sample()), clock.clock())
        .expect("capabilities");
    let server = Server::start_with(caps, options(2), test_limits());
    let rows = || -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("customer-web.sqlite3")).expect("the database");
        conn.query_row("SELECT count(*) FROM cw_kv", [], |r| r.get(0))
            .expect("count")
    };
    let mut b = Browser::from_source(server.address, client(10));
    for round in 0..3 {
        for _ in 0..20 {
            assert_eq!(post_json(&mut b, "/api/v1/enrollment", json!({})).0, 201);
        }
        assert!(rows() >= 20, "round {round}: the flows are stored");
        // Abandoned: their lifetime (2 h) passes, and the scheduler (every
        // 200 ms here) purges them; nothing else clears them.
        clock.advance(Duration::from_secs(3 * 3600));
        let mut left = rows();
        for _ in 0..100 {
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            left = rows();
        }
        assert_eq!(left, 0, "round {round}: every expired flow purged");
    }
}

#[test]
fn a_guesser_slows_only_itself_and_cannot_borrow_the_owners_address() {
    let clock = MovableClock::new();
    let (server, _dir) = server_on(4, test_limits(), &clock);
    let mut owner = Browser::from_source(server.address, client(32));
    let holder = FileDirectory::sample().policyholders()[0].clone();
    let (status, body) = support::walks::api_enroll_until_mail(
        &mut owner,
        &support::walks::api_customer(&holder),
        "own@example.jp",
    );
    assert_eq!(status, 200, "{body}");
    let mail = server
        .host
        .capabilities()
        .outbox
        .list(1)
        .expect("outbox")
        .remove(0);
    let token = support::walks::token_in(&mail.message.text);
    let (_, verified) = post_json(
        &mut owner,
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": support::walks::KEYWORD }),
    );
    let ticket = verified["ticket"].as_str().expect("a ticket").to_owned();
    let password = support::walks::PASSWORD;
    let creds = json!({ "ticket": ticket, "user_id": "owner@example.jp", "password": password });
    assert_eq!(post_json(&mut owner, "/api/v1/credentials", creds).0, 204);
    assert_eq!(
        post_json(
            &mut owner,
            "/api/v1/credentials/complete",
            json!({ "ticket": ticket })
        )
        .0,
        200
    );

    // The clock stands still from here: the one-second wait after the
    // third failure must not run out while a slow machine hashes.
    clock.stop();
    let mut attacker = Browser::from_source(server.address, client(31));
    let guess = |b: &mut Browser, password: &str, forged: Option<&str>| -> u16 {
        let body = json!({ "user_id": "owner@example.jp", "password": password }).to_string();
        let mut headers = vec![("content-type", "application/json")];
        if let Some(forged) = forged {
            headers.push(("spin-client-addr", forged));
        }
        b.request("POST", "/api/v1/session", &headers, Some(body.as_bytes()))
            .status
    };
    let statuses: Vec<u16> = (0..4)
        .map(|_| guess(&mut attacker, "wrong guess here", None))
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429]);
    // Claiming the owner's address changes nothing: the host's own stands.
    assert_eq!(guess(&mut attacker, password, Some("127.0.0.32")), 429);
    // The owner signs in at once.
    assert_eq!(guess(&mut owner, password, None), 200);
}
