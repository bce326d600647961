//! Every flow end to end through the wasmtime host and the component, on
//! the in-memory and the SQLite backends, and composed with the Spin
//! adapter on the Spin stand-in (Spin's SQLite, variables from spin.toml).

use customer_web_e2e::{common, on_every_backend};

use common::{CONTACT, Harness, KEYWORD, PASSWORD, link_token, terms, yamada};
use customer_web_host::bindings::exports::customer_web::plugin::account::SignInError;
use customer_web_host::bindings::exports::customer_web::plugin::link::FlowKind;
use customer_web_host::bindings::exports::customer_web::plugin::types::FlowError;

on_every_backend!(
    full_enrollment_signs_in_lists_contracts_and_hands_over,
    full_recovery_replaces_credentials_and_revokes_sessions,
    opening_a_link_spends_nothing,
    a_used_link_is_refused,
    a_link_expires_48_hours_after_sending,
    five_wrong_keywords_burn_the_link,
    a_duplicate_user_id_is_refused_without_leaking,
    recovery_for_unknown_address_or_wrong_birth_date_answers_alike_and_sends_nothing,
    enrollment_with_unknown_identity_answers_alike_and_mails_no_link,
    bad_input_at_every_step_changes_nothing,
    sign_in_failures_slow_down_and_never_lock_out,
);

fn full_enrollment_signs_in_lists_contracts_and_hands_over(h: &Harness) {
    let flow = h.start(Some("AG001")).unwrap();
    h.submit_customer(&flow, &yamada(), &terms()).unwrap();
    h.submit_contact(&flow, KEYWORD, CONTACT).unwrap();
    let summary = h.review(&flow).unwrap();
    assert_eq!(summary.customer.family_name_kana, "ヤマダ");
    assert_eq!(summary.customer.given_name_kana, "タロウ");
    assert_eq!(summary.customer.phone, "09012345678");
    let sent = h.confirm(&flow).unwrap();
    assert_eq!(sent.email, CONTACT);
    let sent_at = h.now();
    assert!((sent.link_expires_at as i64 - (sent_at + 48 * 3600) as i64).abs() <= 2);

    let mail = h.last_mail();
    assert_eq!(mail.message.kind, "enrollment-link");
    assert_eq!(mail.message.to, CONTACT);
    assert_eq!(mail.message.subject, "【三井住友海上】初回利用登録に関するご案内");
    assert!(mail.message.text.contains("ご利用期限："));
    assert!(
        !mail.message.text.contains(KEYWORD),
        "the keyword never travels by mail"
    );
    let token = link_token(&mail);

    let verified = h.submit_keyword(&token, KEYWORD).unwrap();
    assert_eq!(verified.kind, FlowKind::Enrollment);
    h.submit_credentials(&verified.ticket, "Taro.Yamada@Example.jp", PASSWORD)
        .unwrap();
    assert_eq!(
        h.review_credentials(&verified.ticket).unwrap(),
        "Taro.Yamada@example.jp"
    );
    let grant = h.complete(&verified.ticket).unwrap();
    assert_eq!(
        h.home(&grant.session).unwrap().unwrap().display_name,
        "山田　太郎"
    );

    // Sign out, sign in again with the new credentials.
    h.sign_out(&grant.session).unwrap();
    assert!(h.home(&grant.session).unwrap().is_none());
    let session = h.sign_in("taro.yamada@example.jp", PASSWORD).unwrap().session;
    let contracts = h.renewable_contracts(&session).unwrap();
    assert!(!contracts.is_empty() && contracts.iter().all(|c| c.renewable));
    let handover = h.begin_renewal(&session, &contracts[0].policy_number).unwrap();
    // The token goes to the renewal URL in a POST body, never into it.
    assert!(handover.url.ends_with("/_dev/renewal") && !handover.url.contains(&handover.token));
    let claim = h
        .redeem_handover(&handover.token)
        .unwrap()
        .expect("first redemption");
    assert_eq!(claim.policy_number, contracts[0].policy_number);
    assert_eq!(claim.agent_code.as_deref(), Some("AG001"));
    assert!(h.redeem_handover(&handover.token).unwrap().is_none(), "one-time");

    // Nothing secret in storage or the audit trail.
    let kinds = h.audit_kinds();
    for kind in [
        "enrollment-started",
        "mail-sent",
        "link-spent",
        "account-created",
        "sign-in-succeeded",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "audit lacks {kind}: {kinds:?}");
    }
    for (key, _) in h.storage_versions() {
        assert!(!key.contains(&token) && !key.contains(&grant.session) && !key.contains(&flow));
    }
}

