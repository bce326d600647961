//! [`Connection`] on Spin's outbound PostgreSQL
//! (`spin:postgres/postgres@4.0.0`, through spin-sdk's `pg4`): the Spin
//! adapter's and the dev mailbox's database when many Spin instances
//! share one.
//!
//! What holds on Spin 4.0.2 (its `factor-outbound-pg`, and checked by
//! `tests/tests/spin_up.rs`):
//!
//! - **One server connection per connection resource.** Opening takes a
//!   client from Spin's pool for that address (deadpool, up to 64 per
//!   address and Spin process) and the resource keeps it until it is
//!   dropped; every `query` and `execute` on it runs on that client. So a
//!   transaction spanning several calls ([`migrate`](crate::migrate):
//!   `BEGIN`, `pg_advisory_xact_lock`, the steps, `COMMIT`) holds, and so
//!   does the advisory lock inside it. Dropped, the client goes back to
//!   the pool, which cleans it (`RESET ALL`, advisory locks released,
//!   `DISCARD TEMP`) before the next instance gets it; a client left in a
//!   failed transaction fails that cleaning and is closed. The cleaning
//!   ends no open transaction, though: [`migrate`] ends every one it
//!   begins (`COMMIT`, or `ROLLBACK` on any error), and [`SpinPostgres::open`]
//!   rolls back whatever an instance that died mid-migration left.
//! - **Parameters are typed by their value, not by the statement.** Spin
//!   binds an `int64` only where PostgreSQL infers `bigint`, a `str` only
//!   as text, a `binary` only as `bytea` (no coercion as the native
//!   executor's [`postgres`](crate::postgres) does), so every statement of
//!   the contract casts a parameter whose place is not `bigint`
//!   (`$2::bigint::integer`, `$3::bigint <> 0`).
//! - **A query without rows never returns** on Spin 4.0.2, so each runs
//!   wrapped to answer at least one ([`one_row`](crate::one_row)).
//! - **Startup options are honoured**: a URL's
//!   `options=-c search_path=…` holds for every call (the pool's cleaning
//!   resets to it).
//!
//! A fault is described without the address: a password in it never
//! reaches an error, a log or a page.

use spin_sdk::pg4;

use crate::url::{hide_password as hide, redact_url};
use crate::{Connection, Dialect, Row, SqlError, Value, one_row};

/// A connection to a PostgreSQL database through Spin.
pub struct SpinPostgres {
    conn: pg4::Connection,
}

impl std::fmt::Debug for SpinPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinPostgres")
    }
}

impl SpinPostgres {
    /// Opens a connection to `url` (`postgres://user:password@host:port/db`,
    /// whose origin the component's `allowed_outbound_hosts` must allow).
    pub fn open(url: &str) -> Result<SpinPostgres, SqlError> {
        let conn = pg4::Connection::open(url).map_err(|e| {
            SqlError(format!(
                "opening PostgreSQL at {}: {}",
                redact_url(url),
                hide(&describe(&e), url)
            ))
        })?;
        // The pool's cleaning ends no transaction: one an instance left open
        // when it died between BEGIN and COMMIT (a migration) would carry
        // over to this one. Nothing of ours is open yet, so end any; with
        // none, PostgreSQL only warns.
        conn.execute("ROLLBACK", &[]).map_err(|e| fault(&e))?;
        Ok(SpinPostgres { conn })
    }
}

fn describe(error: &pg4::PgError) -> String {
    match error {
        pg4::PgError::ConnectionFailed(m) => format!("connection failed: {m}"),
        pg4::PgError::BadParameter(m) => format!("bad parameter: {m}"),
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => {
            format!("{} ({})", db.message, db.code)
        }
        pg4::PgError::QueryFailed(pg4::QueryError::Text(m)) => format!("query failed: {m}"),
        pg4::PgError::ValueConversionFailed(m) => format!("value conversion failed: {m}"),
        pg4::PgError::Other(m) => m.clone(),
    }
}

