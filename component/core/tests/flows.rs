//! The flows against in-memory fakes: every rule of the security bar that
//! does not need HTTP.

use customer_web_core::link::MAX_KEYWORD_ATTEMPTS;
use customer_web_core::model::{CustomerInput, Message};
use customer_web_core::records::LinkKind;
use customer_web_core::secret::Token;
use customer_web_core::testing::World;
use customer_web_core::{FlowError, Service, SignInError};

const KEYWORD: &str = "さくら2026";
const PASSWORD: &str = "correct horse battery";

fn customer() -> CustomerInput {
    CustomerInput {
        family_name: "山田".into(),
        given_name: "太郎".into(),
        family_name_kana: "ﾔﾏﾀﾞ".into(), // half-width, as typed on an old handset
        given_name_kana: "たろう".into(), // hiragana
        birth_date: "１９８５年４月１日".into(),
        phone: "090-1234-5678".into(),
        postal_code: "100-0004".into(),
        policy_number: "a-123456789".into(),
    }
}

fn link_token(mail: &Message) -> Token {
    let url = mail
        .text
        .lines()
        .find(|l| l.contains("/link/"))
        .expect("a link line");
    Token::from_caller(url.rsplit('/').next().unwrap())
}

/// Screens 1–5: returns the mailed link token.
fn mail_link(world: &World, email: &str) -> Token {
    let s = Service::new(world.ports());
    let flow = s.start_enrollment(Some("AG001")).unwrap();
    s.submit_customer(&flow, &customer(), "2026-04").unwrap();
    s.submit_contact(&flow, KEYWORD, email).unwrap();
    s.confirm_enrollment(&flow).unwrap();
    link_token(world.mailer.sent().last().unwrap())
}

#[test]
fn enrollment_end_to_end() {
    let world = World::new();
    let s = Service::new(world.ports());
    let flow = s.start_enrollment(Some("AG001")).unwrap();
    s.submit_customer(&flow, &customer(), "2026-04").unwrap();
    s.submit_contact(&flow, KEYWORD, "taro@example.jp").unwrap();
    let review = s.review_enrollment(&flow).unwrap();
    assert_eq!(review.customer.family_name_kana, "ヤマダ");
    assert_eq!(review.customer.given_name_kana, "タロウ");
    assert_eq!(review.email, "taro@example.jp");
    let sent = s.confirm_enrollment(&flow).unwrap();
    assert_eq!(sent.link_expires_at, world.clock_now() + 48 * 3600);

    let mails = world.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].kind, "enrollment-link");
    assert_eq!(mails[0].to, "taro@example.jp");
    assert!(!mails[0].text.contains(KEYWORD), "the keyword never goes by mail");
    let token = link_token(&mails[0]);
    // Storage holds no secret in clear.
    for (key, value) in world.store.snapshot() {
        let text = String::from_utf8_lossy(&value);
        assert!(!text.contains(KEYWORD) && !key.contains(token.expose()) && !text.contains(token.expose()));
    }

    let status = s.open_link(&token).unwrap();
    assert_eq!(
        (status.kind, status.attempts_left),
        (LinkKind::Enrollment, MAX_KEYWORD_ATTEMPTS)
    );
    let verified = s.submit_keyword(&token, KEYWORD).unwrap();
    s.submit_credentials(&verified.ticket, "Taro.Yamada@Example.JP", PASSWORD)
        .unwrap();
    assert_eq!(
        s.review_credentials(&verified.ticket).unwrap(),
        "Taro.Yamada@example.jp"
    );
    let grant = s.complete_credentials(&verified.ticket).unwrap();
    let home = s.home(&grant.session).unwrap().unwrap();
    assert_eq!(home.display_name, "山田　太郎");

    let contracts = s.renewable_contracts(&grant.session).unwrap();
    assert_eq!(contracts.len(), 1);
    let handover = s
        .begin_renewal(&grant.session, &contracts[0].policy_number)
        .unwrap();
    // The token is posted to the renewal URL, never put into it.
    assert_eq!(handover.url, world.config.0.renewal_url);
    assert!(!handover.url.contains(handover.token.expose()));
    let claim = s.redeem_handover(&handover.token).unwrap().unwrap();
    assert_eq!(
        (claim.customer_id.as_str(), claim.agent_code.as_deref()),
        ("C0001", Some("AG001"))
    );
    assert!(s.redeem_handover(&handover.token).unwrap().is_none(), "one-time");

    // Sign out, then sign in with the new credentials (user ID case-insensitive).
    s.sign_out(&grant.session).unwrap();
    assert!(s.home(&grant.session).unwrap().is_none());
    s.sign_in("taro.yamada@example.jp", PASSWORD).unwrap();

    let kinds: Vec<_> = world.audit.events().iter().map(|e| e.kind).collect();
    for k in [
        "enrollment-started",
        "mail-sent",
        "link-spent",
        "account-created",
        "sign-in-succeeded",
    ] {
        assert!(kinds.contains(&k), "audit has {k}: {kinds:?}");
    }
}

