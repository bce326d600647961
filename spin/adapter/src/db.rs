//! The connection to Spin's `default` SQLite database, and the helpers
//! every capability uses to run [`crate::sql`] statements on it.

use std::cell::OnceCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spin_sdk::sqlite::{Connection, Error, QueryResult, RowResult, Value};

use crate::sql;

thread_local! {
    /// The instance's connection, opened (and the schema checked) on first
    /// use. Spin gives each request fresh instances, so this lives for one
    /// request at most.
    static CONNECTION: OnceCell<Connection> = const { OnceCell::new() };
}

/// Runs `f` on the instance's connection, opening it first if needed.
pub fn with<T>(f: impl FnOnce(&Connection) -> Result<T, String>) -> Result<T, String> {
    CONNECTION.with(|cell| {
        if cell.get().is_none() {
            let conn = open()?;
            // Single-threaded: nothing can have filled the cell meanwhile.
            let _ = cell.set(conn);
        }
        match cell.get() {
            Some(conn) => f(conn),
            None => Err("the SQLite connection was lost".into()),
        }
    })
}

/// Opens the `default` database and makes sure the schema is complete.
fn open() -> Result<Connection, String> {
    let conn =
        Connection::open_default().map_err(|e| format!("opening Spin's default SQLite database: {e}"))?;
    let present = exec(&conn, sql::SCHEMA_CHECK, &[])?;
    let count = present
        .rows
        .first()
        .and_then(|row| row.get::<i64>(0))
        .unwrap_or(0);
    if count < sql::SCHEMA_OBJECTS {
        for statement in sql::SCHEMA {
            exec(&conn, statement, &[])?;
        }
    }
    Ok(conn)
}

/// Runs one statement; again, after a short pause, if SQLite answered
/// "busy" or "locked". A single statement that failed that way changed
/// nothing, so the retry is safe. Several instances of the app may write
/// the file at once, each on its own connection, and a writer that loses a
/// race for the write lock can be refused at once, without SQLite's busy
/// timeout.
pub fn exec(conn: &Connection, statement: &str, params: &[Value]) -> Result<QueryResult, String> {
    let mut pause = Duration::from_millis(5);
    let mut attempts_left = 7;
    loop {
        match conn.execute(statement, params) {
            Err(Error::Io(message)) if attempts_left > 1 && is_busy(&message) => {
                attempts_left -= 1;
                std::thread::sleep(pause);
                pause = pause.saturating_mul(2);
            }
            Ok(result) => return Ok(result),
            Err(e) => return Err(format!("SQLite: {e}")),
        }
    }
}

fn is_busy(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("locked") || message.contains("busy")
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// An unsigned number as an SQLite integer; past `i64::MAX` it saturates,
/// as the wasmtime host stores it (a time that far ahead never comes).
pub fn int(value: u64) -> Value {
    Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Text as an SQLite value.
pub fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

/// Column `index` of `row` as `T`, or an error naming what was expected.
pub fn column<'a, T: TryFrom<&'a Value>>(row: &'a RowResult, index: usize, what: &str) -> Result<T, String> {
    row.get::<T>(index)
        .ok_or_else(|| format!("SQLite returned a malformed {what} (column {index})"))
}
