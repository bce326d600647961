//! Development routes, served only on loopback (or with `--dev`):
//!
//! - `/_dev/mail`: the dev mailbox. With no SMTP server configured, mail
//!   stays in the outbox and these pages show it, so a developer can open
//!   the one-time link. It shows every mail.
//! - `/_dev/renewal`: a stand-in for the portal's renewal procedure; it
//!   redeems the hand-over token as a portal would and shows the claim.

use std::fmt::Write as _;

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
            layout("エラー", &escape(&e.to_string())),
        )
    };
    let (status, html) = if rest.is_empty() {
        match caps.outbox.list(200) {
            Ok(list) => (StatusCode::OK, list_page(&list)),
            Err(e) => unavailable(&e),
        }
    } else {
        match rest.parse::<u64>().ok().map(|id| caps.outbox.get(id)) {
            Some(Ok(Some(message))) => (StatusCode::OK, message_page(&message)),
            Some(Err(e)) => unavailable(&e),
            _ => (
                StatusCode::NOT_FOUND,
                layout("見つかりません", "<p>そのメールはありません。</p>"),
            ),
        }
    };
    html_response(status, html)
}

fn list_page(list: &[QueuedMessage]) -> String {
    let mut rows = String::new();
    for m in list {
        let _ = write!(
            rows,
            "<tr><td><a href=\"/_dev/mail/{id}\">#{id}</a></td><td>{to}</td><td>{subject}</td><td>{kind}</td><td>{state}</td></tr>",
            id = m.id,
            to = escape(&m.message.to),
            subject = escape(&m.message.subject),
            kind = escape(&m.message.kind),
            state = m.state.as_str(),
        );
    }
    if list.is_empty() {
        rows.push_str("<tr><td colspan=\"5\">メールはまだありません。</td></tr>");
    }
    layout(
        "開発用メールボックス",
        &format!(
            "<table><thead><tr><th>#</th><th>宛先</th><th>件名</th><th>種類</th><th>状態</th></tr></thead><tbody>{rows}</tbody></table>"
        ),
    )
}

fn message_page(m: &QueuedMessage) -> String {
    // Make URLs clickable: the developer's next step is opening the link.
    let body: String = m
        .message
        .text
        .lines()
        .map(|line| {
            let trimmed = line.trim();
            if (trimmed.starts_with("https://") || trimmed.starts_with("http://")) && !trimmed.contains(' ') {
                format!("<a href=\"{0}\">{0}</a>\n", escape(trimmed))
            } else {
                format!("{}\n", escape(line))
            }
        })
        .collect();
    layout(
        &m.message.subject,
        &format!(
            "<p><a href=\"/_dev/mail\">← 一覧</a></p><dl><dt>宛先</dt><dd>{to}</dd><dt>件名</dt><dd>{subject}</dd><dt>状態</dt><dd>{state}</dd></dl><pre>{body}</pre>",
            to = escape(&m.message.to),
            subject = escape(&m.message.subject),
            state = m.state.as_str(),
        ),
    )
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:1rem;max-width:60rem}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3rem;text-align:left}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    )
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
    let Some(token) = handover else {
        let mut response = html_response(
            StatusCode::METHOD_NOT_ALLOWED,
            layout(
                "契約の継続手続（ポータル）",
                "<p>継続手続きへの引き継ぎは、継続契約選択の画面からPOSTで届きます。</p><p><a href=\"/renewal\">継続契約選択へ</a></p>",
            ),
        );
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
    let (status, body) = match redeemed {
        Ok(Ok(Some(claim))) => (
            StatusCode::OK,
            format!(
                "<p>ポータルの継続手続に引き継がれました。</p><dl><dt>お客さま番号</dt><dd>{}</dd><dt>証券番号</dt><dd>{}</dd><dt>代理店</dt><dd>{}</dd></dl>",
                escape(&claim.customer_id),
                escape(&claim.policy_number),
                escape(claim.agent_code.as_deref().unwrap_or("-")),
            ),
        ),
        Ok(Ok(None)) => (
            StatusCode::GONE,
            "<p>この引き継ぎは使用済みか、有効期限が切れています。</p>".to_owned(),
        ),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, escape(&format!("{e:?}"))),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, escape(&format!("{e:#}"))),
    };
    html_response(status, layout("契約の継続手続（ポータル）", &body))
}
