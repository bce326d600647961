//! The adapter's two databases, opened on first use per instance:
//!
//! - the **contract** (store, outbox, audit trail): customer-web-sql's
//!   statements on PostgreSQL when the Spin variable `database_url` is
//!   set, so that any number of Spin instances share one truth, else on
//!   Spin's `default` SQLite ([`with`]);
//! - the **directory** of policyholders, always on Spin's `default`
//!   SQLite: read-only sample data seeded per app ([`with_directory`]).
//!
//! The capabilities see a `&mut dyn Connection` and never which.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use customer_web_sql::spin::SpinSqlite;
use customer_web_sql::spin_postgres::open_contract_database;
use customer_web_sql::{
    Connection, Dialect, Schema, SqlError, adopt_spin_tables, audit, is_current, kv, migrate, outbox,
};

use customer_web_sql::directory as sql;

/// The schemas of the contract the adapter keeps in the database.
const SCHEMAS: [&Schema; 3] = [&kv::SCHEMA, &outbox::SCHEMA, &audit::SCHEMA];

thread_local! {
    /// The instance's connection to the contract's database, opened (and
    /// the schema checked) on first use. Spin gives each request fresh
    /// instances, so this lives for one request at most.
    static CONTRACT: RefCell<Option<Box<dyn Connection>>> = const { RefCell::new(None) };
    /// The instance's connection to the directory's SQLite database.
    static DIRECTORY: RefCell<Option<SpinSqlite>> = const { RefCell::new(None) };
}

/// Runs `f` on the contract's database (store, outbox, audit trail),
/// opening it first if needed; a fault is the description the
/// capability's `unavailable` carries.
pub fn with<T>(f: impl FnOnce(&mut dyn Connection) -> Result<T, SqlError>) -> Result<T, String> {
    CONTRACT.with(|cell| {
        // Single-threaded, and no capability calls another: the cell is
        // never borrowed twice.
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "the database connection is in use".to_owned())?;
        if slot.is_none() {
            *slot = Some(open_contract().map_err(|e| e.0)?);
        }
        match slot.as_mut() {
            Some(conn) => f(conn.as_mut()).map_err(|e| e.0),
            None => Err("the database connection was lost".into()),
        }
    })
}

/// Runs `f` on the directory's SQLite database, opening it first if
/// needed.
pub fn with_directory<T>(f: impl FnOnce(&mut dyn Connection) -> Result<T, SqlError>) -> Result<T, String> {
    DIRECTORY.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "the directory's connection is in use".to_owned())?;
        if slot.is_none() {
            *slot = Some(open_directory().map_err(|e| e.0)?);
        }
        match slot.as_mut() {
            Some(conn) => f(conn).map_err(|e| e.0),
            None => Err("the directory's connection was lost".into()),
        }
    })
}

/// Opens the contract's database and makes sure its schema is current.
/// The check only reads, so an instance takes a lock only when there is
/// work: SQLite's write lock (a database the adapter made before
/// migrations existed is adopted first), or PostgreSQL's migration lock,
/// inside the transaction `migrate` holds on this one connection.
fn open_contract() -> Result<Box<dyn Connection>, SqlError> {
    let mut conn = open_contract_database()?;
    if !is_current(conn.as_mut(), &SCHEMAS)? {
        if conn.dialect() == Dialect::Sqlite {
            adopt_spin_tables(conn.as_mut())?;
        }
        for schema in SCHEMAS {
            migrate(conn.as_mut(), schema)?;
        }
    }
    Ok(conn)
}

/// Opens the `default` SQLite database and makes sure the directory's
/// tables are there.
fn open_directory() -> Result<SpinSqlite, SqlError> {
    let mut conn = SpinSqlite::open_default()?;
    let present = conn
        .query(sql::SCHEMA_CHECK, &[])?
        .first()
        .map_or(Ok(0), |row| row.uint(0, "count of directory tables"))?;
    if present < sql::SCHEMA_OBJECTS {
        for statement in sql::SCHEMA {
            conn.batch(statement)?;
        }
    }
    Ok(conn)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
