//! The engine that runs the component: compiled once (and kept, see
//! [`crate::precompiled`]), linked and pre-instantiated once, then one fresh
//! instance in its own `Store` per call, as Spin does per request. This is
//! the host library ([`crate::add_to_linker`]) with an engine around it;
//! [`Imports`] links something else instead, for an embedder that stands
//! in for another runtime.
//!
//! Guest limits: a memory cap (argon2id needs 19 MiB), an epoch deadline
//! per call, and a bound on concurrent instances. A trap, an exhausted
//! memory or a deadline is an error of that call only. The limiter notes
//! each call's peak memory (`HostCtx::peak_memory`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder,
};

use wasmtime_wasi_http::p2::bindings::ProxyPre as AsyncProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::sync::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::bindings::{Plugin, PluginPre};
use crate::ctx::{CallExtension, Capabilities, HostCtx};

/// The component this host was built with (feature `embedded`).
#[cfg(feature = "embedded")]
pub const EMBEDDED_COMPONENT: &[u8] = customer_web_artifacts::COMPONENT;

/// How often the epoch advances; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Ticks without a call running after which the epoch thread sleeps until
/// the next call (an idle host wakes no one 100 times a second).
const IDLE_TICKS: u32 = 100;

/// Limits and tuning of the engine.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Linear memory one instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Wall time one call may run before it is interrupted.
    pub call_timeout: Duration,
    /// Instances alive at once; further calls wait their turn. Each may
    /// hold `memory_limit` of memory, so this bounds the host's memory.
    pub max_concurrent: usize,
    /// Where the compiled component is kept between runs, to be mapped
    /// instead of compiled at the next start ([`crate::precompiled`]);
    /// `None`: compiled at every start.
    pub cache_dir: Option<PathBuf>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            memory_limit: 64 << 20,
            call_timeout: Duration::from_secs(10),
            max_concurrent: 2 * crate::cores(),
            cache_dir: None,
        }
    }
}

/// The capabilities a host is made with: ready, or to be opened beside
/// the engine's start.
enum Opening {
    Ready(Box<Capabilities>),
    Open(Box<dyn FnOnce() -> anyhow::Result<Capabilities> + Send + 'static>),
}

/// A component linked: for blocking calls (at once, or at the first), and
/// for async calls where the host's own imports serve it.
type Linked = (OnceLock<Result<Blocking, String>>, Option<AsyncProxyPre<HostCtx>>);

/// The component, ready to run calls.
pub struct PluginHost {
    engine: Engine,
    component: wasmtime::component::Component,
    /// Links the imports for blocking calls.
    link: fn(&mut Linker<HostCtx>) -> wasmtime::Result<()>,
    /// Whether the component has the typed exports (not a component
    /// served by [`PluginHost::proxy_only`]).
    typed: bool,
    /// The component linked for blocking calls, at the first of them.
    blocking: OnceLock<Result<Blocking, String>>,
    /// `wasi:http/incoming-handler` linked for async calls (wasi:io's
    /// waits and the body streams as futures); `None` for a host whose
    /// [`Imports`] link blocking calls only.
    proxy_async: Option<AsyncProxyPre<HostCtx>>,
    caps: Arc<Capabilities>,
    options: HostOptions,
    permits: Permits,
    ticker: Option<JoinHandle<()>>,
    /// What each call's context carries beside the capabilities.
    extension: Option<Extension>,
}

/// The component linked for blocking calls ([`PluginHost::call`],
/// [`PluginHost::handle_http`]).
struct Blocking {
    /// The typed exports; `None` for a component served by
    /// [`PluginHost::proxy_only`].
    pre: Option<PluginPre<HostCtx>>,
    proxy: ProxyPre<HostCtx>,
}

impl Blocking {
    fn link(
        engine: &Engine,
        component: &wasmtime::component::Component,
        link: fn(&mut Linker<HostCtx>) -> wasmtime::Result<()>,
        typed: bool,
    ) -> anyhow::Result<Self> {
        let instance_pre = instantiate_pre(engine, component, link)?;
        Ok(Blocking {
            proxy: ProxyPre::new(instance_pre.clone())?,
            pre: typed.then(|| PluginPre::new(instance_pre)).transpose()?,
        })
    }
}

/// Makes each call's [`CallExtension`].
pub type Extension = Arc<dyn Fn() -> Box<dyn CallExtension> + Send + Sync>;

/// What the component's imports are linked against, for a host that
/// stands in for another runtime (a test kit running the component as
/// another runtime composes it): instead of the capabilities, `link`
/// links the imports, `pool` tunes the pooling allocator for `slots`
/// instances, and each call's context gets `extension`'s
/// [`CallExtension`] (see [`HostCtx::extension`]).
pub struct Imports {
    /// Links every import of the component.
    pub link: fn(&mut Linker<HostCtx>) -> wasmtime::Result<()>,
    /// Adjusts the pooling allocator after the host's own settings, given
    /// the number of instance slots.
    pub pool: fn(&mut PoolingAllocationConfig, u32),
    /// Makes each call's extension.
    pub extension: Extension,
}

impl PluginHost {
    /// Compiles and links `wasm` against these capabilities.
    pub fn new(wasm: &[u8], caps: Capabilities, options: HostOptions) -> anyhow::Result<Self> {
        Self::load(wasm, None, Opening::Ready(Box::new(caps)), options, true, None)
    }

