//! The JSON API under `/api/v1/`: every flow as a portal with its own
//! pages drives it, and every refusal.

use customer_web_app::{MAX_BODY, handle, payload_too_large};
use customer_web_core::ports::Clock;
use customer_web_core::secret::SharedSecret;
use customer_web_core::testing::World;
use serde_json::{Value, json};

use crate::browser::{EMAIL, KEYWORD, PASSWORD, ReadHeaders, Response, USER_ID, request};

/// A portal's server calling the API.
struct Client<'w> {
    world: &'w World,
}

/// One JSON answer.
struct Answer {
    response: Response,
    json: Value,
}

impl Answer {
    fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    fn str(&self, field: &str) -> &str {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {}", self.json))
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status(), self.json["error"].as_str()),
            (status, Some(code)),
            "{}",
            self.json
        );
    }
}

impl Client<'_> {
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let response = handle(self.world.ports(), request(method, path, headers, body));
        let json = if response.body().is_empty() {
            Value::Null
        } else {
            assert_eq!(response.header("content-type"), Some("application/json"));
            serde_json::from_slice(response.body()).expect("API answers are JSON")
        };
        // Every answer, refusals included, is never cached and never a
        // document a browser would render or frame.
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert!(response.header("set-cookie").is_none(), "the API sets no cookie");
        Answer { response, json }
    }

    fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
    }

    fn with_session(&self, method: &str, path: &str, session: &str, body: Option<Value>) -> Answer {
        let bearer = format!("Bearer {session}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, &headers, body)
    }
}

fn customer(flow: &str, terms: &str) -> Value {
    json!({
        "flow": flow,
        "family_name": "山田",
        "given_name": "太郎",
        "family_name_kana": "ヤマダ",
        "given_name_kana": "タロウ",
        "birth_date": "１９８５年４月１日",
        "phone": "090-1234-5678",
        "postal_code": "100-0004",
        "policy_number": "A123456789",
        "accepted_terms": terms,
    })
}

/// The token of the newest mailed link.
fn mailed_token(world: &World) -> String {
    let mail = world.mailer.sent().pop().expect("a mail was sent");
    let at = mail.text.find("/link/").expect("the mail has a link") + "/link/".len();
    mail.text[at..].split_whitespace().next().unwrap().to_owned()
}

/// Enrollment up to the mail; returns the flow id.
fn enroll_until_mail(api: &Client<'_>) -> String {
    let started = api.post("/api/v1/enrollment", json!({ "agent_code": "AG001" }));
    assert_eq!(started.status(), 201, "{}", started.json);
    let flow = started.str("flow").to_owned();
    let terms = started.str("terms_version").to_owned();
    assert_eq!(
        started.json["expires_at"].as_u64(),
        Some(api.world.clock.now() + 2 * 3600)
    );
    let r = api.post("/api/v1/enrollment/customer", customer(&flow, &terms));
    assert_eq!(r.status(), 204, "{}", r.json);
    let r = api.post(
        "/api/v1/enrollment/contact",
        json!({ "flow": flow, "keyword": KEYWORD, "email": EMAIL }),
    );
    assert_eq!(r.status(), 204, "{}", r.json);
    let review = api.post("/api/v1/enrollment/review", json!({ "flow": flow }));
    assert_eq!(review.status(), 200);
    assert_eq!(review.json["customer"]["family_name"], "山田");
    assert_eq!(review.json["customer"]["policy_number"], "A123456789");
    assert_eq!(review.str("email"), EMAIL);
    assert!(!review.json.to_string().contains(KEYWORD), "never the keyword");
    let sent = api.post("/api/v1/enrollment/confirm", json!({ "flow": flow }));
    assert_eq!(sent.status(), 200, "{}", sent.json);
    assert_eq!(sent.str("email"), EMAIL);
    assert_eq!(
        sent.json["link_expires_at"].as_u64(),
        Some(api.world.clock.now() + 48 * 3600)
    );
    flow
}

