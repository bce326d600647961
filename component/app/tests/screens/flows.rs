//! Every flow end to end, as a browser drives it.

use customer_web_core::mail::deadline_jst;
use customer_web_core::model::Policyholder;
use customer_web_core::ports::Clock;
use customer_web_core::testing::{World, sample_identity};

use crate::browser::*;

#[test]
fn enrollment_from_agent_page_to_renewal_handover() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let sent_at = world.clock.now();
    let screen5 = enroll_until_mail(&mut b, Some("AG001"));
    screen5.assert_contains(KEYWORD);
    screen5.assert_contains("キーワードは、メール受信後の画面で必要になりますので、必ずメモしてください");
    screen5.assert_contains(EMAIL);
    screen5.assert_contains(&deadline_jst(sent_at + 48 * 3600));
    assert!(
        !b.jar.contains_key("cw_flow"),
        "the flow cookie ends once the mail is out"
    );

    // The mail carries the link, never the keyword.
    let mail = world.mailer.sent().pop().unwrap();
    assert_eq!(mail.to, EMAIL);
    assert_eq!(mail.kind, "enrollment-link");
    assert!(!mail.text.contains(KEYWORD));

    // The link is opened on another device: only the keyword connects it.
    let link = mailed_link(&world);
    let mut phone = Browser::new(&world);
    let screen10 = set_credentials(&mut phone, &link, KEYWORD, USER_ID, PASSWORD);
    screen10.assert_contains("お客さまWebサービスの登録が完了しました");
    screen10.assert_contains("ホームへ");
    assert!(
        !phone.jar.contains_key("cw_ticket"),
        "the ticket cookie ends at completion"
    );
    assert!(phone.jar.contains_key("cw_session"));

    let home = phone.get("/home");
    assert_eq!(home.status(), 200);
    home.assert_contains("山田　太郎");
    home.assert_contains("契約の継続手続");
    home.assert_contains("href=\"/renewal\"");

    let renewal = phone.get("/renewal");
    assert_eq!(renewal.status(), 200);
    renewal.assert_contains("継続契約選択");
    renewal.assert_contains("value=\"A123456789\"");
    assert!(!renewal.html.contains("B987654321"), "not renewable, not offered");
    renewal.assert_contains("次へ");

    // The answer is a form that POSTs the hand-over to the portal: the
    // token is in the page's body, never in a URL or a header.
    let handover = phone.submit_page(&renewal, "/renewal", &[("policy-number", "A123456789")]);
    assert_eq!((handover.status(), handover.path.as_str()), (200, "/renewal"));
    let renewal_url = &world.config.0.renewal_url;
    handover.assert_contains(&format!("<form method=\"post\" action=\"{renewal_url}\">"));
    handover.assert_contains("継続手続きへ進む");
    let token = input_value(&handover.html, "handover").expect("a hand-over field");
    assert!(
        handover
            .response
            .fields()
            .into_iter()
            .all(|(_, v)| !v.contains(&token)),
        "{:?}",
        handover.response.headers()
    );
    assert_eq!(handover.response.header("referrer-policy"), Some("no-referrer"));
    let claim = customer_web_core::Service::new(world.ports())
        .redeem_handover(&customer_web_core::secret::Token::from_caller(&token))
        .unwrap()
        .expect("the portal redeems it");
    assert_eq!(claim.policy_number, "A123456789");

    // The account remembers the agent the customer came through.
    let created = world
        .audit
        .events()
        .into_iter()
        .find(|e| e.kind == "account-created")
        .unwrap();
    assert!(created.detail.contains("agent=AG001"), "{}", created.detail);

    // The keyword never rested in storage, in a URL or a Location.
    for (key, value) in world.store.snapshot() {
        assert!(!key.contains(KEYWORD));
        let k = KEYWORD.as_bytes();
        assert!(
            !value.windows(k.len()).any(|w| w == k),
            "keyword in clear under {key}"
        );
    }
    for location in b.locations.iter().chain(&phone.locations) {
        assert!(!location.contains(KEYWORD));
        assert!(
            !location.contains("%E3%81%95"),
            "keyword percent-encoded in {location}"
        );
    }

    // Sign out, and back in with the new credentials.
    let signed_out = phone.submit(&home, "/signout", &[]);
    assert_eq!(signed_out.path, "/");
    assert!(!phone.jar.contains_key("cw_session"));
    assert_eq!(phone.get("/home").path, "/", "signed out: home sends to the top");
    let top = phone.get("/");
    let home = phone.submit(&top, "/signin", &[("user-id", USER_ID), ("password", PASSWORD)]);
    assert_eq!(home.path, "/home");
    home.assert_contains("山田　太郎");
}