fn full_recovery_replaces_credentials_and_revokes_sessions(h: &Harness) {
    let old_session = h.enroll("taro@example.jp");
    let other_session = h.sign_in("taro@example.jp", PASSWORD).unwrap().session;
    let started = h
        .start_recovery("ＴＡＲＯ＠example.jp", "昭和60年4月1日")
        .unwrap();
    let mail = h.last_mail();
    assert_eq!(mail.message.kind, "recovery-link");
    assert!(
        !mail.message.text.contains(&started.keyword),
        "the keyword is on the screen only"
    );
    let verified = h.submit_keyword(&link_token(&mail), &started.keyword).unwrap();
    assert_eq!(verified.kind, FlowKind::Recovery);
    h.submit_credentials(&verified.ticket, "new-id@example.jp", "a brand new passphrase")
        .unwrap();
    let grant = h.complete(&verified.ticket).unwrap();
    assert!(h.home(&old_session).unwrap().is_none());
    assert!(h.home(&other_session).unwrap().is_none());
    assert!(h.home(&grant.session).unwrap().is_some());
    assert_eq!(
        h.sign_in("taro@example.jp", PASSWORD).unwrap_err(),
        SignInError::BadCredentials
    );
    h.sign_in("new-id@example.jp", "a brand new passphrase").unwrap();
    assert!(h.audit_kinds().iter().any(|k| k == "credentials-reset"));
}

fn opening_a_link_spends_nothing(h: &Harness) {
    let token = h.mail_link(CONTACT);
    // A mail scanner and the customer open it again and again.
    for _ in 0..5 {
        let status = h.open_link(&token).unwrap();
        assert_eq!(status.attempts_left, 5);
    }
    h.submit_keyword(&token, KEYWORD).unwrap();
}

fn a_used_link_is_refused(h: &Harness) {
    let token = h.mail_link(CONTACT);
    h.submit_keyword(&token, KEYWORD).unwrap();
    assert_eq!(h.open_link(&token).unwrap_err(), FlowError::LinkSpent);
    assert_eq!(
        h.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkSpent
    );
}

fn a_link_expires_48_hours_after_sending(h: &Harness) {
    let token = h.mail_link(CONTACT);
    let expires_at = h.open_link(&token).unwrap().expires_at;
    h.advance(expires_at - h.now() - 5);
    h.open_link(&token).unwrap();
    h.advance(6); // 48 h + 1 s
    assert_eq!(h.open_link(&token).unwrap_err(), FlowError::LinkExpired);
    assert_eq!(
        h.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkExpired
    );
}

fn five_wrong_keywords_burn_the_link(h: &Harness) {
    let token = h.mail_link(CONTACT);
    for left in (1..5).rev() {
        assert_eq!(
            h.submit_keyword(&token, "ちがう言葉").unwrap_err(),
            FlowError::WrongKeyword(left)
        );
    }
    assert_eq!(
        h.submit_keyword(&token, "ちがう言葉").unwrap_err(),
        FlowError::LinkBurnt
    );
    assert_eq!(
        h.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkBurnt
    );
    assert_eq!(h.open_link(&token).unwrap_err(), FlowError::LinkBurnt);
    assert!(h.audit_kinds().iter().any(|k| k == "link-burnt"));
}

fn a_duplicate_user_id_is_refused_without_leaking(h: &Harness) {
    h.enroll("taken@example.jp");
    // Before both channels pass, nothing says the ID is taken: the flow
    // goes on exactly as for a free one.
    let token = h.mail_link(CONTACT);
    let verified = h.submit_keyword(&token, KEYWORD).unwrap();
    // After both channels, the customer is told, and nothing is created.
    let before = h.count("user/");
    assert_eq!(
        h.submit_credentials(&verified.ticket, "TAKEN@example.jp", PASSWORD)
            .unwrap_err(),
        FlowError::UserIdUnavailable
    );
    assert_eq!(h.count("user/"), before);
    assert_eq!(h.count("account/"), 1);
}

fn recovery_for_unknown_address_or_wrong_birth_date_answers_alike_and_sends_nothing(h: &Harness) {
    h.enroll("taro@example.jp");
    let mails = h.mails().len();
    let matched = h.start_recovery(CONTACT, "1985-04-01").unwrap();
    assert_eq!(h.mails().len(), mails + 1);
    let links = h.count("link/");
    let unknown = h.start_recovery("nobody@example.jp", "1985-04-01").unwrap();
    let wrong_birth = h.start_recovery(CONTACT, "1990-01-01").unwrap();
    assert_eq!(h.mails().len(), mails + 1, "no mail without a match");
    // The same answer, shape for shape, and the same storage work.
    for other in [&unknown, &wrong_birth] {
        assert_eq!(other.keyword.len(), matched.keyword.len());
        assert!(other.link_expires_at.abs_diff(matched.link_expires_at) < 5);
    }
    assert_eq!(h.count("link/"), links + 2);
}