/// Link, keyword and credentials; returns the session.
fn set_credentials(api: &Client<'_>, token: &str, keyword: &str, password: &str) -> String {
    let opened = api.post("/api/v1/link", json!({ "token": token }));
    assert_eq!(opened.status(), 200, "{}", opened.json);
    assert!(opened.json["attempts_left"].as_u64().is_some_and(|n| n > 0));
    let verified = api.post(
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": keyword }),
    );
    assert_eq!(verified.status(), 200, "{}", verified.json);
    let ticket = verified.str("ticket").to_owned();
    let r = api.post(
        "/api/v1/credentials",
        json!({ "ticket": ticket, "user_id": USER_ID, "password": password }),
    );
    assert_eq!(r.status(), 204, "{}", r.json);
    let review = api.post("/api/v1/credentials/review", json!({ "ticket": ticket }));
    assert_eq!(review.str("user_id"), USER_ID);
    let done = api.post("/api/v1/credentials/complete", json!({ "ticket": ticket }));
    assert_eq!(done.status(), 200, "{}", done.json);
    done.str("session").to_owned()
}

const PORTAL_SECRET: &str = "portal-secret-0123456789abcdef0123456789";

/// A session's hand-over for its renewable contract, as the JSON API gives it.
fn handover_token(api: &Client<'_>) -> String {
    enroll_until_mail(api);
    let token = mailed_token(api.world);
    let session = set_credentials(api, &token, KEYWORD, PASSWORD);
    let renewal = api.with_session(
        "POST",
        "/api/v1/renewal",
        &session,
        Some(json!({ "policy_number": "A123456789" })),
    );
    assert_eq!(renewal.status(), 200, "{}", renewal.json);
    renewal.str("token").to_owned()
}

/// Only the portal redeems a hand-over: without the configured secret,
/// or with another, 401 and the hand-over stays unspent; with no secret
/// configured, nobody redeems over HTTP.
#[test]
fn a_handover_is_redeemed_only_by_the_portal_that_holds_the_secret() {
    let mut world = World::new();
    world.config.0.handover_secret = Some(SharedSecret::new(PORTAL_SECRET));
    let api = Client { world: &world };
    let handover = handover_token(&api);
    let body = json!({ "token": handover });
    let wrong_by_one = format!("{}x", &PORTAL_SECRET[..PORTAL_SECRET.len() - 1]);
    for authorization in [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer {wrong_by_one}")),
        Some(format!("Bearer {PORTAL_SECRET}x")),
        Some(format!("Basic {PORTAL_SECRET}")),
        Some(format!("bearer{PORTAL_SECRET}")),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &authorization {
            headers.push(("authorization", a.as_str()));
        }
        let answer = api.send(
            "POST",
            "/api/v1/handover/redeem",
            &headers,
            body.to_string().into_bytes(),
        );
        answer.assert_error(401, "unauthorized");
        assert_eq!(answer.response.header("www-authenticate"), Some("Bearer"));
    }
    assert!(
        !world.audit.events().iter().any(|e| e.kind == "renewal-redeemed"),
        "nothing redeemed"
    );
    // The hand-over is still there for the portal.
    let claim = api.with_session("POST", "/api/v1/handover/redeem", PORTAL_SECRET, Some(body));
    assert_eq!(claim.status(), 200, "{}", claim.json);

    // No secret configured: even a well-formed request is refused.
    let world = World::new();
    assert!(world.config.0.handover_secret.is_none());
    let api = Client { world: &world };
    let handover = handover_token(&api);
    api.with_session(
        "POST",
        "/api/v1/handover/redeem",
        PORTAL_SECRET,
        Some(json!({ "token": handover })),
    )
    .assert_error(401, "unauthorized");
}