trait Now {
    fn clock_now(&self) -> u64;
}
impl Now for World {
    fn clock_now(&self) -> u64 {
        use customer_web_core::ports::Clock;
        self.clock.now()
    }
}

#[test]
fn opening_a_link_spends_nothing_and_a_spent_link_says_so() {
    let world = World::new();
    let s = Service::new(world.ports());
    let token = mail_link(&world, "taro@example.jp");
    for _ in 0..3 {
        s.open_link(&token).unwrap();
    }
    s.submit_keyword(&token, KEYWORD).unwrap();
    assert_eq!(s.open_link(&token).unwrap_err(), FlowError::LinkSpent);
    assert_eq!(
        s.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkSpent
    );
}

#[test]
fn link_expires_48_hours_after_sending() {
    let world = World::new();
    let s = Service::new(world.ports());
    let token = mail_link(&world, "taro@example.jp");
    world.clock.advance(48 * 3600 - 1);
    s.open_link(&token).unwrap();
    world.clock.advance(2);
    assert_eq!(s.open_link(&token).unwrap_err(), FlowError::LinkExpired);
    assert_eq!(
        s.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkExpired
    );
}

#[test]
fn five_wrong_keywords_burn_the_link() {
    let world = World::new();
    let s = Service::new(world.ports());
    let token = mail_link(&world, "taro@example.jp");
    for left in (1..MAX_KEYWORD_ATTEMPTS).rev() {
        assert_eq!(
            s.submit_keyword(&token, "ちがう言葉").unwrap_err(),
            FlowError::WrongKeyword(left)
        );
    }
    assert_eq!(
        s.submit_keyword(&token, "ちがう言葉").unwrap_err(),
        FlowError::LinkBurnt
    );
    assert_eq!(
        s.submit_keyword(&token, KEYWORD).unwrap_err(),
        FlowError::LinkBurnt
    );
    assert!(world.audit.events().iter().any(|e| e.kind == "link-burnt"));
}