#[test]
fn review_shows_everything_entered_and_back_links_keep_it() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&customer_fields(&terms)));
    let review = b.submit(
        &screen3,
        "/enroll/contact",
        &[("keyword", KEYWORD), ("email", EMAIL), ("email-confirm", EMAIL)],
    );
    for text in [
        "入力内容確認",
        "山田　太郎",
        "ヤマダ　タロウ",
        "1985年4月1日",
        "09012345678",
        "100-0004",
        "A123456789",
        KEYWORD,
        EMAIL,
        "確認",
    ] {
        review.assert_contains(text);
    }
    // Back to screen 2: filled in as normalised, terms still accepted.
    let again = b.get("/enroll");
    assert_eq!(input_value(&again.html, "family-name").as_deref(), Some("山田"));
    assert_eq!(
        input_value(&again.html, "birth-date").as_deref(),
        Some("1985年4月1日")
    );
    again.assert_contains(" checked");
    // Re-submitting screen 2 goes on with the same flow.
    let flow = b.jar.get("cw_flow").cloned();
    b.submit(&again, "/enroll", &as_refs(&customer_fields(&terms)));
    assert_eq!(b.jar.get("cw_flow").cloned(), flow);
    // Without its sealed keyword the review cannot show it: screen 3 again.
    b.jar.remove("cw_display");
    let back = b.get("/enroll/review");
    assert_eq!(back.path, "/enroll/contact", "no sealed keyword: keyword again");
}

#[test]
fn a_step_out_of_order_goes_to_the_right_screen() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    b.submit(&screen2, "/enroll", &as_refs(&customer_fields(&terms)));
    // The review before the keyword: back to screen 3.
    assert_eq!(b.get("/enroll/review").path, "/enroll/contact");
}

#[test]
fn identity_that_matches_nobody_looks_the_same_on_screen() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let mut fields = customer_fields(&terms);
    fields[0].1 = "佐藤".into();
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&fields));
    let review = b.submit(
        &screen3,
        "/enroll/contact",
        &[("keyword", KEYWORD), ("email", EMAIL), ("email-confirm", EMAIL)],
    );
    let sent = b.submit(&review, "/enroll/confirm", &[]);
    assert_eq!(sent.path, "/enroll/sent");
    sent.assert_contains(KEYWORD);
    sent.assert_contains("必ずメモしてください");
    assert_eq!(world.mailer.sent().pop().unwrap().kind, "enrollment-unverified");
}

