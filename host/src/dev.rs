//! Development routes, served only on loopback (or with `--dev`):
//!
//! - `/_dev/mail`: the dev mailbox. With no SMTP server configured, mail
//!   stays in the outbox and these pages show it, so a developer can open
//!   the one-time link. It shows every mail.
//! - `/_dev/renewal`: a stand-in for the portal's renewal procedure; it
//!   redeems the hand-over token as a portal would and shows the claim.

use customer_web_dev_pages as pages;
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
            pages::note("エラー", &[&e.to_string()], None),
        )
    };
    let (status, html) = if rest.is_empty() {
        match caps.outbox.list(200) {
            Ok(list) => (StatusCode::OK, pages::mailbox(&list)),
            Err(e) => unavailable(&e),
        }
    } else {
        match rest.parse::<u64>().ok().map(|id| caps.outbox.get(id)) {
            Some(Ok(Some(message))) => (StatusCode::OK, pages::mail(&message)),
            Some(Err(e)) => unavailable(&e),
            _ => (
                StatusCode::NOT_FOUND,
                pages::note("見つかりません", &["そのメールはありません。"], None),
            ),
        }
    };
    page(status, html)
}

/// A rendered dev page, with the headers of every page the host answers
/// itself; a page that fails to render says so.
fn page(status: StatusCode, html: askama::Result<String>) -> Response<HyperOutgoingBody> {
    match html {
        Ok(html) => html_response(status, html),
        Err(_) => html_response(StatusCode::INTERNAL_SERVER_ERROR, pages::RENDER_FAILED.to_owned()),
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
    const TITLE: &str = pages::RENEWAL_TITLE;
    let Some(token) = handover else {
        let note = pages::note(
            TITLE,
            &["継続手続きへの引き継ぎは、継続契約選択の画面からPOSTで届きます。"],
            Some(("/renewal", "継続契約選択へ")),
        );
        let mut response = page(StatusCode::METHOD_NOT_ALLOWED, note);
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
        Ok(Ok(Some(claim))) => page(
            StatusCode::OK,
            pages::claim(
                &claim.customer_id,
                &claim.policy_number,
                claim.agent_code.as_deref().unwrap_or("-"),
            ),
        ),
        Ok(Ok(None)) => page(
            StatusCode::GONE,
            pages::note(
                TITLE,
                &["この引き継ぎは使用済みか、有効期限が切れています。"],
                None,
            ),
        ),
        Ok(Err(e)) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::note(TITLE, &[&format!("{e:?}")], None),
        ),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::note(TITLE, &[&format!("{e:#}")], None),
        ),
    }
}
