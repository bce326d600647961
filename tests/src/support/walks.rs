//! Walks over HTTP that every served form of customer-web must pass: the
//! wasmtime host's `serve` (http.rs) and the real `spin up` (spin_up.rs).
//! Each takes a function that makes a fresh cookie-keeping browser at the
//! served address.

use super::browser::{Browser, Page};

pub const KEYWORD: &str = "ひまわり畑";
pub const PASSWORD: &str = "correct horse battery";

pub fn customer(terms: &str) -> Vec<(&'static str, String)> {
    vec![
        ("family-name", "山田".into()),
        ("given-name", "太郎".into()),
        ("family-name-kana", "ﾔﾏﾀﾞ".into()),
        ("given-name-kana", "たろう".into()),
        ("birth-date", "１９８５年４月１日".into()),
        ("phone", "090-1234-5678".into()),
        ("postal-code", "100-0004".into()),
        ("policy-number", "A123456789".into()),
        ("accepted-terms", terms.into()),
    ]
}

pub fn refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// The newest mail's link, read through the dev mailbox as a developer
/// would: the list, then the message.
pub fn link_from_dev_mailbox(b: &mut Browser) -> String {
    let list = b.get("/_dev/mail");
    assert_eq!(list.status, 200);
    let id = list
        .body
        .split("href=\"/_dev/mail/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a mail");
    let message = b.get(&format!("/_dev/mail/{id}"));
    let url = message
        .body
        .split("<a href=\"")
        .find(|s| s.contains("/link/"))
        .and_then(|s| s.split('"').next());
    let url = url.expect("a link in the mail");
    url.split_once("/link/")
        .map(|(_, token)| format!("/link/{token}"))
        .expect("link path")
}

pub fn enroll_until_mail(b: &mut Browser) -> Page {
    let screen2 = b.get("/enroll?agent=AG001");
    assert_eq!(screen2.status, 200);
    let terms = screen2
        .field("accepted-terms")
        .expect("terms version on screen 2");
    let mut fields = customer(&terms);
    // The agent code rides in a hidden field, as the browser posts it.
    fields.push((
        "agent-code",
        screen2.field("agent-code").expect("agent code kept"),
    ));
    let to_screen3 = b.submit("/enroll?agent=AG001", "/enroll", &refs(&fields));
    assert_eq!(to_screen3.location(), "/enroll/contact");
    let to_review = b.submit(
        "/enroll/contact",
        "/enroll/contact",
        &[
            ("keyword", KEYWORD),
            ("email", "taro@example.jp"),
            ("email-confirm", "taro@example.jp"),
        ],
    );
    let review = b.follow(&to_review);
    assert!(review.body.contains(KEYWORD), "screen 4 shows the keyword");
    let sent = b.submit("/enroll/review", "/enroll/confirm", &[]);
    b.follow(&sent)
}

/// POSTs JSON and parses the JSON answer (`null` for an empty one).
/// Screens 6–9 from a mailed `link` (keyword, user ID and password,
/// review, done) on `phone`, which is left signed in as `user_id`.
pub fn finish_enrollment(phone: &mut Browser, link: &str, user_id: &str) {
    assert_eq!(phone.get(link).status, 200);
    let to_credentials = phone.submit(link, link, &[("keyword", KEYWORD)]);
    assert_eq!(
        to_credentials.location(),
        "/credentials",
        "{}",
        to_credentials.body
    );
    let to_review = phone.submit(
        "/credentials",
        "/credentials",
        &[
            ("user-id", user_id),
            ("password", PASSWORD),
            ("password-confirm", PASSWORD),
        ],
    );
    assert_eq!(to_review.location(), "/credentials/review", "{}", to_review.body);
    let done = phone.submit("/credentials/review", "/credentials/complete", &[]);
    assert_eq!(phone.follow(&done).status, 200);
}

/// `phone`, moved to the host at `other`, is signed in there (the
/// sample customer's home page), and `link` is spent there: hosts that
/// share one database are one service.
pub fn same_session_and_spent_link_on(phone: &mut Browser, other: std::net::SocketAddr, link: &str) {
    phone.address = other;
    let home = phone.get("/home");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("山田　太郎"), "{}", home.body);
    assert_eq!(Browser::at(other).get(link).status, 410);
}

/// `racers` clients, the i-th from `browser(i)`, post the keyword for the
/// link `token` all at once (after a barrier); their answers, in order.
pub fn race_keyword(
    racers: usize,
    browser: &(dyn Fn(usize) -> Browser + Sync),
    token: &str,
) -> Vec<(u16, serde_json::Value)> {
    let barrier = std::sync::Barrier::new(racers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..racers)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut racer = browser(i);
                    barrier.wait();
                    post_json(
                        &mut racer,
                        "/api/v1/link/keyword",
                        serde_json::json!({ "token": token, "keyword": KEYWORD }),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|r| r.join().expect("a racer")).collect()
    })
}

