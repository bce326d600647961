//! [`Connection`] on Spin's SQLite (`fermyon:spin/sqlite@2.0.0`, through
//! spin-sdk): the Spin adapter's database and the dev mailbox's.
//!
//! Spin's interface runs one statement per call and reports no change
//! count, so [`SpinSqlite`] asks `SELECT changes()` after a write (the
//! calls of one connection reach one SQLite connection) and cuts a batch
//! into its statements. Every call is retried, after a short pause, while
//! SQLite answers "busy" or "locked": the instances of a Spin app each
//! have their own connection to the file, and a writer that loses the race
//! for the write lock can be refused at once, without SQLite's busy
//! timeout. A statement refused that way changed nothing, so the retry is
//! safe; so is retrying `BEGIN IMMEDIATE` (no transaction began) and
//! `COMMIT` (the transaction is still open).
//!
//! A transaction ([`migrate`](crate::migrate),
//! [`adopt_spin_tables`](crate::adopt_spin_tables)) spans several calls:
//! it holds on Spin's local database, where a connection is one SQLite
//! connection for its whole life (and on a libSQL server as far as the
//! client sends a connection's statements down one stream). Every other
//! statement of the contract is a transaction of its own, and none of its
//! guarantees rests on the change count: a state change that must know
//! what it changed says so with `RETURNING`.

use std::time::Duration;

use spin_sdk::sqlite;

use crate::{Connection, Dialect, Row, SqlError, Value};

/// How many times a call is made before "busy" is an error.
const ATTEMPTS: u32 = 7;

/// The pause before the first retry; it doubles with each (5 ms to
/// 160 ms, about a third of a second in all).
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// A connection to one of the Spin app's SQLite databases.
pub struct SpinSqlite {
    conn: sqlite::Connection,
}

impl std::fmt::Debug for SpinSqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinSqlite")
    }
}

impl SpinSqlite {
    /// Opens the database the component's `sqlite_databases` names `label`.
    pub fn open(label: &str) -> Result<SpinSqlite, SqlError> {
        let conn = sqlite::Connection::open(label)
            .map_err(|e| SqlError(format!("opening Spin's SQLite database {label:?}: {e}")))?;
        Ok(SpinSqlite { conn })
    }

    /// Opens the app's `default` database.
    pub fn open_default() -> Result<SpinSqlite, SqlError> {
        SpinSqlite::open("default")
    }

    /// Runs one statement, again while SQLite answers busy or locked.
    fn run(&self, sql: &str, params: &[sqlite::Value]) -> Result<sqlite::QueryResult, SqlError> {
        let mut pause = FIRST_PAUSE;
        let mut attempts_left = ATTEMPTS;
        loop {
            match self.conn.execute(sql, params) {
                Err(sqlite::Error::Io(message)) if attempts_left > 1 && is_busy(&message) => {
                    attempts_left -= 1;
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                }
                Ok(result) => return Ok(result),
                Err(e) => return Err(SqlError(format!("SQLite: {e}"))),
            }
        }
    }
}

fn is_busy(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("locked") || message.contains("busy")
}

fn parameter(value: &Value) -> sqlite::Value {
    match value {
        Value::Null => sqlite::Value::Null,
        Value::Int(n) => sqlite::Value::Integer(*n),
        Value::Text(text) => sqlite::Value::Text(text.clone()),
        Value::Blob(bytes) => sqlite::Value::Blob(bytes.clone()),
    }
}

fn value(column: sqlite::Value) -> Value {
    match column {
        sqlite::Value::Null => Value::Null,
        sqlite::Value::Integer(n) => Value::Int(n),
        // No statement of the contract reads a REAL; keep its digits.
        sqlite::Value::Real(r) => Value::Text(r.to_string()),
        sqlite::Value::Text(text) => Value::Text(text),
        sqlite::Value::Blob(bytes) => Value::Blob(bytes),
    }
}

impl Connection for SpinSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<sqlite::Value> = params.iter().map(parameter).collect();
        let result = self.run(sql, &params)?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| Row(row.values.into_iter().map(value).collect()))
            .collect())
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let params: Vec<sqlite::Value> = params.iter().map(parameter).collect();
        self.run(sql, &params)?;
        let changes = self.run("SELECT changes()", &[])?;
        changes
            .rows
            .into_iter()
            .next()
            .map(|row| Row(row.values.into_iter().map(value).collect()))
            .map_or(Ok(0), |row| row.uint(0, "change count"))
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        for statement in crate::split::statements(sql) {
            self.run(statement, &[])?;
        }
        Ok(())
    }
}
