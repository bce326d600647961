//! Load as a portal's users make it, on `customer-web serve` in a process
//! of its own (the release binary, SQLite in its data directory, the dev
//! mailbox); every enrollment comes from a loopback address of its own
//! (127.x.y.z), as real users' come from theirs:
//!
//! - full enrollments through the JSON API (start, customer, contact,
//!   confirm, the mailed link's keyword, credentials, complete: three
//!   argon2id) from several clients at once, beside the argon2id ceiling:
//!   native hashes per second on the threads the host hashes on (all cores
//!   but one, which it keeps for pages that do not hash) and on all
//!   cores, divided by the three hashes of a flow;
//! - `GET /` at a fixed rate over keep-alive connections, each request's
//!   latency counted from when it was due (a late send counts its wait),
//!   beside the bar;
//! - the peak resident size of the `serve` process over both (`VmHWM`),
//!   beside the bound the host sets on the instances' memory.
//!
//! ```text
//! cargo bench -p customer-web-e2e --bench load
//! ```

use customer_web_e2e::support::serve_process::ServeProcess;
use customer_web_e2e::support::walks;
mod measure;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use customer_web_core::secret::Memorised;
use customer_web_core::testing::SeqRng;
use customer_web_host::HostOptions;
use customer_web_host::directory::{FileDirectory, PolicyholderRecord};
use customer_web_host::guard::Limits;
use measure::show;

/// Clients enrolling at once.
const CLIENTS: usize = 4;
/// How long they enroll, after a warm-up of one enrollment each.
const ENROLL_FOR: Duration = Duration::from_secs(30);
/// Argon2id natively, per thread count, for the ceiling.
const CEILING_FOR: Duration = Duration::from_secs(5);
/// Policyholders in the synthetic directory (each with a birth date of
/// its own: the component limits confirmations per person): more than
/// the enrollments.
const HOLDERS: usize = 4_000;
/// `GET /` at this rate over this many keep-alive connections, for this
/// long, beside the bar for its p99.
const RATE: u32 = 2_000;
const CONNECTIONS: u32 = 16;
const RATE_FOR: Duration = Duration::from_secs(10);
const P99_BAR: Duration = Duration::from_millis(2);
/// Enrollments per second must reach this share of the ceiling.
const ENROLL_BAR: f64 = 0.8;

