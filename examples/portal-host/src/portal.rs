//! The portal's host: its own per-call state ([`PortalCtx`]), into whose
//! `Linker` the customer-web host library links the capabilities, and a
//! fresh instance of the component for every call, typed or HTTP.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use customer_web_host::bindings::{Plugin, PluginPre};
use customer_web_host::{Capabilities, CustomerWeb};
use hyper::body::Bytes;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::sync::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What one call sees: WASI's context and the portal's own (here its
/// limits), beside the customer-web capabilities.
pub struct PortalCtx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    customer_web: Arc<Capabilities>,
}

impl WasiView for PortalCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PortalCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The component, compiled and linked once, and the portal's shared state.
pub struct Portal {
    engine: Engine,
    typed: PluginPre<PortalCtx>,
    proxy: ProxyPre<PortalCtx>,
    caps: Arc<Capabilities>,
    calls: AtomicU64,
}

impl Portal {
    /// Compiles the component at `path` and links it against `caps`.
    pub fn load(path: &Path, caps: Capabilities) -> anyhow::Result<Self> {
        let engine = Engine::default();
        let component = Component::from_file(&engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading the component {}", path.display()))?;
        let mut linker = Linker::<PortalCtx>::new(&engine);
        customer_web_host::add_wasi_to_linker(&mut linker)?;
        customer_web_host::add_to_linker(&mut linker, |ctx| CustomerWeb::new(&ctx.customer_web))?;
        let pre = linker.instantiate_pre(&component)?;
        Ok(Portal {
            typed: PluginPre::new(pre.clone())?,
            proxy: ProxyPre::new(pre)?,
            engine,
            caps: Arc::new(caps),
            calls: AtomicU64::new(0),
        })
    }

    /// The capabilities every call shares.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Calls made so far, typed and HTTP.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn store(&self) -> Store<PortalCtx> {
        let ctx = PortalCtx {
            // A clock and randomness; no files, sockets or environment.
            wasi: WasiCtx::builder().wall_clock(self.caps.clock.clone()).build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            // argon2id needs 19 MiB; more than 64 MiB is a runaway call.
            limits: StoreLimitsBuilder::new().memory_size(64 << 20).build(),
            customer_web: self.caps.clone(),
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|ctx| &mut ctx.limits);
        store
    }

    /// Runs `f` against the typed exports of a fresh instance.
    pub fn call<R>(
        &self,
        f: impl FnOnce(&Plugin, &mut Store<PortalCtx>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        let mut store = self.store();
        let plugin = self.typed.instantiate(&mut store)?;
        Ok(f(&plugin, &mut store)?)
    }

    /// Hands one HTTP request to the component's screens in a fresh
    /// instance; the response goes to `respond`. Blocking.
    pub fn handle_http(
        &self,
        request: hyper::Request<http_body_util::Full<Bytes>>,
        respond: tokio::sync::oneshot::Sender<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    ) -> anyhow::Result<()> {
        let mut store = self.store();
        let request = request.map(|body| {
            http_body_util::BodyExt::map_err(body, |never| -> wasmtime_wasi_http::Error { match never {} })
        });
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(respond)?;
        let proxy = self.proxy.instantiate(&mut store)?;
        Ok(proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, out)?)
    }
}