    /// Like [`PluginHost::new`], opening the capabilities with `open` on a
    /// second thread, on another CPU where the process may use one, while
    /// the component is mapped (or compiled) and linked: a start costs the
    /// longer of the two, not their sum.
    pub fn new_opening(
        wasm: &[u8],
        open: impl FnOnce() -> anyhow::Result<Capabilities> + Send + 'static,
        options: HostOptions,
    ) -> anyhow::Result<Self> {
        Self::load(wasm, None, Opening::Open(Box::new(open)), options, true, None)
    }

    /// Compiles `wasm` and links its imports as `imports` says, with the
    /// host's engine, limits, fresh instance per call, typed
    /// [`PluginHost::call`] and [`PluginHost::handle_http`]. `caps` are
    /// what [`PluginHost::capabilities`] answers; the component sees them
    /// only through what `imports.link` links (their clock is always the
    /// component's wall clock).
    pub fn with_imports(
        wasm: &[u8],
        caps: Capabilities,
        options: HostOptions,
        imports: Imports,
    ) -> anyhow::Result<Self> {
        Self::load(
            wasm,
            None,
            Opening::Ready(Box::new(caps)),
            options,
            true,
            Some(imports),
        )
    }

    /// Like [`PluginHost::new`] for a component that exports only
    /// `wasi:http/incoming-handler` (world `wasi:http/proxy`), such as a
    /// hello-world to measure the host against: the same engine, limits,
    /// linker and fresh instance per request behind
    /// [`PluginHost::handle_http`]. [`PluginHost::call`] fails on it.
    pub fn proxy_only(wasm: &[u8], caps: Capabilities, options: HostOptions) -> anyhow::Result<Self> {
        Self::load(wasm, None, Opening::Ready(Box::new(caps)), options, false, None)
    }

