//! A stand-in for Spin's host, for tests: it runs the customer-web
//! component *composed with the Spin adapter* (as `spin up` composes it
//! from `spin.toml`) on this host's engine, limits and clock, against the
//! interfaces Spin gives a component instead of the host's capabilities:
//!
//! - `fermyon:spin/sqlite@2.0.0` on rusqlite: a real SQLite file, one
//!   connection per `open` with a 5 s busy timeout, each statement prepared
//!   (cached) and run on its own in autocommit, every row returned, errors
//!   as `io(message)`: what Spin's in-process SQLite does;
//! - `fermyon:spin/variables@2.0.0` from a map of resolved values;
//! - `spin:postgres/postgres@4.0.0` linked but refused (a trap): the
//!   stand-in runs the adapter on SQLite, `database_url` empty;
//! - `wasi:http/types` and `wasi:http/outgoing-handler`, whose requests
//!   never leave the process: a [`Relay`] records each one and answers it;
//! - the rest of WASI 0.2 as wasmtime provides it (Spin uses the same
//!   crates), with this host's wall clock.
//!
//! [`host`] makes a [`PluginHost`] of it. The WIT of the two
//! `fermyon:spin` interfaces is vendored in `testkit/wit-spin/`; the e2e
//! tests check it against spin-sdk's copy.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use customer_web_host::clock::Clock;
use customer_web_host::plugin::Imports;
use customer_web_host::{CallExtension, Capabilities, HostCtx, HostOptions, PluginHost};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use wasmtime::PoolingAllocationConfig;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

#[allow(missing_docs)] // generated from the vendored WIT, documented there
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit-spin",
        world: "customer-web:spin-harness/spin-host",
        imports: { default: trappable },
    });
}

pub use bindings::fermyon::spin::{sqlite, variables};

/// The name of the one database Spin grants (`sqlite_databases`).
pub const DEFAULT_DATABASE: &str = "default";

/// How long a statement waits for another connection's lock: rusqlite's
/// default, which Spin's in-process SQLite keeps.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the Spin stand-in serves, shared by every call.
#[derive(Clone, Debug)]
pub struct SpinState {
    /// The file behind the `default` database (`spin up` keeps it in
    /// `.spin/sqlite_db.db`). Other names are refused with `access-denied`.
    pub database: PathBuf,
    /// Variable values by name, as Spin resolves them for the component
    /// (its `[component.*.variables]`, templates filled in).
    pub variables: BTreeMap<String, String>,
    /// The wall clock the composition sees (a [`MovableClock`](crate::MovableClock)'s, for
    /// tests that move it).
    pub clock: Clock,
    /// Where outgoing HTTP requests go.
    pub relay: Relay,
}

impl SpinState {
    /// A stand-in over this database file and these variables, with the
    /// system clock and a relay that answers 200.
    pub fn new(database: PathBuf, variables: BTreeMap<String, String>) -> Self {
        SpinState {
            database,
            variables,
            clock: Clock::system(),
            relay: Relay::new(200),
        }
    }
}

/// The receiver of every outgoing HTTP request: it records the request and
/// answers with its current status and an empty body. Clones share both.
#[derive(Clone, Debug)]
pub struct Relay {
    requests: Arc<Mutex<Vec<RelayedRequest>>>,
    status: Arc<AtomicU16>,
}

/// One outgoing request, as it reached the [`Relay`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The full URI.
    pub uri: String,
    /// Every header, in order, values as text (lossy).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Relay {
    /// A relay answering `status`.
    pub fn new(status: u16) -> Self {
        Relay {
            requests: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        }
    }

    /// Answers later requests with `status`.
    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RelayedRequest> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl WasiHttpHooks for Relay {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    hyper::Response<WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        let relay = self.clone();
        Box::new(async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes().to_vec();
            relay
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(RelayedRequest {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect(),
                    body,
                });
            let response = hyper::Response::builder()
                .status(relay.status.load(Ordering::SeqCst))
                .body(
                    Full::new(Bytes::new())
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))?;
            let io: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// Spin's pooling limits per component instance (`spin up`'s defaults,
/// spinframework/spin `crates/core/src/lib.rs`): a composition that holds
/// more core instances, memories or tables than these fails to load here
/// as it would under Spin.
const CORE_INSTANCES: u32 = 200;
const MEMORIES: u32 = 32;
const TABLES: u32 = 20;

/// A stand-in for `spin up`: `composed` is the component composed with
/// the Spin adapter as Spin composes it from `spin.toml`, linked against
/// Spin's host interfaces instead of the host's capabilities, with the
/// host's engine, limits, fresh instance per call, typed
/// [`PluginHost::call`] and [`PluginHost::handle_http`]. Spin's pooling
/// limits per instance apply. The composition's wall clock is
/// `spin.clock`, which [`PluginHost::capabilities`]' clock is; the other
/// capabilities there are not linked and stay empty.
pub fn host(composed: &[u8], spin: SpinState, options: HostOptions) -> anyhow::Result<PluginHost> {
    let caps = Capabilities::in_memory_on(spin.clock.clone());
    let spin = Arc::new(spin);
    let imports = Imports {
        link: add_to_linker,
        pool: spin_pool,
        extension: Arc::new(move || Box::new(SpinCtx::new(spin.clone()))),
    };
    PluginHost::with_imports(composed, caps, options, imports)
}

fn spin_pool(pool: &mut PoolingAllocationConfig, slots: u32) {
    pool.max_core_instances_per_component(CORE_INSTANCES)
        .max_memories_per_component(MEMORIES)
        .max_tables_per_component(TABLES)
        .total_core_instances(slots * CORE_INSTANCES)
        .total_memories(slots * MEMORIES)
        .total_tables(slots * TABLES);
}

/// One call's share of the stand-in: its open connections and its relay.
struct SpinCtx {
    state: Arc<SpinState>,
    connections: HashMap<u32, rusqlite::Connection>,
    next: u32,
    relay: Relay,
}

impl CallExtension for SpinCtx {
    fn http_hooks(&mut self) -> Option<&mut dyn WasiHttpHooks> {
        // Outgoing requests (the adapter's mail relay) go to the relay.
        Some(&mut self.relay)
    }
}

fn spin_ctx(ctx: &mut HostCtx) -> &mut SpinCtx {
    ctx.extension::<SpinCtx>()
        .expect("the Spin stand-in gives every call a Spin context")
}

impl SpinCtx {
    fn new(state: Arc<SpinState>) -> Self {
        SpinCtx {
            relay: state.relay.clone(),
            state,
            connections: HashMap::new(),
            next: 0,
        }
    }
}

/// Links what Spin provides, as far as the composition imports it: all of
/// WASI 0.2 (wasmtime's 0.2.6 definitions serve the adapter's 0.2.6 and
/// the component's 0.2.12 imports), `wasi:http` types and outgoing handler,
/// and the two `fermyon:spin` interfaces. Nothing defines the type-only
/// `customer-web:plugin/types`, which the composition still imports:
/// wasmtime accepts an instance import that holds no functions.
fn add_to_linker(linker: &mut Linker<HostCtx>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)?;
    link_no_postgres(linker)?;
    bindings::SpinHost::add_to_linker::<HostCtx, HasSelf<SpinCtx>>(linker, spin_ctx)
}

