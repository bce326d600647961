//! `customer-web serve`: the component's `wasi:http/incoming-handler` on a
//! TCP listener. Each request gets a fresh instance from the pre-linked
//! component, run on a blocking thread (the capabilities are synchronous);
//! the host bounds how many run at once. A delivery worker empties the mail
//! outbox in the background. Ctrl-C or SIGTERM stops accepting, lets
//! requests in flight finish, and runs a last delivery pass.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::dev;
use crate::mail::{self, Delivery};
use crate::plugin::PluginHost;

/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a running server needs besides the component.
pub struct ServeOptions {
    /// Where mail goes after the outbox.
    pub delivery: Arc<dyn Delivery>,
    /// How often the outbox is checked for due messages.
    pub delivery_interval: Duration,
    /// Whether the `/_dev/` pages (mailbox, renewal stand-in) are served:
    /// only for loopback or `--dev`.
    pub dev_mailbox: bool,
}

/// Serves until `shutdown` resolves, then drains.
pub async fn serve(
    host: Arc<PluginHost>,
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, dev_mailbox = options.dev_mailbox, "serving customer-web");
    let options = Arc::new(options);
    let (stop_worker, worker) = spawn_delivery_worker(host.clone(), options.clone());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of descriptors and the like: wait, don't spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // The component sets the response head before it writes the
                // body, so a response leaves in several small writes: with
                // Nagle's algorithm the later ones wait for the client's
                // delayed ACK (40 ms on Linux) on a keep-alive connection.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "TCP_NODELAY not set");
                }
                let (host, options) = (host.clone(), options.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (host, options) = (host.clone(), options.clone());
                    async move { Ok::<_, Infallible>(respond(host, &options, request, peer).await) }
                });
                let connection = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .keep_alive(true)
                    .header_read_timeout(Duration::from_secs(20))
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: finishing requests in flight");
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    let _ = stop_worker.send(());
    worker.await.context("delivery worker")?;
    tracing::info!("stopped");
    Ok(())
}

async fn respond(
    host: Arc<PluginHost>,
    options: &ServeOptions,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let path = request.uri().path().to_owned();
    let path_for_log = path.clone();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = if options.dev_mailbox && path.starts_with("/_dev/") {
        let query = request.uri().query().map(str::to_owned);
        let host = host.clone();
        let page = tokio::task::spawn_blocking(move || {
            if path == "/_dev/renewal" {
                dev::renewal_page(&host, query.as_deref())
            } else {
                dev::mailbox_page(host.capabilities(), &path)
            }
        });
        match page.await {
            Ok(page) => page,
            Err(e) => host_error(&format!("dev page failed: {e}")),
        }
    } else {
        let api = path.starts_with("/api/");
        match to_component(host, request).await {
            Ok(response) => response,
            Err(cause) if api => api_host_error(&cause),
            Err(cause) => host_error(&cause),
        }
    };
    tracing::info!(
        %peer,
        %method,
        path = %loggable(&path_for_log),
        elapsed_ms = started.elapsed().as_millis() as u64,
        status = response.status().as_u16(),
        "request"
    );
    response
}

/// A path as it may appear in a log: one-time link tokens are cut off.
fn loggable(path: &str) -> String {
    match path.strip_prefix("/link/") {
        Some(_) => "/link/…".to_owned(),
        None => path.chars().take(200).collect(),
    }
}

/// The component's answer, or why there is none.
async fn to_component(
    host: Arc<PluginHost>,
    request: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task = tokio::task::spawn_blocking(move || host.handle_http(request, Scheme::Http, sender));
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(format!("the component answered with an error: {code:?}")),
        // The component trapped or never answered: one failed request,
        // the server goes on.
        Err(_) => {
            let cause = match task.await {
                Ok(Ok(())) => "the component did not answer".to_owned(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => e.to_string(),
            };
            Err(cause)
        }
    }
}

/// A page the host answers itself when the component could not.
pub fn host_error(cause: &str) -> Response<HyperOutgoingBody> {
    tracing::error!(cause, "request failed in the host");
    let html = "<!DOCTYPE html><html lang=\"ja\"><meta charset=\"utf-8\"><title>エラー</title>\
        <h1>ただいまご利用いただけません</h1><p>しばらくしてから、もう一度お試しください。</p></html>";
    html_response(StatusCode::INTERNAL_SERVER_ERROR, html.to_owned())
}

/// [`host_error`] for a client of the JSON API.
fn api_host_error(cause: &str) -> Response<HyperOutgoingBody> {
    tracing::error!(cause, "request failed in the host");
    own_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        "{\"error\":\"internal\"}".to_owned(),
    )
}

/// An HTML response with the headers every page of ours carries.
pub fn html_response(status: StatusCode, html: String) -> Response<HyperOutgoingBody> {
    own_response(
        status,
        "text/html; charset=utf-8",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        html,
    )
}

/// An answer the host makes itself: never cached, never sniffed, never
/// framed, no referrer.
fn own_response(
    status: StatusCode,
    content_type: &'static str,
    policy: &'static str,
    body: String,
) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", content_type),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", policy),
    ] {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    response
}

fn full(text: String) -> HyperOutgoingBody {
    Full::new(Bytes::from(text))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

fn spawn_delivery_worker(
    host: Arc<PluginHost>,
    options: Arc<ServeOptions>,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        loop {
            let finishing = tokio::select! {
                _ = tokio::time::sleep(options.delivery_interval) => false,
                _ = &mut stopped => true,
            };
            let (caps, delivery) = (host.capabilities().clone(), options.delivery.clone());
            let pass = tokio::task::spawn_blocking(move || {
                mail::deliver_due(caps.outbox.as_ref(), delivery.as_ref(), caps.clock.now())
            })
            .await;
            match pass {
                Ok(Ok(report)) if report.sent + report.failed > 0 => {
                    tracing::info!(sent = report.sent, failed = report.failed, "outbox delivery pass");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "outbox unavailable"),
                Err(e) => tracing::error!(error = %e, "delivery pass panicked"),
            }
            if finishing {
                break;
            }
        }
    });
    (stop, handle)
}