    fn load(
        wasm: &[u8],
        sha256: Option<&[u8; 32]>,
        caps: Opening,
        options: HostOptions,
        typed: bool,
        imports: Option<Imports>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(options.max_concurrent > 0, "max_concurrent must be at least 1");
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Unwind tables serve only native profilers and debuggers walking
        // through wasm frames (wasmtime's own traces do not need them);
        // registering them adds to every load.
        config.native_unwind_info(false);
        let slots = u32::try_from(options.max_concurrent).context("max_concurrent too large")?;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .total_memories(slots * 4)
            .total_tables(slots * 8)
            .max_memory_size(options.memory_limit)
            // A slot's memory and tables stay mapped between instances, and
            // only the pages an instance dirtied are reset (found with
            // PAGEMAP_SCAN where the kernel has it): no madvise, and no page
            // fault per page on the next request. Measured by `--bench http`:
            // the hello-world's floor from 96 to 63 µs, twice the req/s. The
            // bound stays slots × memory_limit; idle warm slots keep the
            // pages their last instance touched.
            .linear_memory_keep_resident(options.memory_limit)
            .table_keep_resident(1 << 20)
            // One stack per instance that can run (the async calls of
            // wasi:http), not wasmtime's default 1,000: each is mapped
            // with a guard page when the engine starts, which cost 3 of
            // the 5 ms a start may take.
            .total_stacks(slots)
            .pagemap_scan(wasmtime::Enabled::Auto);
        if let Some(imports) = &imports {
            (imports.pool)(&mut pool, slots);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let opened = match caps {
            Opening::Ready(caps) => Ok(*caps),
            Opening::Open(open) => {
                let thread = std::thread::Builder::new()
                    .name("customer-web-open".into())
                    .spawn(open)
                    .context("starting the thread that opens the capabilities")?;
                elsewhere(&thread);
                Err(thread)
            }
        };
        // Neither loading nor linking needs the capabilities: they are
        // joined last, so their thread has the whole of both to open them.
        let loaded =
            Self::engine_and_component(&config, wasm, sha256, &options).and_then(|(engine, component)| {
                let linked = Self::link(&engine, &component, imports.as_ref(), typed)?;
                Ok((engine, component, linked))
            });
        let caps = match opened {
            Ok(caps) => caps,
            Err(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("opening the capabilities panicked"))??,
        };
        let (engine, component, (blocking, proxy_async)) = loaded?;

        let link = match &imports {
            None => link_capabilities,
            Some(imports) => imports.link,
        };
        let clock = Arc::new(EpochClock::default());
        let ticker = {
            let (engine, clock) = (engine.clone(), clock.clone());
            std::thread::Builder::new()
                .name("customer-web-epoch".into())
                .spawn(move || clock.run(&engine))
                .context("starting the epoch thread")?
        };
        Ok(PluginHost {
            engine,
            component,
            link,
            typed,
            blocking,
            proxy_async,
            caps: Arc::new(caps),
            permits: Permits::new(options.max_concurrent, clock),
            options,
            ticker: Some(ticker),
            extension: imports.map(|imports| imports.extension),
        })
    }

    /// Links the component: the host's own imports for async calls now
    /// (what `serve` runs), and for blocking calls at the first of those;
    /// an embedder's [`Imports`] for blocking calls only. The exports are
    /// checked now, not at the first call.
    fn link(
        engine: &Engine,
        component: &wasmtime::component::Component,
        imports: Option<&Imports>,
        typed: bool,
    ) -> anyhow::Result<Linked> {
        let blocking = OnceLock::new();
        let proxy_async = match imports {
            Some(imports) => {
                let _ = blocking.set(Ok(Blocking::link(engine, component, imports.link, typed)?));
                None
            }
            None => {
                let instance_pre = instantiate_pre(engine, component, link_capabilities_async)?;
                if typed {
                    PluginPre::new(instance_pre.clone())?;
                }
                Some(AsyncProxyPre::new(instance_pre)?)
            }
        };
        Ok((blocking, proxy_async))
    }

    fn engine_and_component(
        config: &Config,
        wasm: &[u8],
        sha256: Option<&[u8; 32]>,
        options: &HostOptions,
    ) -> anyhow::Result<(Engine, wasmtime::component::Component)> {
        let engine = Engine::new(config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let cache_dir = options.cache_dir.as_deref();
        let component = match sha256 {
            Some(sha256) => crate::precompiled::component_hashed(&engine, wasm, sha256, cache_dir)?,
            None => crate::precompiled::component(&engine, wasm, cache_dir)?,
        };
        Ok((engine, component))
    }

    /// The component this binary embeds (feature `embedded`).
    #[cfg(feature = "embedded")]
    pub fn embedded(caps: Capabilities, options: HostOptions) -> anyhow::Result<Self> {
        let sha256 = &customer_web_artifacts::COMPONENT_SHA256;
        Self::load(
            EMBEDDED_COMPONENT,
            Some(sha256),
            Opening::Ready(Box::new(caps)),
            options,
            true,
            None,
        )
    }

    /// [`PluginHost::new_opening`] of the component this binary embeds
    /// (feature `embedded`).
    #[cfg(feature = "embedded")]
    pub fn embedded_opening(
        open: impl FnOnce() -> anyhow::Result<Capabilities> + Send + 'static,
        options: HostOptions,
    ) -> anyhow::Result<Self> {
        Self::load(
            EMBEDDED_COMPONENT,
            Some(&customer_web_artifacts::COMPONENT_SHA256),
            Opening::Open(Box::new(open)),
            options,
            true,
            None,
        )
    }

    /// The capabilities calls see.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The component linked for blocking calls, linked now if this is
    /// the first.
    fn blocking(&self) -> anyhow::Result<&Blocking> {
        self.blocking
            .get_or_init(|| {
                Blocking::link(&self.engine, &self.component, self.link, self.typed)
                    .map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The engine (for benchmarks that measure instantiation).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether the thread that advances the epoch (which call deadlines
    /// count) is asleep: no call has run for a second. The next call
    /// wakes it before any of its wasm runs.
    pub fn epoch_asleep(&self) -> bool {
        self.permits.clock.asleep.load(Ordering::SeqCst)
    }

    /// Runs `f` against a fresh instance in a fresh store. A trap, a
    /// memory cap or a deadline inside `f` is this call's error; the host
    /// goes on serving.
    pub fn call<R>(
        &self,
        f: impl FnOnce(&Plugin, &mut Store<HostCtx>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        let pre = self
            .blocking()?
            .pre
            .as_ref()
            .context("the component exports only wasi:http/incoming-handler")?;
        let _permit = self.permits.acquire();
        let mut store = self.new_store();
        let plugin = pre
            .instantiate(&mut store)
            .map_err(anyhow::Error::from)
            .context("instantiating")?;
        f(&plugin, &mut store).map_err(anyhow::Error::from)
    }

    /// Hands one HTTP request to the component's
    /// `wasi:http/incoming-handler` in a fresh instance. The response goes
    /// to `respond` as soon as the component sets it; its body streams on
    /// while this call runs. Blocking: run it off the async executor.
    pub fn handle_http<B>(
        &self,
        request: hyper::Request<B>,
        scheme: Scheme,
        respond: tokio::sync::oneshot::Sender<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    ) -> anyhow::Result<()>
    where
        B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        use wasmtime_wasi_http::WasiHttpView;
        let _permit = self.permits.acquire();
        let mut store = self.new_store();
        let request = store.data_mut().http().new_incoming_request(scheme, request)?;
        let out = store.data_mut().http().new_response_outparam(respond)?;
        let proxy = self
            .blocking()?
            .proxy
            .instantiate(&mut store)
            .map_err(anyhow::Error::from)
            .context("instantiating")?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, out)
            .map_err(anyhow::Error::from)
    }

    /// [`PluginHost::handle_http`] on the awaiting task, as `serve` runs
    /// each request: no hand-off to a blocking thread and back, which
    /// costs more than the instance itself. The instance runs on a fiber
    /// of this task and yields to the executor while it waits (on its
    /// response body's reader, say) and after every 10 ms of computing;
    /// past the call timeout it traps, as [`PluginHost::handle_http`]'s
    /// does. The capabilities' blocking backends move the worker's other
    /// tasks to another thread first, so a slow database holds up this
    /// request only. Run it on a task of its own (`tokio::spawn`) and
    /// await `respond`'s receiver: the response head goes out while the
    /// instance goes on writing the body. Needs a multi-threaded tokio
    /// runtime. A host made [`PluginHost::with_imports`] links blocking
    /// imports only: for it, this runs [`PluginHost::handle_http`] on a
    /// blocking thread.
    pub async fn handle_http_async<B>(
        self: Arc<Self>,
        request: hyper::Request<B>,
        scheme: Scheme,
        respond: tokio::sync::oneshot::Sender<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    ) -> anyhow::Result<()>
    where
        B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        use wasmtime_wasi_http::WasiHttpView;
        let Some(proxy) = &self.proxy_async else {
            let host = self.clone();
            return tokio::task::spawn_blocking(move || host.handle_http(request, scheme, respond))
                .await
                .context("the call's thread panicked")?;
        };
        let _permit = self.permits.acquire_async().await;
        let mut store = self.new_store();
        let mut left = self.deadline_ticks();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            left = left.saturating_sub(1);
            Ok(if left == 0 {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Yield(1)
            })
        });
        let request = store.data_mut().http().new_incoming_request(scheme, request)?;
        let out = store.data_mut().http().new_response_outparam(respond)?;
        let proxy = proxy
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("instantiating")?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, out)
            .await
            .map_err(anyhow::Error::from)
    }

    /// Epoch ticks in one call's time limit.
    fn deadline_ticks(&self) -> u64 {
        let ticks = (self.options.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    fn new_store(&self) -> Store<HostCtx> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit)
            .trap_on_grow_failure(false)
            .build();
        let mut ctx = HostCtx::new(self.caps.clone(), limits);
        if let Some(extension) = &self.extension {
            ctx = ctx.with_extension(extension());
        }
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|ctx| &mut ctx.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        store
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        if let Some(handle) = self.ticker.take() {
            self.permits.clock.stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// Links the component's imports to this host: its capabilities, and of
/// WASI only what the component needs.
fn link_capabilities(linker: &mut Linker<HostCtx>) -> wasmtime::Result<()> {
    crate::link::add_wasi_to_linker(linker)?;
    crate::link::add_to_linker(linker, HostCtx::customer_web)
}

/// [`link_capabilities`] for async calls.
fn link_capabilities_async(linker: &mut Linker<HostCtx>) -> wasmtime::Result<()> {
    crate::link::add_wasi_to_linker_async(linker)?;
    crate::link::add_to_linker(linker, HostCtx::customer_web)
}

/// `component` with its imports linked by `link`.
fn instantiate_pre(
    engine: &Engine,
    component: &wasmtime::component::Component,
    link: fn(&mut Linker<HostCtx>) -> wasmtime::Result<()>,
) -> anyhow::Result<wasmtime::component::InstancePre<HostCtx>> {
    let mut linker = Linker::<HostCtx>::new(engine);
    link(&mut linker)?;
    linker
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .context("linking the component")
}

/// A counting semaphore bounding live instances, waited for by blocking
/// calls and async ones alike, first come first served.
/// The epoch's advance, which call deadlines count, and the calls running
/// that need it: the thread advancing it sleeps once no call has run for
/// [`IDLE_TICKS`], and the next call wakes it before any wasm runs.
#[derive(Default)]
struct EpochClock {
    /// Calls holding a permit.
    running: AtomicUsize,
    /// The epoch thread is asleep, or about to be.
    asleep: AtomicBool,
    /// The epoch thread, once it runs.
    thread: OnceLock<std::thread::Thread>,
    stop: AtomicBool,
}

impl EpochClock {
    /// The epoch thread's loop.
    fn run(&self, engine: &Engine) {
        let _ = self.thread.set(std::thread::current());
        let mut idle = 0;
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
            if self.running.load(Ordering::SeqCst) > 0 {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < IDLE_TICKS {
                continue;
            }
            // Said before the last look at `running`: a call that starts
            // after that look sees it and wakes the thread (a wake-up
            // given before `park` makes `park` return at once).
            self.asleep.store(true, Ordering::SeqCst);
            while self.running.load(Ordering::SeqCst) == 0 && !self.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            self.asleep.store(false, Ordering::SeqCst);
            idle = 0;
        }
    }

    fn started(&self) {
        self.running.fetch_add(1, Ordering::SeqCst);
        if self.asleep.load(Ordering::SeqCst)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }

    fn finished(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// At most `max_concurrent` calls at once, each counted as running for
/// the epoch clock while it holds its permit.
struct Permits {
    semaphore: tokio::sync::Semaphore,
    clock: Arc<EpochClock>,
}

/// One call's turn.
struct Permit<'a> {
    _turn: tokio::sync::SemaphorePermit<'a>,
    clock: &'a EpochClock,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.clock.finished();
    }
}

impl Permits {
    fn new(n: usize, clock: Arc<EpochClock>) -> Self {
        Permits {
            semaphore: tokio::sync::Semaphore::new(n),
            clock,
        }
    }

    fn permit<'a>(&'a self, turn: tokio::sync::SemaphorePermit<'a>) -> Permit<'a> {
        self.clock.started();
        Permit {
            _turn: turn,
            clock: &self.clock,
        }
    }

    /// A permit, blocking the thread until one is free.
    fn acquire(&self) -> Permit<'_> {
        let turn = match self.semaphore.try_acquire() {
            Ok(turn) => turn,
            Err(_) => park_until(self.semaphore.acquire()).expect("the semaphore is never closed"),
        };
        self.permit(turn)
    }

    /// A permit, waiting on the task until one is free.
    async fn acquire_async(&self) -> Permit<'_> {
        let turn = self
            .semaphore
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.permit(turn)
    }
}

/// Drives `future` on this thread, parking it between wake-ups: for
/// futures that need no runtime (a semaphore's turn).
fn park_until<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Moves a start's second thread (the one opening the capabilities) off
/// the CPU the calling thread runs on, when the process may use another.
/// The two run side by side only on different CPUs; a kernel that wakes a
/// new thread on its parent's CPU (as some virtual machines' do, to pack
/// a process's threads) runs the second only once the first blocks, and
/// the start costs their sum. The thread ends when the capabilities are
/// open, and its CPU mask with it; a thread it starts inherits the mask
/// and should take the process's back ([`crate::any_cpu`]). A refusal (a
/// mask the container forbids) leaves it where the kernel put it: slower,
/// not wrong.
fn elsewhere<T>(thread: &std::thread::JoinHandle<T>) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt as _;
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the set is a plain bit array, zeroed, filled by the
        // kernel and passed with its size; the thread handle is alive (it
        // is joined later), so its pthread_t names a running or finished
        // but unjoined thread.
        unsafe {
            let here = libc::sched_getcpu();
            let Ok(here) = usize::try_from(here) else { return };
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut set) != 0
                || here >= libc::CPU_SETSIZE as usize
                || !libc::CPU_ISSET(here, &set)
                || libc::CPU_COUNT(&set) < 2
            {
                return;
            }
            libc::CPU_CLR(here, &mut set);
            let _ = libc::pthread_setaffinity_np(thread.as_pthread_t(), size, &set);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = thread;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The CPUs `thread` may run on.
    fn mask_of(thread: libc::pthread_t) -> Vec<usize> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: a zeroed bit array filled by the kernel, with its size;
        // the thread is alive (joined by the caller afterwards).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::pthread_getaffinity_np(thread, size, &mut set), 0);
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect()
        }
    }

