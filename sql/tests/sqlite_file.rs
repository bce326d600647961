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
