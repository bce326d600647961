//! CSRF, cookies, security headers, and the answers to requests the
//! screens do not take.

use customer_web_app::{MAX_BODY, csrf_field, handle, payload_too_large};
use customer_web_core::model::Settings;
use customer_web_core::ports::{Condition, Config, Entry, PortError, Ports, Store, WriteOutcome};
use customer_web_core::testing::{FixedConfig, World};

use crate::browser::*;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[track_caller]
fn assert_common_headers(r: &Response) {
    assert_eq!(
        r.header("content-security-policy"),
        Some(CSP),
        "{:?}",
        r.headers()
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(matches!(
        r.header("referrer-policy"),
        Some("same-origin" | "no-referrer")
    ));
    let content_type = r.header("content-type").unwrap();
    if content_type.starts_with("text/css") {
        assert!(r.header("cache-control").unwrap().contains("max-age="));
    } else {
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{:?}", r.headers());
    }
    for (name, value) in r.fields() {
        assert_eq!(name, name.to_ascii_lowercase(), "header names are lower-case");
        assert!(
            value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
            "{name}: {value:?} is not a valid header value"
        );
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> http::Request<Vec<u8>> {
    crate::browser::request(method, path, headers, body.to_vec())
}

#[test]
fn every_answer_of_a_whole_flow_carries_the_security_headers_and_cookie_flags() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, Some("AG001"));
    let link = mailed_link(&world);
    set_credentials(&mut b, &link, KEYWORD, USER_ID, PASSWORD);
    b.get("/home");
    b.get("/renewal");
    b.get("/nowhere");
    b.get("/static/style.css");
    let mut cleared = Vec::new();
    for r in &b.log {
        assert_common_headers(r);
        for (name, value) in r.fields() {
            if name == "set-cookie" {
                assert!(value.contains("; Path=/"), "{value}");
                assert!(value.contains("; HttpOnly"), "{value}");
                assert!(value.contains("; SameSite=Lax"), "{value}");
                assert!(!value.contains("Secure"), "local base URL: no Secure ({value})");
                if value.contains("Max-Age=0") {
                    cleared.push(value.split('=').next().unwrap().to_owned());
                }
            }
        }
        if r.status() == 303 {
            assert!(r.body().is_empty());
        }
    }
    assert!(cleared.contains(&"cw_flow".to_owned()), "{cleared:?}");
    assert!(cleared.contains(&"cw_ticket".to_owned()), "{cleared:?}");
}

#[test]
fn cookies_are_secure_unless_the_service_runs_locally() {
    for (base_url, secure) in [
        ("https://portal.example.co.jp", true),
        ("http://portal.example.co.jp", true),
        ("http://localhost:3000", false),
        ("http://[::1]:3000", false),
        ("http://127.0.0.1:3000", false),
    ] {
        let mut world = World::new();
        world.config = FixedConfig(Settings {
            base_url: base_url.into(),
            ..Settings::default()
        });
        let mut b = Browser::new(&world);
        enroll_until_mail(&mut b, None);
        let cookies: Vec<_> = b
            .log
            .iter()
            .flat_map(|r| r.fields().into_iter())
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.clone())
            .collect();
        assert!(cookies.len() >= 3, "{cookies:?}");
        for c in cookies {
            assert_eq!(c.contains("; Secure"), secure, "{base_url}: {c}");
            // A secure cookie carries the __Host- prefix: no other host of
            // the site can plant or overwrite it.
            assert_eq!(c.starts_with("__Host-cw_"), secure, "{base_url}: {c}");
        }
        if secure {
            // A bare-named pair planted by a sibling host is not read.
            let planted = "P".repeat(22);
            b.jar.insert("cw_csrf".into(), planted.clone());
            let form = vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )];
            let r = b.send(
                "POST",
                "/recover",
                form,
                encode(&[("csrf", &planted), ("email", "a@b.jp")]),
            );
            assert_eq!(r.status(), 403, "{base_url}");
        }
    }
}

type Headers = Vec<(String, String)>;

