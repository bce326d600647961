//! An insurance portal that embeds the customer-web component in a host of
//! its own, with the customer-web host library:
//!
//! - `portal-host walk COMPONENT.wasm`: enrolls the sample policyholder
//!   through the component's typed exports (start, identity, contact, the
//!   mailed link, keyword, credentials) and signs in;
//! - `portal-host serve COMPONENT.wasm ADDRESS`: serves the portal's own
//!   page at `/portal` and the component's screens everywhere else.
//!
//! The portal keeps its own state per call and in total, and its own
//! storage behind the component's `Store` port ([`store::PortalStore`]);
//! mail, directory, settings and audit are the host library's in-memory
//! ones.

mod portal;
mod store;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use customer_web_host::bindings::exports::customer_web::plugin::types::CustomerInput;
use customer_web_host::{Capabilities, config::Settings};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use portal::Portal;
use store::PortalStore;

/// The keyword the walk chooses on the contact screen.
const KEYWORD: &str = "さくら2026";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["walk", component] => walk(&load(component)?),
        ["serve", component, address] => serve(Arc::new(load(component)?), address),
        _ => bail!("usage: portal-host walk COMPONENT.wasm | portal-host serve COMPONENT.wasm ADDRESS"),
    }
}

/// The component at `path`, on the portal's store and the library's
/// in-memory mail, directory, settings and audit trail.
fn load(path: &str) -> anyhow::Result<Portal> {
    let mut caps = Capabilities::in_memory();
    let store = Arc::new(PortalStore::new(Arc::new(caps.clock.clone())));
    caps.store = store;
    // The portal's store purges nothing; its rows live as long as the process.
    caps.housekeeping = None;
    Portal::load(Path::new(path), caps)
}

/// A flow step's error as the walk reports it.
fn step<T, E: std::fmt::Debug>(what: &str, result: Result<T, E>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{what}: {e:?}"))
}

/// Enrollment from the first screen to a signed-in session.
fn walk(portal: &Portal) -> anyhow::Result<()> {
    let terms = Settings::default().terms_version;
    // The sample directory's 山田 太郎, as a customer types it.
    let customer = CustomerInput {
        family_name: "山田".into(),
        given_name: "太郎".into(),
        family_name_kana: "ヤマダ".into(),
        given_name_kana: "タロウ".into(),
        birth_date: "1985-04-01".into(),
        phone: "090-1234-5678".into(),
        postal_code: "100-0004".into(),
        policy_number: "A-123456789".into(),
    };
    let (contact, user_id, password) = ("taro@example.jp", "taro@example.jp", "correct horse battery");

    let flow = step(
        "start",
        portal.call(|p, s| p.customer_web_plugin_enrollment().call_start(s, None))?,
    )?;
    step(
        "customer",
        portal.call(|p, s| {
            p.customer_web_plugin_enrollment()
                .call_submit_customer(s, &flow, &customer, &terms)
        })?,
    )?;
    step(
        "contact",
        portal.call(|p, s| {
            p.customer_web_plugin_enrollment()
                .call_submit_contact(s, &flow, KEYWORD, contact)
        })?,
    )?;
    step(
        "confirm",
        portal.call(|p, s| p.customer_web_plugin_enrollment().call_confirm(s, &flow))?,
    )?;
    println!("mail queued for {contact}");

    // The customer opens the link in the mail.
    let mail = portal.capabilities().outbox.list(1)?;
    let token = mail
        .first()
        .and_then(|m| {
            m.message
                .text
                .lines()
                .find_map(|l| l.trim().split("/link/").nth(1))
        })
        .context("no link in the mail")?
        .to_owned();
    let verified = step(
        "keyword",
        portal.call(|p, s| {
            p.customer_web_plugin_link()
                .call_submit_keyword(s, &token, KEYWORD)
        })?,
    )?;
    step(
        "credentials",
        portal.call(|p, s| {
            p.customer_web_plugin_credentials()
                .call_submit(s, &verified.ticket, user_id, password)
        })?,
    )?;
    step(
        "complete",
        portal.call(|p, s| {
            p.customer_web_plugin_credentials()
                .call_complete(s, &verified.ticket)
        })?,
    )?;
    println!("enrolled {user_id}");

    let session = step(
        "sign-in",
        portal.call(|p, s| p.customer_web_plugin_account().call_sign_in(s, user_id, password))?,
    )?;
    let home = step(
        "home",
        portal.call(|p, s| p.customer_web_plugin_account().call_home(s, &session.session))?,
    )?
    .context("the new session has no home screen")?;
    println!(
        "signed in as {} in {} calls, each in a fresh instance",
        home.display_name,
        portal.calls()
    );
    Ok(())
}

/// Serves the portal's page and the component's screens on `address`.
fn serve(portal: Arc<Portal>, address: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!("portal listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let portal = portal.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| answer(portal.clone(), request));
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    })
}

/// The largest request body the portal reads.
const MAX_BODY: usize = 1 << 20;

async fn answer(
    portal: Arc<Portal>,
    request: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, Infallible> {
    if request.uri().path() == "/portal" {
        let page = format!(
            "<!DOCTYPE html><html lang=\"ja\"><meta charset=\"utf-8\"><title>ポータル</title>\
             <h1>ポータル</h1><p><a href=\"/\">お客さまWebサービス</a></p><p>{} calls so far</p></html>",
            portal.calls()
        );
        return Ok(text(StatusCode::OK, "text/html; charset=utf-8", page));
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        return Ok(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain",
            "too large".into(),
        ));
    };
    let request = Request::from_parts(parts, Full::new(body.to_bytes()));
    let (respond, response) = tokio::sync::oneshot::channel();
    let call = tokio::task::spawn_blocking(move || portal.handle_http(request, respond));
    Ok(match response.await {
        Ok(Ok(response)) => response,
        _ => {
            let cause = match call.await {
                Ok(Err(e)) => format!("{e:#}"),
                _ => "no answer".into(),
            };
            eprintln!("the component failed: {cause}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "unavailable".into(),
            )
        }
    })
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
