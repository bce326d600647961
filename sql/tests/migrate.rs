//! Migrations, the same checks on SQLite and on PostgreSQL: parts coexist
//! and each step runs once; a new step keeps the data; a database from a
//! newer release is refused; a failing step leaves nothing behind; hosts
//! starting at once on a fresh database migrate it once.

use customer_web_sql::postgres::PgPool;
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Connection, Database, Schema, SqlError, migrate};

const FIRST: Schema = Schema {
    name: "first",
    sqlite: &["CREATE TABLE a (x INTEGER NOT NULL);"],
    postgres: &["CREATE TABLE a (x BIGINT NOT NULL);"],
};
const FIRST_V2: Schema = Schema {
    name: "first",
    sqlite: &[
        "CREATE TABLE a (x INTEGER NOT NULL);",
        "ALTER TABLE a ADD COLUMN y TEXT;",
    ],
    postgres: &[
        "CREATE TABLE a (x BIGINT NOT NULL);",
        "ALTER TABLE a ADD COLUMN y TEXT;",
    ],
};
const SECOND: Schema = Schema {
    name: "second",
    sqlite: &["CREATE TABLE b (x INTEGER NOT NULL);"],
    postgres: &["CREATE TABLE b (x BIGINT NOT NULL);"],
};
const BROKEN: Schema = Schema {
    name: "broken",
    sqlite: &["CREATE TABLE c (x INTEGER);", "THIS IS NOT SQL;"],
    postgres: &["CREATE TABLE c (x BIGINT);", "THIS IS NOT SQL;"],
};

fn version_of(c: &mut dyn Connection, name: &str) -> u64 {
    let sql = match c.dialect() {
        customer_web_sql::Dialect::Sqlite => "SELECT version FROM schema_versions WHERE name = ?1",
        customer_web_sql::Dialect::Postgres => "SELECT version::bigint FROM schema_versions WHERE name = $1",
    };
    c.query(sql, &[customer_web_sql::Value::Text(name.into())])
        .unwrap()[0]
        .uint(0, "version")
        .unwrap()
}

fn table_exists(c: &mut dyn Connection, table: &str) -> bool {
    let sql = match c.dialect() {
        customer_web_sql::Dialect::Sqlite => format!("SELECT 1 FROM sqlite_master WHERE name = '{table}'"),
        customer_web_sql::Dialect::Postgres => {
            format!("SELECT 1 FROM pg_tables WHERE tablename = '{table}' AND schemaname = current_schema()")
        }
    };
    !c.query(&sql, &[]).unwrap().is_empty()
}

/// The checks, on connections from `open` (each a new connection to the
/// same database, as a restarted host would have).
fn run(open: &dyn Fn() -> Box<dyn Connection>) {
    let mut c = open();
    migrate(&mut *c, &FIRST).unwrap();
    c.batch("INSERT INTO a (x) VALUES (1)").unwrap();
    drop(c);
    let mut c = open();
    migrate(&mut *c, &SECOND).unwrap();
    assert_eq!(version_of(&mut *c, "first"), 1);
    assert_eq!(version_of(&mut *c, "second"), 1);
    // Step 1 does not run again (it would fail: the table exists).
    migrate(&mut *c, &FIRST).unwrap();
    // A new step runs once and keeps the data.
    migrate(&mut *c, &FIRST_V2).unwrap();
    migrate(&mut *c, &FIRST_V2).unwrap();
    assert_eq!(version_of(&mut *c, "first"), 2);
    let rows = c.query("SELECT x, y FROM a", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].uint(0, "x").unwrap(), 1);
    assert_eq!(rows[0].0[1], customer_web_sql::Value::Null);
    // A database a newer release migrated further (version 2) is refused
    // by one that knows a single step.
    let SqlError(text) = migrate(&mut *c, &FIRST).unwrap_err();
    assert!(text.contains("newer release"), "{text}");
    // A failing step rolls back the steps before it.
    let error = migrate(&mut *c, &BROKEN).unwrap_err();
    assert!(error.0.contains("broken schema version 2"), "{error}");
    assert!(!table_exists(&mut *c, "c"), "step 1 must roll back with step 2");
    // The connection is usable afterwards.
    migrate(&mut *c, &SECOND).unwrap();
}

#[test]
fn migrations_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    run(&|| Box::new(rusqlite::Connection::open(&path).unwrap()) as Box<dyn Connection>);
}

#[test]
fn migrations_on_postgres() {
    let Some(db) = TestDatabase::create("migrations") else {
        return;
    };
    run(&|| {
        Box::new(customer_web_sql::postgres::PgConnection::open(&db.url).unwrap()) as Box<dyn Connection>
    });
}

/// Eight hosts starting at once on a fresh database: the steps run once
/// (a step without IF NOT EXISTS would fail a second time).
#[test]
fn hosts_starting_together_migrate_once() {
    let Some(db) = TestDatabase::create("migrations") else {
        return;
    };
    let pools: Vec<PgPool> = (0..8).map(|_| PgPool::connect(&db.url, 1).unwrap()).collect();
    std::thread::scope(|scope| {
        for pool in &pools {
            scope.spawn(|| pool.with(|c| migrate(c, &FIRST_V2)).unwrap());
        }
    });
    pools[0]
        .with(|c| {
            assert_eq!(version_of(c, "first"), 2);
            Ok(())
        })
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let mut c = rusqlite::Connection::open(&path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                migrate(&mut c, &FIRST_V2).unwrap();
            });
        }
    });
    let mut c = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(version_of(&mut c, "first"), 2);
}

/// A restart on a current database only reads it: while another
/// connection holds SQLite's write lock, migrating again returns at once
/// instead of waiting for the lock (or failing with "database is locked").
#[test]
fn a_current_database_is_not_locked_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let mut first = rusqlite::Connection::open(&path).unwrap();
    first.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate(&mut first, &FIRST).unwrap();
    first.execute_batch("BEGIN IMMEDIATE").unwrap();

    let mut restarted = rusqlite::Connection::open(&path).unwrap();
    // No busy timeout: a write lock wanted here fails at once.
    restarted.busy_timeout(std::time::Duration::ZERO).unwrap();
    migrate(&mut restarted, &FIRST).unwrap();
    // A schema that is not current still needs the lock, and meets it.
    let e = migrate(&mut restarted, &SECOND).unwrap_err();
    assert!(e.to_string().contains("locked"), "{e}");
    first.execute_batch("COMMIT").unwrap();
    migrate(&mut restarted, &SECOND).unwrap();
    assert!(table_exists(&mut restarted, "b"));
}
