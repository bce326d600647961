//! Admission control in front of the component: what `serve` decides
//! before a request may take an instance slot.
//!
//! - **Who the client is** ([`ClientKey`]): the peer address, or, behind a
//!   trusted reverse proxy, the last address it appended to
//!   `X-Forwarded-For`; IPv6 clients are keyed by their /64, which one
//!   subscriber usually holds whole.
//! - **Connections** ([`Connections`]): at most so many open per client
//!   and in all; the next is closed at once.
//! - **Rates** ([`Buckets`]): token buckets per client, for requests that
//!   make the component hash (argon2id) and for requests that start a flow.
//! - **Hashing** ([`HashGate`]): requests that may hash run at most a few at
//!   a time, with a bounded queue in front; the rest of the slots stay free
//!   for pages that don't hash.
//!
//! A request is classified by method and path ([`may_hash`],
//! [`starts_flow`]) before the component sees it. The classification errs
//! on the safe side: any request that is not a GET or HEAD is taken to hash
//! unless its path is one the component is known to answer without a hash.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The limits `serve` holds requests to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest request body the host reads (longer: 413).
    pub body_max: usize,
    /// Longest the whole body may take to arrive (then 408).
    pub body_total: Duration,
    /// Longest a body may pause between two pieces (then 408).
    pub body_idle: Duration,
    /// Longest the request head may take, and an idle keep-alive
    /// connection may wait for its next request.
    pub header_timeout: Duration,
    /// Open connections per client; the next one is closed at once.
    pub connections_per_client: usize,
    /// Open connections in all.
    pub connections_total: usize,
    /// Requests that may hash, running at once.
    pub hash_concurrency: usize,
    /// Requests that may hash, waiting for a turn; beyond: 503.
    pub hash_queue: usize,
    /// Longest a request waits for its turn to hash (then 503).
    pub hash_wait: Duration,
    /// Hashing requests per client: a burst, then a steady rate.
    pub hash_per_client: Rate,
    /// Flow starts (enrollment, recovery) per client.
    pub flows_per_client: Rate,
    /// A reverse proxy whose `X-Forwarded-For` names the client.
    pub trusted_proxy: Option<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = crate::cores();
        Limits {
            body_max: 64 * 1024,
            body_total: Duration::from_secs(10),
            body_idle: Duration::from_secs(5),
            header_timeout: Duration::from_secs(20),
            connections_per_client: 32,
            connections_total: 1024,
            // One core stays free for the pages that don't hash.
            hash_concurrency: cores.saturating_sub(1).max(1),
            hash_queue: 32,
            hash_wait: Duration::from_secs(10),
            hash_per_client: Rate {
                burst: 10,
                per: Duration::from_secs(2),
            },
            flows_per_client: Rate {
                burst: 20,
                per: Duration::from_secs(60),
            },
            trusted_proxy: None,
        }
    }
}

/// A token bucket's shape: `burst` at once, then one every `per`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Tokens a quiet client has.
    pub burst: u32,
    /// The time one token takes to come back.
    pub per: Duration,
}

/// Whom a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of an address: IPv4 as it is, IPv6 by its /64 (an
    /// IPv4-mapped IPv6 address as the IPv4 one).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => ClientKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    ClientKey(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }

    /// The client of a request from `peer`: behind `trusted_proxy`, the
    /// last valid address of `X-Forwarded-For` (the one the proxy appended;
    /// earlier ones are the client's own say), else the peer.
    pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted_proxy: Option<IpAddr>) -> IpAddr {
        if trusted_proxy != Some(peer) {
            return peer;
        }
        forwarded_for
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
            .unwrap_or(peer)
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Open connections per client and in all.
pub struct Connections {
    per_client: usize,
    total: usize,
    open: Mutex<(usize, HashMap<ClientKey, usize>)>,
}

/// One admitted connection; leaving drops it.
pub struct Admitted {
    connections: Arc<Connections>,
    client: ClientKey,
}

impl Connections {
    /// Room for `per_client` connections per client and `total` in all.
    pub fn new(per_client: usize, total: usize) -> Arc<Self> {
        Arc::new(Connections {
            per_client,
            total,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Admits a connection from `client`, or `None` when it has its share
    /// or the server is full.
    pub fn admit(self: &Arc<Self>, client: ClientKey) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_client) = &mut *open;
        let mine = per_client.entry(client).or_insert(0);
        if *total >= self.total || *mine >= self.per_client {
            if *mine == 0 {
                per_client.remove(&client);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Admitted {
            connections: self.clone(),
            client,
        })
    }

    /// Open connections of `client`.
    pub fn open_for(&self, client: ClientKey) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.1.get(&client).copied().unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_client) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(mine) = per_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                per_client.remove(&self.client);
            }
        }
    }
}

/// Token buckets per client, forgotten once full again (so the map holds
/// only clients seen lately).
pub struct Buckets {
    rate: Rate,
    buckets: Mutex<HashMap<ClientKey, (f64, Instant)>>,
}

