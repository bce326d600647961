//! customer-web on the real Spin beside the wasmtime host, in one run:
//! the same component bytes served by `spin up` (the Spin adapter on
//! Spin's SQLite) and by `serve`'s server (the host's SQLite), each on a
//! loopback port, loaded the same way.
//!
//! - `GET /` and `GET /link/{token}` under wrk (16 keep-alive connections,
//!   then 1 connection alone), each target in turn after a warm-up;
//! - a full enrollment through the JSON API (start → customer → keyword +
//!   contact → confirm → the mailed link's keyword → user ID + password →
//!   complete: three argon2id hashes), one client at a time, the two
//!   servers taking turns, each enrollment for a policyholder of its own.
//!
//! Every Spin figure is printed beside the wasmtime host's and their ratio.
//!
//! ```text
//! PATH="$PWD/../shared/tools:$PATH" cargo bench -p customer-web-e2e --bench spin
//! ```
//!
//! Needs wrk (installed with apt-get when missing and run as root) and the
//! Spin CLI (`SPIN_BIN`, or `spin` on `PATH`); without Spin it says so and
//! exits non-zero.

use customer_web_e2e::common;
mod measure;
use customer_web_e2e::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::spin::SpinDb;
use customer_web_host::directory::FileDirectory;
use customer_web_host::{Capabilities, HostOptions};
use measure::wrk::{ALONE, LOAD, Load, WARMUP, run_wrk, wrk_or_exit};
use measure::{Sample, measure, secs, show};
use support::browser::{Browser, Server};
use support::spin_app::SpinApp;
use support::walks::{self, api_customer, token_in};

/// Full enrollments per server: warm-up, then timed.
const ENROLL_WARMUP: usize = 2;
const ENROLL_ITERS: usize = 12;

/// One served target: how to make a browser, and how to read the last
/// mail to an address.
struct Target<'a> {
    name: &'static str,
    browser: Box<dyn Fn() -> Browser + 'a>,
    mail_to: Box<dyn Fn(&str) -> String + 'a>,
}

