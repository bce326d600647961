//! Benchmarks of customer-web through the wasmtime host ("Bars for
//! performance" in DESIGN.md). Every figure is printed beside its limit
//! measured in the same run: the same core called natively over in-memory
//! fakes (the wasm overhead ratio) and argon2id natively (the hash-bound
//! ceiling). Figures from different runs or machines are not comparable;
//! the ratios are the point.
//!
//! A plain binary with fixed iteration counts, so one run does the same
//! work everywhere (well under a minute on two cores, once built):
//!
//! ```text
//! cargo bench -p customer-web-e2e --bench flows
//! ```

use customer_web_e2e::common;
use customer_web_e2e::support::argon2_command::Argon2Command;
mod measure;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Backend, Harness, KEYWORD, PASSWORD, link_token, terms, yamada};
use customer_web_core::Service;
use customer_web_core::model::CustomerInput as NativeCustomer;
use customer_web_core::ports::OwnHashing;
use customer_web_core::ports::{Condition as NativeCondition, Store as _};
use customer_web_core::secret::{Memorised, Token};
use customer_web_core::testing::{SeqRng, World};
use customer_web_host::hashing::Hashing;
use customer_web_host::plugin::EMBEDDED_COMPONENT;
use customer_web_host::storage::Condition;
use customer_web_host::{Capabilities, HostOptions, PluginHost};
use measure::{Limit, Sample, Table, measure, ratio, secs, show, timed};

/// argon2id-bound steps cost tens of milliseconds, so few iterations give a
/// stable median; the microsecond steps need many more for a p99 that is
/// not just the maximum.
const HASH_WARMUP: usize = 5;
const HASH_ITERS: usize = 60;
const STEP_WARMUP: usize = 500;
const STEP_ITERS: usize = 5_000;
/// Microsecond steps take turns with their limit this many calls at a time.
const STEP_BLOCK: usize = 100;
const ENROLL_WARMUP: usize = 3;
const ENROLL_ITERS: usize = 30;
const LOAD_WARM_WARMUP: usize = 2;
const LOAD_WARM_ITERS: usize = 20;
/// A cold compile takes about a second; the load that fills the cache beforehand
/// already warmed the process, so these are timed without a warm-up.
const LOAD_COLD_ITERS: usize = 5;
/// `customer-web serve` started afresh this many times on one data
/// directory, after a first start that compiled and kept the component.
const START_WARMUP: usize = 2;
const START_ITERS: usize = 20;
/// The bar for a start from a warm data directory: process start to the
/// first answer.
const START_LIMIT: Duration = Duration::from_millis(5);

/// The bar for argon2id in the component: at most this times native.
const ARGON2_BAR: f64 = 1.3;

/// Agent code of every benchmarked flow (the entry link of an agent's page).
const AGENT: &str = "AG001";

