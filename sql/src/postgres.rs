//! [`Connection`] on the `postgres` client, and a small pool of them: one
//! database that many hosts share.
//!
//! A connection the server closed (a restart, a network cut) is dropped
//! from the pool with every idle one; the call that met it fails (the
//! component answers 503) and the next calls connect afresh. Each connection keeps its prepared
//! statements, so a statement is parsed once per connection.

use std::collections::HashMap;
use std::error::Error;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::{Connection, Database, Dialect, Row, SqlError, Value};

/// How long a new connection may take, unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call waits for a connection when all are in use.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Text(text) => match *ty {
                Type::BYTEA => text.as_bytes().to_sql(ty, out),
                _ => text.to_sql(ty, out),
            },
            Value::Blob(bytes) => bytes.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn fault(error: postgres::Error) -> SqlError {
    // The driver's text names the server's error, never a bound value.
    match error.as_db_error() {
        Some(db) => SqlError(format!("PostgreSQL: {} ({})", db.message(), db.code().code())),
        None => match error.source() {
            Some(cause) => SqlError(format!("PostgreSQL: {error}: {cause}")),
            None => SqlError(format!("PostgreSQL: {error}")),
        },
    }
}

fn column(row: &postgres::Row, index: usize) -> Result<Value, SqlError> {
    let ty = row.columns()[index].type_().clone();
    let value = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index).map(|v| v.map(Value::Int)),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)
            .map(|v| v.map(|n| Value::Int(n.into()))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)
            .map(|v| v.map(|n| Value::Int(n.into()))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)
            .map(|v| v.map(|b| Value::Int(b.into()))),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(index)
            .map(|v| v.map(Value::Blob)),
        _ => row
            .try_get::<_, Option<String>>(index)
            .map(|v| v.map(Value::Text)),
    };
    Ok(value.map_err(fault)?.unwrap_or(Value::Null))
}

/// One connection, with its prepared statements.
pub struct PgConnection {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl PgConnection {
    /// Connects with `config`.
    pub fn connect(config: &postgres::Config) -> Result<PgConnection, SqlError> {
        Ok(PgConnection {
            client: config.connect(NoTls).map_err(fault)?,
            prepared: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, SqlError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(fault)?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Whether the server closed it.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Connection for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &refs(params)).map_err(fault)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| column(row, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let statement = self.statement(sql)?;
        self.client.execute(&statement, &refs(params)).map_err(fault)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.client.batch_execute(sql).map_err(fault)
    }
}

/// A pool of connections to one database, at most `size` open at once.
pub struct PgPool {
    config: postgres::Config,
    size: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<PgConnection>,
    open: usize,
}

impl PgPool {
    /// A pool for the database at `url` (`postgres://user:pass@host:port/db`
    /// or key=value pairs); connects once to fail early on a wrong URL or
    /// an unreachable server.
    pub fn connect(url: &str, size: usize) -> Result<PgPool, SqlError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| SqlError(format!("PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("customer-web");
        }
        let first = PgConnection::connect(&config)?;
        Ok(PgPool {
            config,
            size: size.max(1),
            state: Mutex::new(PoolState {
                idle: vec![first],
                open: 1,
            }),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn checkout(&self) -> Result<PgConnection, SqlError> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(conn);
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return PgConnection::connect(&self.config).inspect_err(|_| {
                    self.lock().open -= 1;
                    self.freed.notify_one();
                });
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(state, CHECKOUT_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if timeout.timed_out() && state.idle.is_empty() && state.open >= self.size {
                return Err(SqlError(format!(
                    "PostgreSQL: all {} connections stayed busy for {} s",
                    self.size,
                    CHECKOUT_TIMEOUT.as_secs()
                )));
            }
        }
    }

    fn checkin(&self, conn: PgConnection) {
        let mut state = self.lock();
        if conn.is_closed() {
            // What cut this connection (a server restart, a network
            // failure) most likely cut the idle ones too: they go, and the
            // next calls connect afresh instead of failing one by one.
            state.open -= 1 + state.idle.len();
            state.idle.clear();
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.freed.notify_one();
    }
}

impl Database for PgPool {
    fn with<R>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>) -> Result<R, SqlError> {
        let mut conn = self.checkout()?;
        let result = f(&mut conn);
        self.checkin(conn);
        result
    }
}

/// Throw-away databases for tests: a fresh schema on the PostgreSQL
/// server that `CUSTOMER_WEB_TEST_POSTGRES` names (a `postgres://` URL;
/// `.ci/run` starts a server and sets it), dropped again at the end.
pub mod testing {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{PgConnection, SqlError};
    use crate::Connection as _;

    /// The variable naming the test server.
    pub const SERVER_VAR: &str = "CUSTOMER_WEB_TEST_POSTGRES";

    /// A schema of its own on the test server; dropped with it.
    pub struct TestDatabase {
        server: String,
        schema: String,
        /// The URL whose connections work in the schema (its
        /// `search_path`).
        pub url: String,
    }

    impl TestDatabase {
        /// A fresh, empty schema, or `None` (after a loud note) when no
        /// server is named. Under CI (`CI=true`) a missing server is a
        /// failure, not a skip.
        pub fn create(purpose: &str) -> Option<TestDatabase> {
            let Some(server) = std::env::var(SERVER_VAR).ok().filter(|s| !s.is_empty()) else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{SERVER_VAR} is not set: CI must run the PostgreSQL tests (.ci/run starts a server)"
                );
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED ({purpose}): no PostgreSQL (set {SERVER_VAR}=postgres://…; .ci/run starts one) ***\n"
                );
                return None;
            };
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let schema = format!(
                "cw_test_{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            );
            admin(&server, &format!("CREATE SCHEMA {schema}")).expect("creating a test schema");
            let separator = if server.contains('?') { '&' } else { '?' };
            let url = format!("{server}{separator}options=-c%20search_path%3D{schema}");
            Some(TestDatabase { server, schema, url })
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            let _ = admin(
                &self.server,
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
            );
        }
    }

    fn admin(server: &str, sql: &str) -> Result<(), SqlError> {
        let config: postgres::Config = server
            .parse()
            .map_err(|e: postgres::Error| SqlError(e.to_string()))?;
        PgConnection::connect(&config)?.batch(sql)
    }
}