/// The stand-in has no PostgreSQL. The adapter imports Spin's
/// `spin:postgres/postgres@4.0.0` for the `database_url` variable, which
/// the stand-in leaves empty (the adapter is then on SQLite, which is what
/// it stands in for); the interface is linked only so the composition
/// instantiates, and a call traps saying so. The real Spin runs the
/// PostgreSQL path (`tests/tests/spin_up.rs`).
fn link_no_postgres(linker: &mut Linker<HostCtx>) -> wasmtime::Result<()> {
    struct NoConnection;
    let mut postgres = linker.instance("spin:postgres/postgres@4.0.0")?;
    postgres.resource(
        "connection",
        wasmtime::component::ResourceType::host::<NoConnection>(),
        |_, _| Ok(()),
    )?;
    for name in [
        "[static]connection.open",
        "[method]connection.query",
        "[method]connection.execute",
    ] {
        postgres.func_new(name, |_, _, _, _| {
            Err(wasmtime::Error::msg(
                "the Spin stand-in has no PostgreSQL: leave database_url empty",
            ))
        })?;
    }
    Ok(())
}

impl sqlite::Host for SpinCtx {}

impl sqlite::HostConnection for SpinCtx {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<sqlite::Connection>, sqlite::Error>> {
        if database != DEFAULT_DATABASE {
            return Ok(Err(sqlite::Error::AccessDenied));
        }
        let connection = match rusqlite::Connection::open(&self.state.database)
            .and_then(|c| c.busy_timeout(BUSY_TIMEOUT).map(|()| c))
        {
            Ok(c) => c,
            Err(e) => return Ok(Err(sqlite::Error::Io(e.to_string()))),
        };
        self.next += 1;
        self.connections.insert(self.next, connection);
        Ok(Ok(Resource::new_own(self.next)))
    }

    fn execute(
        &mut self,
        connection: Resource<sqlite::Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> wasmtime::Result<Result<sqlite::QueryResult, sqlite::Error>> {
        let Some(connection) = self.connections.get(&connection.rep()) else {
            return Ok(Err(sqlite::Error::InvalidConnection));
        };
        Ok(execute(connection, &statement, parameters).map_err(|e| sqlite::Error::Io(e.to_string())))
    }

    fn drop(&mut self, connection: Resource<sqlite::Connection>) -> wasmtime::Result<()> {
        self.connections.remove(&connection.rep());
        Ok(())
    }
}

fn execute(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    use rusqlite::types::{Value, ValueRef};
    let mut prepared = connection.prepare_cached(statement)?;
    let columns: Vec<String> = prepared.column_names().map(str::to_owned).collect();
    let parameters = parameters.into_iter().map(|v| match v {
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(f) => Value::Real(f),
        sqlite::Value::Text(t) => Value::Text(t),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    });
    let rows = prepared
        .query_map(rusqlite::params_from_iter(parameters), |row| {
            let values = (0..columns.len())
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => sqlite::Value::Null,
                        ValueRef::Integer(i) => sqlite::Value::Integer(i),
                        ValueRef::Real(f) => sqlite::Value::Real(f),
                        ValueRef::Text(t) => sqlite::Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => sqlite::Value::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<_>>()?;
            Ok(sqlite::RowResult { values })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(sqlite::QueryResult { columns, rows })
}

impl variables::Host for SpinCtx {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self
            .state
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| variables::Error::Undefined(format!("no variable for {name:?}"))))
    }
}