#[test]
fn racing_correct_keywords_make_exactly_one_account() {
    let world = World::new();
    let token = mail_link(&world, "taro@example.jp");
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (world, token) = (&world, &token);
                scope.spawn(move || {
                    let s = Service::new(world.ports());
                    let v = s.submit_keyword(token, KEYWORD)?;
                    s.submit_credentials(&v.ticket, &format!("user{i}@example.jp"), PASSWORD)?;
                    s.complete_credentials(&v.ticket)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(world.store.count("account/"), 1);
}

#[test]
fn a_taken_user_id_is_refused_only_after_both_channels() {
    let world = World::new();
    let s = Service::new(world.ports());
    let v = s
        .submit_keyword(&mail_link(&world, "taro@example.jp"), KEYWORD)
        .unwrap();
    s.submit_credentials(&v.ticket, "taken@example.jp", PASSWORD)
        .unwrap();
    s.complete_credentials(&v.ticket).unwrap();

    // The same policyholder again: the ID is refused at screen 8 …
    let v2 = s
        .submit_keyword(&mail_link(&world, "taro@example.jp"), KEYWORD)
        .unwrap();
    assert_eq!(
        s.submit_credentials(&v2.ticket, "TAKEN@example.jp", PASSWORD)
            .unwrap_err(),
        FlowError::UserIdUnavailable
    );
    // … and with a free ID the customer is told to use recovery.
    s.submit_credentials(&v2.ticket, "other@example.jp", PASSWORD)
        .unwrap();
    assert_eq!(
        s.complete_credentials(&v2.ticket).unwrap_err(),
        FlowError::AlreadyRegistered
    );
    assert_eq!(world.store.count("account/"), 1);
    assert_eq!(world.store.count("user/"), 1);
}

#[test]
fn one_ticket_cannot_probe_user_ids_without_end() {
    let world = World::new();
    let s = Service::new(world.ports());
    let v = s
        .submit_keyword(&mail_link(&world, "taro@example.jp"), KEYWORD)
        .unwrap();
    s.submit_credentials(&v.ticket, "taken@example.jp", PASSWORD)
        .unwrap();
    s.complete_credentials(&v.ticket).unwrap();
    let v2 = s
        .submit_keyword(&mail_link(&world, "taro@example.jp"), KEYWORD)
        .unwrap();
    // Invalid input is a typing slip: not counted.
    for _ in 0..10 {
        assert!(matches!(
            s.submit_credentials(&v2.ticket, "not an address", PASSWORD)
                .unwrap_err(),
            FlowError::InvalidInput(_)
        ));
    }
    let max = customer_web_core::credentials::MAX_CREDENTIAL_SUBMISSIONS;
    for i in 0..max {
        if i % 2 == 0 {
            assert_eq!(
                s.submit_credentials(&v2.ticket, "taken@example.jp", PASSWORD)
                    .unwrap_err(),
                FlowError::UserIdUnavailable
            );
        } else {
            s.submit_credentials(&v2.ticket, &format!("free{i}@example.jp"), PASSWORD)
                .unwrap();
        }
    }
    // Past the cap the ticket is burnt, taken ID or free.
    for user_id in ["taken@example.jp", "free@example.jp"] {
        assert_eq!(
            s.submit_credentials(&v2.ticket, user_id, PASSWORD).unwrap_err(),
            if user_id == "taken@example.jp" {
                FlowError::LinkBurnt
            } else {
                FlowError::UnknownFlow
            },
            "{user_id}"
        );
    }
    assert!(world.store.count("ticket/") <= 1);
    assert_eq!(
        world
            .audit
            .events()
            .iter()
            .filter(|e| e.kind == "ticket-burnt")
            .count(),
        1
    );
}

#[test]
fn unmatched_identity_gets_the_same_answer_and_a_mail_without_link() {
    let world = World::new();
    let s = Service::new(world.ports());
    let flow = s.start_enrollment(None).unwrap();
    let mut stranger = customer();
    stranger.phone = "03-1111-2222".into();
    s.submit_customer(&flow, &stranger, "2026-04").unwrap();
    s.submit_contact(&flow, KEYWORD, "someone@example.jp").unwrap();
    let sent = s.confirm_enrollment(&flow).unwrap();
    assert_eq!(sent.email, "someone@example.jp");
    let mails = world.mailer.sent();
    assert_eq!(mails[0].kind, "enrollment-unverified");
    assert!(!mails[0].text.contains("/link/"));
    assert_eq!(world.store.count("link/"), 0);
}

fn enrolled(world: &World) -> String {
    let s = Service::new(world.ports());
    let v = s
        .submit_keyword(&mail_link(world, "taro@example.jp"), KEYWORD)
        .unwrap();
    s.submit_credentials(&v.ticket, "taro@example.jp", PASSWORD)
        .unwrap();
    s.complete_credentials(&v.ticket)
        .unwrap()
        .session
        .expose()
        .to_owned()
}

#[test]
fn recovery_replaces_credentials_and_revokes_sessions() {
    let world = World::new();
    let old_session = Token::from_caller(&enrolled(&world));
    let s = Service::new(world.ports());
    let before = world.mailer.sent().len();
    let started = s.start_recovery("TARO@example.jp", "1985/4/1").unwrap();
    let mail = world.mailer.sent().pop().unwrap();
    assert_eq!(world.mailer.sent().len(), before + 1);
    assert_eq!(mail.kind, "recovery-link");
    assert!(!mail.text.contains(started.keyword.expose()));
    let token = link_token(&mail);
    // Typed in lower case on a phone: still right.
    let v = s
        .submit_keyword(&token, &started.keyword.expose().to_lowercase())
        .unwrap();
    assert_eq!(v.kind, LinkKind::Recovery);
    s.submit_credentials(&v.ticket, "new-id@example.jp", "a brand new passphrase")
        .unwrap();
    let grant = s.complete_credentials(&v.ticket).unwrap();
    assert!(s.home(&old_session).unwrap().is_none(), "old sessions revoked");
    assert!(s.home(&grant.session).unwrap().is_some());
    assert_eq!(
        s.sign_in("taro@example.jp", PASSWORD).unwrap_err(),
        SignInError::BadCredentials
    );
    s.sign_in("new-id@example.jp", "a brand new passphrase").unwrap();
    assert!(world.audit.events().iter().any(|e| e.kind == "credentials-reset"));
}

#[test]
fn recovery_without_a_match_answers_alike_and_sends_nothing() {
    let world = World::new();
    enrolled(&world);
    let s = Service::new(world.ports());
    let before = world.mailer.sent().len();
    let links_before = world.store.count("link/");
    let unknown = s.start_recovery("nobody@example.jp", "1985-04-01").unwrap();
    let wrong_birth = s.start_recovery("taro@example.jp", "1990-01-01").unwrap();
    assert_eq!(unknown.keyword.expose().len(), 8);
    assert_eq!(wrong_birth.keyword.expose().len(), 8);
    assert_eq!(world.mailer.sent().len(), before, "no mail");
    // The same storage work as a match: one link record each.
    assert_eq!(world.store.count("link/"), links_before + 2);
}

#[test]
fn bad_input_names_each_field_and_changes_nothing() {
    let world = World::new();
    let s = Service::new(world.ports());
    let flow = s.start_enrollment(None).unwrap();
    let before = world.store.snapshot();
    let mut bad = customer();
    bad.birth_date = "1985-02-30".into();
    bad.family_name_kana = "yamada".into();
    bad.postal_code = "12".into();
    let FlowError::InvalidInput(errors) = s.submit_customer(&flow, &bad, "2026-04").unwrap_err() else {
        panic!("expected field errors");
    };
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["family-name-kana", "birth-date", "postal-code"]);
    assert!(errors.iter().all(|e| !e.message.is_empty()));
    assert!(matches!(
        s.submit_customer(&flow, &customer(), "2019-01").unwrap_err(),
        FlowError::InvalidInput(_)
    ));
    assert!(matches!(
        s.submit_contact(&flow, KEYWORD, "taro@example.jp").unwrap_err(),
        FlowError::WrongStep(_)
    ));
    assert_eq!(world.store.snapshot(), before);
    assert!(matches!(
        s.start_recovery("not-an-address", "1985-04-01").unwrap_err(),
        FlowError::InvalidInput(_)
    ));
    assert!(matches!(
        s.start_enrollment(Some("<script>")).unwrap_err(),
        FlowError::InvalidInput(_)
    ));
    assert_eq!(world.store.snapshot(), before);
}

#[test]
fn sign_in_slows_down_but_never_locks_out() {
    let world = World::new();
    enrolled(&world);
    let s = Service::new(world.ports());
    for _ in 0..3 {
        assert_eq!(
            s.sign_in("taro@example.jp", "wrong password!").unwrap_err(),
            SignInError::BadCredentials
        );
    }
    // The third failure imposed a 1 s wait; the fourth is refused before checking.
    assert_eq!(
        s.sign_in("taro@example.jp", PASSWORD).unwrap_err(),
        SignInError::RetryAfter(1)
    );
    world.clock.advance(1);
    assert_eq!(
        s.sign_in("taro@example.jp", "wrong password!").unwrap_err(),
        SignInError::BadCredentials
    );
    assert_eq!(
        s.sign_in("taro@example.jp", PASSWORD).unwrap_err(),
        SignInError::RetryAfter(2)
    );
    world.clock.advance(2);
    s.sign_in("taro@example.jp", PASSWORD).unwrap();
    // Unknown IDs answer exactly like a wrong password.
    assert_eq!(
        s.sign_in("nobody@example.jp", PASSWORD).unwrap_err(),
        SignInError::BadCredentials
    );
}

#[test]
fn a_guesser_slows_only_its_own_client_and_the_owner_gets_in() {
    let world = World::new();
    enrolled(&world);
    let attacker = Service::new(world.ports()).for_client("203.0.113.9:51234");
    for _ in 0..3 {
        assert_eq!(
            attacker
                .sign_in("taro@example.jp", "wrong password!")
                .unwrap_err(),
            SignInError::BadCredentials
        );
    }
    assert!(matches!(
        attacker
            .sign_in("taro@example.jp", "wrong password!")
            .unwrap_err(),
        SignInError::RetryAfter(_)
    ));
    // The owner's browser, elsewhere, is not slowed at all.
    let owner = Service::new(world.ports()).for_client("198.51.100.7:40000");
    owner.sign_in("taro@example.jp", PASSWORD).unwrap();
    // Another port of the attacker's address is the same client; another
    // address in its IPv6 /64 too.
    let same = Service::new(world.ports()).for_client("203.0.113.9:60000");
    assert!(matches!(
        same.sign_in("taro@example.jp", PASSWORD).unwrap_err(),
        SignInError::RetryAfter(_)
    ));
    assert_eq!(
        customer_web_core::service::client_key("[2001:db8:1:2:aaaa::1]:443"),
        customer_web_core::service::client_key("2001:db8:1:2:bbbb::9")
    );
}

#[test]
fn racing_guesses_get_no_more_checks_than_sequential_ones() {
    let world = World::new();
    enrolled(&world);
    let before = world
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == "sign-in-failed")
        .count();
    let outcomes: Vec<SignInError> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..40)
            .map(|i| {
                let world = &world;
                scope.spawn(move || {
                    Service::new(world.ports())
                        .for_client("203.0.113.9")
                        .sign_in("taro@example.jp", &format!("guess number {i}"))
                        .unwrap_err()
                })
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let checked = outcomes
        .iter()
        .filter(|o| **o == SignInError::BadCredentials)
        .count();
    assert_eq!(checked, 3, "{outcomes:?}");
    let failed = world
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == "sign-in-failed")
        .count();
    assert_eq!(failed - before, 3, "three passwords were hashed and compared");
}

