//! The mailed link: scanner-safe opening, wrong keywords, and the plain
//! pages of spent, expired, burnt and unknown links.

use customer_web_core::testing::World;

use crate::browser::*;

#[test]
fn opening_a_link_spends_nothing_and_tells_no_referrer() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    let mut scanner = Browser::new(&world);
    for _ in 0..3 {
        let page = scanner.get(&link);
        assert_eq!(page.status(), 200);
        assert_eq!(page.response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.response.header("cache-control"), Some("no-store"));
        page.assert_contains("キーワード入力");
        page.assert_contains("あと5回");
        // The token is in the address bar only, not in the page.
        let token = link.trim_start_matches("/link/");
        assert!(!page.html.contains(token));
    }
    let mut phone = Browser::new(&world);
    let done = set_credentials(&mut phone, &link, KEYWORD, USER_ID, PASSWORD);
    done.assert_contains("登録が完了しました");
}

#[test]
fn wrong_keywords_count_down_then_burn_the_link() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    let screen7 = b.get(&link);
    for left in (1..5).rev() {
        let page = b.submit_page(&screen7, &link, &[("keyword", "ちがうキーワード")]);
        assert_eq!(page.status(), 422);
        assert_eq!(page.response.header("referrer-policy"), Some("no-referrer"));
        page.assert_contains("キーワードが正しくありません");
        page.assert_contains(&format!("あと{left}回"));
        page.assert_contains("aria-invalid=\"true\"");
    }
    let burnt = b.submit_page(&screen7, &link, &[("keyword", "ちがうキーワード")]);
    assert_eq!(burnt.status(), 410);
    burnt.assert_contains("このURLは使用できなくなりました");
    burnt.assert_contains("href=\"/enroll\"");
    // Even the right keyword cannot open it now.
    let page = b.submit_page(&screen7, &link, &[("keyword", KEYWORD)]);
    assert_eq!(page.status(), 410);
    assert!(!b.jar.contains_key("cw_ticket"));
    let page = b.get(&link);
    assert_eq!(page.status(), 410);
    page.assert_contains("このURLは使用できなくなりました");
}

#[test]
fn an_empty_keyword_is_a_slip_not_a_guess() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    let screen7 = b.get(&link);
    let page = b.submit_page(&screen7, &link, &[("keyword", "")]);
    assert_eq!(page.status(), 422);
    page.assert_contains("id=\"keyword-error\"");
    page.assert_contains("あと5回");
}

#[test]
fn a_spent_link_says_so_and_offers_to_start_again() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    set_credentials(&mut b, &link, KEYWORD, USER_ID, PASSWORD);
    let page = Browser::new(&world).get(&link);
    assert_eq!(page.status(), 410);
    page.assert_contains("このURLは既に使用されています");
    page.assert_contains("href=\"/enroll\"");
    assert_eq!(page.response.header("referrer-policy"), Some("no-referrer"));

    // A recovery link starts again at recovery.
    let mut r = Browser::new(&world);
    let step2 = r.get("/recover");
    r.submit(
        &step2,
        "/recover",
        &[("email", EMAIL), ("birth-date", "1985/4/1")],
    );
    let recovery_link = mailed_link(&world);
    world.clock.advance(48 * 3600);
    let page = r.get(&recovery_link);
    assert_eq!(page.status(), 410);
    page.assert_contains("有効期限が切れています");
    page.assert_contains("href=\"/recover\"");
}

#[test]
fn an_expired_link_says_so() {
    let world = World::new();
    let mut b = Browser::new(&world);
    enroll_until_mail(&mut b, None);
    let link = mailed_link(&world);
    world.clock.advance(48 * 3600 - 1);
    let screen7 = b.get(&link);
    assert_eq!(screen7.status(), 200, "valid to the last second");
    world.clock.advance(1);
    let page = b.get(&link);
    assert_eq!(page.status(), 410);
    page.assert_contains("有効期限が切れています");
    page.assert_contains("href=\"/enroll\"");
    let refused = b.submit_page(&screen7, &link, &[("keyword", KEYWORD)]);
    assert_eq!(refused.status(), 410);
    assert!(!b.jar.contains_key("cw_ticket"));
}

#[test]
fn unknown_links_go_to_the_top() {
    let world = World::new();
    let mut b = Browser::new(&world);
    for link in [
        "/link/AAAAAAAAAAAAAAAAAAAAAA",
        "/link/short",
        "/link/%00%FF",
        "/link/a.b",
    ] {
        let page = b.get(link);
        assert_eq!(page.status(), 404, "{link}");
        page.assert_contains("このURLは無効です");
        page.assert_contains("href=\"/\"");
        assert_eq!(page.response.header("referrer-policy"), Some("no-referrer"));
    }
    // A recovery for nobody makes a link that was never mailed: unknown.
    let step2 = b.get("/recover");
    b.submit(
        &step2,
        "/recover",
        &[("email", "nobody@example.jp"), ("birth-date", "1990/1/1")],
    );
    assert!(world.mailer.sent().is_empty());
}