/// Every POST with a missing, wrong or cross-site token, or without the
/// cookie, answers 403 and changes nothing.
#[track_caller]
fn assert_csrf_refused(b: &mut Browser<'_>, world: &World, path: &str, fields: &[(&str, &str)]) {
    let cookie = b.jar.get("cw_csrf").cloned().expect("browser has a csrf cookie");
    let session = b.jar.get("cw_session").cloned().unwrap_or_default();
    let good = csrf_field(&cookie, &session);
    let mut attempts: Vec<(Headers, Vec<u8>, bool)> = Vec::new();
    let with = |token: Option<&str>| {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = token {
            all.push(("csrf", t));
        }
        encode(&all)
    };
    let form = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    attempts.push((form.clone(), with(None), true));
    attempts.push((form.clone(), with(Some("AAAAAAAAAAAAAAAAAAAAAA")), true));
    attempts.push((form.clone(), with(Some(&good[..21])), true));
    attempts.push((form.clone(), with(Some("")), true));
    // The bare cookie repeated (a double-submit pair anyone who can plant
    // a cookie can make), and the field of another session.
    attempts.push((form.clone(), with(Some(&cookie)), true));
    let other_session = csrf_field(&cookie, "BBBBBBBBBBBBBBBBBBBBBB");
    attempts.push((form.clone(), with(Some(&other_session)), true));
    let mut cross = form.clone();
    cross.push(("sec-fetch-site".into(), "cross-site".into()));
    attempts.push((cross, with(Some(&good)), true));
    // A matching pair from another host of the same site (which could
    // have planted the cookie), told by the browser or by its Origin.
    let mut same_site = form.clone();
    same_site.push(("sec-fetch-site".into(), "same-site".into()));
    same_site.push(("origin".into(), "https://evil.example.co.jp".into()));
    attempts.push((same_site, with(Some(&good)), true));
    let mut foreign = form.clone();
    foreign.push(("origin".into(), "https://evil.example.co.jp".into()));
    attempts.push((foreign, with(Some(&good)), true));
    let mut sandboxed = form.clone();
    sandboxed.push(("origin".into(), "null".into()));
    attempts.push((sandboxed, with(Some(&good)), true));
    // The right field but no cookie.
    attempts.push((form, with(Some(&good)), false));
    for (headers, body, keep_cookie) in attempts {
        let snapshot = world.store.snapshot();
        let mails = world.mailer.sent().len();
        let saved = b.jar.clone();
        if !keep_cookie {
            b.jar.remove("cw_csrf");
        }
        let r = b.send("POST", path, headers, body);
        b.jar = saved;
        assert_eq!(r.status(), 403, "POST {path}");
        assert_common_headers(&r);
        assert!(String::from_utf8_lossy(r.body()).contains("この操作は受け付けられませんでした"));
        assert_eq!(world.store.snapshot(), snapshot, "POST {path} changed storage");
        assert_eq!(world.mailer.sent().len(), mails, "POST {path} sent mail");
        assert!(r.header("set-cookie").is_none_or(|c| c.starts_with("cw_csrf=")));
    }
}

#[test]
fn csrf_is_checked_on_every_post_and_refusal_changes_nothing() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let top = b.get("/");
    assert_csrf_refused(
        &mut b,
        &world,
        "/signin",
        &[("user-id", USER_ID), ("password", PASSWORD)],
    );
    assert_csrf_refused(
        &mut b,
        &world,
        "/recover",
        &[("email", EMAIL), ("birth-date", "1985/4/1")],
    );
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let fields = customer_fields(&terms);
    assert_csrf_refused(&mut b, &world, "/enroll", &as_refs(&fields));
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&fields));
    let contact = [("keyword", KEYWORD), ("email", EMAIL), ("email-confirm", EMAIL)];
    assert_csrf_refused(&mut b, &world, "/enroll/contact", &contact);
    let review = b.submit(&screen3, "/enroll/contact", &contact);
    assert_csrf_refused(&mut b, &world, "/enroll/confirm", &[]);
    b.submit(&review, "/enroll/confirm", &[]);

    let link = mailed_link(&world);
    let screen7 = b.get(&link);
    assert_csrf_refused(&mut b, &world, &link, &[("keyword", KEYWORD)]);
    let screen8 = b.submit(&screen7, &link, &[("keyword", KEYWORD)]);
    let credentials = [
        ("user-id", USER_ID),
        ("password", PASSWORD),
        ("password-confirm", PASSWORD),
    ];
    assert_csrf_refused(&mut b, &world, "/credentials", &credentials);
    let screen9 = b.submit(&screen8, "/credentials", &credentials);
    assert_csrf_refused(&mut b, &world, "/credentials/complete", &[]);
    b.submit(&screen9, "/credentials/complete", &[]);

    b.get("/renewal");
    assert_csrf_refused(&mut b, &world, "/renewal", &[("policy-number", "A123456789")]);
    assert_csrf_refused(&mut b, &world, "/signout", &[]);
    assert_eq!(b.get("/home").status(), 200, "still signed in");

    // The token of the page before sign-in no longer works after it.
    let stale = b.post(&top, "/signout", &[]);
    assert_eq!(stale.status(), 403);
}

