//! The reference web screens of customer-web: enrollment with a keyword and
//! a one-time mailed link, recovery of a forgotten user ID or password,
//! sign-in, and the hand-over to contract renewal, as server-rendered
//! Japanese HTML without JavaScript.
//!
//! [`handle`] turns one HTTP request into one HTTP response by calling the
//! flow core over the ports it is given. This crate has no wasm, wasmtime
//! or Spin dependency: the component's `wasi:http/incoming-handler` export
//! converts to and from [`Request`] and [`Response`] at its edge.
//!
//! ```
//! use customer_web_core::testing::World;
//! use customer_web_screens::{Request, handle};
//!
//! let world = World::new();
//! let response = handle(
//!     world.ports(),
//!     Request {
//!         method: "GET".into(),
//!         path_and_query: "/".into(),
//!         headers: vec![],
//!         body: vec![],
//!     },
//! );
//! assert_eq!(response.status, 200);
//! assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
//! ```
//!
//! Every state between requests lives in storage or in HttpOnly cookies:
//! `cw_flow` (enrollment flow id), `cw_display` (the token of a sealed
//! keyword, see `seal.rs`), `cw_ticket` (credentials ticket won at a
//! link), `cw_session` and `cw_csrf`.
#![deny(missing_docs)]

mod api;
mod app;
mod http;
mod pages;
mod screens;
mod seal;

use customer_web_core::ports::Ports;

pub use app::csrf_field;
pub use http::{Request, Response};

/// Largest body accepted; the adapter refuses longer ones with
/// [`payload_too_large`] before reading them all.
pub const MAX_BODY: usize = 64 * 1024;

/// Answers one request. Never panics, whatever the request holds; a
/// capability fault becomes a 503 page.
///
/// Routes: `GET /`, `POST /signin`, `POST /signout`, `GET|POST /enroll`,
/// `GET|POST /enroll/contact`, `GET /enroll/review`, `POST /enroll/confirm`,
/// `GET /enroll/sent`, `GET|POST /link/{token}`, `GET|POST /credentials`,
/// `GET /credentials/review`, `POST /credentials/complete`,
/// `GET /complete`, `GET /home`, `GET|POST /renewal`, `GET|POST /recover`,
/// `GET /recover/keyword`, `GET /static/style.css`. `HEAD` is answered
/// wherever `GET` is. Under `/api/v1/` the same flows answer in JSON
/// (see README.md, "JSON API").
pub fn handle(ports: Ports<'_>, request: Request) -> Response {
    app::handle(ports, request)
}

/// The 413 answer for a request to `path_and_query` whose body is longer
/// than [`MAX_BODY`]: a page, or JSON under `/api/`, with the same
/// security headers as every other answer.
pub fn payload_too_large(path_and_query: &str) -> Response {
    app::payload_too_large(path_and_query)
}

/// The 400 answer for a request that could not be read at all (a broken
/// body stream); the adapter answers with it.
pub fn bad_request(path_and_query: &str) -> Response {
    app::bad_request(path_and_query)
}
