//! customer-web over HTTP: `serve`'s server on a loopback port, loaded by
//! `wrk` from a second process, beside the same host serving a hello-world
//! `wasi:http` component (`component/hello`), the ceiling for any component
//! behind this host. Then the host's per-request path without the network
//! (`PluginHost::handle_http`), again beside the hello-world, and the peak
//! linear memory of one instance beside the configured memory cap. Every
//! figure is set against its ceiling or limit measured in the same run;
//! figures from different runs or machines are not comparable.
//!
//! ```text
//! cargo bench -p customer-web-e2e --bench http
//! ```
//!
//! Needs `wrk` (Debian's package). Run as root, the bench installs it with
//! apt-get when it is missing; otherwise it says how and exits non-zero.
//! The hello-world is built for wasm32-wasip2 at run time (in
//! `target/hello`), so `cargo test` never builds it. Component load from
//! the compilation cache, warm and cold, is in `--bench flows`.

use customer_web_e2e::common;
use customer_web_e2e::support::browser;
mod measure;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use browser::Server;
use common::{Harness, KEYWORD, terms, yamada};
use customer_web_host::directory::FileDirectory;
use customer_web_host::plugin::EMBEDDED_COMPONENT;
use customer_web_host::{Capabilities, PluginHost};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use measure::wrk::{ALONE, LOAD, Load, ROUNDS, WARMUP, run_wrk, wrk_or_exit};
use measure::{Limit, Sample, Table, measure, ratio, secs, show};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

/// `handle_http` without the network: calls per target, taken in turns
/// this many at a time.
const HANDLE_WARMUP: usize = 500;
const HANDLE_ITERS: usize = 5_000;
const HANDLE_BLOCK: usize = 100;
/// The host's per-request floor: the hello-world's p50 through the host.
const FLOOR_LIMIT: Duration = Duration::from_micros(50);
/// The screens' `GET /` req/s over the hello-world's, 16 connections.
const SCREENS_RATIO_BAR: f64 = 0.7;