#[test]
fn bad_input_is_told_beside_each_field_and_changes_nothing() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let screen2 = b.get("/enroll");
    let before = world.store.snapshot();
    let page = b.submit_page(
        &screen2,
        "/enroll",
        &[
            ("family-name", "山田"),
            ("given-name", ""),
            ("family-name-kana", "やまだ123"),
            ("given-name-kana", "タロウ"),
            ("birth-date", "1985/02/30"),
            ("phone", "12"),
            ("postal-code", "100"),
            ("policy-number", "A123456789"),
        ],
    );
    assert_eq!(page.status(), 422);
    assert_eq!(world.store.snapshot(), before, "no flow was made");
    page.assert_contains("role=\"alert\"");
    for field in [
        "given-name",
        "family-name-kana",
        "birth-date",
        "phone",
        "postal-code",
        "accepted-terms",
    ] {
        page.assert_contains(&format!("id=\"{field}-error\""));
        page.assert_contains(&format!("href=\"#{field}\""));
        let input = page.html.find(&format!("id=\"{field}\"")).unwrap();
        let tag = &page.html[input..input + page.html[input..].find('>').unwrap()];
        assert!(tag.contains("aria-invalid=\"true\""), "{tag}");
        assert!(tag.contains(&format!("{field}-error")), "{tag}");
    }
    // Fields that were right are not marked, and keep what was typed.
    let input = page.html.find("id=\"family-name\"").unwrap();
    let tag = &page.html[input..input + page.html[input..].find('>').unwrap()];
    assert!(!tag.contains("aria-invalid"), "{tag}");
    assert!(tag.contains("value=\"山田\""), "{tag}");
    // Every input has its label.
    for field in [
        "family-name",
        "given-name",
        "birth-date",
        "policy-number",
        "accepted-terms",
    ] {
        page.assert_contains(&format!("for=\"{field}\""));
    }

    // Screen 3: mismatched confirmation and a short keyword.
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&customer_fields(&terms)));
    let before = world.store.snapshot();
    let page = b.submit_page(
        &screen3,
        "/enroll/contact",
        &[
            ("keyword", "abc"),
            ("email", EMAIL),
            ("email-confirm", "other@example.jp"),
        ],
    );
    assert_eq!(page.status(), 422);
    assert_eq!(world.store.snapshot(), before);
    page.assert_contains("id=\"keyword-error\"");
    page.assert_contains("id=\"email-confirm-error\"");
    page.assert_contains("確認用と一致しません");
    assert!(!page.html.contains("id=\"email-error\""));
    page.assert_contains("<title>入力エラー：");
    assert!(!page.html.contains("abc"), "the keyword is not sent back");

    // A good keyword with a bad address: the keyword is not sent back
    // either, and the page says it must be typed again.
    let page = b.submit_page(
        &screen3,
        "/enroll/contact",
        &[
            ("keyword", KEYWORD),
            ("email", EMAIL),
            ("email-confirm", "other@example.jp"),
        ],
    );
    assert_eq!(page.status(), 422);
    assert!(!page.html.contains(KEYWORD));
    page.assert_contains("id=\"keyword-error\"");
    page.assert_contains("キーワードは消去しました。もう一度入力してください。");

    // Screen 8: the password is checked, and so is its twin.
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    let screen7 = b.get(&link);
    let screen8 = b.submit(&screen7, &link, &[("keyword", KEYWORD)]);
    let before = world.store.snapshot();
    let page = b.submit_page(
        &screen8,
        "/credentials",
        &[
            ("user-id", "not-an-address"),
            ("password", "short"),
            ("password-confirm", ""),
        ],
    );
    assert_eq!(page.status(), 422);
    assert_eq!(world.store.snapshot(), before);
    for field in ["user-id", "password", "password-confirm"] {
        page.assert_contains(&format!("id=\"{field}-error\""));
    }
    assert!(
        !page.html.contains("value=\"short\""),
        "passwords are never shown back"
    );
}

