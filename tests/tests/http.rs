//! The screens over real HTTP: `customer-web serve`'s server on a loopback
//! port, the component behind it, a cookie-keeping client in front.

use customer_web_e2e::support;

use std::sync::Arc;
use std::time::Duration;

use customer_web_host::directory::FileDirectory;
use customer_web_host::{Capabilities, HostOptions};
use support::browser::{Browser, Server};
use support::walks::{self, KEYWORD, PASSWORD, link_from_dev_mailbox, post_json, refs};

fn options() -> HostOptions {
    HostOptions {
        cache_dir: Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        ..HostOptions::default()
    }
}

fn sqlite_server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let caps = Capabilities::sqlite(dir.path(), Arc::new(FileDirectory::sample())).expect("capabilities");
    (Server::start(caps, options()), dir)
}

#[test]
fn enrollment_over_http_from_the_agent_link_to_the_renewal_hand_over() {
    let (server, _dir) = sqlite_server();
    walks::enrollment_to_handover(&|| server.browser());
}

#[test]
fn recovery_over_http_shows_the_keyword_on_screen_only() {
    let (server, _dir) = sqlite_server();
    walks::recovery_after_enrollment(&|| server.browser());
}

/// The server's live storage keys and their versions.
fn versions(server: &Server) -> Vec<(String, u64)> {
    let caps = server.host.capabilities();
    caps.housekeeping
        .as_ref()
        .expect("SQLite has housekeeping")
        .versions()
        .unwrap()
}

#[test]
fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let (server, _dir) = sqlite_server();
    let mut b = server.browser();
    b.get("/enroll");
    let before = versions(&server);
    let terms = b.get("/enroll").field("accepted-terms").unwrap();
    let fields = walks::customer(&terms);
    let refused = b.post_form("/enroll", &refs(&fields));
    assert_eq!(refused.status, 403);
    let mut forged: Vec<(&str, &str)> = refs(&fields);
    forged.push(("csrf", "forged-token"));
    assert_eq!(b.post_form("/enroll", &forged).status, 403);
    let after = versions(&server);
    assert_eq!(before, after);
}