#[test]
fn enrollment_to_renewal_handover_in_json() {
    let mut world = World::new();
    world.config.0.handover_secret = Some(SharedSecret::new(PORTAL_SECRET));
    let api = Client { world: &world };
    enroll_until_mail(&api);
    let token = mailed_token(&world);
    assert_eq!(
        api.post("/api/v1/link", json!({ "token": token })).str("kind"),
        "enrollment"
    );
    let session = set_credentials(&api, &token, KEYWORD, PASSWORD);

    let home = api.with_session("GET", "/api/v1/home", &session, None);
    assert_eq!(home.status(), 200);
    assert_eq!(home.str("display_name"), "山田　太郎");
    assert_eq!(home.str("user_id"), USER_ID);

    let contracts = api.with_session("GET", "/api/v1/contracts", &session, None);
    assert_eq!(contracts.status(), 200);
    let list = contracts.json["contracts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only renewable contracts: {list:?}");
    assert_eq!(list[0]["policy_number"], "A123456789");
    assert!(list[0]["expiry_date"].as_str().unwrap().len() == 10);

    let renewal = api.with_session(
        "POST",
        "/api/v1/renewal",
        &session,
        Some(json!({ "policy_number": "A123456789" })),
    );
    assert_eq!(renewal.status(), 200, "{}", renewal.json);
    let handover = renewal.str("token").to_owned();
    // The browser POSTs the token to the renewal URL: it is not in it.
    assert_eq!(renewal.str("url"), world.config.0.renewal_url);

    // The portal redeems the hand-over once, presenting its secret.
    let redeem = |token: &str| {
        api.with_session(
            "POST",
            "/api/v1/handover/redeem",
            PORTAL_SECRET,
            Some(json!({ "token": token })),
        )
    };
    let claim = redeem(&handover);
    assert_eq!(claim.status(), 200, "{}", claim.json);
    assert_eq!(claim.str("policy_number"), "A123456789");
    assert_eq!(claim.str("agent_code"), "AG001");
    redeem(&handover).assert_error(404, "handover-unknown");

    // Signing out ends the session for every later call.
    let out = api.with_session("DELETE", "/api/v1/session", &session, None);
    assert_eq!(out.status(), 204);
    api.with_session("GET", "/api/v1/home", &session, None)
        .assert_error(401, "unauthorized");
    api.with_session("GET", "/api/v1/contracts", &session, None)
        .assert_error(401, "unauthorized");

    // And signing in again gives a new one.
    let signed_in = api.post(
        "/api/v1/session",
        json!({ "user_id": USER_ID, "password": PASSWORD }),
    );
    assert_eq!(signed_in.status(), 200, "{}", signed_in.json);
    assert_ne!(signed_in.str("session"), session);
}

#[test]
fn a_link_is_spent_once_and_burnt_by_wrong_keywords() {
    let world = World::new();
    let api = Client { world: &world };
    enroll_until_mail(&api);
    let token = mailed_token(&world);
    let wrong = api.post(
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": "ちがう言葉" }),
    );
    wrong.assert_error(422, "wrong-keyword");
    assert_eq!(wrong.json["attempts_left"], 4);
    let opened = api.post("/api/v1/link", json!({ "token": token }));
    assert_eq!(opened.json["attempts_left"], 4, "opening spends nothing");
    set_credentials(&api, &token, KEYWORD, PASSWORD);
    api.post("/api/v1/link", json!({ "token": token }))
        .assert_error(410, "link-spent");
    api.post(
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    )
    .assert_error(410, "link-spent");

    // A second customer's link, burnt by five wrong keywords.
    let world = World::new();
    let api = Client { world: &world };
    enroll_until_mail(&api);
    let token = mailed_token(&world);
    for left in (0..5).rev() {
        let r = api.post(
            "/api/v1/link/keyword",
            json!({ "token": token, "keyword": "ちがう言葉" }),
        );
        if left > 0 {
            assert_eq!(r.json["attempts_left"], left);
        } else {
            r.assert_error(410, "link-burnt");
        }
    }
    api.post(
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    )
    .assert_error(410, "link-burnt");
    api.post("/api/v1/link", json!({ "token": "A".repeat(22) }))
        .assert_error(404, "link-unknown");
    api.post("/api/v1/link", json!({ "token": "short" }))
        .assert_error(404, "link-unknown");
}

