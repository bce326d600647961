//! The mails the service sends, worded after the insurer's leaflet.
//!
//! A mail carries the one-time link and never the keyword: the keyword lives
//! only on the screen, the link only in the mailbox, and only someone holding
//! both can go on. None of these functions takes a keyword, so none can put
//! one in a mail.
//!
//! Times are shown in Japan time. Japan has kept UTC+9 without daylight
//! saving since 1951, so a fixed offset is exact and needs no time-zone
//! database, which the WebAssembly guest does not have.

use time::OffsetDateTime;

use crate::model::{Message, Settings, Timestamp};

/// Japan Standard Time, seconds east of UTC.
const JST_OFFSET: u64 = 9 * 3600;

/// The last second the calendar arithmetic below can show
/// (9999-12-31T23:59:59 UTC); later instants are shown as this one rather
/// than failing.
const LAST_SHOWABLE: u64 = 253_402_300_799;

/// Calendar fields of an instant in Japan time.
struct Jst {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
}

fn jst(at: Timestamp) -> Jst {
    // Shifting the instant by nine hours and reading it as UTC gives the
    // wall-clock time in Japan.
    let shifted = at.saturating_add(JST_OFFSET).min(LAST_SHOWABLE);
    let t = i64::try_from(shifted)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Jst {
        year: t.year(),
        month: u8::from(t.month()),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
    }
}

/// 「YYYY年M月D日H時まで」 deadline in Japan time (UTC+9 fixed offset; no
/// local-offset lookup, it must work in wasm). The hour is rounded DOWN (the
/// link is valid at least until then). E.g. 2026-11-25T05:31:00Z ->
/// "2026年11月25日14時まで".
pub fn deadline_jst(expires_at: Timestamp) -> String {
    let t = jst(expires_at);
    format!("{}年{}月{}日{}時まで", t.year, t.month, t.day, t.hour)
}

/// "YYYY年M月D日 H:MM" in Japan time, for the received-date line.
pub fn datetime_jst(at: Timestamp) -> String {
    let t = jst(at);
    format!("{}年{}月{}日 {}:{:02}", t.year, t.month, t.day, t.hour, t.minute)
}

/// A mail body under construction: every line ends with `\n`.
struct Body(String);

impl Body {
    fn new() -> Self {
        Self(String::new())
    }

    fn line(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self.0.push('\n');
        self
    }

    fn blank(&mut self) -> &mut Self {
        self.line("")
    }

    fn finish(self) -> String {
        self.0
    }
}

/// Settings text placed in a subject: a line break there would end the
/// header and let what follows pass for more headers.
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Both the enrollment mail and the one sent when the identity did not match
/// bear this subject, so that neither the subject nor the screen tells an
/// outsider which of the two happened.
fn enrollment_subject(settings: &Settings) -> String {
    format!(
        "【{}】初回利用登録に関するご案内",
        one_line(&settings.insurer_name)
    )
}

/// The date line, the rule under it and the thanks.
fn opening(body: &mut Body, settings: &Settings, sent_at: Timestamp) {
    body.line(&format!("送信日時：{}", datetime_jst(sent_at)))
        .line("----------------------------------------------------")
        .line(&format!(
            "{}「お客さまＷｅｂサービス」をご利用いただき",
            settings.insurer_name
        ))
        .line("ありがとうございます。")
        .blank();
}

/// How long a link lasts, in words. Whole hours are rounded down, so the
/// mail never promises more time than the link has.
fn lifetime_words(seconds: u64) -> String {
    if seconds >= 3600 {
        format!("{}時間", seconds / 3600)
    } else {
        format!("{}分", (seconds / 60).max(1))
    }
}

/// The one-time and expiry warning, the link and its deadline.
fn link_block(body: &mut Body, settings: &Settings, url: &str, expires_at: Timestamp) {
    let lifetime = lifetime_words(settings.link_lifetime);
    body.line("※このURLはセキュリティーを考慮し、一回のアクセスのみ有効")
        .line(&format!(
            "となっております。また、本メール発信から{lifetime}を経過します"
        ))
        .line("と、利用できなくなりますのでご注意ください。")
        .blank()
        .line(url)
        .line(&format!("ご利用期限：{}", deadline_jst(expires_at)))
        .blank();
}