/// A cookie planted in a signed-in browser (by a sibling host, over plain
/// HTTP) does not let its planter forge a form: the field is bound to the
/// session cookie, which the planter cannot read.
#[test]
fn a_planted_csrf_cookie_is_useless_without_the_session() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_fully(&mut b);
    assert_eq!(b.get("/home").path, "/home", "signed in");
    let session = b.jar.get("cw_session").cloned().expect("signed in");
    let planted = "P".repeat(22);
    b.jar.insert("cw_csrf".into(), planted.clone());
    let form = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let forged = csrf_field(&planted, "");
    let snapshot = world.store.snapshot();
    let r = b.send("POST", "/signout", form.clone(), encode(&[("csrf", &forged)]));
    assert_eq!(r.status(), 403);
    assert_eq!(
        world.store.snapshot(),
        snapshot,
        "the forged sign-out changed storage"
    );
    assert_eq!(b.get("/home").path, "/home", "still signed in");
    // The page the browser now renders carries a field bound to its own
    // session, and that one is taken.
    let bound = csrf_field(&planted, &session);
    assert_eq!(b.get("/home").csrf(), bound);
    let r = b.send("POST", "/signout", form, encode(&[("csrf", &bound)]));
    assert_eq!(r.status(), 303);
}

#[test]
fn methods_paths_and_bodies_the_screens_do_not_take() {
    let world = World::new();
    let ports = world.ports();
    for (method, path, allow) in [
        ("DELETE", "/", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("GET", "/signin", "POST"),
        ("PUT", "/enroll", "GET, HEAD, POST"),
        ("BREW", "/home", "GET, HEAD"),
        ("get", "/", "GET, HEAD"),
    ] {
        let r = handle(ports, request(method, path, &[], b""));
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow));
        assert_common_headers(&r);
    }
    for path in [
        "/nope",
        "/enroll/",
        "/static/other.css",
        // (An empty target is no URI at all: the adapter answers it with
        // `bad_request`.)
        "nopath",
        "/link/",
        "/link/a/b",
        "//",
    ] {
        let r = handle(ports, request("GET", path, &[], b""));
        assert_eq!(r.status(), 404, "{path:?}");
        assert_common_headers(&r);
        assert!(
            String::from_utf8(r.into_body())
                .unwrap()
                .contains("お探しのページが見つかりません")
        );
    }

    let mut b = Browser::new(&world);
    let top = b.get("/");
    let csrf = top.csrf();
    let form = (
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    );
    let mut big = format!("csrf={csrf}&password=").into_bytes();
    big.resize(MAX_BODY + 1, b'a');
    let r = b.send("POST", "/signin", vec![form.clone()], big);
    assert_eq!(r.status(), 413);
    assert_common_headers(&r);
    let r = payload_too_large("/enroll");
    assert_eq!(r.status(), 413);
    assert_common_headers(&r);
    assert!(String::from_utf8(r.into_body()).unwrap().contains("大きすぎます"));
    // The limit stands before the router: a body over it is refused
    // whatever the path or method, and changes nothing.
    for (method, path) in [("POST", "/nope"), ("PUT", "/"), ("POST", "/enroll")] {
        let mut big = b"csrf=x&a=".to_vec();
        big.resize(MAX_BODY + 1, b'a');
        let snapshot = world.store.snapshot();
        let r = handle(ports, request(method, path, &[], &big));
        assert_eq!(r.status(), 413, "{method} {path}");
        assert_common_headers(&r);
        assert!(r.header("set-cookie").is_none());
        assert_eq!(world.store.snapshot(), snapshot);
    }

    let r = b.send(
        "POST",
        "/signin",
        vec![("content-type".into(), "text/plain".into())],
        format!("csrf={csrf}").into_bytes(),
    );
    assert_eq!(r.status(), 415);
    assert_common_headers(&r);
    let r = b.send("POST", "/signin", vec![], format!("csrf={csrf}").into_bytes());
    assert_eq!(r.status(), 415);

    for body in [
        format!("csrf={csrf}&user-id=%ZZ").into_bytes(),
        [format!("csrf={csrf}&user-id=").as_bytes(), b"\xff\xfe"].concat(),
        format!("csrf={csrf}&user-id=%E3%81").into_bytes(),
    ] {
        let snapshot = world.store.snapshot();
        let r = b.send("POST", "/signin", vec![form.clone()], body);
        assert_eq!(r.status(), 400);
        assert_common_headers(&r);
        assert_eq!(world.store.snapshot(), snapshot);
    }
}