fn main() {
    let began = Instant::now();
    let mut table = Table::default();

    // Loads come before the calls: the warm-cache loads need a cache filled
    // by a load of their own, and the calls below reuse that cache.
    eprintln!("component load, compiled and from the precompiled file …");
    let cache = tempfile::tempdir().expect("temp dir");
    let (warm, cold) = loads(cache.path());

    let options = HostOptions {
        cache_dir: Some(cache.path().to_owned()),
        ..HostOptions::default()
    };
    let wasm = Harness::with_options(Backend::Memory, options.clone());
    let native = Native::new();
    // The same component on a host that hashes natively in its stead
    // (`serve --native-hashing`), over storage of its own.
    let hosted = {
        let caps = Capabilities {
            hashing: Hashing::Native,
            ..Capabilities::in_memory()
        };
        let host = PluginHost::new(EMBEDDED_COMPONENT, caps, options).expect("host");
        Harness::over(
            std::sync::Arc::new(host),
            customer_web_testkit::MovableClock::new(),
        )
    };
    let argon2_wasm = WasmArgon2::new(wasm.host.engine().clone());

    // One hashing step, beside the same step natively and beside argon2id
    // alone (the hash-bound ceiling). Each flow is prepared (screens 1 and
    // 2) before the clock starts, and each needs its own, as the step
    // moves it on.
    eprintln!("argon2id and submit-contact …");
    let n = HASH_WARMUP + HASH_ITERS;
    let wasm_flows: Vec<String> = (0..n).map(|_| wasm_customer_entered(&wasm)).collect();
    let hosted_flows: Vec<String> = (0..n).map(|_| wasm_customer_entered(&hosted)).collect();
    let native_flows: Vec<Token> = (0..n).map(|_| native.customer_entered()).collect();
    let rng = SeqRng::default();
    let [argon2, wasm_argon2, wasm_contact, hosted_contact, native_contact] = measure(
        HASH_WARMUP,
        HASH_ITERS,
        1,
        [
            &mut |_| timed(|| Memorised::new(KEYWORD).hash(&rng, &OwnHashing).expect("argon2id")),
            &mut |_| timed(|| argon2_wasm.hash()),
            &mut |i| {
                let email = format!("contact-{i}@example.jp");
                timed(|| {
                    wasm.submit_contact(&wasm_flows[i], KEYWORD, &email)
                        .expect("contact")
                })
            },
            &mut |i| {
                let email = format!("contact-{i}@example.jp");
                timed(|| {
                    hosted
                        .submit_contact(&hosted_flows[i], KEYWORD, &email)
                        .expect("contact")
                })
            },
            &mut |i| {
                let email = format!("contact-{i}@example.jp");
                timed(|| {
                    native
                        .service()
                        .submit_contact(&native_flows[i], KEYWORD, &email)
                        .expect("contact")
                })
            },
        ],
    );
    let ceiling = argon2.p50();
    table.row(
        "argon2id native (m=19 MiB, t=2, p=1)",
        &argon2,
        vec![Limit::none("the hash-bound ceiling")],
    );
    table.row(
        "argon2id in wasm alone (SIMD, fresh instance)",
        &wasm_argon2,
        vec![
            Limit::value("argon2id native", ceiling, ratio(wasm_argon2.p50(), ceiling)),
            Limit::value(
                "the bar: 1.3x native",
                ceiling.mul_f64(ARGON2_BAR),
                ratio(wasm_argon2.p50(), ceiling.mul_f64(ARGON2_BAR)),
            ),
        ],
    );
    table.row(
        "component load, precompiled file kept (PluginHost::new)",
        &warm,
        vec![Limit::sample(
            "cold compile, no cache",
            &cold,
            format!("warm/cold {:.3}x", secs(warm.p50()) / secs(cold.p50())),
        )],
    );
    table.row(
        "wasm submit-contact (1 argon2id)",
        &wasm_contact,
        vec![
            Limit::sample(
                "native same core",
                &native_contact,
                ratio(wasm_contact.p50(), native_contact.p50()),
            ),
            Limit::value("1 argon2id native", ceiling, ratio(wasm_contact.p50(), ceiling)),
        ],
    );
    table.row(
        "submit-contact, the host hashing natively",
        &hosted_contact,
        vec![
            Limit::sample(
                "native same core",
                &native_contact,
                ratio(hosted_contact.p50(), native_contact.p50()),
            ),
            Limit::value("1 argon2id native", ceiling, ratio(hosted_contact.p50(), ceiling)),
        ],
    );

    // Non-hashing steps. Opening a link spends nothing and reviewing
    // writes nothing, so one link and one flow serve every iteration.
    eprintln!("open-link and review …");
    let wasm_link = wasm.mail_link("link@example.jp");
    let native_link = native.mail_link("link@example.jp");
    let [wasm_open, native_open] = measure(
        STEP_WARMUP,
        STEP_ITERS,
        STEP_BLOCK,
        [
            &mut |_| timed(|| wasm.open_link(&wasm_link).expect("open")),
            &mut |_| timed(|| native.service().open_link(&native_link).expect("open")),
        ],
    );
    table.row(
        "wasm open-link (valid link)",
        &wasm_open,
        vec![Limit::sample(
            "native same core",
            &native_open,
            ratio(wasm_open.p50(), native_open.p50()),
        )],
    );

    let wasm_flow = wasm_customer_entered(&wasm);
    wasm.submit_contact(&wasm_flow, KEYWORD, "review@example.jp")
        .expect("contact");
    let native_flow = native.customer_entered();
    native
        .service()
        .submit_contact(&native_flow, KEYWORD, "review@example.jp")
        .expect("contact");
    let [wasm_review, native_review] = measure(
        STEP_WARMUP,
        STEP_ITERS,
        STEP_BLOCK,
        [
            &mut |_| timed(|| wasm.review(&wasm_flow).expect("review")),
            &mut |_| timed(|| native.service().review_enrollment(&native_flow).expect("review")),
        ],
    );
    table.row(
        "wasm review (screen 4)",
        &wasm_review,
        vec![Limit::sample(
            "native same core",
            &native_review,
            ratio(wasm_review.p50(), native_review.p50()),
        )],
    );

    // Instance-per-call overhead: an unknown token costs the guest one
    // storage read, so nearly all of the wasm figure is the instance. The
    // bare instance, no export called, is what the host pays per request
    // before the guest runs at all.
    eprintln!("instance-per-call overhead …");
    let unknown = "AAAAAAAAAAAAAAAAAAAAAA";
    let [wasm_unknown, native_unknown, empty] = measure(
        STEP_WARMUP,
        STEP_ITERS,
        STEP_BLOCK,
        [
            &mut |_| timed(|| wasm.open_link(unknown).expect_err("unknown token")),
            &mut |_| {
                timed(|| {
                    native
                        .service()
                        .open_link(&Token::from_caller(unknown))
                        .expect_err("unknown token")
                })
            },
            &mut |_| timed(|| wasm.host.call(|_, _| Ok(())).expect("instantiate")),
        ],
    );
    table.row(
        "wasm open-link (unknown token)",
        &wasm_unknown,
        vec![Limit::sample(
            "native same core",
            &native_unknown,
            format!(
                "{} (+{} per call)",
                ratio(wasm_unknown.p50(), native_unknown.p50()),
                show(wasm_unknown.p50().saturating_sub(native_unknown.p50()))
            ),
        )],
    );
    table.row(
        "wasm instantiate only (no export called)",
        &empty,
        vec![Limit::value(
            "unknown-token call",
            wasm_unknown.p50(),
            format!(
                "{:.0}% of it",
                100.0 * secs(empty.p50()) / secs(wasm_unknown.p50())
            ),
        )],
    );

    // A whole enrollment, screens 1–10: three argon2id (keyword hash,
    // keyword check, password hash).
    eprintln!("full enrollment …");
    let [wasm_enroll, hosted_enroll, native_enroll] = measure(
        ENROLL_WARMUP,
        ENROLL_ITERS,
        1,
        [
            &mut |i| wasm_enrollment(&wasm, i),
            &mut |i| wasm_enrollment(&hosted, i),
            &mut |i| native.enrollment(i),
        ],
    );
    table.row(
        "wasm full enrollment (screens 1-10, 3 argon2id)",
        &wasm_enroll,
        vec![
            Limit::sample(
                "native same core",
                &native_enroll,
                ratio(wasm_enroll.p50(), native_enroll.p50()),
            ),
            Limit::value(
                "3 argon2id native",
                3 * ceiling,
                ratio(wasm_enroll.p50(), 3 * ceiling),
            ),
        ],
    );
    table.row(
        "full enrollment, the host hashing natively",
        &hosted_enroll,
        vec![
            Limit::sample(
                "native same core",
                &native_enroll,
                ratio(hosted_enroll.p50(), native_enroll.p50()),
            ),
            Limit::value(
                "3 argon2id native",
                3 * ceiling,
                ratio(hosted_enroll.p50(), 3 * ceiling),
            ),
        ],
    );

    // The whole start of the binary users run: process start, capabilities
    // (SQLite, the directory), the precompiled component mapped, the
    // server bound, and `GET /` answered.
    eprintln!("serve: process start to the first answer …");
    let data = tempfile::tempdir().expect("temp dir");
    let first = first_answer(data.path(), Client::WhenReady);
    let [start, polled] = measure(
        START_WARMUP,
        START_ITERS,
        1,
        [&mut |_| first_answer(data.path(), Client::WhenReady), &mut |_| {
            first_answer(data.path(), Client::Polling)
        }],
    );
    table.row(
        "serve: process start to first answer, warm data dir",
        &start,
        vec![
            Limit::value("the bar", START_LIMIT, ratio(start.p50(), START_LIMIT)),
            Limit::value("first start (compiles)", first, ratio(start.p50(), first)),
        ],
    );
    table.row(
        "  the same, the client polling every 200 µs",
        &polled,
        vec![Limit::sample(
            "connecting when ready",
            &start,
            ratio(polled.p50(), start.p50()),
        )],
    );

    table.print();
    println!(
        "\nn+w = timed iterations + untimed warm-up; p50/p99 by nearest rank; figures set side by side \
         were taken in alternation; {} CPUs; total run {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        show(began.elapsed())
    );
}

