//! The Spin adapter's directory SQL (spin/adapter/src/sql.rs), compiled natively so
//! the tests in `tests/` run the very strings the adapter sends to Spin's
//! SQLite on SQLite itself (rusqlite, bundled), as Spin's local database
//! runs them: one statement per call, autocommit, positional parameters.

#[path = "../../adapter/src/sql.rs"]
pub mod sql;