fn fault(error: &pg4::PgError) -> SqlError {
    SqlError(format!("PostgreSQL: {}", describe(error)))
}

fn parameter(value: &Value) -> pg4::ParameterValue {
    match value {
        Value::Null => pg4::ParameterValue::DbNull,
        Value::Int(n) => pg4::ParameterValue::Int64(*n),
        Value::Text(text) => pg4::ParameterValue::Str(text.clone()),
        Value::Blob(bytes) => pg4::ParameterValue::Binary(bytes.clone()),
    }
}

fn value(column: pg4::DbValue) -> Result<Value, SqlError> {
    Ok(match column {
        pg4::DbValue::DbNull => Value::Null,
        pg4::DbValue::Boolean(b) => Value::Int(b.into()),
        pg4::DbValue::Int8(n) => Value::Int(n.into()),
        pg4::DbValue::Int16(n) => Value::Int(n.into()),
        pg4::DbValue::Int32(n) => Value::Int(n.into()),
        pg4::DbValue::Int64(n) => Value::Int(n),
        pg4::DbValue::Str(text) => Value::Text(text),
        pg4::DbValue::Binary(bytes) => Value::Blob(bytes),
        // No statement of the contract reads anything else.
        other => {
            return Err(SqlError(format!(
                "PostgreSQL: a column of a type the contract does not read ({})",
                kind(&other)
            )));
        }
    })
}

fn kind(value: &pg4::DbValue) -> &'static str {
    match value {
        pg4::DbValue::Floating32(_) | pg4::DbValue::Floating64(_) => "floating point",
        pg4::DbValue::Decimal(_) => "numeric",
        pg4::DbValue::Date(_)
        | pg4::DbValue::Time(_)
        | pg4::DbValue::Datetime(_)
        | pg4::DbValue::Timestamp(_) => "date or time",
        _ => "other",
    }
}

impl Connection for SpinPostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let params: Vec<pg4::ParameterValue> = params.iter().map(parameter).collect();
        // Spin 4.0.2 never answers a query without rows (crate::one_row).
        let result = self
            .conn
            .query(&one_row::wrap(sql), &params)
            .map_err(|e| fault(&e))?;
        let rows = result
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(value).collect::<Result<Vec<_>, _>>().map(Row))
            .collect::<Result<Vec<_>, _>>()?;
        one_row::unwrap(rows)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let params: Vec<pg4::ParameterValue> = params.iter().map(parameter).collect();
        self.conn.execute(sql, &params).map_err(|e| fault(&e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        for statement in crate::split::statements(sql) {
            self.conn.execute(statement, &[]).map_err(|e| fault(&e))?;
        }
        Ok(())
    }
}

/// The Spin variable naming the shared PostgreSQL database (a secret,
/// empty by default): `postgres://user:password@host:port/database`.
pub const DATABASE_URL: &str = "database_url";

/// Opens the database the contract (store, outbox, audit trail) lives
/// in: PostgreSQL when the Spin variable [`DATABASE_URL`] is set and not
/// empty, else the app's `default` SQLite. A variable Spin cannot read
/// (a provider's fault) is an error, never a quiet fall-back to SQLite:
/// an instance on its own file beside others on the shared database
/// would split the truth.
pub fn open_contract_database() -> Result<Box<dyn Connection>, SqlError> {
    let url = match spin_sdk::variables::get(DATABASE_URL) {
        Ok(url) => url.trim().to_owned(),
        // Not handed to this component: SQLite, as before the variable.
        Err(spin_sdk::variables::Error::Undefined(_)) => String::new(),
        Err(e) => return Err(SqlError(format!("reading the Spin variable {DATABASE_URL}: {e}"))),
    };
    if url.is_empty() {
        Ok(Box::new(crate::spin::SpinSqlite::open_default()?))
    } else {
        Ok(Box::new(SpinPostgres::open(&url)?))
    }
}
