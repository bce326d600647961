//! Full enrollments per second on one PostgreSQL database: one
//! `customer-web serve`, then two side by side, beside the argon2id
//! ceiling of this machine.
//!
//! Each enrollment goes through the JSON API from a client address of its
//! own (so no per-client limit is what is measured): start, customer,
//! contact (argon2id of the keyword), confirm (the directory, the mail),
//! the mailed link's keyword (argon2id), user ID and password (argon2id),
//! complete. The ceiling is what the cores could do if they did nothing
//! but those three hashes: cores ÷ (3 × one argon2id).
//!
//! `cargo bench -p customer-web-e2e --bench hosts` with
//! `CUSTOMER_WEB_TEST_POSTGRES=postgres://…` (`eval "$(bash .ci/postgres
//! start)"` starts a server).

mod measure;
use customer_web_e2e::support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use customer_web_sql::postgres::PgPool;
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Database, outbox};
use measure::{Sample, secs, show};
use serde_json::json;
use support::browser::Browser;
use support::serve_process::ServeProcess;
use support::walks;

/// Enrollments per configuration, and how many clients make them at once.
const ENROLLMENTS: usize = 48;
const CLIENTS: usize = 8;

/// One full enrollment of policyholder `i` at `host`; its duration.
fn enroll(host: std::net::SocketAddr, db: &PgPool, holder: &serde_json::Value, i: usize) -> Duration {
    let source = IpAddr::V4(Ipv4Addr::new(127, 2, (i / 250) as u8, (i % 250 + 1) as u8));
    let mut b = Browser::from_source(host, source);
    let email = format!("bench{i}@example.jp");
    let customer = json!({
        "family_name": holder["family_name"],
        "given_name": holder["given_name"],
        "family_name_kana": holder["family_name_kana"],
        "given_name_kana": holder["given_name_kana"],
        "birth_date": holder["birth_date"],
        "phone": holder["phone"],
        "postal_code": holder["postal_code"],
        "policy_number": holder["contracts"][0]["policy_number"],
    });
    let began = Instant::now();
    let (status, body) = walks::api_enroll_until_mail(&mut b, &customer, &email);
    assert_eq!(status, 200, "{body}");
    let mails = db.with(|c| outbox::list(c, 10_000)).expect("the outbox");
    let mail = mails.iter().find(|m| m.message.to == email).expect("a mail");
    let token = walks::token_in(&mail.message.text);
    walks::api_finish_enrollment(&mut b, &token, &email, "enrollment");
    began.elapsed()
}

/// `hosts` serve processes on a fresh database: (enrollments per second,
/// each enrollment's duration).
fn run(
    hosts: usize,
    directory: &std::path::Path,
    people: &[serde_json::Value],
    first: usize,
) -> (f64, Sample) {
    let db = TestDatabase::create("hosts bench").expect("PostgreSQL");
    let args = ["--dev", "--directory", directory.to_str().expect("UTF-8 path")];
    let servers: Vec<ServeProcess> = (0..hosts).map(|_| ServeProcess::start(&db.url, &args)).collect();
    let inspect = PgPool::connect(&db.url, CLIENTS).expect("the bench's connections");
    // A warm-up enrollment on each host (its component compiled, its pool
    // filled).
    for (k, server) in servers.iter().enumerate() {
        enroll(server.address, &inspect, &people[first + k], first + k);
    }
    let next = AtomicUsize::new(0);
    let began = Instant::now();
    let mut times: Vec<Duration> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        if n >= ENROLLMENTS {
                            break mine;
                        }
                        let i = first + hosts + n;
                        let host = servers[n % hosts].address;
                        mine.push(enroll(host, &inspect, &people[i], i));
                    }
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client"))
            .collect()
    });
    let elapsed = began.elapsed();
    times.sort_unstable();
    (
        ENROLLMENTS as f64 / secs(elapsed),
        Sample { warmup: hosts, times },
    )
}

fn main() {
    if std::env::var(customer_web_sql::postgres::testing::SERVER_VAR).is_err() {
        eprintln!(
            "the hosts benchmark needs PostgreSQL: {}=postgres://… (eval \"$(bash .ci/postgres start)\")",
            customer_web_sql::postgres::testing::SERVER_VAR
        );
        std::process::exit(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_run = ENROLLMENTS + 2;
    let directory_json = measure::synthetic_directory(2 * per_run);
    let people = directory_json["policyholders"]
        .as_array()
        .expect("policyholders")
        .clone();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let directory = dir.path().join("directory.json");
    std::fs::write(&directory, directory_json.to_string()).expect("directory.json");

    // One argon2id with the component's parameters, natively (the
    // component's own, in wasm, is slower): the unit of the ceiling.
    let world = customer_web_core::testing::World::new();
    let mut hashes: Vec<Duration> = (0..7)
        .map(|_| {
            measure::timed(|| {
                customer_web_core::secret::Memorised::new("correct horse battery")
                    .hash(world.ports().rng, &customer_web_core::ports::OwnHashing)
                    .expect("a hash")
            })
        })
        .collect();
    hashes.sort_unstable();
    let argon2id = hashes[hashes.len() / 2];
    let ceiling = cores as f64 / (3.0 * secs(argon2id));

    eprintln!("one host …");
    let (one, one_times) = run(1, &directory, &people, 0);
    eprintln!("two hosts …");
    let (two, two_times) = run(2, &directory, &people, per_run);

    println!(
        "Full enrollments (3 argon2id each) through the JSON API, {CLIENTS} clients, {ENROLLMENTS} enrollments, \
         on one PostgreSQL; {cores} cores"
    );
    println!(
        "{:<28} {:>14} {:>10} {:>10}  against",
        "", "enrollments/s", "p50", "p99"
    );
    println!(
        "{:<28} {:>14.2} {:>10} {:>10}  {:.0}% of the ceiling",
        "one host",
        one,
        show(one_times.p50()),
        show(one_times.p99()),
        100.0 * one / ceiling
    );
    println!(
        "{:<28} {:>14.2} {:>10} {:>10}  {:.0}% of the ceiling, {:.2}× one host",
        "two hosts, one database",
        two,
        show(two_times.p50()),
        show(two_times.p99()),
        100.0 * two / ceiling,
        two / one
    );
    println!(
        "{:<28} {:>14.2} {:>10} {:>10}  cores ÷ (3 × one argon2id of {})",
        "argon2id ceiling",
        ceiling,
        "",
        "",
        show(argon2id)
    );
}
