//! The web application of customer-web: the reference screens and the
//! JSON API beside them.
//!
//! The screens are enrollment with a keyword and a one-time mailed link,
//! recovery of a forgotten user ID or password, sign-in, and the hand-over
//! to contract renewal, as server-rendered Japanese HTML without
//! JavaScript. The JSON API (under `/api/v1/`) runs the same flows for
//! portals that draw their own pages.
//!
//! [`handle`] turns one [`http::Request`] into one [`http::Response`] by
//! calling the flow core over the ports it is given. This crate has no
//! wasm, wasmtime or Spin dependency: the component's
//! `wasi:http/incoming-handler` export converts to and from the `http`
//! types at its edge.
//!
//! ```
//! use customer_web_app::handle;
//! use customer_web_core::testing::World;
//!
//! let world = World::new();
//! let request = http::Request::get("/").body(Vec::new()).unwrap();
//! let response = handle(world.ports(), request);
//! assert_eq!(response.status(), http::StatusCode::OK);
//! assert_eq!(
//!     response.headers()["content-type"],
//!     "text/html; charset=utf-8"
//! );
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! ```
//!
//! One layer (`layer.rs`) stands around the two routers, the screens'
//! (`router.rs`, over `context.rs` and `responses.rs`) and the API's
//! (`api.rs`): the body limit, the checks of every form POST with its
//! CSRF field, the security headers with the policy of [`csp`], and
//! `Cache-Control: no-store`.
//!
//! Every state between requests lives in storage or in HttpOnly cookies:
//! `cw_flow` (enrollment flow id), `cw_display` (the token of a sealed
//! keyword, see `seal.rs`), `cw_ticket` (credentials ticket won at a
//! link), `cw_session` and `cw_csrf`.
#![deny(missing_docs)]

mod api;
mod context;
pub mod csp;
mod escape;
mod layer;
mod pages;
mod responses;
mod router;
mod screens;
mod seal;
mod wire;

use customer_web_core::ports::Ports;
use http::{Request, Response};

use layer::Unreadable;
pub use layer::csrf_field;

/// Largest body accepted; [`handle`] answers a longer one with 413, and
/// the adapter refuses it with [`payload_too_large`] before reading it
/// all.
pub const MAX_BODY: usize = 64 * 1024;

/// Answers one request. Never panics, whatever the request holds; a
/// capability fault becomes a 503 page (or JSON under the API).
///
/// Routes: `GET /`, `POST /signin`, `POST /signout`, `GET|POST /enroll`,
/// `GET|POST /enroll/contact`, `GET /enroll/review`, `POST /enroll/confirm`,
/// `GET /enroll/sent`, `GET|POST /link/{token}`, `GET|POST /credentials`,
/// `GET /credentials/review`, `POST /credentials/complete`,
/// `GET /complete`, `GET /home`, `GET|POST /renewal`, `GET|POST /recover`,
/// `GET /recover/keyword`, `GET /static/style.css`. `HEAD` is answered
/// wherever `GET` is. Under `/api/v1/` the same flows answer in JSON
/// (see README.md, "JSON API").
///
/// Only the path and query of the request's URI are read. A header
/// value is read as text with bytes that are not UTF-8 replaced.
pub fn handle(ports: Ports<'_>, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    layer::handle(ports, request)
}

/// The 413 answer for a request to `path` whose body is longer than
/// [`MAX_BODY`]: a page, or JSON under `/api/`, with the same security
/// headers as every other answer.
pub fn payload_too_large(path: &str) -> Response<Vec<u8>> {
    layer::unreadable(path, Unreadable::TooLarge)
}

/// The 400 answer for a request to `path` that could not be read at all
/// (a broken body stream, or a method, URI or header no `http` type
/// holds); the adapter answers with it.
pub fn bad_request(path: &str) -> Response<Vec<u8>> {
    layer::unreadable(path, Unreadable::Broken)
}
