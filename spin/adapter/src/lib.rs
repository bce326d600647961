//! The customer-web capabilities on Spin: a component that exports the
//! `storage`, `mail`, `directory`, `config`, `audit` and `hashing`
//! interfaces of `customer-web:plugin` and implements them on
//! what Spin provides, through spin-sdk 5.2.0 (synchronous, WASI 0.2):
//!
//! - `fermyon:spin/sqlite@2.0.0`, the app's `default` database: the
//!   versioned key-value store with a real compare-and-swap, the durable
//!   mail outbox and the audit trail, with customer-web-sql's schemas,
//!   migrations and statements (the wasmtime host's own, run here through
//!   its `spin` executor), and the insurer's directory (the adapter's own
//!   statements, in `sql.rs`); every table is named `cw_*`;
//! - `fermyon:spin/variables@2.0.0`: the settings, one variable per field
//!   of `config.settings` in snake_case, and `mail_relay_url`;
//! - `wasi:http/outgoing-handler`: delivery of queued mail to an HTTP mail
//!   relay;
//! - hashing is not offered (`none`): the component hashes itself.
//!
//! spin.toml plugs this component into each capability import of the
//! customer-web component, so Spin composes one instance of it per
//! capability with the very `.wasm` the wasmtime host embeds.
//!
//! Nothing here panics: a panic would trap the whole request, which the
//! customer-web component cannot answer; every fault is the interface's
//! `error` variant, which it turns into its "unavailable" page.

mod audit;
mod config;
mod db;
mod directory;
mod hashing;
mod mail;
mod storage;

mod bindings {
    wit_bindgen::generate!({
        // The real contract (../../wit, package customer-web:plugin) and the
        // adapter's world (wit/world.wit).
        path: ["../../wit", "wit"],
        world: "customer-web:spin-adapter/adapter",
    });
}

/// The exported interfaces' implementation.
struct Adapter;

bindings::export!(Adapter with_types_in bindings);