fn main() {
    let began = Instant::now();
    let wrk_version = wrk_or_exit();
    let people = FileDirectory::from_json(
        &measure::synthetic_directory(2 * (ENROLL_WARMUP + ENROLL_ITERS) + 2).to_string(),
    )
    .expect("a directory");

    // Spin, with the synthetic directory loaded by directory-sql.
    let scripts = tempfile::tempdir().expect("temp dir");
    let script = scripts.path().join("directory.sql");
    std::fs::write(&script, customer_web_host::directory_sql::directory_sql(&people)).expect("directory.sql");
    eprintln!("spin build && spin up …");
    let Some(spin) = SpinApp::start(&[], &[&format!("@{}", script.display())]) else {
        std::process::exit(2);
    };
    let spin_db = SpinDb::new(spin.database());

    // The wasmtime host, on SQLite in a temp dir as `customer-web serve`.
    let data = tempfile::tempdir().expect("temp dir");
    let caps = Capabilities::sqlite(data.path(), Arc::new(people.clone())).expect("capabilities");
    let options = HostOptions {
        cache_dir: Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        ..HostOptions::default()
    };
    let serve = Server::start(caps, options);
    let outbox = serve.host.capabilities().outbox.clone();

    let targets = [
        Target {
            name: "spin up",
            browser: Box::new(|| spin.browser()),
            mail_to: Box::new(|to: &str| {
                let mails = spin_db.mails();
                let mail = mails.iter().rev().find(|m| m.message.to == to).expect("a mail");
                token_in(&mail.message.text)
            }),
        },
        Target {
            name: "customer-web serve",
            browser: Box::new(|| serve.browser()),
            mail_to: Box::new(|to: &str| {
                let mails = outbox.list(10_000).expect("outbox");
                let mail = mails.iter().find(|m| m.message.to == to).expect("a mail");
                token_in(&mail.message.text)
            }),
        },
    ];

    // A live link on each, for GET /link/{token}.
    let mut next_person = 0;
    let mut links = Vec::new();
    for target in &targets {
        let email = format!("link{next_person}@example.jp");
        let (status, body) = walks::api_enroll_until_mail(
            &mut (target.browser)(),
            &api_customer(&people.policyholders()[next_person]),
            &email,
        );
        assert_eq!(status, 200, "{}: {body}", target.name);
        next_person += 1;
        links.push(format!("/link/{}", (target.mail_to)(&email)));
    }

    // wrk, one target after the other.
    let mut loads: Vec<(String, [(Load, Load); 2])> = Vec::new();
    for (what, paths) in [
        ("GET / top page", ["/".to_owned(), "/".to_owned()]),
        ("GET /link/{token}", [links[0].clone(), links[1].clone()]),
    ] {
        let mut pair = Vec::new();
        for (target, path) in targets.iter().zip(&paths) {
            let b = (target.browser)();
            let url = format!("http://{}{path}", b.address);
            eprintln!("wrk {what} on {} …", target.name);
            run_wrk(&url, WARMUP);
            pair.push((run_wrk(&url, LOAD), run_wrk(&url, ALONE)));
        }
        let [spin_load, serve_load]: [(Load, Load); 2] = pair.try_into().ok().expect("two targets");
        loads.push((what.to_owned(), [spin_load, serve_load]));
    }

    // Full enrollments, the two servers taking turns.
    eprintln!("full enrollments through the JSON API …");
    let counter = std::cell::Cell::new(next_person);
    let enroll = |target: &Target| -> Duration {
        let i = counter.get();
        counter.set(i + 1);
        let holder = &people.policyholders()[i];
        let email = format!("full{i}@example.jp");
        let mut b = (target.browser)();
        let began = Instant::now();
        let (status, body) = walks::api_enroll_until_mail(&mut b, &api_customer(holder), &email);
        assert_eq!(status, 200, "{}: {body}", target.name);
        let token = (target.mail_to)(&email);
        walks::api_finish_enrollment(&mut b, &token, &email, target.name);
        began.elapsed()
    };
    let [spin_enroll, serve_enroll] = measure(
        ENROLL_WARMUP,
        ENROLL_ITERS,
        1,
        [&mut |_| enroll(&targets[0]), &mut |_| enroll(&targets[1])],
    );

    println!(
        "customer-web on Spin ({}) beside the wasmtime host (customer-web serve), the same component, one run",
        spin_version()
    );
    println!(
        "HTTP: {wrk_version} from a second process, per target in turn: a {}s warm-up, {}s with {} threads and \
         {} connections (keep-alive), then {}s with 1 connection",
        WARMUP.duration.as_secs(),
        LOAD.duration.as_secs(),
        LOAD.threads,
        LOAD.connections,
        ALONE.duration.as_secs()
    );
    println!(
        "{:<34} {:<18} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | Spin / serve",
        "", "", "Spin req/s", "p50", "p99", "serve req/s", "p50", "p99"
    );
    for (what, [(spin_load, spin_alone), (serve_load, serve_alone)]) in &loads {
        for (shape, s, w) in [
            ("16 connections", spin_load, serve_load),
            ("1 connection", spin_alone, serve_alone),
        ] {
            let mut note = format!(
                "req/s {:.2}x, p50 {:.2}x, p99 {:.2}x",
                s.per_second / w.per_second,
                secs(s.p50) / secs(w.p50),
                secs(s.p99) / secs(w.p99)
            );
            for (who, load) in [("Spin", s), ("serve", w)] {
                if load.non_2xx > 0 {
                    note.push_str(&format!("; {who}: {} not 2xx/3xx", load.non_2xx));
                }
                if let Some(errors) = &load.socket_errors {
                    note.push_str(&format!("; {who} socket errors: {errors}"));
                }
            }
            println!(
                "{what:<34} {shape:<18} {:>9.0} {:>9} {:>9} | {:>9.0} {:>9} {:>9} | {note}",
                s.per_second,
                show(s.p50),
                show(s.p99),
                w.per_second,
                show(w.p50),
                show(w.p99),
            );
        }
    }
    print_enrollment(&spin_enroll, &serve_enroll);
    println!(
        "p50/p99 by nearest rank; {} CPUs; total run {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        show(began.elapsed())
    );
}

fn print_enrollment(spin: &Sample, serve: &Sample) {
    println!(
        "{:<34} {:<18} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | Spin / serve",
        "full enrollment, JSON API", "1 client", "n", "p50", "p99", "n", "p50", "p99"
    );
    println!(
        "{:<34} {:<18} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | p50 {:.2}x, p99 {:.2}x",
        "(3 argon2id, 7 requests)",
        "",
        spin.times.len(),
        show(spin.p50()),
        show(spin.p99()),
        serve.times.len(),
        show(serve.p50()),
        show(serve.p99()),
        secs(spin.p50()) / secs(serve.p50()),
        secs(spin.p99()) / secs(serve.p99()),
    );
}

fn spin_version() -> String {
    support::spin_app::spin_cli()
        .and_then(|spin| std::process::Command::new(spin).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "spin".into())
}
