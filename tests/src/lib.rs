//! The end-to-end tests' harness, shared by the tests in `tests/` and the
//! benchmarks in `benches/`:
//!
//! - [`common`]: typed calls into the component through the wasmtime host,
//!   on memory, SQLite or the Spin stand-in, with the clock in hand; the
//!   Spin side (`spin.toml` as Spin reads it, the composition, the Spin
//!   app's database);
//! - [`support`]: HTTP clients and servers, the walks both hosts pass,
//!   `customer-web serve` and `spin up` as processes, the SMTP and
//!   PostgreSQL servers the tests run.

pub mod common;
pub mod support;

/// The build's scratch directory (`target/tmp`), beside the test or
/// benchmark binary that asks (`target/<profile>/deps/…`).
pub fn target_tmp() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the running binary's path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<binary>")
        .join("tmp")
}