fn enrollment_with_unknown_identity_answers_alike_and_mails_no_link(h: &Harness) {
    let flow = h.start(None).unwrap();
    let mut stranger = yamada();
    stranger.birth_date = "1985-04-02".into();
    h.submit_customer(&flow, &stranger, &terms()).unwrap();
    h.submit_contact(&flow, KEYWORD, "someone@example.jp").unwrap();
    let sent = h.confirm(&flow).unwrap();
    assert_eq!(sent.email, "someone@example.jp");
    let mail = h.last_mail();
    assert_eq!(mail.message.kind, "enrollment-unverified");
    assert_eq!(mail.message.subject, "【三井住友海上】初回利用登録に関するご案内");
    assert!(!mail.message.text.contains("/link/"));
    assert_eq!(h.count("link/"), 0);
}

fn field_errors(e: FlowError) -> Vec<String> {
    match e {
        FlowError::InvalidInput(fields) => {
            assert!(fields.iter().all(|f| !f.message.is_empty()));
            fields.into_iter().map(|f| f.field).collect()
        }
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn bad_input_at_every_step_changes_nothing(h: &Harness) {
    let unchanged = |step: &dyn Fn() -> Vec<String>, expected: &[&str]| {
        let before = h.storage_versions();
        assert_eq!(step(), expected);
        assert_eq!(
            h.storage_versions(),
            before,
            "storage changed on bad input to {expected:?}"
        );
    };
    unchanged(
        &|| field_errors(h.start(Some("<script>")).unwrap_err()),
        &["agent-code"],
    );
    let flow = h.start(None).unwrap();
    let mut bad = yamada();
    bad.family_name_kana = "yamada".into();
    bad.birth_date = "1985-02-30".into();
    bad.postal_code = "12".into();
    bad.phone = "12345".into();
    unchanged(
        &|| field_errors(h.submit_customer(&flow, &bad, &terms()).unwrap_err()),
        &["family-name-kana", "birth-date", "phone", "postal-code"],
    );
    unchanged(
        &|| field_errors(h.submit_customer(&flow, &yamada(), "1999-01").unwrap_err()),
        &["accepted-terms"],
    );
    h.submit_customer(&flow, &yamada(), &terms()).unwrap();
    unchanged(
        &|| field_errors(h.submit_contact(&flow, "abc", "not-mail").unwrap_err()),
        &["keyword", "email"],
    );
    h.submit_contact(&flow, KEYWORD, CONTACT).unwrap();
    h.confirm(&flow).unwrap();
    let token = link_token(&h.last_mail());
    unchanged(
        &|| field_errors(h.submit_keyword(&token, "").unwrap_err()),
        &["keyword"],
    );
    let verified = h.submit_keyword(&token, KEYWORD).unwrap();
    unchanged(
        &|| {
            field_errors(
                h.submit_credentials(&verified.ticket, "no-at-sign", PASSWORD)
                    .unwrap_err(),
            )
        },
        &["user-id"],
    );
    unchanged(
        &|| {
            field_errors(
                h.submit_credentials(&verified.ticket, "t@example.jp", "short")
                    .unwrap_err(),
            )
        },
        &["password"],
    );
    unchanged(
        &|| {
            field_errors(
                h.submit_credentials(&verified.ticket, "t@example.jp", "password1234")
                    .unwrap_err(),
            )
        },
        &["password"],
    );
    unchanged(
        &|| field_errors(h.start_recovery("x", "2099-01-01").unwrap_err()),
        &["email", "birth-date"],
    );
    // Unknown ids are refused without writing anything either.
    let before = h.storage_versions();
    assert_eq!(h.review("not-a-flow").unwrap_err(), FlowError::UnknownFlow);
    assert_eq!(
        h.submit_keyword("not-a-link", KEYWORD).unwrap_err(),
        FlowError::LinkUnknown
    );
    assert_eq!(h.complete("not-a-ticket").unwrap_err(), FlowError::UnknownFlow);
    assert_eq!(h.storage_versions(), before);
}

fn sign_in_failures_slow_down_and_never_lock_out(h: &Harness) {
    // The delays are counted in seconds: time stands still but for
    // `advance`, however long each hash takes.
    h.time.stop();
    h.enroll("taro@example.jp");
    for _ in 0..3 {
        assert_eq!(
            h.sign_in("taro@example.jp", "wrong password!").unwrap_err(),
            SignInError::BadCredentials
        );
    }
    assert!(
        matches!(h.sign_in("taro@example.jp", PASSWORD).unwrap_err(), SignInError::RetryAfter(s) if s <= 1)
    );
    h.advance(2);
    h.sign_in("taro@example.jp", PASSWORD).unwrap();
    // An unknown user ID answers exactly like a wrong password.
    assert_eq!(
        h.sign_in("nobody@example.jp", PASSWORD).unwrap_err(),
        SignInError::BadCredentials
    );
    assert!(h.audit_kinds().iter().any(|k| k == "sign-in-failed"));
}