#[test]
fn head_and_the_stylesheet() {
    let world = World::new();
    let ports = world.ports();
    let get = handle(ports, request("GET", "/", &[], b""));
    let head = handle(ports, request("HEAD", "/", &[], b""));
    assert_eq!(head.status(), 200);
    assert!(head.body().is_empty());
    assert_eq!(head.header("content-type"), get.header("content-type"));

    let html = String::from_utf8(get.into_body()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"));
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert!(!html.contains("<script"));
    let at = html.find("/static/style.css?v=").unwrap();
    let href = &html[at..at + html[at..].find('"').unwrap()];
    let css = handle(ports, request("GET", href, &[], b""));
    assert_eq!(css.status(), 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_common_headers(&css);
    assert!(!css.body().is_empty());

    // The layout: brand, service name, desk.
    let settings = Settings::default();
    for text in [
        settings.insurer_name.as_str(),
        "お客さまWebサービス",
        settings.desk_name.as_str(),
        settings.desk_phone.as_str(),
        settings.desk_hours.as_str(),
        "<main",
        "初めてご利用いただく方はこちら",
        "ユーザーＩＤ・パスワードをお忘れの方はこちら",
        "for=\"user-id\"",
        "for=\"password\"",
    ] {
        assert!(html.contains(text), "top page lacks {text}");
    }
}

#[test]
fn agent_codes_are_carried_escaped() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let top = b.get("/?agent=%22%3E%3Cscript%3E");
    top.assert_contains("href=\"/enroll?agent=%22%3E%3Cscript%3E\"");
    assert!(!top.html.contains("<script>"));
    let screen2 = b.get("/enroll?agent=%22%3E%3Cscript%3E");
    assert!(!screen2.html.contains("<script>"));
    // The core refuses such a code; the customer is told, nothing is made.
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let mut fields = customer_fields(&terms);
    fields.push(("agent-code", "\"><script>".into()));
    let before = world.store.snapshot();
    let page = b.submit_page(&screen2, "/enroll", &as_refs(&fields));
    assert_eq!(page.status(), 422);
    page.assert_contains("代理店コード");
    assert_eq!(world.store.snapshot(), before);
}

/// A store whose every call fails, with a message that must not reach
/// the customer.
struct BrokenStore;

impl Store for BrokenStore {
    fn get(&self, _: &str) -> Result<Option<Entry>, PortError> {
        Err(PortError("connection to db-secret-host refused".into()))
    }
    fn put(&self, _: &str, _: &[u8], _: Condition, _: Option<u64>) -> Result<WriteOutcome, PortError> {
        Err(PortError("connection to db-secret-host refused".into()))
    }
    fn delete(&self, _: &str, _: Condition) -> Result<WriteOutcome, PortError> {
        Err(PortError("connection to db-secret-host refused".into()))
    }
}

struct BrokenConfig;

impl Config for BrokenConfig {
    fn settings(&self) -> Result<Settings, PortError> {
        Err(PortError("config file /etc/secret-path unreadable".into()))
    }
}

#[test]
fn capability_faults_answer_503_without_internals() {
    let world = World::new();
    let store = BrokenStore;
    let ports = Ports {
        store: &store,
        ..world.ports()
    };
    let secret = "AAAAAAAAAAAAAAAAAAAAAA";
    let session = "BBBBBBBBBBBBBBBBBBBBBB";
    let cookie = format!("cw_csrf={secret}; cw_session={session}; cw_flow=CCCCCCCCCCCCCCCCCCCCCC");
    let csrf = csrf_field(secret, session);
    let csrf = csrf.as_str();
    let form = "application/x-www-form-urlencoded";
    let terms = Settings::default().terms_version;
    let mut fields: Vec<(&str, String)> = customer_fields(&terms);
    fields.push(("csrf", csrf.into()));
    let enroll = encode(&as_refs(&fields));
    let recover = encode(&[("csrf", csrf), ("email", EMAIL), ("birth-date", "1985/4/1")]);
    let signin = encode(&[("csrf", csrf), ("user-id", USER_ID), ("password", PASSWORD)]);
    for (method, path, body) in [
        ("GET", "/home", &b""[..]),
        ("GET", "/renewal", b""),
        ("GET", "/enroll/contact", b""),
        ("GET", "/link/AAAAAAAAAAAAAAAAAAAAAA", b""),
        ("POST", "/enroll", &enroll),
        ("POST", "/recover", &recover),
        ("POST", "/signin", &signin),
    ] {
        let r = handle(
            ports,
            request(method, path, &[("cookie", &cookie), ("content-type", form)], body),
        );
        assert_eq!(r.status(), 503, "{method} {path}");
        assert_common_headers(&r);
        let html = String::from_utf8(r.into_body()).unwrap();
        assert!(html.contains("ただいまサービスをご利用いただけません"));
        assert!(!html.contains("secret"), "{html}");
    }

    let config = BrokenConfig;
    let ports = Ports {
        config: &config,
        ..world.ports()
    };
    let r = handle(ports, request("GET", "/enroll", &[], b""));
    assert_eq!(r.status(), 503);
    assert_common_headers(&r);
    let html = String::from_utf8(r.body().clone()).unwrap();
    assert!(!html.contains("secret"));
    // Without settings, cookies are Secure.
    for (name, value) in r.fields() {
        if name == "set-cookie" {
            assert!(value.contains("; Secure"), "{value}");
        }
    }
}

#[test]
fn a_portal_renewal_on_another_origin_is_allowed_as_the_renewal_form_target_only() {
    let mut world = World::new();
    world.config = FixedConfig(Settings {
        renewal_url: "https://renew.example.co.jp/start?from=web".into(),
        ..Settings::default()
    });
    let mut b = Browser::new(&world);
    enroll_fully(&mut b);
    let home = b.get("/home");
    assert_common_headers(&home.response);
    let renewal = b.get("/renewal");
    assert_eq!(
        renewal.response.header("content-security-policy"),
        Some(&*CSP.replace(
            "form-action 'self'",
            "form-action 'self' https://renew.example.co.jp"
        ))
    );
    let r = b.submit_page(&renewal, "/renewal", &[("policy-number", "A123456789")]);
    assert_eq!(r.status(), 200);
    r.assert_contains("<form method=\"post\" action=\"https://renew.example.co.jp/start?from=web\">");
    assert_eq!(
        r.response.header("content-security-policy"),
        Some(&*CSP.replace(
            "form-action 'self'",
            "form-action 'self' https://renew.example.co.jp"
        ))
    );
    assert_eq!(r.response.header("referrer-policy"), Some("no-referrer"));
}
