//! A SQLite file opened for the contract: its directory made, WAL, a busy
//! timeout, `synchronous=NORMAL`, foreign keys.

use customer_web_sql::sqlite::SqliteFile;
use customer_web_sql::{Connection, Database};

#[test]
fn open_creates_the_directory_and_sets_the_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/host.db");
    let file = SqliteFile::open(&path).unwrap();
    assert!(path.exists());
    let pragma = |name: &str| {
        file.with(|c: &mut dyn Connection| c.query(&format!("PRAGMA {name}"), &[]))
            .unwrap()[0]
            .0[0]
            .clone()
    };
    assert_eq!(
        pragma("journal_mode"),
        customer_web_sql::Value::Text("wal".into())
    );
    assert_eq!(
        pragma("synchronous"),
        customer_web_sql::Value::Int(1),
        "NORMAL is 1"
    );
    assert_eq!(pragma("foreign_keys"), customer_web_sql::Value::Int(1));
    assert_eq!(pragma("busy_timeout"), customer_web_sql::Value::Int(5000));
}

#[test]
fn an_unwritable_place_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let error = SqliteFile::open(&blocker.join("host.db")).unwrap_err();
    assert!(error.0.contains("a-file"), "{error}");
}

/// The schemas recorded in the file at `path`, read through a connection
/// of its own.
fn recorded_schemas(path: &std::path::Path) -> Vec<String> {
    let other = SqliteFile::open(path).unwrap();
    let recorded = other.with(customer_web_sql::recorded_versions).unwrap();
    recorded.into_iter().map(|(name, _)| name).collect()
}

#[test]
fn a_deferred_file_connects_and_migrates_at_its_first_statement() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/host.db");
    let file = SqliteFile::deferred(&path);
    file.migrate(&customer_web_sql::outbox::SCHEMA).unwrap();
    assert!(!file.is_connected());
    assert!(!path.exists(), "nothing is created before a statement runs");
    // A read that must not wait is not run on a file not yet connected.
    assert!(
        file.with_now(|c: &mut dyn Connection| c.query("SELECT 1", &[]))
            .is_none()
    );

    let rows = file
        .with(|c: &mut dyn Connection| c.query("PRAGMA journal_mode", &[]))
        .unwrap();
    assert_eq!(rows[0].0[0], customer_web_sql::Value::Text("wal".into()));
    assert!(file.is_connected());
    assert_eq!(
        recorded_schemas(&path),
        ["mail"],
        "the pending schema ran as it connected"
    );
    // Connected: a later migration runs at once, and reads that need not
    // wait run here.
    file.migrate(&customer_web_sql::audit::SCHEMA).unwrap();
    assert_eq!(recorded_schemas(&path), ["audit", "mail"]);
    assert!(
        file.with_now(|c: &mut dyn Connection| c.query("SELECT 1", &[]))
            .is_some()
    );
}

#[test]
fn a_deferred_file_that_cannot_connect_fails_its_statement_and_tries_again_at_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("host.db");
    let file = SqliteFile::deferred(&path);
    file.migrate(&customer_web_sql::kv::SCHEMA).unwrap();
    let error = file
        .with(|c: &mut dyn Connection| c.query("SELECT 1", &[]))
        .unwrap_err();
    assert!(error.0.contains("a-file"), "{error}");
    assert!(!file.is_connected());

    std::fs::remove_file(&blocker).unwrap();
    file.with(|c: &mut dyn Connection| c.query("SELECT 1", &[]))
        .unwrap();
    assert_eq!(
        recorded_schemas(&path),
        ["storage"],
        "the migration asked for before the failure still ran"
    );
}

#[test]
fn threads_racing_to_a_deferred_file_share_one_connection_and_one_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.db");
    let file = std::sync::Arc::new(SqliteFile::deferred(&path));
    file.migrate(&customer_web_sql::kv::SCHEMA).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let file = file.clone();
            std::thread::spawn(move || {
                // The connection's own temp table: visible only on the
                // connection that made it.
                file.with(|c: &mut dyn Connection| {
                    c.batch("CREATE TEMP TABLE IF NOT EXISTS mine (n INTEGER)")?;
                    c.execute("INSERT INTO mine (n) VALUES (1)", &[])
                })
                .unwrap()
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 1);
    }
    let rows = file
        .with(|c: &mut dyn Connection| c.query("SELECT count(*) FROM mine", &[]))
        .unwrap();
    assert_eq!(
        rows[0].0[0],
        customer_web_sql::Value::Int(8),
        "every thread wrote through the same connection"
    );
    assert_eq!(recorded_schemas(&path), ["storage"]);
}
