//! [`Connection`] on the `postgres` client, and a small pool of them: one
//! database that many hosts share.
//!
//! A connection the server closed (a restart, a network cut) is dropped
//! from the pool with every idle one; the call that met it fails (the
//! component answers 503) and the next calls connect afresh. Each connection keeps its prepared
//! statements, so a statement is parsed once per connection.
//!
//! **TLS.** A database that is not on this machine is reached over TLS
//! unless the URL says `sslmode=disable`, and the server's certificate is
//! always verified, chain and name (libpq's `verify-full`; its `require`
//! checks neither): against Mozilla's roots, or the CA certificates of
//! `sslrootcert=PATH` (PEM). [`Transport`] says what a URL asks for.

use std::collections::HashMap;
use std::error::Error;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use postgres::config::{Host, SslMode};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio_postgres_rustls::MakeRustlsConnect;

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

/// How a connection travels: what a URL's `sslmode` and `sslrootcert`
/// and its host ask for.
#[derive(Clone)]
pub enum Transport {
    /// In the clear: `sslmode=disable`, or no `sslmode` and a server on
    /// this machine (a loopback address, `localhost`, a Unix socket).
    Plain,
    /// TLS with the server's certificate verified. `required`: no
    /// connection without it (`sslmode=require`, `verify-ca`,
    /// `verify-full`, or no `sslmode` and a server elsewhere); otherwise
    /// (`sslmode=prefer`) in the clear when the server offers no TLS.
    Tls {
        /// Whether a server without TLS is refused.
        required: bool,
        /// The verifying connector.
        connector: MakeRustlsConnect,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain => f.write_str("Plain"),
            Transport::Tls { required, .. } => f.debug_struct("Tls").field("required", required).finish(),
        }
    }
}

/// The libpq parameters the URL parser does not know, taken out of `url`:
/// the URL without them, its `sslmode` (`verify-ca` and `verify-full` read
/// as `require`: every certificate is verified), and `sslrootcert`.
fn tls_parameters(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |pair: &str| -> bool {
        match pair.split_once('=') {
            Some(("sslrootcert", value)) => {
                root = Some(percent_decoded(value));
                false
            }
            Some(("sslmode", value)) => {
                mode = Some(percent_decoded(value));
                false
            }
            _ => true,
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query.split('&').filter(|pair| take(pair)).collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        url.split_whitespace()
            .filter(|pair| take(pair))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether every host of `config` is on this machine.
fn all_local(config: &postgres::Config) -> bool {
    config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Host::Unix(_) => true,
    })
}

/// The verifying connector: Mozilla's roots, or the certificates in the
/// PEM file `root`.
fn connector(root: Option<&str>) -> Result<MakeRustlsConnect, SqlError> {
    let mut roots = rustls::RootCertStore::empty();
    match root {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| SqlError(format!("PostgreSQL sslrootcert {path}: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(SqlError(format!(
                    "PostgreSQL sslrootcert {path}: no certificate in it"
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SqlError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Parses a database URL (`postgres://user:pass@host:port/db?…` or
/// key=value pairs) into the client's settings and the [`Transport`] it
/// asks for.
pub fn parse_url(url: &str) -> Result<(postgres::Config, Transport), SqlError> {
    let (rest, mode, root) = tls_parameters(url);
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|e: postgres::Error| SqlError(format!("PostgreSQL URL: {e}")))?;
    let required = match mode.as_deref() {
        Some("disable") => {
            if root.is_some() {
                return Err(SqlError(
                    "PostgreSQL URL: sslrootcert with sslmode=disable".into(),
                ));
            }
            config.ssl_mode(SslMode::Disable);
            return Ok((config, Transport::Plain));
        }
        Some("prefer" | "allow") => false,
        Some("require" | "verify-ca" | "verify-full") => true,
        Some(other) => {
            return Err(SqlError(format!(
                "PostgreSQL URL: sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
            )));
        }
        None if root.is_none() && all_local(&config) => {
            config.ssl_mode(SslMode::Disable);
            return Ok((config, Transport::Plain));
        }
        None => true,
    };
    config.ssl_mode(if required {
        SslMode::Require
    } else {
        SslMode::Prefer
    });
    let connector = connector(root.as_deref())?;
    Ok((config, Transport::Tls { required, connector }))
}

/// One connection, with its prepared statements.
pub struct PgConnection {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl PgConnection {
    /// Connects to the database at `url` ([`parse_url`]).
    pub fn open(url: &str) -> Result<PgConnection, SqlError> {
        let (config, transport) = parse_url(url)?;
        PgConnection::connect(&config, &transport)
    }

    /// Connects with `config` over `transport`.
    pub fn connect(config: &postgres::Config, transport: &Transport) -> Result<PgConnection, SqlError> {
        let client = match transport {
            Transport::Plain => config.connect(NoTls).map_err(fault)?,
            Transport::Tls { required, connector } => config.connect(connector.clone()).map_err(|e| {
                let SqlError(text) = fault(e);
                if *required && text.contains("TLS") {
                    SqlError(format!(
                        "{text} (the database must offer TLS with a certificate valid for the host name \
                         in the URL: add sslrootcert=PATH for a private CA, or sslmode=disable only on a \
                         private network)"
                    ))
                } else {
                    SqlError(text)
                }
            })?,
        };
        Ok(PgConnection {
            client,
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
    transport: Transport,
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
    /// or key=value pairs; TLS as [`parse_url`] reads it); connects once to
    /// fail early on a wrong URL, an unreachable server or a certificate
    /// that does not verify.
    pub fn connect(url: &str, size: usize) -> Result<PgPool, SqlError> {
        let (mut config, transport) = parse_url(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("customer-web");
        }
        let first = PgConnection::connect(&config, &transport)?;
        Ok(PgPool {
            config,
            transport,
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
                return PgConnection::connect(&self.config, &self.transport).inspect_err(|_| {
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
        PgConnection::open(server)?.batch(sql)
    }
}