#[test]
fn recovery_replaces_credentials_and_ends_old_sessions() {
    let world = World::new();
    let mut first = Browser::new(&world);
    enroll_fully(&mut first);
    assert_eq!(first.get("/home").status(), 200);
    let mails_before = world.mailer.sent().len();

    let mut b = Browser::new(&world);
    let top = b.get("/");
    top.assert_contains("ユーザーＩＤ・パスワードをお忘れの方はこちら");
    let step2 = b.get("/recover");
    let step3 = b.submit(
        &step2,
        "/recover",
        &[("email", EMAIL), ("birth-date", "1985-04-01")],
    );
    assert_eq!(step3.path, "/recover/keyword");
    step3.assert_contains("メールには記載されません");
    step3.assert_contains("必ずメモしてください");
    let keyword = step3
        .html
        .split("<p class=\"keyword keyword-system\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(keyword.len(), 8);
    let mails = world.mailer.sent();
    assert_eq!(mails.len(), mails_before + 1);
    let mail = mails.last().unwrap();
    assert_eq!(mail.kind, "recovery-link");
    assert!(!mail.text.contains(&keyword), "the keyword is never in the mail");
    step3.assert_contains(&deadline_jst(world.clock.now() + 48 * 3600));

    let link = mailed_link(&world);
    let new_password = "a-new-long-passphrase";
    let done = set_credentials(
        &mut b,
        &link,
        &keyword.to_lowercase(),
        "taro.new@example.com",
        new_password,
    );
    assert_eq!(done.path, "/complete?for=recovery");
    done.assert_contains("ユーザーID・パスワードの再設定が完了しました");
    assert_eq!(b.get("/home").status(), 200);

    // The session from before the reset has ended.
    assert_eq!(first.get("/home").path, "/");
    // The old credentials no longer sign in; the new ones do.
    let top = first.get("/");
    let refused = first.submit_page(&top, "/signin", &[("user-id", USER_ID), ("password", PASSWORD)]);
    assert_eq!(refused.status(), 422);
    refused.assert_contains("ユーザーIDまたはパスワードが正しくありません");
    let home = first.submit(
        &top,
        "/signin",
        &[("user-id", "taro.new@example.com"), ("password", new_password)],
    );
    assert_eq!(home.path, "/home");

    // The keyword was never stored or redirected to in clear.
    for (key, value) in world.store.snapshot() {
        let k = keyword.as_bytes();
        assert!(
            !value.windows(k.len()).any(|w| w == k),
            "keyword in clear under {key}"
        );
    }
    assert!(b.locations.iter().all(|l| !l.contains(&keyword)));
}

#[test]
fn recovery_for_nobody_answers_alike_and_mails_nothing() {
    let world = World::new();
    let mut b = Browser::new(&world);
    let step2 = b.get("/recover");
    let response = b.post(
        &step2,
        "/recover",
        &[("email", "nobody@example.jp"), ("birth-date", "1990/1/1")],
    );
    assert_eq!(response.status(), 303);
    assert_eq!(response.header("location"), Some("/recover/keyword"));
    let step3 = b.get("/recover/keyword");
    assert_eq!(step3.status(), 200);
    step3.assert_contains("キーワード表示");
    assert!(world.mailer.sent().is_empty());

    // Bad input stays on step 2, told why.
    let page = b.submit_page(&step2, "/recover", &[("email", "x"), ("birth-date", "")]);
    assert_eq!(page.status(), 422);
    page.assert_contains("id=\"email-error\"");
    page.assert_contains("id=\"birth-date-error\"");
}

#[test]
fn sign_in_failures_slow_down_and_say_how_long() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_fully(&mut b);
    let mut other = Browser::new(&world);
    let top = other.get("/");
    // Three failures are free; then each one makes the next wait.
    for _ in 0..3 {
        let page = other.submit_page(
            &top,
            "/signin",
            &[("user-id", USER_ID), ("password", "wrong-password!")],
        );
        assert_eq!(page.status(), 422);
        page.assert_contains("ユーザーIDまたはパスワードが正しくありません");
    }
    let page = other.submit_page(&top, "/signin", &[("user-id", USER_ID), ("password", PASSWORD)]);
    assert_eq!(page.status(), 429);
    assert_eq!(page.response.header("retry-after"), Some("1"));
    page.assert_contains("ほどたってから");
    page.assert_contains("role=\"alert\"");
    assert!(!other.jar.contains_key("cw_session"));
}

#[test]
fn ended_or_missing_flows_offer_to_start_again() {
    let world = World::new();
    let mut b = Browser::new(&world);
    for (path, again) in [
        ("/enroll/contact", "/enroll"),
        ("/enroll/review", "/enroll"),
        ("/enroll/sent", "/enroll"),
        ("/recover/keyword", "/recover"),
        ("/credentials", "/"),
        ("/credentials/review", "/"),
    ] {
        let page = b.get(path);
        assert_eq!(page.status(), 410, "{path}");
        page.assert_contains("最初からやり直してください");
        page.assert_contains(&format!("href=\"{again}\""));
    }

    // A flow that lapsed while the customer was away.
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    b.submit(&screen2, "/enroll", &as_refs(&customer_fields(&terms)));
    world.clock.advance(world.config.0.flow_lifetime + 1);
    let page = b.get("/enroll/contact");
    assert_eq!(page.status(), 410);
    page.assert_contains("href=\"/enroll\"");
    // Screen 2 starts a fresh flow for it.
    let screen2 = b.get("/enroll");
    let old = b.jar.get("cw_flow").cloned();
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&customer_fields(&terms)));
    assert_eq!(screen3.path, "/enroll/contact");
    assert_ne!(b.jar.get("cw_flow").cloned(), old);

    // Home and renewal without a session go to the top.
    let mut stranger = Browser::new(&world);
    assert_eq!(stranger.get("/home").path, "/");
    assert_eq!(stranger.get("/renewal").path, "/");
}