fn main() {
    let began = Instant::now();
    let wrk_version = wrk_or_exit();
    eprintln!("building the hello-world component …");
    let hello_wasm = build_hello();

    // The screens on SQLite in a temp dir, as `customer-web serve` keeps
    // them in its data dir; the hello-world imports no capability, so it
    // gets the in-memory ones.
    let data = tempfile::tempdir().expect("temp dir");
    let caps =
        Capabilities::sqlite(data.path(), Arc::new(FileDirectory::sample())).expect("SQLite capabilities");
    let options = common::options();
    let screens = Arc::new(PluginHost::new(EMBEDDED_COMPONENT, caps, options.clone()).expect("host"));
    let hello = Arc::new(
        PluginHost::proxy_only(&hello_wasm, Capabilities::in_memory(), options.clone()).expect("hello host"),
    );

    // A live link, made through the typed exports of the served host.
    let typed = Harness::over(screens.clone(), customer_web_testkit::MovableClock::new());
    let token = typed.mail_link("bench@example.jp");
    let link = format!("/link/{token}");

    eprintln!("peak memory per instance …");
    let peaks = peak_memory(&typed, &token);

    eprintln!("handle_http without the network …");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(customer_web_host::cores())
        .enable_all()
        .build()
        .expect("runtime");
    let mut handled = Table::default();
    let [hello_handled, top_handled, link_handled] = measure(
        HANDLE_WARMUP,
        HANDLE_ITERS,
        HANDLE_BLOCK,
        [
            &mut |_| handle(&runtime, &hello, "/"),
            &mut |_| handle(&runtime, &screens, "/"),
            &mut |_| handle(&runtime, &screens, &link),
        ],
    );
    handled.row(
        "hello-world GET / (host path, no network)",
        &hello_handled,
        vec![Limit::value(
            "the bar",
            FLOOR_LIMIT,
            format!(
                "{}: {}",
                ratio(hello_handled.p50(), FLOOR_LIMIT),
                if hello_handled.p50() <= FLOOR_LIMIT {
                    "met"
                } else {
                    "NOT met"
                }
            ),
        )],
    );
    for (what, sample) in [
        ("GET / top page (host path, no network)", &top_handled),
        ("GET /link/{token} (host path, no network)", &link_handled),
    ] {
        handled.row(what, sample, vec![over_hello(sample, &hello_handled)]);
    }

    // Under load, through hyper and the loopback, one target after the
    // other. Storage versions before and after show the screens' GETs
    // wrote nothing. No tracing subscriber is installed, so serve's line
    // per request costs a disabled-callsite check only.
    let hello_server = Server::serving(hello.clone());
    let screens_server = Server::serving(screens.clone());
    let stored = typed.storage_versions();
    let targets = [
        ("hello-world GET /", &hello_server, "/"),
        ("GET / top page (no storage write)", &screens_server, "/"),
        (
            "GET /link/{token} (1 storage read)",
            &screens_server,
            link.as_str(),
        ),
    ];
    for (what, server, path) in targets {
        let page = server.browser().get(path);
        assert_eq!(page.status, 200, "GET {path} before the load: {}", page.body);
        eprintln!("wrk {what}: warm-up …");
        run_wrk(&format!("http://{}{path}", server.address), WARMUP);
    }
    // The load in rounds, each target once per round. The servers are this
    // process's only work while wrk runs: its CPU time over a run, per
    // request answered, is the server's cost of a request (wrk's own is a
    // child's, not counted).
    let mut rounds: Vec<Vec<(Load, Duration)>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=ROUNDS {
        eprintln!("wrk: round {round} of {ROUNDS} …");
        for ((_, server, path), runs) in targets.iter().zip(rounds.iter_mut()) {
            let before = process_cpu();
            let load = run_wrk(&format!("http://{}{path}", server.address), LOAD);
            let cpu = (process_cpu() - before).div_f64(load.requests.max(1) as f64);
            runs.push((load, cpu));
        }
    }
    let mut alone = Vec::new();
    for (what, server, path) in targets {
        eprintln!("wrk {what}: one connection …");
        alone.push((what, run_wrk(&format!("http://{}{path}", server.address), ALONE)));
    }
    let unchanged = typed.storage_versions() == stored;

    println!(
        "HTTP under load: {wrk_version} from a second process: per target a {}s warm-up, then {ROUNDS} rounds \
         in each of which every target runs {}s with {} threads and {} connections (keep-alive), one after \
         the other; figures are the median over the rounds. Then {}s with 1 connection",
        WARMUP.duration.as_secs(),
        LOAD.duration.as_secs(),
        LOAD.threads,
        LOAD.connections,
        ALONE.duration.as_secs()
    );
    println!(
        "server: serve() on 127.0.0.1, 2 tokio workers, a fresh instance per request, at most {} at once; \
         screens on SQLite (WAL) in a temp dir",
        options.max_concurrent
    );
    let loaded: Vec<(&str, Load)> = targets
        .iter()
        .zip(&rounds)
        .map(|((what, _, _), runs)| {
            let loads: Vec<Load> = runs.iter().map(|(load, _)| load.clone()).collect();
            (*what, Load::median(&loads))
        })
        .collect();
    print_loads(
        &format!("{} connections, median of {ROUNDS}", LOAD.connections),
        &loaded,
    );
    println!(
        "{:<40} {}",
        "server CPU per request, median",
        targets
            .iter()
            .zip(&rounds)
            .map(|((what, _, _), runs)| {
                let mut cpu: Vec<Duration> = runs.iter().map(|(_, cpu)| *cpu).collect();
                cpu.sort_unstable();
                format!("{what}: {}", show(cpu[(cpu.len() - 1) / 2]))
            })
            .collect::<Vec<_>>()
            .join("; ")
    );
    // The bar: the screens' req/s against the hello-world's, round by
    // round (both taken within seconds of each other), and their median.
    let mut per_round: Vec<f64> = rounds[1]
        .iter()
        .zip(&rounds[0])
        .map(|((top, _), (hello, _))| top.per_second / hello.per_second)
        .collect();
    let shown = per_round
        .iter()
        .map(|r| format!("{r:.2}x"))
        .collect::<Vec<_>>()
        .join(" ");
    per_round.sort_by(f64::total_cmp);
    let median = per_round[(per_round.len() - 1) / 2];
    println!(
        "{:<40} per round {shown}; median {median:.2}x | the bar: {SCREENS_RATIO_BAR:.2}x: {}",
        "GET / req/s over the hello-world's",
        if median >= SCREENS_RATIO_BAR {
            "met"
        } else {
            "NOT met"
        }
    );
    print_loads("1 connection, 1 request at a time", &alone);
    println!(
        "storage during the load: {}",
        if unchanged {
            "unchanged (no write)"
        } else {
            "CHANGED"
        }
    );

    println!(
        "\nPer request without the network: PluginHost::handle_http_async on a worker, as serve runs it; \
         request to collected body"
    );
    handled.print();

    println!(
        "\nPeak linear memory of one instance (HostCtx::peak_memory) | limit: HostOptions::memory_limit"
    );
    for (what, bytes) in peaks {
        println!(
            "{what:<48} {:>10} | {:>10}, {:.0}% of it",
            mib(bytes),
            mib(options.memory_limit),
            100.0 * bytes as f64 / options.memory_limit as f64
        );
    }

    println!(
        "\nComponent load from the compilation cache (warm, cold) and instantiation alone: --bench flows. \
         p50/p99 by nearest rank; {} CPUs; total run {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        show(began.elapsed())
    );
}