fn main() {
    let began = Instant::now();
    let work = tempfile::tempdir().expect("temp dir");
    let directory = work.path().join("directory.json");
    let holders = measure::synthetic_directory(HOLDERS).to_string();
    std::fs::write(&directory, &holders).expect("directory file");
    let people = FileDirectory::from_json(&holders).expect("the synthetic directory");
    let database = work.path().join("bench.sqlite3");
    eprintln!("starting customer-web serve (release) …");
    let server = ServeProcess::start_logging(
        &format!("sqlite:{}", database.display()),
        &["--dev", "--directory", directory.to_str().expect("UTF-8 path")],
        "warn",
    );
    let outbox = customer_web_host::mail::SqliteOutbox::open(&database).expect("the outbox");

    let cores = customer_web_host::cores();
    let hashing_threads = Limits::default().hash_concurrency;
    eprintln!("argon2id natively on {hashing_threads} and {cores} threads …");
    let on_hashing = hashes_per_second(hashing_threads);
    let on_all = hashes_per_second(cores);

    eprintln!("{CLIENTS} clients enrolling for {}s …", ENROLL_FOR.as_secs());
    let next = Arc::new(AtomicUsize::new(0));
    let (enrollments, per_second) = enroll(&server, &outbox, &people, &next);

    eprintln!(
        "GET / at {RATE} req/s over {CONNECTIONS} connections for {}s …",
        RATE_FOR.as_secs()
    );
    let latencies = fixed_rate(server.address, RATE, CONNECTIONS, RATE_FOR);
    let peak = peak_resident(server.pid());
    drop(server);
    let options = HostOptions::default();

    // The same enrollments on a server that hashes natively in the
    // component's stead (`--native-hashing`), on a database of its own.
    eprintln!("the same on serve --native-hashing …");
    let database = work.path().join("native.sqlite3");
    let server = ServeProcess::start_logging(
        &format!("sqlite:{}", database.display()),
        &[
            "--dev",
            "--native-hashing",
            "--directory",
            directory.to_str().expect("UTF-8 path"),
        ],
        "warn",
    );
    let outbox = customer_web_host::mail::SqliteOutbox::open(&database).expect("the outbox");
    let (native_enrollments, native_per_second) = enroll(&server, &outbox, &people, &next);
    let native_peak = peak_resident(server.pid());
    drop(server);

    println!(
        "Load on customer-web serve (release, SQLite, --dev), {cores} CPUs, clients in this process; \
         every enrollment from its own loopback address"
    );
    println!(
        "argon2id natively (m=19 MiB, t=2, p=1): {:.1}/s on {hashing_threads} thread(s) (the host hashes on \
         all cores but one), {:.1}/s on {cores}",
        on_hashing, on_all
    );
    let ceiling = on_hashing / 3.0;
    let ceiling_all = on_all / 3.0;
    println!(
        "{:<52} {:>8.2}/s  | ceiling {:.2}/s ({hashing_threads} hashing thread(s) / 3 argon2id): {:.0}% \
         (bar {:.0}%: {}); on all {cores} cores {:.2}/s: {:.0}%",
        format!(
            "full enrollments, JSON API, {CLIENTS} clients, {}s",
            ENROLL_FOR.as_secs()
        ),
        per_second,
        ceiling,
        100.0 * per_second / ceiling,
        100.0 * ENROLL_BAR,
        verdict(per_second >= ENROLL_BAR * ceiling),
        ceiling_all,
        100.0 * per_second / ceiling_all,
    );
    println!(
        "{:<52} {:>9}  | {} enrollments, p50 {}, p99 {}",
        "  one enrollment (7 requests), as a client waits",
        "",
        enrollments.len(),
        show(percentile(&enrollments, 50.0)),
        show(percentile(&enrollments, 99.0)),
    );
    println!(
        "{:<52} {:>8.2}/s  | {:.0}% of the ceiling (bar {:.0}%: {}); on all {cores} cores: {:.0}%; {} \
         enrollments, p50 {}, p99 {}; peak resident size {}",
        "the same, serve --native-hashing",
        native_per_second,
        100.0 * native_per_second / ceiling,
        100.0 * ENROLL_BAR,
        verdict(native_per_second >= ENROLL_BAR * ceiling),
        100.0 * native_per_second / ceiling_all,
        native_enrollments.len(),
        show(percentile(&native_enrollments, 50.0)),
        show(percentile(&native_enrollments, 99.0)),
        mib(native_peak),
    );
    let p99 = percentile(&latencies, 99.0);
    println!(
        "{:<52} {:>9}  | p50 {}, p90 {}, p99 {}, max {} over {} requests; bar p99 {}: {}",
        format!("GET / at {RATE} req/s, {CONNECTIONS} keep-alive connections"),
        "",
        show(percentile(&latencies, 50.0)),
        show(percentile(&latencies, 90.0)),
        show(p99),
        show(percentile(&latencies, 100.0)),
        latencies.len(),
        show(P99_BAR),
        verdict(p99 <= P99_BAR),
    );
    let bound = options.max_concurrent * options.memory_limit;
    println!(
        "{:<52} {:>9}  | instances' memory bound: {} at once × {} = {} (HostOptions), plus the host's own",
        "peak resident size of serve over both (VmHWM)",
        mib(peak),
        options.max_concurrent,
        mib(options.memory_limit),
        mib(bound),
    );
    println!("\ntotal run {}", show(began.elapsed()));
}

/// [`CLIENTS`] clients enrolling on `server` for [`ENROLL_FOR`] after a
/// warm-up of one enrollment each, each for the next policyholder of
/// `people`: every enrollment's time, and enrollments per second.
fn enroll(
    server: &ServeProcess,
    outbox: &customer_web_host::mail::SqliteOutbox,
    people: &FileDirectory,
    next: &AtomicUsize,
) -> (Vec<Duration>, f64) {
    let run = |until: Instant| {
        std::thread::scope(|scope| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    scope.spawn(move || {
                        let mut times = Vec::new();
                        // At least one each: `until` in the past is the warm-up.
                        while times.is_empty() || Instant::now() < until {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let started = Instant::now();
                            enroll_once(server, outbox, &people.policyholders()[n], n);
                            times.push(started.elapsed());
                        }
                        times
                    })
                })
                .collect();
            let mut all: Vec<Duration> = clients
                .into_iter()
                .flat_map(|c| c.join().expect("client"))
                .collect();
            all.sort_unstable();
            all
        })
    };
    run(Instant::now());
    let began = Instant::now();
    let enrollments = run(began + ENROLL_FOR);
    let per_second = enrollments.len() as f64 / began.elapsed().as_secs_f64();
    (enrollments, per_second)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Argon2id hashes per second, natively, on `threads` threads at once.
