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
//! rendered from askama templates (`templates/`), with the same headers:
//! the Content-Security-Policy is customer-web-app's
//! [`csp::INLINE_STYLE`].
//!
//! Like the host's, it answers only clients on loopback (Spin's
//! `spin-client-addr` header); anyone else gets 404. Leave the component
//! and its route out of a production manifest all the same.

use std::net::SocketAddr;

use customer_web_app::csp;
use customer_web_dev_pages as pages;
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
        return note(404, "見つかりません", &["ページが見つかりません。"], None);
    }
    let path = request.path();
    if path == "/_dev/renewal" {
        if *request.method() != spin_sdk::http::Method::Post {
            let mut response = note(
                405,
                "契約の継続手続（ポータル）",
                &["継続手続きへの引き継ぎは、継続契約選択の画面からPOSTで届きます。"],
                Some(("/renewal", "継続契約選択へ")),
            );
            response.set_header("allow", "POST");
            return response;
        }
        return renewal_page(&String::from_utf8_lossy(request.body()));
    }
    if path != "/_dev/mail" && !path.starts_with("/_dev/mail/") {
        return note(404, "見つかりません", &["ページが見つかりません。"], None);
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
    const TITLE: &str = pages::RENEWAL_TITLE;
    let token = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("handover="))
        .unwrap_or_default();
    let secret = spin_sdk::variables::get("handover_secret").unwrap_or_default();
    if secret.is_empty() {
        return note(
            503,
            TITLE,
            &[
                "引き継ぎは届きましたが、受け取れません：Spin 変数 handover_secret が空です。",
                "spin up --variable handover_secret=$(openssl rand -hex 32) で起動してください。",
            ],
            None,
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
        Err(e) => return note(503, TITLE, &[&format!("customer-web unreachable: {e}")], None),
    };
    let status = *response.status();
    let claim: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    let field = |name: &str| claim[name].as_str().unwrap_or("-").to_owned();
    match status {
        200 => {
            let (customer_id, policy_number, agent_code) =
                (field("customer_id"), field("policy_number"), field("agent_code"));
            page(200, pages::claim(&customer_id, &policy_number, &agent_code))
        }
        404 | 410 => note(
            410,
            TITLE,
            &["この引き継ぎは使用済みか、有効期限が切れています。"],
            None,
        ),
        401 => note(
            503,
            TITLE,
            &["customer-web が引き継ぎの受け取りを拒否しました（handover_secret が一致しません）。"],
            None,
        ),
        other => note(503, TITLE, &[&format!("customer-web answered {other}")], None),
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
    page(200, pages::mailbox(messages))
}

fn message_page(queued: &QueuedMessage) -> Response {
    page(200, pages::mail(queued))
}

fn not_found() -> Response {
    note(404, "見つかりません", &["そのメールはありません。"], None)
}

fn unavailable(error: &SqlError) -> Response {
    note(503, "エラー", &[&error.0], None)
}

fn note(status: u16, title: &str, paragraphs: &[&str], link: Option<(&str, &str)>) -> Response {
    page(status, pages::note(title, paragraphs, link))
}

/// A rendered page with the headers of the wasmtime host's dev pages; a
/// page that fails to render says so.
fn page(status: u16, html: askama::Result<String>) -> Response {
    let (status, html) = match html {
        Ok(html) => (status, html),
        Err(_) => (500, pages::RENDER_FAILED.to_owned()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", csp::INLINE_STYLE)
        .body(html)
        .build()
}