/// Whom to call, and the note that the mail was sent automatically.
fn closing(body: &mut Body, settings: &Settings) {
    body.line("本メールに心当たりのない場合や不明な点がある場合は、お手数")
        .line("ですが、以下【お問い合わせ先】までご連絡ください。")
        .blank()
        .line("【お問い合わせ先】")
        .line(&settings.insurer_name)
        .line(&settings.desk_name)
        .line(&format!("TEL：{}（無料）", settings.desk_phone))
        .line(&format!("受付時間：{}", settings.desk_hours))
        .blank()
        .line("------------------------------------------------------------")
        .line("本メールはお客さまのご入力いただいた内容に基づき自動発信して")
        .line("おります。")
        .line("本メールへのお問い合わせは承りかねますので、あらかじめご了承")
        .line("願います。");
}

/// The enrollment mail of seed B. kind "enrollment-link".
pub fn enrollment_link(
    settings: &Settings,
    to: &str,
    url: &str,
    sent_at: Timestamp,
    expires_at: Timestamp,
) -> Message {
    let mut body = Body::new();
    opening(&mut body, settings, sent_at);
    body.line("初回利用登録を完了するために、以下URLをクリックまたは")
        .line("ダブルクリックして画面を開いてください。")
        .line("開いた画面にご指定いただいた【キーワード】を入力してください。")
        .blank()
        .line("続いて、ユーザーIDとパスワードをご指定いただきますと")
        .line("利用登録は完了します。")
        .blank();
    link_block(&mut body, settings, url, expires_at);
    closing(&mut body, settings);
    Message {
        to: to.to_owned(),
        subject: enrollment_subject(settings),
        text: body.finish(),
        kind: "enrollment-link".to_owned(),
    }
}

/// The recovery (re-registration) mail; says the keyword is shown on the
/// screen and is NOT in this mail. kind "recovery-link".
pub fn recovery_link(
    settings: &Settings,
    to: &str,
    url: &str,
    sent_at: Timestamp,
    expires_at: Timestamp,
) -> Message {
    let mut body = Body::new();
    opening(&mut body, settings, sent_at);
    body.line("ユーザーID・パスワードの再登録手続を完了するために、以下URLを")
        .line("クリックまたはダブルクリックして画面を開いてください。")
        .line("開いた画面に、お手続きの際に画面に表示された【キーワード】を")
        .line("入力してください。")
        .line("なお、【キーワード】は本メールには記載しておりません。")
        .line("【キーワード】がお分かりにならない場合は、お手数ですが、")
        .line("最初からお手続きをやり直してください。")
        .blank()
        .line("続いて、ご希望のユーザーIDとパスワードを再度ご指定いただきますと")
        .line("再登録は完了します。")
        .blank();
    link_block(&mut body, settings, url, expires_at);
    closing(&mut body, settings);
    Message {
        to: to.to_owned(),
        subject: format!(
            "【{}】ユーザーID・パスワード再登録手続のご案内",
            one_line(&settings.insurer_name)
        ),
        text: body.finish(),
        kind: "recovery-link".to_owned(),
    }
}

