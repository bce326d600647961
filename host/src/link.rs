//! The host library: the component's capabilities linked into any
//! embedder's [`Linker<T>`], after wasmtime's own `wasi-*` crates.
//!
//! The embedder keeps [`Capabilities`] in its own store data and hands
//! [`add_to_linker`] a function that borrows them as a [`CustomerWeb`]
//! view; [`add_wasi_to_linker`] links the little of WASI the component
//! may use. [`PluginHost`](crate::PluginHost) is this plus an engine, a
//! pool and a fresh instance per call.
//!
//! ```no_run
//! use customer_web_host::{Capabilities, CustomerWeb, bindings::Plugin};
//! use wasmtime::component::{Component, Linker, ResourceTable};
//! use wasmtime::{Engine, Store};
//! use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//! use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
//!
//! struct Portal {
//!     wasi: WasiCtx,
//!     http: WasiHttpCtx,
//!     table: ResourceTable,
//!     customer_web: Capabilities,
//! }
//! impl WasiView for Portal {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//! impl WasiHttpView for Portal {
//!     fn http(&mut self) -> WasiHttpCtxView<'_> {
//!         WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
//!     }
//! }
//!
//! let engine = Engine::default();
//! let mut linker = Linker::<Portal>::new(&engine);
//! customer_web_host::add_wasi_to_linker(&mut linker)?;
//! customer_web_host::add_to_linker(&mut linker, |portal| CustomerWeb::new(&portal.customer_web))?;
//! let component = Component::from_file(&engine, "customer_web_component.wasm")?;
//! let mut store = Store::new(&engine, Portal {
//!     wasi: WasiCtx::builder().build(),
//!     http: WasiHttpCtx::new(),
//!     table: ResourceTable::new(),
//!     customer_web: Capabilities::in_memory(),
//! });
//! let plugin = Plugin::instantiate(&mut store, &component, &linker)?;
//! let flow = plugin.customer_web_plugin_enrollment().call_start(&mut store, None)?;
//! assert!(flow.is_ok());
//! # anyhow::Ok(())
//! ```

use std::fmt;

use wasmtime::component::{HasData, Linker};
use wasmtime_wasi::WasiView;
use wasmtime_wasi_http::WasiHttpView;

use crate::bindings::Plugin;
use crate::bindings::customer_web::plugin::{audit, config, directory, hashing, mail, storage};
use crate::ctx::Capabilities;

/// The capabilities as one call's imports see them: a view borrowed from
/// the embedder's store data.
pub struct CustomerWeb<'a> {
    pub(crate) caps: &'a Capabilities,
}

impl<'a> CustomerWeb<'a> {
    /// A view of `caps`.
    pub fn new(caps: &'a Capabilities) -> Self {
        CustomerWeb { caps }
    }

    /// Seconds since the Unix epoch on the capabilities' clock.
    pub(crate) fn now(&self) -> u64 {
        self.caps.clock.now()
    }
}

/// The [`HasData`] of the capability imports: their data is a
/// [`CustomerWeb`] view.
pub struct HasCustomerWeb;

impl HasData for HasCustomerWeb {
    type Data<'a> = CustomerWeb<'a>;
}

/// Links the component's capability imports (`customer-web:plugin`'s
/// world `imports`: storage, mail, directory, config, audit, hashing) into
/// `linker`, each call reaching the capabilities through `view`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> CustomerWeb<'_>,
) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<T, HasCustomerWeb>(linker, view)
}

/// Links the WASI the component may use, and nothing more: clocks,
/// randomness, stdio and io (what a `wasi:http` proxy may use), an empty
/// environment, inert exit and terminals and the seed of hash maps
/// (`wasi:random/insecure-seed`; Rust's standard library asks for them,
/// the seed for the `http` crate's header maps), and `wasi:http/types`
/// without the outgoing handler. A component that imports files, sockets
/// or outgoing HTTP fails to link. `fields.from-list` is the host's own,
/// which reads the fields in the component's memory rather than copying
/// them first (same answers as wasi-http's); defining it over
/// wasi-http's leaves `linker` not allowing shadowing.
pub fn add_wasi_to_linker<T: WasiView + WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_sync(linker)?;
    add_wasi_rest(linker)?;
    wasmtime_wasi_http::p2::bindings::sync::http::types::add_to_linker::<T, wasmtime_wasi_http::WasiHttp>(
        linker,
        &Default::default(),
        T::http,
    )?;
    crate::fields::link_from_list(linker)
}

/// [`add_wasi_to_linker`] for instances called with wasmtime's `*_async`
/// methods: the same interfaces, with wasi:io's waits and `wasi:http`'s
/// body streams as futures the embedder's executor drives instead of
/// blocking the thread.
pub fn add_wasi_to_linker_async<T: WasiView + WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    add_wasi_rest(linker)?;
    wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<T, wasmtime_wasi_http::WasiHttp>(
        linker,
        &Default::default(),
        T::http,
    )?;
    crate::fields::link_from_list(linker)
}

/// What both flavours link alike: none of it blocks.
fn add_wasi_rest<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::sync::cli;
    cli::environment::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::exit::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    {
        use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
        wasmtime_wasi::p2::bindings::random::insecure_seed::add_to_linker::<T, WasiRandom>(
            linker,
            T::random,
        )?;
    }
    Ok(())
}

/// What a capability answers when it fails: its interface's `error`,
/// which reaches the component as the call's result, or a host fault,
/// which traps the call.
pub enum Fault<E> {
    /// The interface's error, for the component to handle.
    Error(E),
    /// A host bug: the call traps.
    Trap(wasmtime::Error),
}

impl<E> From<E> for Fault<E> {
    fn from(error: E) -> Self {
        Fault::Error(error)
    }
}

impl<E: fmt::Debug> fmt::Debug for Fault<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Fault::Trap(e) => f.debug_tuple("Trap").field(e).finish(),
        }
    }
}

impl<E> Fault<E> {
    /// The interface's error, or the trap as the host function's error.
    pub(crate) fn into_guest(self) -> wasmtime::Result<E> {
        match self {
            Fault::Error(e) => Ok(e),
            Fault::Trap(trap) => Err(trap),
        }
    }
}

/// A `customer-web:plugin/storage` failure.
pub type StorageFault = Fault<storage::Error>;
/// A `customer-web:plugin/mail` failure.
pub type MailFault = Fault<mail::Error>;
/// A `customer-web:plugin/directory` failure.
pub type DirectoryFault = Fault<directory::Error>;
/// A `customer-web:plugin/config` failure.
pub type ConfigFault = Fault<config::Error>;
/// A `customer-web:plugin/audit` failure.
pub type AuditFault = Fault<audit::Error>;
/// A `customer-web:plugin/hashing` failure.
pub type HashingFault = Fault<hashing::Error>;