/// The cost of `PluginHost::new` from a cache already filled, and with no
/// cache at all (a full Cranelift compile).
fn loads(cache: &Path) -> (Sample, Sample) {
    let load = |cache_dir: Option<&Path>| {
        let options = HostOptions {
            cache_dir: cache_dir.map(Path::to_owned),
            ..HostOptions::default()
        };
        let caps = Capabilities::in_memory();
        let began = Instant::now();
        let host = PluginHost::new(EMBEDDED_COMPONENT, caps, options).expect("host");
        let took = began.elapsed();
        // Dropping joins the epoch thread (up to one tick): not load time.
        drop(host);
        took
    };
    load(Some(cache));
    let [warm] = measure(LOAD_WARM_WARMUP, LOAD_WARM_ITERS, 1, [&mut |_| load(Some(cache))]);
    let [cold] = measure(0, LOAD_COLD_ITERS, 1, [&mut |_| load(None)]);
    (warm, cold)
}

/// How the client of [`first_answer`] finds the server up.
#[derive(Clone, Copy)]
enum Client {
    /// Connects once `serve` prints its address, as a supervisor waiting
    /// for readiness would: the client sleeps in a read until then.
    WhenReady,
    /// Tries to connect every 200 µs until it can; on two cores its
    /// attempts take turns with the server's start.
    Polling,
}

