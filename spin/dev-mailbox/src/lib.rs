//! The dev pages of the Spin app, for development only:
//!
//! - `/_dev/mail` lists the adapter's mail outbox (table `cw_outbox` in
//!   the adapter's database — the app's `default` SQLite, or the
//!   PostgreSQL database the Spin variable `database_url` names — read
//!   with customer-web-sql's [`outbox::list`] and [`outbox::get`]), newest first,
//!   and `/_dev/mail/{id}` shows one message with its links clickable, so
//!   a developer can open the one-time link without a mail server (a
//!   message the relay took keeps no body: its link has left);
//! - `/_dev/renewal` stands in for the portal's renewal procedure, where
//!   the hand-over of screen 12 ends (a form POST with the field
//!   `handover`): it redeems the token as a portal would, through the
//!   customer-web component's JSON API (`POST /api/v1/handover/redeem`
//!   with the Spin variable `handover_secret` as `Authorization: Bearer`,
//!   reached by Spin's local service chaining,
//!   `http://customer-web.spin.internal`), and shows the claim.
//!
//! The pages are those of the wasmtime host's dev pages (host/src/dev.rs),
//! with the same headers.
//!
//! Like the host's, it answers only clients on loopback (Spin's
//! `spin-client-addr` header); anyone else gets 404. Leave the component
//! and its route out of a production manifest all the same.

use std::fmt::Write as _;
use std::net::SocketAddr;

use customer_web_sql::SqlError;
use customer_web_sql::outbox::{self, QueuedMessage};
use customer_web_sql::spin_postgres::open_contract_database;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

/// Most messages the list shows.
const LIST_LIMIT: usize = 200;

#[http_component]
fn handle(request: Request) -> anyhow::Result<impl IntoResponse> {
    Ok(answer(&request))
}

fn answer(request: &Request) -> Response {
    if !from_loopback(request) {
        return page(404, "見つかりません", "<p>ページが見つかりません。</p>");
    }
    let path = request.path();
    if path == "/_dev/renewal" {
        if *request.method() != spin_sdk::http::Method::Post {
            let mut response = page(
                405,
                "契約の継続手続（ポータル）",
                "<p>継続手続きへの引き継ぎは、継続契約選択の画面からPOSTで届きます。</p><p><a href=\"/renewal\">継続契約選択へ</a></p>",
            );
            response.set_header("allow", "POST");
            return response;
        }
        return renewal_page(&String::from_utf8_lossy(request.body()));
    }
    if path != "/_dev/mail" && !path.starts_with("/_dev/mail/") {
        return page(404, "見つかりません", "<p>ページが見つかりません。</p>");
    }
    let rest = request.path().trim_start_matches("/_dev/mail").trim_matches('/');
    let mut db = match open_contract_database() {
        Ok(db) => db,
        Err(e) => return unavailable(&e),
    };
    let db = db.as_mut();
    // No outbox table yet: nothing was ever sent.
    match outbox::exists(db) {
        Ok(false) => return list_page(&[]),
        Ok(true) => {}
        Err(e) => return unavailable(&e),
    }
    if rest.is_empty() {
        return match outbox::list(db, LIST_LIMIT) {
            Ok(messages) => list_page(&messages),
            Err(e) => unavailable(&e),
        };
    }
    let Ok(id) = rest.parse::<u64>() else {
        return not_found();
    };
    match outbox::get(db, id) {
        Ok(Some(queued)) => message_page(&queued),
        Ok(None) => not_found(),
        Err(e) => unavailable(&e),
    }
}

/// Where the customer-web component answers inside the app: Spin's local
/// service chaining, allowed by the dev mailbox's `allowed_outbound_hosts`.
const CUSTOMER_WEB: &str = "http://customer-web.spin.internal";

