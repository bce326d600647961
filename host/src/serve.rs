//! `customer-web serve`: the component's `wasi:http/incoming-handler` on a
//! TCP listener. Each request gets a fresh instance from the pre-linked
//! component, run on a blocking thread (the capabilities are synchronous);
//! the host bounds how many run at once. A delivery worker empties the mail
//! outbox in the background. Ctrl-C or SIGTERM stops accepting, lets
//! requests in flight finish, and runs a last delivery pass.
//!
//! Before a request may take an instance slot, the host has admitted its
//! connection (per-client and total caps), read its whole body within the
//! size and time limits, and, for a request that may hash, given it its
//! turn at the hashing gate and taken from the client's buckets
//! ([`crate::guard`]). So a client that stalls, floods or hashes holds no
//! slot the pages of others need.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::dev;
use crate::guard::{self, Buckets, ClientKey, Connections, HashGate, Limits};
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
    /// How long a claimed message is this host's, in seconds
    /// ([`mail::DELIVERY_LEASE`] by default): when a host dies
    /// mid-delivery, the others send its messages after this.
    pub delivery_lease: u64,
    /// Whether the `/_dev/` pages (mailbox, renewal stand-in) are served
    /// (`--dev`): even then, only to a loopback peer that names a loopback
    /// host ([`dev_pages_allowed`]).
    pub dev_mailbox: bool,
    /// What a request is held to before it may take an instance slot.
    pub limits: Limits,
    /// How often expired records (flows, links, tickets, sessions,
    /// throttle windows) are purged from storage; also once at start.
    pub purge_interval: Duration,
}

/// The default [`ServeOptions::purge_interval`].
pub const PURGE_INTERVAL: Duration = Duration::from_secs(300);

/// One purge pass, as the scheduler runs it: every record whose expiry
/// has passed leaves storage. Flows and throttle rows are made by anyone;
/// this keeps storage bounded by what is alive. A store without
/// housekeeping keeps itself: nothing to do.
pub fn purge_pass(caps: &crate::Capabilities) -> anyhow::Result<u64> {
    let Some(housekeeping) = &caps.housekeeping else {
        return Ok(0);
    };
    let purged = housekeeping.purge_expired()?;
    if purged > 0 {
        tracing::info!(purged, "expired records purged");
    }
    Ok(purged)
}

/// The admission state one server shares among its connections.
struct Admission {
    connections: Arc<Connections>,
    hashing: HashGate,
    hash_buckets: Buckets,
    flow_buckets: Buckets,
}

impl Admission {
    fn new(limits: &Limits) -> Self {
        Admission {
            connections: Connections::new(limits.connections_per_client, limits.connections_total),
            hashing: HashGate::new(limits.hash_concurrency, limits.hash_queue, limits.hash_wait),
            hash_buckets: Buckets::new(limits.hash_per_client),
            flow_buckets: Buckets::new(limits.flows_per_client),
        }
    }
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
    let admission = Arc::new(Admission::new(&options.limits));
    let options = Arc::new(options);
    let (stop_worker, worker) = spawn_delivery_worker(host.clone(), options.clone());
    let purger = spawn_purge_worker(host.clone(), options.purge_interval);
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
                // Counted by the peer: behind a proxy, the proxy's own
                // connections are what there are to count.
                let Some(admitted) = admission.connections.admit(ClientKey::of(peer.ip())) else {
                    tracing::warn!(%peer, "connection refused: too many open from this client or in all");
                    drop(stream);
                    continue;
                };
                let header_timeout = options.limits.header_timeout;
                let (host, options, admission) = (host.clone(), options.clone(), admission.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (host, options, admission) = (host.clone(), options.clone(), admission.clone());
                    async move { Ok::<_, Infallible>(respond(host, &options, &admission, request, peer).await) }
                });
                let connection = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .keep_alive(true)
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(admitted);
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
    purger.abort();
    let _ = stop_worker.send(());
    worker.await.context("delivery worker")?;
    tracing::info!("stopped");
    Ok(())
}

async fn respond(
    host: Arc<PluginHost>,
    options: &ServeOptions,
    admission: &Admission,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client_ip = ClientKey::resolve(peer.ip(), forwarded, options.limits.trusted_proxy);
    let client = ClientKey::of(client_ip);
    let host_header = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok());
    let dev_page = options.dev_mailbox && path.starts_with("/_dev/") && dev_pages_allowed(peer, host_header);
    let response = if dev_page {
        // The renewal stand-in takes the hand-over as the portal would: a
        // form POST, its body read within the usual bounds.
        let handover = if path == "/_dev/renewal" && method == hyper::Method::POST {
            match read_whole(request, &options.limits).await {
                Ok(request) => {
                    let body = request.into_body().collect().await.map(|b| b.to_bytes());
                    Some(dev::handover_field(&body.unwrap_or_default()))
                }
                Err(refusal) => return refused(false, refusal),
            }
        } else {
            None
        };
        let host = host.clone();
        let path = path.clone();
        let page = tokio::task::spawn_blocking(move || {
            if path == "/_dev/renewal" {
                dev::renewal_page(&host, handover.as_deref())
            } else {
                dev::mailbox_page(host.capabilities(), &path)
            }
        });
        match page.await {
            Ok(page) => page,
            Err(e) => host_error(&format!("dev page failed: {e}")),
        }
    } else {
        admit_and_call(host, options, admission, request, client, client_ip).await
    };
    tracing::info!(
        %peer,
        %client,
        %method,
        path = %loggable(&path),
        elapsed_ms = started.elapsed().as_millis() as u64,
        status = response.status().as_u16(),
        "request"
    );
    response
}