#[test]
fn links_expire_after_48_hours() {
    let world = World::new();
    let api = Client { world: &world };
    enroll_until_mail(&api);
    let token = mailed_token(&world);
    world.clock.advance(48 * 3600);
    api.post("/api/v1/link", json!({ "token": token }))
        .assert_error(410, "link-expired");
}

#[test]
fn recovery_gives_the_keyword_and_sets_a_new_password() {
    let world = World::new();
    let api = Client { world: &world };
    enroll_until_mail(&api);
    set_credentials(&api, &mailed_token(&world), KEYWORD, PASSWORD);

    let started = api.post(
        "/api/v1/recovery",
        json!({ "email": EMAIL, "birth_date": "1985/4/1" }),
    );
    assert_eq!(started.status(), 200, "{}", started.json);
    let keyword = started.str("keyword").to_owned();
    let token = mailed_token(&world);
    assert_eq!(
        api.post("/api/v1/link", json!({ "token": token })).str("kind"),
        "recovery"
    );
    let new_password = "otemachi-2027";
    set_credentials(&api, &token, &keyword, new_password);
    let old = api.post(
        "/api/v1/session",
        json!({ "user_id": USER_ID, "password": PASSWORD }),
    );
    old.assert_error(401, "bad-credentials");
    let new = api.post(
        "/api/v1/session",
        json!({ "user_id": USER_ID, "password": new_password }),
    );
    assert_eq!(new.status(), 200, "{}", new.json);

    // Nothing registered: the same answer, a keyword and a deadline, and
    // no mail.
    let mails = world.mailer.sent().len();
    let unknown = api.post(
        "/api/v1/recovery",
        json!({ "email": "nobody@example.jp", "birth_date": "1985/4/1" }),
    );
    assert_eq!(unknown.status(), 200);
    assert_eq!(unknown.str("keyword").chars().count(), keyword.chars().count());
    assert!(unknown.json["link_expires_at"].is_u64());
    assert_eq!(world.mailer.sent().len(), mails);
}