/// `POST /_dev/renewal` with the form field `handover`: redeems the
/// hand-over once, as the portal's renewal procedure would, and shows
/// what it was handed.
fn renewal_page(form: &str) -> Response {
    const TITLE: &str = "契約の継続手続（ポータル）";
    let token = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("handover="))
        .unwrap_or_default();
    let secret = spin_sdk::variables::get("handover_secret").unwrap_or_default();
    if secret.is_empty() {
        return page(
            503,
            TITLE,
            "<p>引き継ぎは届きましたが、受け取れません：Spin 変数 <code>handover_secret</code> が空です。</p>\
             <p><code>spin up --variable handover_secret=$(openssl rand -hex 32)</code> で起動してください。</p>",
        );
    }
    let body = serde_json::json!({ "token": token }).to_string();
    let request = Request::post(format!("{CUSTOMER_WEB}/api/v1/handover/redeem"), body.clone())
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .header("authorization", format!("Bearer {secret}"))
        .build();
    let response: Response = match spin_sdk::http::run(spin_sdk::http::send(request)) {
        Ok(response) => response,
        Err(e) => return page(503, TITLE, &escape(&format!("customer-web unreachable: {e}"))),
    };
    let status = *response.status();
    let claim: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    let field = |name: &str| escape(claim[name].as_str().unwrap_or("-"));
    match status {
        200 => page(
            200,
            TITLE,
            &format!(
                "<p>ポータルの継続手続に引き継がれました。</p><dl><dt>お客さま番号</dt><dd>{}</dd><dt>証券番号</dt><dd>{}</dd><dt>代理店</dt><dd>{}</dd></dl>",
                field("customer_id"),
                field("policy_number"),
                field("agent_code"),
            ),
        ),
        404 | 410 => page(
            410,
            TITLE,
            "<p>この引き継ぎは使用済みか、有効期限が切れています。</p>",
        ),
        401 => page(
            503,
            TITLE,
            "<p>customer-web が引き継ぎの受け取りを拒否しました（handover_secret が一致しません）。</p>",
        ),
        other => page(503, TITLE, &escape(&format!("customer-web answered {other}"))),
    }
}

/// Whether Spin reports the client on a loopback address.
fn from_loopback(request: &Request) -> bool {
    request
        .header("spin-client-addr")
        .and_then(|value| value.as_str())
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
        .is_some_and(|addr| addr.ip().is_loopback())
}

fn list_page(messages: &[QueuedMessage]) -> Response {
    let mut html = String::new();
    for queued in messages {
        let message = &queued.message;
        let _ = write!(
            html,
            "<tr><td><a href=\"/_dev/mail/{id}\">#{id}</a></td><td>{to}</td><td>{subject}</td><td>{kind}</td><td>{state}</td></tr>",
            id = queued.id,
            to = escape(&message.to),
            subject = escape(&message.subject),
            kind = escape(&message.kind),
            state = queued.state.as_str(),
        );
    }
    if messages.is_empty() {
        html.push_str("<tr><td colspan=\"5\">メールはまだありません。</td></tr>");
    }
    page(
        200,
        "開発用メールボックス",
        &format!(
            "<table><thead><tr><th>#</th><th>宛先</th><th>件名</th><th>種類</th><th>状態</th></tr></thead><tbody>{html}</tbody></table>"
        ),
    )
}

fn message_page(queued: &QueuedMessage) -> Response {
    let message = &queued.message;
    // URLs become links: the developer's next step is opening the link.
    let body: String = message
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
    let last_error = queued
        .last_error
        .as_deref()
        .map(|error| format!("<dt>最後のエラー</dt><dd>{}</dd>", escape(error)))
        .unwrap_or_default();
    page(
        200,
        &message.subject,
        &format!(
            "<p><a href=\"/_dev/mail\">← 一覧</a></p><dl><dt>宛先</dt><dd>{to}</dd><dt>件名</dt><dd>{subject}</dd><dt>種類</dt><dd>{kind}</dd><dt>状態</dt><dd>{state}（{attempts}回試行）</dd>{last_error}</dl><pre>{body}</pre>",
            to = escape(&message.to),
            subject = escape(&message.subject),
            kind = escape(&message.kind),
            state = queued.state.as_str(),
            attempts = queued.attempts,
        ),
    )
}

fn not_found() -> Response {
    page(404, "見つかりません", "<p>そのメールはありません。</p>")
}

fn unavailable(error: &SqlError) -> Response {
    page(503, "エラー", &escape(&error.0))
}

/// A page with the headers of the wasmtime host's dev pages.
fn page(status: u16, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:1rem;max-width:60rem}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3rem;text-align:left}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        )
        .body(html)
        .build()
}

/// HTML-escapes text for element content and attribute values.
fn escape(text: &str) -> String {
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
