//! The storage contract on the real Spin: customer-web-core's checks, the
//! very ones the host's memory, SQLite and PostgreSQL stores pass, run
//! inside a component composed with the Spin adapter as spin.toml
//! composes the customer-web component (`spin/conformance`), served by
//! `spin up`. Racing instances then increment one counter through the
//! adapter's compare-and-swap, and customer-web-sql's outbox checks run
//! on the adapter's executor over the app's SQLite database.
//!
//! Needs the Spin CLI, as tests/spin_up.rs does.

use customer_web_e2e::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use customer_web_core::conformance::store_checks;
use customer_web_core::memory::MemoryStore;
use customer_web_sql::postgres::PgConnection;
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Connection as _, Value};
use support::browser::Page;
use support::spin_app::{self, SpinApp};

/// A manifest with one component, the checks, whose
/// `"customer-web:plugin"` dependency is the adapter, with the
/// configuration spin.toml gives the customer-web component (its SQLite
/// database, and PostgreSQL's two variables).
fn manifest(dir: &Path) -> PathBuf {
    let text = format!(
        r#"spin_manifest_version = 2

[application]
name = "customer-web-conformance"

[[trigger.http]]
route = "/..."
component = "conformance"

[variables]
database_url = {{ default = "", secret = true }}
database_origin = {{ default = "postgres://127.0.0.1:5432" }}

[component.conformance]
source = "{checks}"
sqlite_databases = ["default"]
allowed_outbound_hosts = ["{{{{ database_origin }}}}"]
dependencies_inherit_configuration = true

[component.conformance.variables]
database_url = "{{{{ database_url }}}}"

[component.conformance.dependencies]
"customer-web:plugin" = {{ path = "{adapter}" }}
"#,
        checks = customer_web_artifacts::SPIN_CONFORMANCE_PATH,
        adapter = customer_web_artifacts::SPIN_ADAPTER_PATH,
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, text).expect("write the manifest");
    path
}

fn call(app: &SpinApp, method: &str, target: &str) -> Page {
    app.browser().request(method, target, &[], None)
}

/// How many checks the port has (the same list the component runs).
fn checks_of_the_port() -> usize {
    store_checks::<MemoryStore>().len()
}

/// How many checks the outbox has.
fn outbox_checks() -> usize {
    customer_web_sql::conformance::outbox_checks::<customer_web_host::mail::MemoryOutbox>().len()
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
        (200, format!("ok {}", checks_of_the_port()).as_str()),
        "{}",
        app.log()
    );
    // A second run on the same database, under another namespace: the
    // versions it sees are well past the first run's, and nothing leaks.
    let second = call(&app, "GET", "/checks?ns=second/");
    assert_eq!(
        (second.status, second.body),
        (200, format!("ok {}", checks_of_the_port()))
    );
    let rows: i64 = rusqlite::Connection::open(app.database())
        .expect("the app's database")
        .query_row("SELECT count(*) FROM cw_kv WHERE key LIKE 'first/%'", [], |row| {
            row.get(0)
        })
        .expect("cw_kv");
    assert!(rows > 0, "the checks wrote through the adapter into cw_kv");
    // Dropped, the app is gone whole: `spin up` and the server it runs
    // in a child process (which would otherwise keep the port and its
    // database connections).
    let address = app.address;
    drop(app);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(500)).is_err(),
        "nothing answers on {address} after the app was dropped"
    );
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
    let dir = tempfile::tempdir().expect("a manifest dir");
    let Some(app) = SpinApp::start_manifest(&manifest(dir.path()), &[]) else {
        return;
    };
    race(Arc::new(app));
}

/// 8 requests, each a Spin instance with its own connection, add 25 each
/// to one counter by compare-and-swap through the adapter: none is lost.
fn race(app: Arc<SpinApp>) {
    const RACERS: usize = 8;
    const TIMES: u64 = 25;
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

/// The same checks with the adapter on PostgreSQL (`database_url`): the
/// store through the adapter, racing instances, and the outbox on the
/// adapter's PostgreSQL executor, all in a schema of the test's own.
#[test]
fn the_spin_adapter_keeps_the_contract_on_postgres() {
    let Some(db) = TestDatabase::create("Spin conformance on PostgreSQL") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a manifest dir");
    let variables = spin_app::on_postgres(&db.url);
    let refs: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(app) = SpinApp::start_manifest(&manifest(dir.path()), &refs) else {
        return;
    };
    let checks = call(&app, "GET", "/checks?ns=pg/");
    assert_eq!(
        (checks.status, checks.body.as_str()),
        (200, format!("ok {}", checks_of_the_port()).as_str()),
        "{}",
        app.log()
    );
    let outbox = call(&app, "GET", "/outbox-checks");
    assert_eq!(
        (outbox.status, outbox.body.as_str()),
        (200, format!("ok {}", outbox_checks()).as_str()),
        "{}",
        app.log()
    );
    let app = Arc::new(app);
    race(Arc::clone(&app));
    // All of it in PostgreSQL, none in the app's SQLite file.
    let mut pg = PgConnection::open(&db.url).expect("the test's connection");
    let keys = pg
        .query(
            "SELECT count(*) FROM cw_kv WHERE key >= 'pg/'::bytea AND key < 'pg0'::bytea",
            &[],
        )
        .expect("cw_kv");
    assert!(matches!(keys[0].0[0], Value::Int(n) if n > 0), "{keys:?}");
    let sqlite = rusqlite::Connection::open(app.database()).expect("the app's SQLite file");
    let tables: i64 = sqlite
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'cw_kv'",
            [],
            |row| row.get(0),
        )
        .expect("sqlite_master");
    assert_eq!(tables, 0, "the store is not in the SQLite file");
}
