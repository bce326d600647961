//! The storage contract on the real Spin: customer-web-core's checks, the
//! very ones the host's memory, SQLite and PostgreSQL stores pass, run
//! inside a component composed with the Spin adapter as spin.toml
//! composes the customer-web component (`spin/conformance`), served by
//! `spin up`. Racing instances then increment one counter through the
//! adapter's compare-and-swap, and customer-web-sql's outbox checks run
//! on the adapter's executor over the app's SQLite database.
//!
//! Needs the Spin CLI, as tests/spin_up.rs does.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use customer_web_core::conformance::store_checks;
use customer_web_core::memory::MemoryStore;
use support::browser::Page;
use support::spin_app::SpinApp;

/// A manifest with one component, the checks, whose
/// `"customer-web:plugin"` dependency is the adapter, with the
/// configuration spin.toml gives the customer-web component.
fn manifest(dir: &Path) -> PathBuf {
    let text = format!(
        r#"spin_manifest_version = 2

[application]
name = "customer-web-conformance"

[[trigger.http]]
route = "/..."
component = "conformance"

[component.conformance]
source = "{checks}"
sqlite_databases = ["default"]
dependencies_inherit_configuration = true

[component.conformance.dependencies]
"customer-web:plugin" = {{ path = "{adapter}" }}
"#,
        checks = env!("SPIN_CONFORMANCE_WASM"),
        adapter = env!("SPIN_ADAPTER_WASM"),
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).expect("write the manifest");
    path
}

fn call(app: &SpinApp, method: &str, target: &str) -> Page {
    app.browser().request(method, target, &[], None)
}

/// How many checks the port has (the same list the component runs).
fn checks() -> usize {
    store_checks::<MemoryStore>().len()
}

#[test]
fn the_spin_adapter_keeps_the_store_contract_under_spin_up() {
    let dir = tempfile::tempdir().expect("a manifest dir");
    let Some(app) = SpinApp::start_manifest(&manifest(dir.path()), &[]) else {
        return;
    };
    let first = call(&app, "GET", "/checks?ns=first/");
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, format!("ok {}", checks()).as_str()),
        "{}",
        app.log()
    );
    // A second run on the same database, under another namespace: the
    // versions it sees are well past the first run's, and nothing leaks.
    let second = call(&app, "GET", "/checks?ns=second/");
    assert_eq!((second.status, second.body), (200, format!("ok {}", checks())));
    let rows: i64 = rusqlite::Connection::open(app.database())
        .expect("the app's database")
        .query_row("SELECT count(*) FROM cw_kv WHERE key LIKE 'first/%'", [], |row| {
            row.get(0)
        })
        .expect("cw_kv");
    assert!(rows > 0, "the checks wrote through the adapter into cw_kv");
}

#[test]
fn the_outbox_on_spins_sqlite_keeps_the_outbox_contract() {
    let dir = tempfile::tempdir().expect("a manifest dir");
    let Some(app) = SpinApp::start_manifest(&manifest(dir.path()), &[]) else {
        return;
    };
    let report = call(&app, "GET", "/outbox-checks");
    let expected =
        customer_web_sql::conformance::outbox_checks::<customer_web_host::mail::MemoryOutbox>().len();
    assert_eq!(
        (report.status, report.body.as_str()),
        (200, format!("ok {expected}").as_str()),
        "{}",
        app.log()
    );
}

#[test]
fn racing_spin_instances_lose_no_increment() {
    const RACERS: usize = 8;
    const TIMES: u64 = 25;
    let dir = tempfile::tempdir().expect("a manifest dir");
    let Some(app) = SpinApp::start_manifest(&manifest(dir.path()), &[]) else {
        return;
    };
    let app = Arc::new(app);
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let app = Arc::clone(&app);
            std::thread::spawn(move || call(&app, "POST", &format!("/increment?key=race&times={TIMES}")))
        })
        .collect();
    let mut conflicts = 0;
    for racer in racers {
        let page = racer.join().expect("a racer");
        assert_eq!(page.status, 200, "{}", page.body);
        conflicts += page
            .body
            .strip_prefix("conflicts ")
            .and_then(|n| n.parse::<u64>().ok())
            .expect("a conflict count");
    }
    let counter = call(&app, "GET", "/counter?key=race");
    assert_eq!(
        (counter.status, counter.body),
        (200, (RACERS as u64 * TIMES).to_string()),
        "every increment landed ({conflicts} conflicts were retried)"
    );
}