#[test]
fn bad_input_is_named_field_by_field() {
    let world = World::new();
    let api = Client { world: &world };
    let started = api.post("/api/v1/enrollment", json!({}));
    let flow = started.str("flow").to_owned();
    let mut body = customer(&flow, "1999-01");
    body["birth_date"] = json!("昭和99年");
    body["postal_code"] = json!("12");
    let r = api.post("/api/v1/enrollment/customer", body);
    r.assert_error(422, "invalid-input");
    let fields: Vec<&str> = r.json["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for expected in ["birth_date", "postal_code", "accepted_terms"] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    assert!(
        r.json["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // Steps out of order are refused without changing the flow.
    api.post("/api/v1/enrollment/confirm", json!({ "flow": flow }))
        .assert_error(409, "wrong-step");
    api.post("/api/v1/enrollment/review", json!({ "flow": "B".repeat(22) }))
        .assert_error(404, "flow-unknown");
    api.post("/api/v1/credentials/review", json!({ "ticket": "nope" }))
        .assert_error(404, "flow-unknown");
}

#[test]
fn malformed_requests_are_refused_before_any_step() {
    let world = World::new();
    let api = Client { world: &world };
    let before = world.store.snapshot();

    let form = api.send(
        "POST",
        "/api/v1/enrollment",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"agent_code=AG001".to_vec(),
    );
    form.assert_error(415, "unsupported-media-type");
    let broken = api.send(
        "POST",
        "/api/v1/session",
        &[("content-type", "application/json; charset=utf-8")],
        b"{\"user_id\": \"x\", \"password\": ".to_vec(),
    );
    broken.assert_error(400, "bad-request");
    let secret = "my-secret-password";
    let unknown_field = api.post(
        "/api/v1/session",
        json!({ "user_id": USER_ID, "pasword": secret }),
    );
    unknown_field.assert_error(400, "bad-request");
    assert!(
        !unknown_field.json.to_string().contains(secret),
        "an error never repeats what was sent"
    );
    let wrong_type = api.post("/api/v1/recovery", json!({ "email": 1, "birth_date": [] }));
    wrong_type.assert_error(400, "bad-request");

    api.send("GET", "/api/v1/enrollment", &[], vec![])
        .assert_error(405, "method-not-allowed");
    let put = api.send("PUT", "/api/v1/session", &[], vec![]);
    put.assert_error(405, "method-not-allowed");
    assert_eq!(put.response.header("allow"), Some("POST, DELETE"));
    api.send("GET", "/api/v2/home", &[], vec![])
        .assert_error(404, "not-found");

    // No session, or something that is not one.
    api.send("GET", "/api/v1/home", &[], vec![])
        .assert_error(401, "unauthorized");
    let forged = api.with_session("GET", "/api/v1/home", &"C".repeat(22), None);
    forged.assert_error(401, "unauthorized");
    assert_eq!(forged.response.header("www-authenticate"), Some("Bearer"));

    // A session cookie from the screens is not a credential here.
    let cookie = api.send(
        "GET",
        "/api/v1/home",
        &[("cookie", &format!("cw_session={}", "C".repeat(22)))],
        vec![],
    );
    cookie.assert_error(401, "unauthorized");

    assert_eq!(world.store.snapshot(), before, "nothing was written");

    let too_large = payload_too_large("/api/v1/enrollment");
    assert_eq!(too_large.status(), 413);
    assert_eq!(too_large.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(too_large.body()).unwrap();
    assert_eq!(body["error"], "payload-too-large");
}

/// The body limit and the headers of every answer are one layer's, in
/// front of the API as of the screens: a body over the limit is refused
/// before the API reads it, as the adapter refuses it before reading it all.
#[test]
fn the_layer_refuses_a_body_over_the_limit_before_the_api_reads_it() {
    let world = World::new();
    let api = Client { world: &world };
    let before = world.store.snapshot();
    let mut body = br#"{"agent_code": ""#.to_vec();
    body.resize(MAX_BODY + 1, b'a');
    let refused = api.send(
        "POST",
        "/api/v1/enrollment",
        &[("content-type", "application/json")],
        body,
    );
    refused.assert_error(413, "payload-too-large");
    assert_eq!(
        refused.response.headers(),
        payload_too_large("/api/v1/enrollment").headers()
    );
    assert_eq!(
        refused.response.header("content-security-policy"),
        Some(customer_web_app::csp::API)
    );
    assert_eq!(refused.response.header("referrer-policy"), Some("no-referrer"));
    assert!(refused.response.header("x-frame-options").is_none());
    assert_eq!(world.store.snapshot(), before, "nothing was written");
}

#[test]
fn sign_in_failures_slow_down_and_say_when_to_retry() {
    let world = World::new();
    let api = Client { world: &world };
    enroll_until_mail(&api);
    set_credentials(&api, &mailed_token(&world), KEYWORD, PASSWORD);
    let mut limited = None;
    for _ in 0..10 {
        let r = api.post(
            "/api/v1/session",
            json!({ "user_id": USER_ID, "password": "wrong" }),
        );
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        r.assert_error(401, "bad-credentials");
    }
    let limited = limited.expect("repeated failures are throttled");
    limited.assert_error(429, "rate-limited");
    let wait = limited.json["retry_after"].as_u64().unwrap();
    assert!(wait >= 1);
    assert_eq!(
        limited.response.header("retry-after"),
        Some(wait.to_string().as_str())
    );
}
