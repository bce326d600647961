//! The one layer around both routers, the screens' ([`crate::router`]) and
//! the JSON API's ([`crate::api`]). It alone applies:
//!
//! - the body limit ([`crate::MAX_BODY`]): a longer body is refused with
//!   413 before anything is routed, as the component's adapter refuses it
//!   before reading it whole;
//! - the checks of every screen POST, once the router has placed it and
//!   before its screen runs: a URL-encoded form (415), well formed (400),
//!   from this origin with the CSRF field bound to the browser's cookies
//!   (403). The API needs no CSRF check: its secrets travel in bodies and
//!   `Authorization`, never in a cookie a browser would attach;
//! - the security headers of every answer (the Content-Security-Policy of
//!   [`crate::csp`], `nosniff`, the referrer policy, no framing) and
//!   `Cache-Control: no-store` on everything but the stylesheet;
//! - no body for `HEAD`.

use customer_web_core::ports::Ports;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::context::{CSRF_COOKIE, CSRF_FIELD, Ctx};
use crate::pages::Link;
use crate::responses::{Reply, standalone_page};
use crate::wire::{self, Form, is_token_shape};
use crate::{MAX_BODY, api, csp, router};

/// The two routers, by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    /// The screens: HTML for a browser.
    Screens,
    /// The JSON API under [`api::PREFIX`].
    Api,
}

impl Surface {
    fn of(path: &str) -> Surface {
        if path.starts_with(api::PREFIX) {
            Surface::Api
        } else {
            Surface::Screens
        }
    }
}

/// Answers one request. See [`crate::handle`].
pub(crate) fn handle(ports: Ports<'_>, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let surface = Surface::of(path);
    if body.len() > MAX_BODY {
        return refuse(surface, Unreadable::TooLarge);
    }
    let mut response = match surface {
        Surface::Api => guard(
            api::handle(ports, &parts.method, path, &parts.headers, &body),
            Headers::api(),
        ),
        Surface::Screens => screens(ports, &parts, &body),
    };
    if parts.method == Method::HEAD {
        response.body_mut().clear();
    }
    response
}

/// One request through the screens: placed by the router, checked here if
/// it is a POST, answered by its screen.
fn screens(ports: Ports<'_>, parts: &Parts, body: &[u8]) -> Response<Vec<u8>> {
    let mut ctx = Ctx::new(ports, &parts.headers, parts.uri.query());
    let reply = match router::place(&mut ctx, &parts.method, parts.uri.path()) {
        Err(refused) => refused,
        Ok(placed) => match placed.post.then(|| check_post(&mut ctx, &parts.headers, body)) {
            Some(Err(refused)) => refused,
            _ => router::dispatch(&mut ctx, placed),
        },
    };
    let headers = Headers::screens(ctx.no_referrer, ctx.form_action_origin.as_deref());
    guard(ctx.finish(reply), headers)
}

/// Why a request could not be read at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Its body is longer than [`MAX_BODY`].
    TooLarge,
    /// Its body broke off.
    Broken,
}

/// The answer to a request to `path` that could not be read: JSON under
/// the API, a page elsewhere, with the headers every answer carries.
pub(crate) fn unreadable(path: &str, why: Unreadable) -> Response<Vec<u8>> {
    refuse(Surface::of(path), why)
}

fn refuse(surface: Surface, why: Unreadable) -> Response<Vec<u8>> {
    match (surface, why) {
        (Surface::Api, Unreadable::TooLarge) => guard(
            api::refused(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            Headers::api(),
        ),
        (Surface::Api, Unreadable::Broken) => guard(
            api::refused(StatusCode::BAD_REQUEST, "bad-request"),
            Headers::api(),
        ),
        (Surface::Screens, Unreadable::TooLarge) => guard(
            standalone_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "送信された内容が大きすぎます",
                "入力内容を短くして、もう一度お試しください。",
            ),
            Headers::screens(false, None),
        ),
        (Surface::Screens, Unreadable::Broken) => guard(
            standalone_page(
                StatusCode::BAD_REQUEST,
                "送信された内容を読み取れませんでした",
                "お手数ですが、もう一度お試しください。",
            ),
            Headers::screens(false, None),
        ),
    }
}