/// Sent instead of the link when the identity entered at enrollment matched
/// no policyholder: says the registration details could not be confirmed,
/// asks to check the policy (証券) and enter them again, or to call the desk;
/// contains NO link. kind "enrollment-unverified". Subject
/// 【{insurer}】初回利用登録に関するご案内 as well (so the screen and subject do
/// not tell outsiders which happened).
pub fn enrollment_unverified(settings: &Settings, to: &str, sent_at: Timestamp) -> Message {
    let mut body = Body::new();
    opening(&mut body, settings, sent_at);
    body.line("初回利用登録のお申し込みをいただきましたが、ご入力いただいた")
        .line("お客さま情報を確認することができませんでした。")
        .blank()
        .line("お手数ですが、お手元の保険証券をご確認のうえ、")
        .line("「初めてご利用いただく方はこちら」より、お名前・フリガナ・")
        .line("生年月日・電話番号・郵便番号・証券番号をあらためてご入力")
        .line("ください。")
        .line("ご入力内容に誤りがないにもかかわらず登録できない場合は、")
        .line("下記【お問い合わせ先】までご連絡ください。")
        .blank();
    closing(&mut body, settings);
    Message {
        to: to.to_owned(),
        subject: enrollment_subject(settings),
        text: body.finish(),
        kind: "enrollment-unverified".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const URL: &str = "https://www.example.co.jp/customer/link/TESTTOKEN";
    const TO: &str = "taro@example.com";

    fn at(t: OffsetDateTime) -> Timestamp {
        Timestamp::try_from(t.unix_timestamp()).expect("after 1970")
    }

    fn sent() -> Timestamp {
        at(datetime!(2026-11-25 05:31:00 UTC))
    }

    fn expires(settings: &Settings) -> Timestamp {
        sent() + settings.link_lifetime
    }

    /// Subject and body in the golden files' layout.
    fn rendered(m: &Message) -> String {
        format!("Subject: {}\n\n{}", m.subject, m.text)
    }

    fn all_mails(settings: &Settings) -> Vec<Message> {
        vec![
            enrollment_link(settings, TO, URL, sent(), expires(settings)),
            recovery_link(settings, TO, URL, sent(), expires(settings)),
            enrollment_unverified(settings, TO, sent()),
        ]
    }

    #[test]
    fn sent_time_is_what_the_brief_expects() {
        assert_eq!(sent(), 1_795_584_660);
    }

    #[test]
    fn deadline_rounds_the_hour_down() {
        assert_eq!(deadline_jst(sent()), "2026年11月25日14時まで");
        assert_eq!(
            deadline_jst(at(datetime!(2026-11-25 00:59:59 UTC))),
            "2026年11月25日9時まで"
        );
        assert_eq!(
            deadline_jst(at(datetime!(2026-11-25 01:00:00 UTC))),
            "2026年11月25日10時まで"
        );
    }

    #[test]
    fn deadline_crosses_the_date_line_in_japan_time() {
        // 15:00 UTC on New Year's Eve is already midnight of 1 January in Japan.
        assert_eq!(
            deadline_jst(at(datetime!(2026-12-31 15:00:00 UTC))),
            "2027年1月1日0時まで"
        );
        assert_eq!(
            deadline_jst(at(datetime!(2026-12-31 14:59:59 UTC))),
            "2026年12月31日23時まで"
        );
        assert_eq!(
            deadline_jst(at(datetime!(2028-02-28 15:00:00 UTC))),
            "2028年2月29日0時まで"
        );
    }

    #[test]
    fn datetime_pads_minutes_only() {
        assert_eq!(datetime_jst(sent()), "2026年11月25日 14:31");
        assert_eq!(
            datetime_jst(at(datetime!(2026-03-04 23:05:09 UTC))),
            "2026年3月5日 8:05"
        );
        assert_eq!(datetime_jst(0), "1970年1月1日 9:00");
    }

    #[test]
    fn times_past_year_9999_do_not_panic() {
        assert_eq!(deadline_jst(u64::MAX), "9999年12月31日23時まで");
        assert_eq!(datetime_jst(u64::MAX), "9999年12月31日 23:59");
    }

    #[test]
    fn enrollment_link_golden() {
        let s = Settings::default();
        let m = enrollment_link(&s, TO, URL, sent(), expires(&s));
        assert_eq!(m.kind, "enrollment-link");
        assert_eq!(m.to, TO);
        assert_eq!(rendered(&m), include_str!("../tests/golden/enrollment-link.txt"));
    }

    #[test]
    fn recovery_link_golden() {
        let s = Settings::default();
        let m = recovery_link(&s, TO, URL, sent(), expires(&s));
        assert_eq!(m.kind, "recovery-link");
        assert_eq!(m.to, TO);
        assert_eq!(rendered(&m), include_str!("../tests/golden/recovery-link.txt"));
    }

    #[test]
    fn enrollment_unverified_golden() {
        let s = Settings::default();
        let m = enrollment_unverified(&s, TO, sent());
        assert_eq!(m.kind, "enrollment-unverified");
        assert_eq!(m.to, TO);
        assert_eq!(
            rendered(&m),
            include_str!("../tests/golden/enrollment-unverified.txt")
        );
    }

    #[test]
    fn link_mails_carry_url_and_deadline_on_their_own_lines() {
        let s = Settings::default();
        for m in &all_mails(&s)[..2] {
            let lines: Vec<&str> = m.text.lines().collect();
            assert!(lines.contains(&URL), "{}", m.kind);
            assert!(
                lines.contains(&"ご利用期限：2026年11月27日14時まで"),
                "{}",
                m.kind
            );
            assert!(
                m.text.contains("本メール発信から48時間を経過します"),
                "{}",
                m.kind
            );
        }
    }

    #[test]
    fn lifetime_follows_the_settings() {
        let s = Settings {
            link_lifetime: 24 * 3600,
            ..Settings::default()
        };
        let m = enrollment_link(&s, TO, URL, sent(), expires(&s));
        assert!(m.text.contains("本メール発信から24時間を経過します"));
        assert!(m.text.contains("ご利用期限：2026年11月26日14時まで"));
        assert_eq!(lifetime_words(90 * 60), "1時間");
        assert_eq!(lifetime_words(30 * 60), "30分");
        assert_eq!(lifetime_words(0), "1分");
    }

    #[test]
    fn unverified_mail_has_no_link_and_the_same_subject() {
        let s = Settings::default();
        let mails = all_mails(&s);
        let unverified = &mails[2];
        assert!(!unverified.text.contains("http"));
        assert!(!unverified.text.contains(URL));
        assert!(!unverified.text.contains("ご利用期限"));
        assert!(unverified.text.contains("確認することができませんでした"));
        assert!(unverified.text.contains("保険証券"));
        assert_eq!(unverified.subject, mails[0].subject);
        assert_eq!(unverified.subject, "【三井住友海上】初回利用登録に関するご案内");
    }

    #[test]
    fn recovery_mail_says_the_keyword_is_not_in_it() {
        let s = Settings::default();
        let m = recovery_link(&s, TO, URL, sent(), expires(&s));
        assert!(
            m.text
                .contains("【キーワード】は本メールには記載しておりません。")
        );
    }

    #[test]
    fn no_mail_states_a_keyword() {
        for m in all_mails(&Settings::default()) {
            for marker in ["キーワード：", "キーワード:", "キーワードは「"] {
                assert!(!m.text.contains(marker), "{} contains {marker}", m.kind);
            }
        }
    }

    #[test]
    fn every_mail_ends_with_one_newline_and_names_the_desk() {
        let s = Settings::default();
        for m in all_mails(&s) {
            assert!(m.text.ends_with("願います。\n"), "{}", m.kind);
            assert!(!m.text.ends_with("\n\n"), "{}", m.kind);
            assert!(!m.text.contains('\r'), "{}", m.kind);
            assert!(
                m.text
                    .contains(&format!("\n{}\n{}\n", s.insurer_name, s.desk_name)),
                "{}",
                m.kind
            );
            assert!(m.text.contains(&s.desk_phone), "{}", m.kind);
            assert!(m.text.contains(&s.desk_hours), "{}", m.kind);
            assert!(
                m.text.starts_with("送信日時：2026年11月25日 14:31\n"),
                "{}",
                m.kind
            );
        }
    }

    #[test]
    fn brand_comes_from_the_settings() {
        let s = Settings {
            insurer_name: "例示損保".into(),
            desk_name: "お客さまデスク".into(),
            desk_phone: "0120-111-222".into(),
            desk_hours: "毎日 9:00～18:00".into(),
            ..Settings::default()
        };
        for m in all_mails(&s) {
            assert!(m.subject.starts_with("【例示損保】"), "{}", m.kind);
            assert!(
                m.text.contains("例示損保「お客さまＷｅｂサービス」"),
                "{}",
                m.kind
            );
            assert!(m.text.contains("TEL：0120-111-222（無料）"), "{}", m.kind);
            assert!(m.text.contains("受付時間：毎日 9:00～18:00"), "{}", m.kind);
            assert!(!m.text.contains("三井住友海上"), "{}", m.kind);
        }
    }

    #[test]
    fn subject_stays_on_one_line() {
        let s = Settings {
            insurer_name: "例示損保\r\nBcc: x@example.com".into(),
            ..Settings::default()
        };
        for m in all_mails(&s) {
            assert!(
                !m.subject.contains('\n') && !m.subject.contains('\r'),
                "{}",
                m.kind
            );
        }
    }
}