#[test]
fn sessions_end_when_idle_or_old() {
    let world = World::new();
    let session = Token::from_caller(&enrolled(&world));
    let s = Service::new(world.ports());
    world.clock.advance(29 * 60);
    assert!(
        s.home(&session).unwrap().is_some(),
        "use extends the idle deadline"
    );
    world.clock.advance(29 * 60);
    assert!(s.home(&session).unwrap().is_some());
    world.clock.advance(31 * 60);
    assert!(s.home(&session).unwrap().is_none(), "idle too long");
}

#[test]
fn mail_to_one_address_is_rate_limited_per_hour() {
    let world = World::new();
    let s = Service::new(world.ports());
    for _ in 0..5 {
        s.start_recovery("nobody@example.jp", "1985-04-01").unwrap();
    }
    assert!(matches!(
        s.start_recovery("nobody@example.jp", "1985-04-01").unwrap_err(),
        FlowError::RateLimited(_)
    ));
    world.clock.advance(3600);
    s.start_recovery("nobody@example.jp", "1985-04-01").unwrap();
}

#[test]
fn the_mail_limit_counts_a_mailbox_whatever_its_case_or_tag() {
    let world = World::new();
    let s = Service::new(world.ports());
    for _ in 0..5 {
        s.start_recovery("RL@example.jp", "1985-04-01").unwrap();
    }
    for spelling in [
        "rl+1@example.jp",
        "rl+2@Example.JP",
        "Rl+x+y@example.jp",
        "rl@EXAMPLE.jp",
    ] {
        assert!(
            matches!(
                s.start_recovery(spelling, "1985-04-01").unwrap_err(),
                FlowError::RateLimited(_)
            ),
            "{spelling} goes to the limited mailbox"
        );
    }
    // Another mailbox has its own count.
    s.start_recovery("rl2@example.jp", "1985-04-01").unwrap();
    assert_eq!(customer_web_core::records::mailbox(" A+b@X.jp "), "a@x.jp");
}