/// `customer-web --data-dir DATA serve --dev` from process start until it
/// has answered `GET /` with 200; the process is stopped afterwards.
fn first_answer(data: &Path, client: Client) -> Duration {
    use std::io::{BufRead, Read, Write};
    let binary = customer_web_e2e::support::serve_process::binary();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let began = Instant::now();
    let mut child = std::process::Command::new(binary)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--dev", "--listen", &address])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("customer-web serve");
    // Kept open until the end, so the server's writes land as they would.
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("serve's stdout"));
    if let Client::WhenReady = client {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("serve's first line");
        assert!(
            line.starts_with("customer-web: http://"),
            "serve printed {line:?} before its address"
        );
    }
    let took = loop {
        assert!(began.elapsed() < Duration::from_secs(30), "serve never answered");
        let Ok(mut stream) = std::net::TcpStream::connect(&address) else {
            assert!(
                matches!(client, Client::Polling),
                "serve printed its address before it listened"
            );
            std::thread::sleep(Duration::from_micros(200));
            continue;
        };
        let mut head = [0u8; 12];
        let answered = stream
            .write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            .and_then(|()| stream.read_exact(&mut head))
            .is_ok();
        if answered && head.ends_with(b" 200") {
            break began.elapsed();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
    took
}

/// A flow through screens 1 and 2, ready for the contact step.
fn wasm_customer_entered(h: &Harness) -> String {
    let flow = h.start(Some(AGENT)).expect("start");
    h.submit_customer(&flow, &yamada(), &terms()).expect("customer");
    flow
}

/// Screens 1–10 through the component; reading the mail between screens 5
/// and 6 is the customer's time, not the system's, so it is not counted.
fn wasm_enrollment(h: &Harness, i: usize) -> Duration {
    let contact = format!("enroll-{i}@example.jp");
    let user_id = format!("user-{i}@example.jp");
    let terms = terms();
    let began = Instant::now();
    let flow = h.start(Some(AGENT)).expect("start");
    h.submit_customer(&flow, &yamada(), &terms).expect("customer");
    h.submit_contact(&flow, KEYWORD, &contact).expect("contact");
    black_box(h.review(&flow).expect("review"));
    black_box(h.confirm(&flow).expect("confirm"));
    let to_mail = began.elapsed();

    let newest = h.host.capabilities().outbox.list(1).expect("outbox");
    let token = link_token(&newest[0]);

    let began = Instant::now();
    black_box(h.open_link(&token).expect("open"));
    let verified = h.submit_keyword(&token, KEYWORD).expect("keyword");
    h.submit_credentials(&verified.ticket, &user_id, PASSWORD)
        .expect("credentials");
    black_box(h.review_credentials(&verified.ticket).expect("review"));
    black_box(h.complete(&verified.ticket).expect("complete"));
    let from_mail = began.elapsed();

    // A policyholder registers once; giving the reservation back lets the
    // same sample customer enroll again next iteration.
    let caps = h.host.capabilities();
    let store = &caps.store;
    let housekeeping = caps
        .housekeeping
        .as_ref()
        .expect("the host's stores all have housekeeping");
    for (key, _) in housekeeping.versions().expect("storage") {
        if key.starts_with("customer/") {
            store.delete(&key, Condition::Any).expect("storage");
        }
    }
    to_mail + from_mail
}

/// The same core the component runs, called natively over the in-memory
/// fakes, with a fresh `Service` per call as the component makes one.
struct Native {
    world: World,
}

impl Native {
    fn new() -> Self {
        Native { world: World::new() }
    }

    fn service(&self) -> Service<'_> {
        Service::new(self.world.ports())
    }

    fn terms(&self) -> String {
        self.world.config.0.terms_version.clone()
    }

    fn customer_entered(&self) -> Token {
        let flow = self.service().start_enrollment(Some(AGENT)).expect("start");
        self.service()
            .submit_customer(&flow, &yamada_native(), &self.terms())
            .expect("customer");
        flow
    }

    /// Screens 1–5; the token of the mailed link.
    fn mail_link(&self, contact: &str) -> Token {
        let flow = self.customer_entered();
        self.service()
            .submit_contact(&flow, KEYWORD, contact)
            .expect("contact");
        self.service().confirm_enrollment(&flow).expect("confirm");
        self.newest_link()
    }

    fn newest_link(&self) -> Token {
        let sent = self.world.mailer.sent();
        let mail = sent.last().expect("a mail was sent");
        let token = mail
            .text
            .lines()
            .find_map(|l| l.trim().split("/link/").nth(1))
            .expect("a link in the mail");
        Token::from_caller(token)
    }

    /// Screens 1–10, timed as [`wasm_enrollment`] is.
    fn enrollment(&self, i: usize) -> Duration {
        let contact = format!("enroll-{i}@example.jp");
        let user_id = format!("user-{i}@example.jp");
        let (input, terms) = (yamada_native(), self.terms());
        let began = Instant::now();
        let flow = self.service().start_enrollment(Some(AGENT)).expect("start");
        self.service()
            .submit_customer(&flow, &input, &terms)
            .expect("customer");
        self.service()
            .submit_contact(&flow, KEYWORD, &contact)
            .expect("contact");
        black_box(self.service().review_enrollment(&flow).expect("review"));
        black_box(self.service().confirm_enrollment(&flow).expect("confirm"));
        let to_mail = began.elapsed();

        let token = self.newest_link();

        let began = Instant::now();
        black_box(self.service().open_link(&token).expect("open"));
        let verified = self.service().submit_keyword(&token, KEYWORD).expect("keyword");
        self.service()
            .submit_credentials(&verified.ticket, &user_id, PASSWORD)
            .expect("credentials");
        black_box(
            self.service()
                .review_credentials(&verified.ticket)
                .expect("review"),
        );
        black_box(
            self.service()
                .complete_credentials(&verified.ticket)
                .expect("complete"),
        );
        let from_mail = began.elapsed();

        for (key, _) in self.world.store.snapshot() {
            if key.starts_with("customer/") {
                self.world
                    .store
                    .delete(&key, NativeCondition::Any)
                    .expect("storage");
            }
        }
        to_mail + from_mail
    }
}

/// [`yamada`] as the core's own type.
fn yamada_native() -> NativeCustomer {
    let c = yamada();
    NativeCustomer {
        family_name: c.family_name,
        given_name: c.given_name,
        family_name_kana: c.family_name_kana,
        given_name_kana: c.given_name_kana,
        birth_date: c.birth_date,
        phone: c.phone,
        postal_code: c.postal_code,
        policy_number: c.policy_number,
    }
}

/// argon2id alone in WebAssembly: the workspace's wasm build of argon2
/// (SIMD, the patched block function) as a wasm32-wasip2 command
/// (`tests/argon2-vectors`, argument `hash`), on the host's own engine (its
/// pooling allocator with resident memory slots), a fresh instance per
/// hash as the component gets.
struct WasmArgon2(Argon2Command);

impl WasmArgon2 {
    fn new(engine: wasmtime::Engine) -> Self {
        let this = WasmArgon2(Argon2Command::new(engine));
        assert_eq!(
            this.hash(),
            customer_web_argon2_vectors::one_hash(),
            "wasm and native argon2id agree"
        );
        this
    }

    fn hash(&self) -> String {
        self.0.run(&["hash"]).trim().to_owned()
    }
}
