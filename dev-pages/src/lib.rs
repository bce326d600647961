//! The development pages, one set for both hosts: the wasmtime host's
//! `/_dev/*` (`host/src/dev.rs`) and the Spin dev mailbox
//! (`spin/dev-mailbox`) render them from these templates, and each adds
//! its own headers (`customer_web_app::csp::INLINE_STYLE`, `no-store`).
//!
//! - the dev mailbox: every message of the outbox, newest first, and one
//!   message with its links clickable;
//! - the renewal stand-in: the claim a portal's renewal procedure is
//!   handed, or a note saying why there is none.
//!
//! ```
//! let html = customer_web_dev_pages::note("見つかりません", &["そのメールはありません。"], None).unwrap();
//! assert!(html.contains("<p>そのメールはありません。</p>"));
//! ```

use askama::Template;
use customer_web_sql::outbox::QueuedMessage;

/// The dev mailbox's title.
pub const MAILBOX_TITLE: &str = "開発用メールボックス";

/// The renewal stand-in's title.
pub const RENEWAL_TITLE: &str = "契約の継続手続（ポータル）";

/// The page a host answers when one of these fails to render.
pub const RENDER_FAILED: &str = "<!DOCTYPE html><title>dev page</title><p>The page failed to render.</p>";

/// The dev mailbox: `messages`, newest first.
pub fn mailbox(messages: &[QueuedMessage]) -> askama::Result<String> {
    MailboxPage {
        title: MAILBOX_TITLE,
        messages,
    }
    .render()
}

/// One message, its links clickable: the developer's next step is
/// opening the link.
pub fn mail(message: &QueuedMessage) -> askama::Result<String> {
    MailPage::new(message).render()
}

/// A page that says something, and may lead somewhere (`(href, text)`).
pub fn note(title: &str, paragraphs: &[&str], link: Option<(&str, &str)>) -> askama::Result<String> {
    Note {
        title,
        paragraphs,
        link,
    }
    .render()
}

/// The claim a portal's renewal procedure was handed.
pub fn claim(customer_id: &str, policy_number: &str, agent_code: &str) -> askama::Result<String> {
    ClaimPage {
        title: RENEWAL_TITLE,
        customer_id,
        policy_number,
        agent_code,
    }
    .render()
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage<'a> {
    title: &'a str,
    messages: &'a [QueuedMessage],
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage<'a> {
    title: &'a str,
    m: &'a QueuedMessage,
    lines: Vec<Line<'a>>,
}

/// A line of a mail's text; a line that is one URL is a link.
struct Line<'a> {
    text: &'a str,
    link: bool,
}

impl<'a> MailPage<'a> {
    fn new(m: &'a QueuedMessage) -> Self {
        let lines = m
            .message
            .text
            .lines()
            .map(|line| {
                let trimmed = line.trim();
                let link = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                    && !trimmed.contains(' ');
                Line {
                    text: if link { trimmed } else { line },
                    link,
                }
            })
            .collect();
        MailPage {
            title: &m.message.subject,
            m,
            lines,
        }
    }
}

#[derive(Template)]
#[template(path = "note.html")]
struct Note<'a> {
    title: &'a str,
    paragraphs: &'a [&'a str],
    link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage<'a> {
    title: &'a str,
    customer_id: &'a str,
    policy_number: &'a str,
    agent_code: &'a str,
}

#[cfg(test)]
mod tests {
    use customer_web_sql::outbox::{DeliveryState, OutgoingMessage};

    use super::*;

    fn queued(text: &str) -> QueuedMessage {
        QueuedMessage {
            id: 7,
            message: OutgoingMessage {
                to: "taro@example.jp".into(),
                subject: "<登録> のご案内".into(),
                text: text.into(),
                kind: "enrollment-link".into(),
            },
            queued_at: 0,
            attempts: 2,
            state: DeliveryState::Pending,
            next_attempt_at: 0,
            last_error: Some("421 try later".into()),
            sent_at: None,
        }
    }

    #[test]
    fn a_mail_shows_its_link_as_a_link_and_escapes_the_rest() {
        let html = mail(&queued(
            "こちらから:\n  https://example.jp/link/abc  \n<b>not bold</b>",
        ))
        .unwrap();
        assert!(
            html.contains(r#"<a href="https://example.jp/link/abc">https://example.jp/link/abc</a>"#),
            "{html}"
        );
        assert!(html.contains("&#60;b&#62;not bold&#60;/b&#62;"), "{html}");
        assert!(html.contains("&#60;登録&#62; のご案内"), "{html}");
        assert!(html.contains("421 try later"), "{html}");
    }

    #[test]
    fn the_mailbox_lists_each_message_or_says_there_is_none() {
        let html = mailbox(&[queued("x")]).unwrap();
        assert!(html.contains(r#"<a href="/_dev/mail/7">#7</a>"#), "{html}");
        assert!(mailbox(&[]).unwrap().contains("メールはまだありません。"));
    }

    #[test]
    fn a_claim_and_a_note_render_what_they_are_given() {
        let html = claim("C001", "A123456789", "AG001").unwrap();
        assert!(
            html.contains("<dd>A123456789</dd>") && html.contains(RENEWAL_TITLE),
            "{html}"
        );
        let html = note("t", &["a", "b"], Some(("/renewal", "継続契約選択へ"))).unwrap();
        assert!(
            html.contains("<p>a</p>") && html.contains(r#"<a href="/renewal">継続契約選択へ</a>"#),
            "{html}"
        );
    }
}