fn hashes_per_second(threads: usize) -> f64 {
    let began = Instant::now();
    let until = began + CEILING_FOR;
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let rng = SeqRng::default();
                    let mut n = 0;
                    while Instant::now() < until {
                        std::hint::black_box(
                            Memorised::new(walks::KEYWORD)
                                .hash(&rng, &customer_web_core::ports::OwnHashing)
                                .expect("argon2id"),
                        );
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    done as f64 / began.elapsed().as_secs_f64()
}

/// One full enrollment through the JSON API of policyholder `holder`, as
/// the `n`th client address.
fn enroll_once(
    server: &ServeProcess,
    outbox: &customer_web_host::mail::SqliteOutbox,
    holder: &PolicyholderRecord,
    n: usize,
) {
    let mut b = server.browser();
    b.source =
        Some(std::net::Ipv4Addr::new(127, 1 + ((n >> 16) & 127) as u8, (n >> 8) as u8, n as u8).into());
    let email = format!("bench-{n}@example.jp");
    let (status, body) = walks::api_enroll_until_mail(&mut b, &walks::api_customer(holder), &email);
    assert_eq!(status, 200, "{body}");
    let token = mailed_token(outbox, &email);
    walks::api_finish_enrollment(&mut b, &token, &email, "enrollment");
}

/// The link token of the newest mail to `to`.
fn mailed_token(outbox: &customer_web_host::mail::SqliteOutbox, to: &str) -> String {
    use customer_web_host::mail::Outbox as _;
    let mail = outbox
        .list(4 * CLIENTS)
        .expect("the outbox")
        .into_iter()
        .find(|m| m.message.to == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    customer_web_e2e::support::walks::token_in(&mail.message.text)
}

/// `GET /` at `rate` requests per second in all over `connections`
/// keep-alive connections for `duration`: each request's latency from the
/// moment it was due, so a server that falls behind is charged for the
/// requests it kept waiting, not only for the ones it answered. A thread
/// per connection sleeps until each request is due (the kernel's timers
/// wake it within tens of microseconds; an async runtime's 1 ms timer
/// wheel would add its own lateness to every figure).
fn fixed_rate(
    address: std::net::SocketAddr,
    rate: u32,
    connections: u32,
    duration: Duration,
) -> Vec<Duration> {
    let interval = Duration::from_secs(1) * connections / rate;
    let start = Instant::now() + Duration::from_millis(100);
    let until = start + duration;
    let mut all: Vec<Duration> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || {
                    let mut connection = KeepAlive::open(address);
                    // Connections start staggered across one interval.
                    let mut due = start + interval * c / connections;
                    let mut latencies = Vec::new();
                    while due < until {
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        assert_eq!(connection.get("/"), 200);
                        latencies.push(due.elapsed());
                        due += interval;
                    }
                    latencies
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("connection thread"))
            .collect()
    });
    all.sort_unstable();
    all
}

/// One keep-alive HTTP/1.1 connection that GETs and reads whole answers
/// (`content-length` or chunked bodies).
struct KeepAlive {
    stream: std::io::BufReader<std::net::TcpStream>,
    host: String,
}

impl KeepAlive {
    fn open(address: std::net::SocketAddr) -> Self {
        let stream = std::net::TcpStream::connect(address).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        KeepAlive {
            stream: std::io::BufReader::new(stream),
            host: address.to_string(),
        }
    }

    /// GETs `path`; the status, once the whole body is read.
    fn get(&mut self, path: &str) -> u16 {
        use std::io::{BufRead, Read, Write};
        let request = format!("GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n", self.host);
        self.stream.get_mut().write_all(request.as_bytes()).expect("send");
        let mut line = String::new();
        self.stream.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("a header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').expect("name: value");
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("a length");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        let mut body = vec![0u8; length];
        if !chunked {
            self.stream.read_exact(&mut body).expect("the body");
            return status;
        }
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("a chunk size");
            let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                .expect("a hex chunk size");
            // The chunk and its CRLF; the last chunk (0) ends with the
            // (empty) trailer's CRLF.
            body.resize(size + 2, 0);
            self.stream.read_exact(&mut body).expect("a chunk");
            if size == 0 {
                return status;
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The peak resident size of process `pid` (`VmHWM`), in bytes.
fn peak_resident(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