/// A figure beside the hello-world's: the ratio and what the screens add.
fn over_hello(sample: &Sample, hello: &Sample) -> Limit {
    Limit::sample(
        "hello-world",
        hello,
        format!(
            "{} (+{} per request)",
            ratio(sample.p50(), hello.p50()),
            show(sample.p50().saturating_sub(hello.p50()))
        ),
    )
}

/// One GET through the host as `serve` makes it: on a worker of the
/// runtime, the instance on a task of its own
/// ([`PluginHost::handle_http_async`]), the response awaited and its body
/// collected. Timed on the worker, from the request made to the body
/// collected.
fn handle(runtime: &tokio::runtime::Runtime, host: &Arc<PluginHost>, path: &str) -> Duration {
    let host = host.clone();
    let uri = path.to_owned();
    let (status, took) = runtime
        .block_on(runtime.spawn(async move {
            let began = Instant::now();
            let request = hyper::Request::get(uri.as_str())
                .header("host", "127.0.0.1")
                .body(
                    http_body_util::Empty::<Bytes>::new()
                        .map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} }),
                )
                .expect("request");
            let (respond, response) = tokio::sync::oneshot::channel();
            let call = tokio::spawn(host.handle_http_async(request, Scheme::Http, respond));
            let response = response.await.expect("an answer").expect("a response");
            let status = response.status();
            std::hint::black_box(response.into_body().collect().await.expect("the body"));
            call.await.expect("joined").expect("handled");
            (status, began.elapsed())
        }))
        .expect("the request's task");
    assert_eq!(status, 200, "GET {path}");
    took
}

/// Peak memory of one instance: bare, a non-hashing step, a hashing step.
fn peak_memory(h: &Harness, token: &str) -> Vec<(&'static str, usize)> {
    let flow = h.start(Some("AG001")).expect("start");
    h.submit_customer(&flow, &yamada(), &terms()).expect("customer");
    let ((), bare) = h.with_peak_memory(|_, _| Ok(()));
    let (opened, open) = h.with_peak_memory(|p, s| p.customer_web_plugin_link().call_open(s, token));
    opened.expect("open");
    let (contact, hashing) = h.with_peak_memory(|p, s| {
        p.customer_web_plugin_enrollment()
            .call_submit_contact(s, &flow, KEYWORD, "peak@example.jp")
    });
    contact.expect("contact");
    vec![
        ("instantiation only (no export called)", bare),
        ("open-link (no hashing)", open),
        ("submit-contact (1 argon2id, m=19 MiB)", hashing),
    ]
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
}

/// CPU time (user and system) this process has used, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("the command name's end")
        .1
        .split_whitespace()
        .collect();
    // utime and stime: fields 14 and 15, the 12th and 13th after the name.
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

fn print_loads(title: &str, loads: &[(&str, Load)]) {
    println!(
        "{title:<40} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} | vs hello-world, same run",
        "requests", "req/s", "p50", "p75", "p90", "p99"
    );
    let hello = &loads[0].1;
    for (i, (what, load)) in loads.iter().enumerate() {
        let mut verdict = if i == 0 {
            "the ceiling".to_owned()
        } else {
            format!(
                "req/s {:.2}x, p50 {:.2}x, p99 {:.2}x",
                load.per_second / hello.per_second,
                secs(load.p50) / secs(hello.p50),
                secs(load.p99) / secs(hello.p99)
            )
        };
        if load.non_2xx > 0 {
            verdict.push_str(&format!("; {} responses not 2xx/3xx", load.non_2xx));
        }
        if let Some(errors) = &load.socket_errors {
            verdict.push_str(&format!("; socket errors: {errors}"));
        }
        println!(
            "{what:<40} {:>9} {:>9.0} {:>9} {:>9} {:>9} {:>9} | {verdict}",
            load.requests,
            load.per_second,
            show(load.p50),
            show(load.p75),
            show(load.p90),
            show(load.p99)
        );
    }
}

// --- the hello-world component -------------------------------------------

/// Builds `component/hello` for wasm32-wasip2 in `target/hello`: a target
/// directory of its own, as the bench's build may still hold `target`'s
/// lock, and none of the bench build's CARGO_* or RUSTFLAGS settings, which
/// describe a native build (as `host/build.rs` does for the guest).
fn build_hello() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root");
    let wasm = customer_web_wasm_cargo::HELLO
        .run(root)
        .unwrap_or_else(|e| panic!("building the hello-world component: {e}"));
    std::fs::read(wasm).expect("the hello-world .wasm")
}