/// Whether a request from `peer` naming `host` may see the dev pages:
/// the peer on loopback (not a proxy's forwarded client: the proxy's own
/// connection is loopback in the usual deployment, so the `Host` the
/// browser named must be loopback too: `localhost`, `127.x.x.x` or
/// `[::1]`, with any port).
pub fn dev_pages_allowed(peer: SocketAddr, host: Option<&str>) -> bool {
    if !peer.ip().is_loopback() {
        return false;
    }
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The limits, then the component: rates for the client, the body read
/// whole within bounds, the turn to hash, and only then an instance.
async fn admit_and_call(
    host: Arc<PluginHost>,
    options: &ServeOptions,
    admission: &Admission,
    request: Request<Incoming>,
    client: ClientKey,
    client_ip: std::net::IpAddr,
) -> Response<HyperOutgoingBody> {
    let path = request.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let method = request.method().as_str().to_owned();
    let now = std::time::Instant::now();
    if request.uri().authority().is_none() && !request.headers().contains_key(hyper::header::HOST) {
        return refused(api, Refusal::NoHost);
    }
    let may_hash = guard::may_hash(&method, &path);
    if guard::starts_flow(&method, &path)
        && let Err(seconds) = admission.flow_buckets.take(client, now)
    {
        return refused(api, Refusal::TooMany(seconds));
    }
    if may_hash && let Err(seconds) = admission.hash_buckets.take(client, now) {
        return refused(api, Refusal::TooMany(seconds));
    }
    let request = match read_whole(request, &options.limits).await {
        Ok(request) => request,
        Err(refusal) => return refused(api, refusal),
    };
    let turn = if may_hash {
        match admission.hashing.enter().await {
            Ok(turn) => Some(turn),
            Err(busy) => {
                tracing::warn!(%client, ?busy, "hashing is saturated");
                return refused(api, Refusal::Busy);
            }
        }
    } else {
        None
    };
    let request = with_client_address(request, client_ip);
    match to_component(host, request, turn).await {
        Ok(response) => response,
        Err(cause) if api => api_host_error(&cause),
        Err(cause) => host_error(&cause),
    }
}

/// Why the host answered a request itself.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// No `Host` (an HTTP/1.0 request may leave it out), so no URL the
    /// component could be handed (400).
    NoHost,
    /// The body did not arrive in time (408).
    Slow,
    /// The body broke off (400).
    Broken,
    /// The client is over a rate (429, seconds to wait).
    TooMany(u64),
    /// Hashing is saturated (503).
    Busy,
}

/// The request with its body read whole: at most `limits.body_max` bytes,
/// within `limits.body_total`, never pausing longer than
/// `limits.body_idle`. A longer body is not read: the request goes on with
/// an empty body and a `Content-Length` over the component's limit, which
/// answers it with its own 413 without reading.
async fn read_whole(request: Request<Incoming>, limits: &Limits) -> Result<Request<Full<Bytes>>, Refusal> {
    let (mut parts, mut body) = request.into_parts();
    let too_large = |parts: &mut hyper::http::request::Parts| {
        parts.headers.remove(hyper::header::TRANSFER_ENCODING);
        parts.headers.insert(
            hyper::header::CONTENT_LENGTH,
            hyper::header::HeaderValue::from(limits.body_max + 1),
        );
    };
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.body_max as u64) {
        too_large(&mut parts);
        return Ok(Request::from_parts(parts, Full::new(Bytes::new())));
    }
    // A request without a body (no length, no transfer coding) or with a
    // declared length of 0 goes on as it came, as under Spin: no timer, and
    // no `Content-Length` the client did not send, which would make the
    // component open an empty body.
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, Full::new(Bytes::new())));
    }
    let deadline = tokio::time::Instant::now() + limits.body_total;
    let mut collected = Vec::new();
    loop {
        let idle = tokio::time::Instant::now() + limits.body_idle;
        let frame = match tokio::time::timeout_at(deadline.min(idle), body.frame()).await {
            Err(_) => return Err(Refusal::Slow),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Refusal::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            collected.extend_from_slice(&data);
            if collected.len() > limits.body_max {
                too_large(&mut parts);
                return Ok(Request::from_parts(parts, Full::new(Bytes::new())));
            }
        }
    }
    // What was read is the whole body now, whatever framing it came in.
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts.headers.insert(
        hyper::header::CONTENT_LENGTH,
        hyper::header::HeaderValue::from(collected.len()),
    );
    Ok(Request::from_parts(parts, Full::new(Bytes::from(collected))))
}

