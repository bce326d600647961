//! The connection to Spin's `default` SQLite database, on which every
//! capability runs customer-web-sql's statements.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use customer_web_sql::spin::SpinSqlite;
use customer_web_sql::{
    Connection, Schema, SqlError, adopt_spin_tables, audit, is_current, kv, migrate, outbox,
};

use crate::sql;

/// The schemas of the contract the adapter keeps in the database.
const SCHEMAS: [&Schema; 3] = [&kv::SCHEMA, &outbox::SCHEMA, &audit::SCHEMA];

thread_local! {
    /// The instance's connection, opened (and the schema checked) on first
    /// use. Spin gives each request fresh instances, so this lives for one
    /// request at most.
    static CONNECTION: RefCell<Option<SpinSqlite>> = const { RefCell::new(None) };
}

/// Runs `f` on the instance's connection, opening it first if needed; a
/// fault is the description the capability's `unavailable` carries.
pub fn with<T>(f: impl FnOnce(&mut dyn Connection) -> Result<T, SqlError>) -> Result<T, String> {
    CONNECTION.with(|cell| {
        // Single-threaded, and no capability calls another: the cell is
        // never borrowed twice.
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "the SQLite connection is in use".to_owned())?;
        if slot.is_none() {
            *slot = Some(open().map_err(|e| e.0)?);
        }
        match slot.as_mut() {
            Some(conn) => f(conn).map_err(|e| e.0),
            None => Err("the SQLite connection was lost".into()),
        }
    })
}

/// Opens the `default` database and makes sure the schema is complete:
/// the contract's tables migrated (a database the adapter made before
/// migrations existed is adopted first), then the directory's. Both checks
/// only read, so an instance takes the write lock only when there is work.
fn open() -> Result<SpinSqlite, SqlError> {
    let mut conn = SpinSqlite::open_default()?;
    if !is_current(&mut conn, &SCHEMAS)? {
        adopt_spin_tables(&mut conn)?;
        for schema in SCHEMAS {
            migrate(&mut conn, schema)?;
        }
    }
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
