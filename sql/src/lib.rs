//! customer-web's storage contract in SQL, in one place: the schema, its
//! versioned migrations and every statement, for SQLite and PostgreSQL.
//!
//! The statements run behind [`Connection`], a small executor trait: one
//! statement at a time, positional parameters, rows of [`Value`]s. The
//! wasmtime host runs them on rusqlite (feature `rusqlite`) and on the
//! `postgres` client with a small pool (feature `postgres`); the Spin
//! adapter and its dev mailbox on Spin's SQLite or Spin's PostgreSQL
//! (feature `spin`). Whatever
//! runs them, every write is **one statement**, atomic in both dialects,
//! so the guarantees hold where no transaction spans two calls and across
//! any number of hosts on one PostgreSQL database:
//!
//! - [`kv`]: the versioned key-value store (compare-and-swap, expiry,
//!   versions never reused).
//! - [`outbox`]: the durable mail outbox (leases, retries, dead letters).
//! - [`audit`]: the security audit trail.
//! - [`migrate()`]: the append-only migrations and their bookkeeping;
//!   [`is_current`], a read-only check that they are done;
//!   [`adopt_spin_tables`], which takes over a database the Spin adapter
//!   made before migrations existed.

mod adopt;
pub mod audit;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod directory;
pub mod kv;
mod migrate;
pub mod one_row;
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "spin")]
pub mod spin;
#[cfg(feature = "spin")]
pub mod spin_postgres;
#[cfg(any(feature = "spin", test))]
mod split;
#[cfg(feature = "rusqlite")]
pub mod sqlite;
mod url;

pub use adopt::adopt_spin_tables;
pub use migrate::{Schema, is_current, migrate, recorded_versions};
pub use url::redact_url;

/// The SQL dialect a [`Connection`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or later (`RETURNING`): the embedded file, and Spin's.
    Sqlite,
    /// PostgreSQL 12 or later: one database for many hosts.
    Postgres,
}

/// One statement, written for each dialect: SQLite's parameters are `?1`,
/// `?2`, …; PostgreSQL's `$1`, `$2`, …, bound to the same values.
#[derive(Clone, Copy, Debug)]
pub struct Statement {
    /// SQLite's text.
    pub sqlite: &'static str,
    /// PostgreSQL's text.
    pub postgres: &'static str,
}

impl Statement {
    /// The text for `dialect`.
    pub fn text(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// A parameter or column value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// An unsigned number as a 64-bit integer; past `i64::MAX` it
    /// saturates (a time that far ahead never comes).
    pub fn uint(value: u64) -> Value {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    /// An optional unsigned number; `None` is NULL.
    pub fn opt_uint(value: Option<u64>) -> Value {
        value.map_or(Value::Null, Value::uint)
    }

    /// A column that holds a number of `what` (rows affected, a count) as
    /// an unsigned number.
    fn as_uint(&self, what: &str) -> Result<u64, SqlError> {
        match self {
            Value::Int(n) => u64::try_from(*n).map_err(|_| SqlError::malformed(what)),
            _ => Err(SqlError::malformed(what)),
        }
    }
}

/// One row a statement returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn column(&self, index: usize, what: &str) -> Result<&Value, SqlError> {
        self.0.get(index).ok_or_else(|| SqlError::malformed(what))
    }

    /// Column `index` as a non-negative integer.
    pub fn uint(&self, index: usize, what: &str) -> Result<u64, SqlError> {
        self.column(index, what)?.as_uint(what)
    }

    /// Column `index` as a non-negative integer, or NULL.
    pub fn opt_uint(&self, index: usize, what: &str) -> Result<Option<u64>, SqlError> {
        match self.column(index, what)? {
            Value::Null => Ok(None),
            other => other.as_uint(what).map(Some),
        }
    }

    /// Column `index` as text (a UTF-8 blob counts).
    pub fn text(&self, index: usize, what: &str) -> Result<String, SqlError> {
        match self.column(index, what)? {
            Value::Text(text) => Ok(text.clone()),
            Value::Blob(bytes) => String::from_utf8(bytes.clone()).map_err(|_| SqlError::malformed(what)),
            _ => Err(SqlError::malformed(what)),
        }
    }

    /// Column `index` as bytes (text counts).
    pub fn bytes(&self, index: usize, what: &str) -> Result<Vec<u8>, SqlError> {
        match self.column(index, what)? {
            Value::Blob(bytes) => Ok(bytes.clone()),
            Value::Text(text) => Ok(text.clone().into_bytes()),
            _ => Err(SqlError::malformed(what)),
        }
    }
}

/// A database fault: the description the driver gave (never a value
/// that was bound).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError(pub String);

impl SqlError {
    fn malformed(what: &str) -> SqlError {
        SqlError(format!("the database returned a malformed {what}"))
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

/// An executor of single statements on one database connection.
pub trait Connection {
    /// The dialect it speaks.
    fn dialect(&self) -> Dialect;

    /// Runs one statement and returns its rows (a `SELECT`, or a write
    /// with `RETURNING`).
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError>;

    /// Runs one statement and returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;

    /// Runs statements without parameters, separated by `;` (schema
    /// steps, `BEGIN`, `COMMIT`).
    fn batch(&mut self, sql: &str) -> Result<(), SqlError>;
}

impl<C: Connection + ?Sized> Connection for Box<C> {
    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        (**self).query(sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        (**self).execute(sql, params)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        (**self).batch(sql)
    }
}

/// Somewhere statements run: one SQLite file's connection, a pool of
/// PostgreSQL connections, or one Spin instance's connection. Backends
/// built on it share one database.
pub trait Database {
    /// Runs `f` on a connection.
    fn with<R>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>) -> Result<R, SqlError>;

    /// Runs `f`, a read, on a connection only if one is free and the read
    /// waits on no other writer (a SQLite file in WAL mode, whose
    /// connection nobody holds); `None`, without running `f`, otherwise.
    /// The default: always `None`.
    fn with_now<R>(
        &self,
        f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>,
    ) -> Option<Result<R, SqlError>> {
        let _ = f;
        None
    }

    /// Brings `schema` up to date.
    fn migrate(&self, schema: &Schema) -> Result<(), SqlError> {
        self.with(|c| migrate(c, schema))
    }
}

impl<D: Database> Database for std::sync::Arc<D> {
    fn with<R>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>) -> Result<R, SqlError> {
        (**self).with(f)
    }

    fn with_now<R>(
        &self,
        f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>,
    ) -> Option<Result<R, SqlError>> {
        (**self).with_now(f)
    }
}

/// One connection as a [`Database`], for a single-threaded caller (a Spin
/// instance). No operation of the contract calls another while it runs, so
/// the connection is never wanted twice at once; if it were, that call
/// fails instead of waiting.
pub struct OneConnection<C>(std::cell::RefCell<C>);

impl<C: Connection> OneConnection<C> {
    /// The database of `conn`.
    pub fn new(conn: C) -> Self {
        OneConnection(std::cell::RefCell::new(conn))
    }
}

impl<C: Connection> Database for OneConnection<C> {
    fn with<R>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>) -> Result<R, SqlError> {
        let mut conn = self
            .0
            .try_borrow_mut()
            .map_err(|_| SqlError("the connection is in use".into()))?;
        f(&mut *conn)
    }
}