#[test]
fn every_page_carries_the_security_headers_and_cookie_flags() {
    let (server, _dir) = sqlite_server();
    let mut b = server.browser();
    let top = b.get("/");
    let csp = top.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(top.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(top.header("content-type"), Some("text/html; charset=utf-8"));
    let cookies = top.headers_named("set-cookie");
    assert!(!cookies.is_empty(), "the CSRF cookie is set");
    for cookie in cookies {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        // Served on plain-http loopback: Secure is the one flag left off.
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    let missing = b.get("/no/such/page");
    assert_eq!(missing.status, 404);
    assert!(missing.header("content-security-policy").is_some());
    let css = b.get("/static/style.css");
    assert_eq!(css.status, 200);
}

#[test]
fn a_page_goes_out_with_its_length_and_a_head_answer_without_a_body() {
    let (server, _dir) = sqlite_server();
    let mut b = server.browser();
    let top = b.get("/");
    assert_eq!(top.status, 200);
    assert_eq!(
        top.header("content-length"),
        Some(top.body.len().to_string().as_str()),
        "the page's length goes ahead of it"
    );
    assert_eq!(top.header("transfer-encoding"), None);
    let head = b.request("HEAD", "/", &[], None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "{}", head.body);
    assert!(head.header("content-security-policy").is_some());
    // A GET that declares a body still has it read (and the limit kept):
    // only a GET or HEAD that declares none skips reading it.
    let with_body = b.request("GET", "/", &[], Some(b"ignored"));
    assert_eq!(with_body.status, 200);
    let huge = vec![b'a'; 200 * 1024];
    assert_eq!(b.request("GET", "/", &[], Some(&huge)).status, 413);
}

#[test]
fn a_body_reaches_the_component_in_every_framing_and_an_empty_one_is_not_opened() {
    let (server, _dir) = sqlite_server();
    let json = "POST /api/v1/enrollment HTTP/1.1";
    let chunked = "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let length = |body: &str| {
        format!(
            "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let form = "content-type: application/x-www-form-urlencoded\r\ncontent-length: 0\r\n\r\n";
    // (request line, the rest, the status, what the answer holds)
    let cases = [
        // Chunks: read whole, whatever their number.
        (
            json,
            format!("{chunked}1\r\n{{\r\n1\r\n}}\r\n0\r\n\r\n"),
            201,
            "\"flow\"",
        ),
        (
            json,
            format!("{chunked}a\r\n{{\"nope\":1}}\r\n0\r\n\r\n"),
            400,
            "a field is missing, unknown",
        ),
        // No chunk at all, or a declared length of 0: an empty body, which
        // is no JSON.
        (json, format!("{chunked}0\r\n\r\n"), 400, "not valid JSON"),
        (json, length(""), 400, "not valid JSON"),
        // A length: read to it.
        (json, length("{}"), 201, "\"flow\""),
        // An empty form is refused by the screens' checks, not as
        // unreadable.
        (
            "POST /enroll HTTP/1.1",
            form.to_owned(),
            403,
            "この操作は受け付けられませんでした",
        ),
        // A GET with neither: the page.
        ("GET / HTTP/1.1", "\r\n".to_owned(), 200, "</html>"),
    ];
    let b = server.browser();
    for (line, rest, status, holds) in cases {
        let raw = format!(
            "{line}\r\nhost: {}\r\nconnection: close\r\n{rest}",
            server.address
        );
        let page = b.raw(raw.as_bytes());
        assert_eq!(page.status, status, "{line} {rest:?}: {}", page.body);
        assert!(page.body.contains(holds), "{line} {rest:?}: {}", page.body);
    }
}

#[test]
fn oversized_and_malformed_bodies_are_refused_with_a_page() {
    let (server, _dir) = sqlite_server();
    let mut b = server.browser();
    b.get("/enroll");
    let huge = vec![b'a'; 200 * 1024];
    let page = b.request(
        "POST",
        "/enroll",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(&huge),
    );
    assert_eq!(page.status, 413);
    assert!(page.body.contains("大きすぎます"));
    let page = b.request(
        "POST",
        "/enroll",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(b"%zz=\xff"),
    );
    assert!(page.status == 400 || page.status == 403, "{}", page.status);
    // The server goes on.
    assert_eq!(b.get("/").status, 200);
}

/// A server whose calls may run 1 ms, far shorter than one argon2id hash,
/// and a browser holding a CSRF cookie with the form field derived from
/// it: they pass the CSRF check without a page load (which such a server
/// would itself interrupt).
fn impatient_server() -> (Server, Browser, String) {
    let server = Server::start(
        Capabilities::in_memory(),
        HostOptions {
            call_timeout: Duration::from_millis(1),
            ..options()
        },
    );
    let mut b = server.browser();
    let cookie = "AAAAAAAAAAAAAAAAAAAAAA";
    b.cookies.insert("cw_csrf".into(), cookie.into());
    let token = customer_web_app::csrf_field(cookie, "");
    (server, b, token)
}

/// A recovery request, which hashes, stopped at the deadline and answered
/// with the host's own page.
fn assert_stopped_at_its_deadline(b: &mut Browser, token: &str) {
    let page = b.post_form(
        "/recover",
        &[
            ("email", "a@example.jp"),
            ("birth-date", "1985-04-01"),
            ("csrf", token),
        ],
    );
    assert_eq!(page.status, 500, "{}", page.body);
    assert!(page.body.contains("ご利用いただけません"));
}

#[test]
fn a_request_the_component_cannot_finish_fails_alone() {
    // Every request that hashes is interrupted, and the host answers it
    // with its own page.
    let (_server, mut b, token) = impatient_server();
    for _ in 0..3 {
        assert_stopped_at_its_deadline(&mut b, &token);
    }
    // A client of the JSON API is told in JSON.
    let page = b.request(
        "POST",
        "/api/v1/recovery",
        &[("content-type", "application/json")],
        Some(br#"{"email":"a@example.jp","birth_date":"1985-04-01"}"#),
    );
    assert_eq!(page.status, 500, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.body, r#"{"error":"internal"}"#);
    // The host's own pages still answer.
    assert_eq!(b.get("/_dev/mail").status, 200);
}

#[test]
fn an_idle_host_lets_its_epoch_thread_sleep_and_the_next_call_still_meets_its_deadline() {
    let (server, mut b, token) = impatient_server();
    let asleep = || {
        let began = std::time::Instant::now();
        while !server.host.epoch_asleep() {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "the epoch thread stayed awake"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    asleep();
    // Asleep, the clock does not advance by itself; a hashing request
    // (tens of milliseconds) is still stopped at its 1 ms deadline, so the
    // request woke it.
    assert_stopped_at_its_deadline(&mut b, &token);
    assert!(!server.host.epoch_asleep(), "a call just ran");
    // And once idle again, it sleeps again.
    asleep();
}

#[test]
fn shutdown_lets_a_request_in_flight_finish() {
    let (mut server, _dir) = sqlite_server();
    let address = server.address;
    let mut b = server.browser();
    b.get("/recover");
    let csrf = b.get("/recover").field("csrf").unwrap();
    let cookies = b.cookies.clone();
    let in_flight = std::thread::spawn(move || {
        let mut late = Browser {
            cookies,
            ..Browser::at(address)
        };
        // Hashes a keyword (argon2id) inside the component: long enough
        // to still be running when shutdown starts.
        late.post_form(
            "/recover",
            &[
                ("email", "a@example.jp"),
                ("birth-date", "1985-04-01"),
                ("csrf", &csrf),
            ],
        )
    });
    // Wait until the request is inside the component (it has counted its
    // mail allowance, and is about to hash), then shut down.
    let caps = server.host.capabilities().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let housekeeping = caps.housekeeping.as_ref().expect("SQLite has housekeeping");
    while housekeeping.count_prefix("mail-window/").unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the component"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    server.shut_down().expect("a clean shutdown");
    let page = in_flight.join().expect("client thread");
    assert_eq!(page.status, 303, "{}", page.body);
    // Stopped for good: new connections are refused.
    assert!(std::net::TcpStream::connect(address).is_err());
}

#[test]
fn a_client_that_goes_away_mid_request_does_not_cut_the_flow_short() {
    use std::io::Write;
    let (server, _dir) = sqlite_server();
    let caps = server.host.capabilities().clone();
    let housekeeping = caps.housekeeping.as_ref().expect("SQLite has housekeeping");
    let cookie = "AAAAAAAAAAAAAAAAAAAAAA";
    let body = format!(
        "email=a%40example.jp&birth-date=1985-04-01&csrf={}",
        customer_web_app::csrf_field(cookie, "")
    );
    let mut client = std::net::TcpStream::connect(server.address).expect("connects");
    write!(
        client,
        "POST /recover HTTP/1.1\r\nHost: {}\r\nCookie: cw_csrf={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        server.address,
        body.len()
    )
    .expect("request sent");
    // Inside the component (its mail allowance counted, the keyword about
    // to be hashed), the client hangs up.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while housekeeping.count_prefix("mail-window/").unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the component"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(housekeeping.count_prefix("link/").unwrap(), 0, "still hashing");
    client.shutdown(std::net::Shutdown::Both).expect("hung up");
    drop(client);
    // The instance runs to its end all the same: the link it writes after
    // the hash is stored.
    while housekeeping.count_prefix("link/").unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flow was cut short when its client went away"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // And the server goes on.
    assert_eq!(server.browser().get("/").status, 200);
}

#[test]
fn the_json_api_enrolls_and_signs_in_over_http() {
    use serde_json::json;
    let (server, _dir) = sqlite_server();
    let mut b = server.browser();
    let (status, started) = post_json(&mut b, "/api/v1/enrollment", json!({ "agent_code": "AG001" }));
    assert_eq!(status, 201, "{started}");
    let flow = started["flow"].as_str().unwrap().to_owned();
    let terms = started["terms_version"].as_str().unwrap().to_owned();
    let mut customer = json!({ "flow": flow, "accepted_terms": terms });
    for (name, value) in walks::customer(&terms) {
        if name != "accepted-terms" {
            customer[name.replace('-', "_")] = json!(value);
        }
    }
    let (status, body) = post_json(&mut b, "/api/v1/enrollment/customer", customer);
    assert_eq!(status, 204, "{body}");
    let contact = json!({ "flow": flow, "keyword": KEYWORD, "email": "taro@example.jp" });
    assert_eq!(post_json(&mut b, "/api/v1/enrollment/contact", contact).0, 204);
    let (status, sent) = post_json(&mut b, "/api/v1/enrollment/confirm", json!({ "flow": flow }));
    assert_eq!(status, 200, "{sent}");
    assert!(b.cookies.is_empty(), "the API sets no cookie");

    let link = link_from_dev_mailbox(&mut b);
    let token = link.trim_start_matches("/link/").to_owned();
    let (status, verified) = post_json(
        &mut b,
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    );
    assert_eq!(status, 200, "{verified}");
    let ticket = verified["ticket"].as_str().unwrap().to_owned();
    let user = "taro.api@example.jp";
    let creds = json!({ "ticket": ticket, "user_id": user, "password": PASSWORD });
    assert_eq!(post_json(&mut b, "/api/v1/credentials", creds).0, 204);
    let (status, done) = post_json(
        &mut b,
        "/api/v1/credentials/complete",
        json!({ "ticket": ticket }),
    );
    assert_eq!(status, 200, "{done}");

    let (status, signed_in) = post_json(
        &mut b,
        "/api/v1/session",
        json!({ "user_id": user, "password": PASSWORD }),
    );
    assert_eq!(status, 200, "{signed_in}");
    let bearer = format!("Bearer {}", signed_in["session"].as_str().unwrap());
    let contracts = b.request("GET", "/api/v1/contracts", &[("authorization", &bearer)], None);
    assert_eq!(contracts.status, 200, "{}", contracts.body);
    assert!(contracts.body.contains("A123456789"));

    // The link is spent for the screens too: one store behind both.
    let spent = b.get(&link);
    assert_eq!(spent.status, 410);

    // An oversized body is refused in JSON before the component reads it.
    let huge = vec![b' '; 200 * 1024];
    let refused = b.request(
        "POST",
        "/api/v1/session",
        &[("content-type", "application/json")],
        Some(&huge),
    );
    assert_eq!(refused.status, 413);
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert!(refused.body.contains("payload-too-large"));
}