/// The checks of every screen POST, in the order that tells the customer
/// the most useful thing; `Err` refuses the request before anything is
/// changed. On success the form is the context's.
fn check_post(ctx: &mut Ctx<'_>, headers: &HeaderMap, body: &[u8]) -> Result<(), Reply> {
    if !wire::is_form_content_type(wire::header(headers, CONTENT_TYPE).as_deref()) {
        return Err(ctx.message(
            415,
            "送信された内容を受け付けられません",
            &["画面のフォームから送信してください。"],
            vec![Link::new("/", "トップへ")],
        ));
    }
    match Form::parse(body) {
        Ok(form) => ctx.form = form,
        Err(_) => {
            return Err(ctx.message(
                400,
                "送信された内容を読み取れません",
                &["お手数ですが、画面を開き直してもう一度お試しください。"],
                vec![Link::new("/", "トップへ")],
            ));
        }
    }
    // Browsers say where a request comes from; a POST from anywhere but
    // this origin (another host of the same site included, which could
    // have planted a cookie and field pair) is refused before the token is
    // compared.
    let base_url = ctx.settings().ok().map(|s| s.base_url.clone());
    let ours = wire::from_our_origin(headers, base_url.as_deref());
    let expected = ctx
        .cookie(CSRF_COOKIE)
        .filter(|c| is_token_shape(c))
        .map(|c| csrf_field(c, ctx.session_cookie()));
    let sent = ctx.form.get(CSRF_FIELD);
    if !ours || !expected.is_some_and(|e| wire::same_secret(&e, sent)) {
        return Err(ctx.message(
            403,
            "この操作は受け付けられませんでした",
            &[
                "画面を表示してから時間がたったか、別の画面から送信された可能性があります。",
                "お手数ですが、画面を開き直してもう一度お試しください。",
            ],
            vec![Link::new("/", "トップへ")],
        ));
    }
    Ok(())
}

/// The value of the forms' CSRF field: the browser's CSRF cookie bound to
/// its session cookie (empty when signed out). A cookie and field pair
/// planted by someone else stops working once the customer signs in,
/// since the planter cannot know the session; and a field read off one
/// session's page is refused in another.
pub fn csrf_field(csrf_cookie: &str, session_cookie: &str) -> String {
    let parts = [
        &b"customer-web csrf v1\0"[..],
        csrf_cookie.as_bytes(),
        b"\0",
        session_cookie.as_bytes(),
    ];
    // The message in one piece when it is as short as tokens make it (44
    // bytes signed out, 66 signed in): one `update` costs less than four.
    let mut message = [0; 128];
    let len: usize = parts.iter().map(|part| part.len()).sum();
    let digest = if len <= message.len() {
        let mut at = 0;
        for part in parts {
            message[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Sha256::digest(&message[..len])
    } else {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part);
        }
        hash.finalize()
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut field = [0; 32];
    for (pair, b) in field.chunks_exact_mut(2).zip(&digest[..16]) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
    // Hex digits are ASCII.
    String::from(core::str::from_utf8(&field).unwrap_or_default())
}

/// The security headers of one answer.
struct Headers {
    policy: HeaderValue,
    /// `X-Frame-Options: DENY`, for browsers older than `frame-ancestors`
    /// (pages only: JSON is never framed as a document).
    deny_framing: bool,
    referrer: &'static str,
}

impl Headers {
    /// Every API answer: its own policy, no referrer.
    fn api() -> Self {
        Headers {
            policy: HeaderValue::from_static(csp::API),
            deny_framing: false,
            referrer: "no-referrer",
        }
    }

    /// A screen: the screens' policy, with forms allowed to go to
    /// `form_action` too; a page whose URL holds a secret (a link) or that
    /// leads off the service tells the next site nothing.
    fn screens(no_referrer: bool, form_action: Option<&str>) -> Self {
        let policy = form_action
            .and_then(|origin| HeaderValue::try_from(csp::screens_with_form_action(origin)).ok())
            // An origin that cannot travel in a header leaves the stricter
            // policy, under which the form is only refused.
            .unwrap_or(HeaderValue::from_static(csp::SCREENS));
        Headers {
            policy,
            deny_framing: true,
            referrer: if no_referrer { "no-referrer" } else { "same-origin" },
        }
    }
}

/// Adds the security headers, and `no-store` unless the answer says how
/// it may be cached (the stylesheet).
fn guard(mut response: Response<Vec<u8>>, security: Headers) -> Response<Vec<u8>> {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, security.policy);
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if security.deny_framing {
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(security.referrer));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::csrf_field;

    /// The field as its definition reads: SHA-256 over the parts in turn,
    /// the first 16 bytes in lowercase hex.
    fn by_definition(cookie: &str, session: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(b"customer-web csrf v1\0");
        hash.update(cookie.as_bytes());
        hash.update(b"\0");
        hash.update(session.as_bytes());
        hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_field_is_its_definition_for_every_length() {
        let token = "AbCdEfGhIjKlMnOpQrStU_";
        assert_eq!(csrf_field(token, ""), by_definition(token, ""));
        assert_eq!(csrf_field(token, token), by_definition(token, token));
        // Up to and past what fits the message buffer in one piece.
        for cookie_len in [0, 1, 50, 106, 107, 108, 200] {
            for session_len in [0, 22, 60] {
                let cookie = "c".repeat(cookie_len);
                let session = "s".repeat(session_len);
                assert_eq!(
                    csrf_field(&cookie, &session),
                    by_definition(&cookie, &session),
                    "{cookie_len} {session_len}"
                );
            }
        }
        assert_ne!(csrf_field(token, ""), csrf_field(token, token));
    }
}