/// Exactly one of a keyword race's answers won (200), and every other was
/// told the link is gone (410: spent, or out of attempts); the winner's
/// answer.
pub fn one_winner(outcomes: &[(u16, serde_json::Value)]) -> &serde_json::Value {
    let winners: Vec<_> = outcomes.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, body) in outcomes {
        if *status != 200 {
            assert_eq!(*status, 410, "{body}");
            assert!(
                matches!(body["error"].as_str(), Some("link-spent" | "link-burnt")),
                "{body}"
            );
        }
    }
    &winners[0].1
}

pub fn post_json(b: &mut Browser, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let page = b.request(
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let json = if page.body.is_empty() {
        serde_json::Value::Null
    } else {
        assert_eq!(page.header("content-type"), Some("application/json"));
        serde_json::from_str(&page.body).expect("JSON")
    };
    (page.status, json)
}

/// Enrollment from the agent link to the renewal hand-over, over HTTP as a
/// browser without JavaScript walks it: screens 1–5, the link read from the
/// dev mailbox, a mail scanner opening it first, screens 7–12, the portal's
/// stand-in redeeming the hand-over once, and the spent link afterwards.
/// `server` makes a fresh browser (no cookies) at the served address.
pub fn enrollment_to_handover(server: &dyn Fn() -> Browser) {
    let mut pc = server();
    let top = pc.get("/");
    assert_eq!(top.status, 200);
    assert!(top.body.contains("初めてご利用いただく方はこちら"));
    assert!(top.body.contains("ユーザーＩＤ・パスワードをお忘れの方はこちら"));

    let screen5 = enroll_until_mail(&mut pc);
    assert_eq!(screen5.status, 200);
    assert!(screen5.body.contains(KEYWORD));
    assert!(screen5.body.contains("メモ"));
    assert_eq!(screen5.header("cache-control"), Some("no-store"));

    // The mail is opened on a phone; a scanner opened it first.
    let link = link_from_dev_mailbox(&mut pc);
    let mut scanner = server();
    assert_eq!(scanner.get(&link).status, 200);
    let mut phone = server();
    let screen7 = phone.get(&link);
    assert_eq!(screen7.status, 200);
    assert_eq!(screen7.header("referrer-policy"), Some("no-referrer"));
    let to_screen8 = phone.submit(&link, &link, &[("keyword", KEYWORD)]);
    assert_eq!(to_screen8.location(), "/credentials");
    let to_screen9 = phone.submit(
        "/credentials",
        "/credentials",
        &[
            ("user-id", "taro.yamada@example.jp"),
            ("password", PASSWORD),
            ("password-confirm", PASSWORD),
        ],
    );
    assert_eq!(to_screen9.location(), "/credentials/review");
    let to_complete = phone.submit("/credentials/review", "/credentials/complete", &[]);
    let screen10 = phone.follow(&to_complete);
    assert!(screen10.body.contains("お客さまWebサービスの登録が完了しました"));
    let home = phone.get("/home");
    assert!(home.body.contains("山田　太郎") && home.body.contains("契約の継続手続"));
    // Screen 12 answers with a form that POSTs the hand-over to the
    // portal (here its stand-in): the token is in no URL and no header.
    let handover_page = phone.submit("/renewal", "/renewal", &[("policy-number", "A123456789")]);
    assert_eq!(handover_page.status, 200, "{}", handover_page.body);
    let portal_url = format!("http://{}/_dev/renewal", phone.address);
    assert!(
        handover_page
            .body
            .contains(&format!("<form method=\"post\" action=\"{portal_url}\">")),
        "{}",
        handover_page.body
    );
    let token = handover_page.field("handover").expect("the hand-over field");
    assert!(handover_page.headers.iter().all(|(_, v)| !v.contains(&token)));
    // Whoever else holds the token cannot redeem it: that takes the
    // portal's secret.
    let mut thief = server();
    let (status, body) = post_json(
        &mut thief,
        "/api/v1/handover/redeem",
        serde_json::json!({ "token": token }),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let portal = phone.post_form("/_dev/renewal", &[("handover", &token)]);
    assert_eq!(portal.status, 200, "{}", portal.body);
    assert!(
        portal.body.contains("A123456789") && portal.body.contains("AG001"),
        "{}",
        portal.body
    );
    // The hand-over is one-time, and only ever a POST.
    assert_eq!(
        phone.post_form("/_dev/renewal", &[("handover", &token)]).status,
        410
    );
    assert_eq!(phone.get("/_dev/renewal").status, 405);

    // The link is spent: it says so plainly and offers to start again.
    let spent = phone.get(&link);
    assert_eq!(spent.status, 410);
    assert!(spent.body.contains("/enroll"));
}

/// Enrollment to a signed-in account, then recovery in another browser:
/// the system keyword only on screen 3 (never in the mail), new
/// credentials, and the first browser's session ended.
pub fn recovery_after_enrollment(server: &dyn Fn() -> Browser) {
    let mut b = server();
    enroll_until_mail(&mut b);
    let link = link_from_dev_mailbox(&mut b);
    b.submit(&link, &link, &[("keyword", KEYWORD)]);
    b.submit(
        "/credentials",
        "/credentials",
        &[
            ("user-id", "taro@example.jp"),
            ("password", PASSWORD),
            ("password-confirm", PASSWORD),
        ],
    );
    b.submit("/credentials/review", "/credentials/complete", &[]);

    let mut other = server();
    let to_keyword = other.submit(
        "/recover",
        "/recover",
        &[("email", "taro@example.jp"), ("birth-date", "1985/4/1")],
    );
    let step3 = other.follow(&to_keyword);
    assert_eq!(step3.status, 200);
    let keyword = step3
        .body
        .split("keyword-system\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::trim)
        .expect("the keyword on step 3")
        .to_owned();
    assert_eq!(keyword.chars().count(), 8);
    let link = link_from_dev_mailbox(&mut other);
    let mail_id = other
        .get("/_dev/mail")
        .body
        .split("href=\"/_dev/mail/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        !other
            .get(&format!("/_dev/mail/{mail_id}"))
            .body
            .contains(&keyword),
        "not in the mail"
    );
    other.submit(&link, &link, &[("keyword", &keyword)]);
    other.submit(
        "/credentials",
        "/credentials",
        &[
            ("user-id", "taro@example.jp"),
            ("password", "a brand new passphrase"),
            ("password-confirm", "a brand new passphrase"),
        ],
    );
    let done = other.submit("/credentials/review", "/credentials/complete", &[]);
    assert!(other.follow(&done).body.contains("再設定が完了しました"));
    // The first browser's session ended with the reset.
    assert_eq!(b.get("/home").status, 303);
}

/// The JSON API's screen-2 fields for `holder`, typed as the directory
/// holds them (the component accepts its own normalised forms).
pub fn api_customer(holder: &customer_web_host::directory::PolicyholderRecord) -> serde_json::Value {
    serde_json::json!({
        "family_name": holder.family_name,
        "given_name": holder.given_name,
        "family_name_kana": holder.family_name_kana,
        "given_name_kana": holder.given_name_kana,
        "birth_date": holder.birth_date.to_string(),
        "phone": holder.phone,
        "postal_code": holder.postal_code,
        "policy_number": holder.contracts[0].policy_number,
    })
}

/// Enrollment steps 1–5 through the JSON API for `customer` (the fields of
/// [`api_customer`]), the keyword [`KEYWORD`] and the contact address
/// `email`; returns the confirm step's answer (status, JSON).
pub fn api_enroll_until_mail(
    b: &mut Browser,
    customer: &serde_json::Value,
    email: &str,
) -> (u16, serde_json::Value) {
    use serde_json::json;
    let (status, started) = post_json(b, "/api/v1/enrollment", json!({ "agent_code": "AG001" }));
    assert_eq!(status, 201, "{started}");
    let flow = started["flow"].as_str().expect("a flow id").to_owned();
    let mut fields = customer.clone();
    fields["flow"] = json!(flow);
    fields["accepted_terms"] = started["terms_version"].clone();
    let (status, body) = post_json(b, "/api/v1/enrollment/customer", fields);
    assert_eq!(status, 204, "{body}");
    let contact = json!({ "flow": flow, "keyword": KEYWORD, "email": email });
    let (status, body) = post_json(b, "/api/v1/enrollment/contact", contact);
    assert_eq!(status, 204, "{body}");
    post_json(b, "/api/v1/enrollment/confirm", json!({ "flow": flow }))
}

/// Enrollment steps 6–10 through the JSON API: the mailed link's `token`
/// with the keyword [`KEYWORD`], then the user ID `user_id` with the
/// password [`PASSWORD`], and completion. Panics, naming `what`, on any
/// other answer than the step's success.
pub fn api_finish_enrollment(b: &mut Browser, token: &str, user_id: &str, what: &str) {
    use serde_json::json;
    let (status, verified) = post_json(
        b,
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    );
    assert_eq!(status, 200, "{what}: {verified}");
    let ticket = verified["ticket"].as_str().expect("a ticket").to_owned();
    let credentials = json!({ "ticket": ticket, "user_id": user_id, "password": PASSWORD });
    let (status, body) = post_json(b, "/api/v1/credentials", credentials);
    assert_eq!(status, 204, "{what}: {body}");
    let (status, body) = post_json(b, "/api/v1/credentials/complete", json!({ "ticket": ticket }));
    assert_eq!(status, 200, "{what}: {body}");
}

/// The link token in a mail's text (`…/link/TOKEN`).
pub fn token_in(text: &str) -> String {
    text.split("/link/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a link in the mail")
        .to_owned()
}