/// The header through which the component learns its client: Spin's own
/// name, so the component reads one header on either host. Whatever a
/// client sent under that name is dropped first.
pub const CLIENT_ADDRESS_HEADER: &str = "spin-client-addr";

/// `request` with exactly one [`CLIENT_ADDRESS_HEADER`], the host's.
pub fn with_client_address<B>(mut request: Request<B>, client: std::net::IpAddr) -> Request<B> {
    let headers = request.headers_mut();
    headers.remove(CLIENT_ADDRESS_HEADER);
    if let Ok(value) = hyper::header::HeaderValue::from_str(&client.to_string()) {
        headers.insert(CLIENT_ADDRESS_HEADER, value);
    }
    request
}

/// The host's own answer to a refused request: JSON under `/api/`, a page
/// elsewhere.
fn refused(api: bool, refusal: Refusal) -> Response<HyperOutgoingBody> {
    let (status, code, title, text, retry) = match refusal {
        Refusal::NoHost => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "受け付けできませんでした",
            "リクエストに宛先（Host）がありません。",
            None,
        ),
        Refusal::Slow => (
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "タイムアウトしました",
            "送信に時間がかかりすぎたため、受け付けできませんでした。もう一度お試しください。",
            None,
        ),
        Refusal::Broken => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "受け付けできませんでした",
            "送信の途中で通信が途切れました。もう一度お試しください。",
            None,
        ),
        Refusal::TooMany(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "しばらくお待ちください",
            "短い時間に多くのお手続きがありました。しばらくしてから、もう一度お試しください。",
            Some(seconds),
        ),
        Refusal::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "ただいま混み合っています",
            "ただいまアクセスが集中しています。しばらくしてから、もう一度お試しください。",
            Some(5),
        ),
    };
    let mut response = if api {
        let mut body = serde_json::json!({ "error": code });
        if let Some(seconds) = retry {
            body["retry_after"] = serde_json::json!(seconds);
        }
        own_response(
            status,
            "application/json",
            customer_web_app::csp::API,
            body.to_string(),
        )
    } else {
        let html = format!(
            "<!DOCTYPE html><html lang=\"ja\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><h1>{title}</h1><p>{text}</p><p><a href=\"/\">トップへ</a></p></html>"
        );
        html_response(status, html)
    };
    if let Some(seconds) = retry {
        response
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from(seconds));
    }
    response
}

/// A path as it may appear in a log: only the routes the component
/// knows, by name; anything else is cut to its first segment. A one-time
/// link's token, in any spelling of `/link/` (`/Link/`, `//link/`,
/// percent-encoded), never reaches the log.
fn loggable(path: &str) -> String {
    const KNOWN: &[&str] = &[
        "/",
        "/signin",
        "/signout",
        "/enroll",
        "/enroll/contact",
        "/enroll/review",
        "/enroll/confirm",
        "/enroll/sent",
        "/credentials",
        "/credentials/review",
        "/credentials/complete",
        "/complete",
        "/home",
        "/renewal",
        "/recover",
        "/recover/keyword",
        "/static/style.css",
        "/_dev/mail",
        "/_dev/renewal",
    ];
    if KNOWN.contains(&path)
        || (path.starts_with("/api/v1/")
            && path.len() < 64
            && path[8..].bytes().all(|b| b.is_ascii_lowercase() || b == b'/'))
    {
        return path.to_owned();
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let first: String = first
        .chars()
        .take(32)
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    format!("/{first}/…")
}

/// The component's answer, or why there is none.
async fn to_component(
    host: Arc<PluginHost>,
    request: Request<Full<Bytes>>,
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<Response<HyperOutgoingBody>, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // The instance runs on a task of its own, on this worker (no thread
    // hand-off), so the response head goes back to the connection while
    // the instance writes the body. The turn to hash is held until the
    // instance is done, not only until the response head.
    let request =
        request.map(|body| body.map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} }));
    let task = tokio::spawn(async move {
        let result = host.handle_http_async(request, Scheme::Http, sender).await;
        drop(turn);
        result
    });
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
        customer_web_app::csp::API,
        "{\"error\":\"internal\"}".to_owned(),
    )
}

/// An HTML response with the headers every page of ours carries.
pub fn html_response(status: StatusCode, html: String) -> Response<HyperOutgoingBody> {
    own_response(
        status,
        "text/html; charset=utf-8",
        customer_web_app::csp::INLINE_STYLE,
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

/// The first purge pass waits this long (or one interval, if shorter):
/// at a start it would share the CPU with the first requests.
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(5);

fn spawn_purge_worker(host: Arc<PluginHost>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(every.min(FIRST_PURGE_AFTER)).await;
        loop {
            let caps = host.capabilities().clone();
            match tokio::task::spawn_blocking(move || purge_pass(&caps)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "purge pass failed"),
                Err(e) => tracing::error!(error = %e, "purge pass panicked"),
            }
            tokio::time::sleep(every).await;
        }
    })
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
            let lease = options.delivery_lease;
            let pass = tokio::task::spawn_blocking(move || {
                mail::deliver_due_leased(caps.outbox.as_ref(), delivery.as_ref(), caps.clock.now(), lease)
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