#[test]
fn confirmations_for_one_person_are_limited_from_any_client() {
    let world = World::new();
    let confirm_from = |client: &str, email: &str| {
        let s = Service::new(world.ports()).for_client(client);
        let flow = s.start_enrollment(None).unwrap();
        s.submit_customer(&flow, &customer(), "2026-04").unwrap();
        s.submit_contact(&flow, KEYWORD, email).unwrap();
        s.confirm_enrollment(&flow)
    };
    let limit = customer_web_core::enrollment::CONFIRMATIONS_PER_PERSON_PER_HOUR;
    for i in 0..limit {
        confirm_from(&format!("198.51.100.{i}"), &format!("try{i}@example.jp")).unwrap();
    }
    // A sixth try for the same person, from yet another address and to yet
    // another mailbox, is refused: no directory lookup, no mail.
    let mails = world.mailer.sent().len();
    assert!(matches!(
        confirm_from("203.0.113.77", "other@example.jp").unwrap_err(),
        FlowError::RateLimited(_)
    ));
    assert_eq!(world.mailer.sent().len(), mails);
    world.clock.advance(3600);
    confirm_from("203.0.113.77", "other@example.jp").unwrap();
}

#[test]
fn confirmations_from_one_client_are_limited_for_any_person() {
    let world = World::new();
    let confirm = |client: &str, i: u32| {
        let s = Service::new(world.ports()).for_client(client);
        let flow = s.start_enrollment(None).unwrap();
        // Another person each time: the birth date moves a day.
        let mut who = customer();
        who.birth_date = format!("1980-01-{:02}", 1 + i % 28);
        who.family_name_kana = format!("ﾔﾏﾀﾞ{}", "ｱｲｳ".chars().nth((i / 28) as usize).unwrap());
        s.submit_customer(&flow, &who, "2026-04").unwrap();
        s.submit_contact(&flow, KEYWORD, &format!("sweep{i}@example.jp"))
            .unwrap();
        s.confirm_enrollment(&flow)
    };
    let limit = customer_web_core::enrollment::CONFIRMATIONS_PER_CLIENT_PER_HOUR;
    for i in 0..limit {
        // Strangers to the directory: the confirmation answers as for a
        // match, and no mail goes out.
        confirm("198.51.100.9", i).unwrap();
    }
    // One more from the same client, for yet another person, is refused
    // before the directory is asked; IPv6 neighbours in one /64 are one
    // client too.
    assert!(matches!(
        confirm("198.51.100.9", limit).unwrap_err(),
        FlowError::RateLimited(_)
    ));
    for i in 0..limit {
        confirm(&format!("2001:db8:1:2::{i:x}"), i).unwrap();
    }
    assert!(matches!(
        confirm("2001:db8:1:2::ffff", limit).unwrap_err(),
        FlowError::RateLimited(_)
    ));
    // Another client has its own count; an hour later the first has room.
    confirm("203.0.113.5", limit).unwrap();
    world.clock.advance(3600);
    confirm("198.51.100.9", limit).unwrap();
}