    fn own_mask() -> Vec<usize> {
        // SAFETY: pthread_self names the calling thread.
        mask_of(unsafe { libc::pthread_self() })
    }

    #[test]
    fn the_opening_thread_leaves_the_callers_cpu_and_its_children_take_every_cpu_back() {
        let process = own_mask();
        let (ready, wait) = std::sync::mpsc::channel::<()>();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            ready.send(()).unwrap();
            finish.recv().unwrap();
            // What a thread started here gets, before and after any_cpu.
            std::thread::spawn(|| {
                let inherited = own_mask();
                crate::any_cpu();
                (inherited, own_mask())
            })
            .join()
            .unwrap()
        });
        wait.recv().unwrap();
        super::elsewhere(&thread);
        let moved = {
            use std::os::unix::thread::JoinHandleExt as _;
            mask_of(thread.as_pthread_t())
        };
        done.send(()).unwrap();
        let (inherited, restored) = thread.join().unwrap();
        if process.len() < 2 {
            // One CPU: nowhere else to go, and the mask is left alone.
            assert_eq!(moved, process);
        } else {
            // All but one of the process's CPUs: the one the caller ran on
            // when it moved the thread (the caller may have moved since).
            assert_eq!(moved.len(), process.len() - 1, "{moved:?} of {process:?}");
            assert!(
                moved.iter().all(|cpu| process.contains(cpu)),
                "{moved:?} of {process:?}"
            );
            assert_eq!(inherited, moved, "a thread started there inherits the mask");
        }
        assert_eq!(restored, process, "any_cpu gives back the process's CPUs");
    }
}
