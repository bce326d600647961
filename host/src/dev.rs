//! Development routes, served only on loopback (or with `--dev`):
//!
//! - `/_dev/mail`: the dev mailbox. With no SMTP server configured, mail
//!   stays in the outbox and these pages show it, so a developer can open
//!   the one-time link. It shows every mail.
//! - `/_dev/renewal`: a stand-in for the portal's renewal procedure; it
//!   redeems the hand-over token as a portal would and shows the claim.

use askama::Template;
use hyper::{Response, StatusCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::ctx::Capabilities;
use crate::mail::{Delivery, DeliveryError, QueuedMessage};
use crate::plugin::PluginHost;
use crate::serve::html_response;

/// Delivery into the dev mailbox: the message is already in the outbox,
/// which the mailbox pages read, so delivering only marks it done.
pub struct DevMailbox;

impl Delivery for DevMailbox {
    fn deliver(&self, message: &QueuedMessage) -> Result<(), DeliveryError> {
        tracing::info!(id = message.id, kind = %message.message.kind, "mail kept in the dev mailbox");
        Ok(())
    }

    /// The outbox is the mailbox: its pages read the body there.
    fn keeps_body(&self) -> bool {
        true
    }
}

/// The page for `path` under `/_dev/mail`.
pub fn mailbox_page(caps: &Capabilities, path: &str) -> Response<HyperOutgoingBody> {
    let rest = path.trim_start_matches("/_dev/mail").trim_matches('/');
    let unavailable = |e: &dyn std::fmt::Display| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Note::new("エラー", &[&e.to_string()]).render(),
        )
    };
    let (status, html) = if rest.is_empty() {
        match caps.outbox.list(200) {
            Ok(list) => (
                StatusCode::OK,
                MailboxPage {
                    title: "開発用メールボックス",
                    messages: &list,
                }
                .render(),
            ),
            Err(e) => unavailable(&e),
        }
    } else {
        match rest.parse::<u64>().ok().map(|id| caps.outbox.get(id)) {
            Some(Ok(Some(message))) => (StatusCode::OK, MailPage::new(&message).render()),
            Some(Err(e)) => unavailable(&e),
            _ => (
                StatusCode::NOT_FOUND,
                Note::new("見つかりません", &["そのメールはありません。"]).render(),
            ),
        }
    };
    page(status, html)
}

/// The dev mailbox: every message of the outbox, newest first.
#[derive(Template)]
#[template(path = "dev/mailbox.html")]
struct MailboxPage<'a> {
    title: &'a str,
    messages: &'a [QueuedMessage],
}

/// One message, its links clickable: the developer's next step is
/// opening the link.
#[derive(Template)]
#[template(path = "dev/mail.html")]
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
                if (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                    && !trimmed.contains(' ')
                {
                    Line {
                        text: trimmed,
                        link: true,
                    }
                } else {
                    Line {
                        text: line,
                        link: false,
                    }
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

/// A page that says something, and may lead somewhere.
#[derive(Template)]
#[template(path = "dev/note.html")]
struct Note<'a> {
    title: &'a str,
    paragraphs: &'a [&'a str],
    link: Option<(&'a str, &'a str)>,
}

impl<'a> Note<'a> {
    fn new(title: &'a str, paragraphs: &'a [&'a str]) -> Self {
        Note {
            title,
            paragraphs,
            link: None,
        }
    }
}

/// The claim a portal's renewal procedure is handed.
#[derive(Template)]
#[template(path = "dev/claim.html")]
struct ClaimPage<'a> {
    title: &'a str,
    customer_id: &'a str,
    policy_number: &'a str,
    agent_code: &'a str,
}

/// A rendered dev page, with the headers of every page the host answers
/// itself; a page that fails to render says so.
fn page(status: StatusCode, html: askama::Result<String>) -> Response<HyperOutgoingBody> {
    match html {
        Ok(html) => html_response(status, html),
        Err(_) => html_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<!DOCTYPE html><title>dev page</title><p>The page failed to render.</p>".to_owned(),
        ),
    }
}

/// The `handover` field of a form body (a token: base64url, nothing to
/// decode); empty if there is none.
pub fn handover_field(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("handover="))
        .unwrap_or_default()
        .to_owned()
}

/// `POST /_dev/renewal` with the form field `handover`: redeems the
/// hand-over once, as the portal's renewal procedure would. Anything else
/// (a GET: the address typed again) is told where a hand-over comes from.
pub fn renewal_page(host: &PluginHost, handover: Option<&str>) -> Response<HyperOutgoingBody> {
    const TITLE: &str = "契約の継続手続（ポータル）";
    let Some(token) = handover else {
        let note = Note {
            link: Some(("/renewal", "継続契約選択へ")),
            ..Note::new(
                TITLE,
                &["継続手続きへの引き継ぎは、継続契約選択の画面からPOSTで届きます。"],
            )
        };
        let mut response = page(StatusCode::METHOD_NOT_ALLOWED, note.render());
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return response;
    };
    let token = token.to_owned();
    let redeemed = host.call(|plugin, store| {
        plugin
            .customer_web_plugin_account()
            .call_redeem_handover(store, &token)
    });
    match redeemed {
        Ok(Ok(Some(claim))) => {
            let claim_page = ClaimPage {
                title: TITLE,
                customer_id: &claim.customer_id,
                policy_number: &claim.policy_number,
                agent_code: claim.agent_code.as_deref().unwrap_or("-"),
            };
            page(StatusCode::OK, claim_page.render())
        }
        Ok(Ok(None)) => page(
            StatusCode::GONE,
            Note::new(TITLE, &["この引き継ぎは使用済みか、有効期限が切れています。"]).render(),
        ),
        Ok(Err(e)) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            Note::new(TITLE, &[&format!("{e:?}")]).render(),
        ),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Note::new(TITLE, &[&format!("{e:#}")]).render(),
        ),
    }
}