impl Buckets {
    /// Buckets of shape `rate`.
    pub fn new(rate: Rate) -> Self {
        Buckets {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client` at `now`: `Ok`, or `Err(seconds)` until
    /// one is back.
    pub fn take(&self, client: ClientKey, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.rate.burst.max(1));
        let per = self.rate.per.as_secs_f64().max(1e-6);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information: drop them.
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() / per < burst);
        }
        let (tokens, at) = buckets.entry(client).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() / per).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * per).ceil().max(1.0) as u64)
        }
    }
}

/// The turn to hash: a few at a time, a bounded queue.
pub struct HashGate {
    running: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
}

/// Why a request did not get its turn.
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    /// The queue is full.
    QueueFull,
    /// The wait ran out.
    TimedOut,
}

impl HashGate {
    /// `concurrency` at a time, `queue` waiting at most `wait` each.
    pub fn new(concurrency: usize, queue: usize, wait: Duration) -> Self {
        HashGate {
            running: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            wait,
        }
    }

    /// Waits for a turn; the permit is the turn.
    pub async fn enter(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy::QueueFull);
        }
        let permit = tokio::time::timeout(self.wait, self.running.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy::TimedOut),
        }
    }
}

/// Whether the component may hash to answer `method path`: every request
/// that is not a GET or HEAD, but those to paths known to hash nothing.
pub fn may_hash(method: &str, path: &str) -> bool {
    const NO_HASH: &[&str] = &[
        "/signout",
        "/enroll",
        "/enroll/confirm",
        "/credentials/complete",
        "/renewal",
        "/api/v1/enrollment",
        "/api/v1/enrollment/customer",
        "/api/v1/enrollment/review",
        "/api/v1/enrollment/confirm",
        "/api/v1/link",
        "/api/v1/credentials/review",
        "/api/v1/credentials/complete",
        "/api/v1/renewal",
        "/api/v1/handover/redeem",
    ];
    let reads_only = matches!(method, "GET" | "HEAD");
    let known_not_to_hash = method == "POST" && NO_HASH.contains(&path);
    !(reads_only || known_not_to_hash)
}

/// Whether `method path` starts a flow (an enrollment, or a recovery's
/// link record).
pub fn starts_flow(method: &str, path: &str) -> bool {
    method == "POST"
        && matches!(
            path,
            "/enroll" | "/recover" | "/api/v1/enrollment" | "/api/v1/recovery"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ClientKey::of(mapped), ClientKey::of("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_counts_only_from_the_trusted_proxy_and_only_its_last_entry() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "198.51.100.9".parse().unwrap();
        let header = Some("10.0.0.1, 203.0.113.5");
        assert_eq!(
            ClientKey::resolve(proxy, header, Some(proxy)),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        // A client's own X-Forwarded-For is its say only.
        assert_eq!(ClientKey::resolve(other, header, Some(proxy)), other);
        assert_eq!(ClientKey::resolve(proxy, header, None), proxy);
        assert_eq!(ClientKey::resolve(proxy, Some("garbage"), Some(proxy)), proxy);
    }

    #[test]
    fn connections_are_capped_per_client_and_in_all_and_given_back() {
        let connections = Connections::new(2, 3);
        let a = ClientKey::of("192.0.2.1".parse().unwrap());
        let b = ClientKey::of("192.0.2.2".parse().unwrap());
        let a1 = connections.admit(a).expect("first");
        let _a2 = connections.admit(a).expect("second");
        assert!(connections.admit(a).is_none(), "a third from one client");
        let _b1 = connections.admit(b).expect("another client");
        assert!(connections.admit(b).is_none(), "the server is full");
        drop(a1);
        assert_eq!(connections.open_for(a), 1);
        assert!(connections.admit(b).is_some(), "room again");
    }

    #[test]
    fn a_bucket_gives_its_burst_then_one_per_period() {
        let buckets = Buckets::new(Rate {
            burst: 3,
            per: Duration::from_secs(10),
        });
        let client = ClientKey::of("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(buckets.take(client, t0), Ok(()));
        }
        assert_eq!(buckets.take(client, t0), Err(10));
        assert_eq!(buckets.take(client, t0 + Duration::from_secs(4)), Err(6));
        assert_eq!(buckets.take(client, t0 + Duration::from_secs(10)), Ok(()));
        // Another client has its own.
        let other = ClientKey::of("192.0.2.2".parse().unwrap());
        assert_eq!(buckets.take(other, t0), Ok(()));
    }

    #[tokio::test]
    async fn the_hash_gate_queues_a_few_and_turns_the_rest_away() {
        let gate = Arc::new(HashGate::new(1, 1, Duration::from_millis(200)));
        let first = gate.enter().await.expect("a free turn");
        let queued = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(drop) })
        };
        // Let the second one queue.
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.enter().await.err(), Some(Busy::QueueFull));
        drop(first);
        assert_eq!(queued.await.expect("joined"), Ok(()));
        let held = gate.enter().await.expect("free again");
        assert_eq!(gate.enter().await.err(), Some(Busy::TimedOut));
        drop(held);
    }

    #[test]
    fn requests_that_may_hash_are_told_apart_conservatively() {
        for (method, path) in [
            ("POST", "/signin"),
            ("POST", "/enroll/contact"),
            ("POST", "/link/abc"),
            ("POST", "/Link/abc"),
            ("POST", "/credentials"),
            ("POST", "/recover"),
            ("POST", "/api/v1/session"),
            ("POST", "/api/v1/link/keyword"),
            ("PUT", "/enroll"),
            ("POST", "/anything-new"),
        ] {
            assert!(may_hash(method, path), "{method} {path}");
        }
        for (method, path) in [
            ("GET", "/"),
            ("HEAD", "/link/abc"),
            ("POST", "/enroll"),
            ("POST", "/api/v1/link"),
        ] {
            assert!(!may_hash(method, path), "{method} {path}");
        }
        assert!(starts_flow("POST", "/api/v1/enrollment"));
        assert!(!starts_flow("GET", "/enroll"));
    }
}
