//! The Spin side checked against the one contract.
//!
//! Built for wasm32-wasip2, this crate is a Spin HTTP component that
//! imports `customer-web:plugin/storage` as the customer-web component
//! does. Composed with the Spin adapter (a manifest with the same
//! `"customer-web:plugin"` dependency as spin.toml's) and served by the
//! real `spin up`, it runs customer-web-core's storage checks
//! ([`customer_web_core::conformance`]) through the adapter, on whatever
//! database the adapter is given:
//!
//! - `GET /checks?ns=NAMESPACE`: every check of the store port, on keys
//!   under `NAMESPACE`; `200 ok N`, or `500` with the first failure.
//! - `GET /outbox-checks`: every check of the outbox
//!   (customer-web-sql's), on the adapter's statements and executor over
//!   the database the adapter keeps the contract in (Spin's SQLite, or
//!   PostgreSQL when the variable `database_url` is set), each on an
//!   emptied outbox; `200 ok N`, or `500`.
//! - `POST /increment?key=KEY&times=N`: `N` compare-and-swap increments
//!   of one counter (racing requests must lose none); `200 conflicts C`.
//! - `GET /counter?key=KEY`: the counter; `200 N`.
//!
//! Natively, the crate's tests run the adapter's directory SQL
//! (`customer_web_sql::directory`, re-exported as [`sql`]) on SQLite as
//! Spin's local database runs it.

pub use customer_web_sql::directory as sql;

#[cfg(target_arch = "wasm32")]
mod component;