#[test]
fn renewal_without_a_choice_is_told_so() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_fully(&mut b);
    let renewal = b.get("/renewal");
    let before = world.store.snapshot();
    let page = b.submit_page(&renewal, "/renewal", &[]);
    assert_eq!(page.status(), 422);
    page.assert_contains("id=\"policy-number-error\"");
    page.assert_contains("aria-invalid=\"true\"");
    let not_renewable = b.submit_page(&renewal, "/renewal", &[("policy-number", "B987654321")]);
    assert_eq!(not_renewable.status(), 422);
    not_renewable.assert_contains("継続手続きの対象ではありません");
    let after: Vec<_> = world
        .store
        .snapshot()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("session/"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(k, _)| !k.starts_with("session/"))
        .collect();
    assert_eq!(after, before, "nothing but the session's idle time changed");
}

#[test]
fn a_second_enrollment_of_the_same_customer_is_refused_plainly() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_fully(&mut b);
    let mut again = Browser::new(&world);
    enroll_until_mail(&mut again, None);
    let link = mailed_link(&world);
    let screen7 = again.get(&link);
    let screen8 = again.submit(&screen7, &link, &[("keyword", KEYWORD)]);
    let screen9 = again.submit(
        &screen8,
        "/credentials",
        &[
            ("user-id", "another@example.com"),
            ("password", PASSWORD),
            ("password-confirm", PASSWORD),
        ],
    );
    let page = again.submit_page(&screen9, "/credentials/complete", &[]);
    assert_eq!(page.status(), 409);
    page.assert_contains("既にご登録いただいています");
    page.assert_contains("href=\"/recover\"");
}

#[test]
fn a_taken_user_id_is_told_at_its_field() {
    let mut world = World::new();
    let mut identity = sample_identity();
    identity.family_name = "佐藤".into();
    identity.family_name_kana = "サトウ".into();
    identity.policy_number = "C111111111".into();
    world.directory.holders.push((
        identity,
        Policyholder {
            customer_id: "C0002".into(),
            display_name: "佐藤　太郎".into(),
        },
        vec![],
    ));
    let world = world;
    let mut first = Browser::new(&world);
    enroll_fully(&mut first);

    let mut b = Browser::new(&world);
    let screen2 = b.get("/enroll");
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let mut fields = customer_fields(&terms);
    fields[0].1 = "佐藤".into();
    fields[2].1 = "サトウ".into();
    fields[7].1 = "c111111111".into();
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&fields));
    let other = "sato@example.jp";
    let review = b.submit(
        &screen3,
        "/enroll/contact",
        &[
            ("keyword", "ひまわり畑"),
            ("email", other),
            ("email-confirm", other),
        ],
    );
    b.submit(&review, "/enroll/confirm", &[]);
    let link = mailed_link(&world);
    let screen7 = b.get(&link);
    let screen8 = b.submit(&screen7, &link, &[("keyword", "ひまわり畑")]);
    let before = world.store.snapshot();
    let page = b.submit_page(
        &screen8,
        "/credentials",
        &[
            ("user-id", USER_ID),
            ("password", "another-passphrase"),
            ("password-confirm", "another-passphrase"),
        ],
    );
    assert_eq!(page.status(), 422);
    // Nothing changed but the ticket's count of submissions.
    let without_tickets = |snapshot: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        snapshot
            .into_iter()
            .filter(|(k, _)| !k.starts_with("ticket/"))
            .collect()
    };
    assert_eq!(without_tickets(world.store.snapshot()), without_tickets(before));
    page.assert_contains("id=\"user-id-error\"");
    page.assert_contains("このユーザーIDはご利用いただけません");
    let done = set_credentials_from(&mut b, &page, "sato.taro@example.com", "another-passphrase");
    done.assert_contains("お客さまWebサービスの登録が完了しました");
}

fn set_credentials_from(b: &mut Browser<'_>, screen8: &Page, user_id: &str, password: &str) -> Page {
    let review = b.submit(
        screen8,
        "/credentials",
        &[
            ("user-id", user_id),
            ("password", password),
            ("password-confirm", password),
        ],
    );
    b.submit(&review, "/credentials/complete", &[])
}
