//! A [`Store`] in PostgreSQL: one database that many hosts share.
//!
//! The schema and every statement are `customer-web-sql`'s
//! ([`customer_web_sql::kv`]); each write is one statement, an atomic
//! compare-and-swap whichever host and connection runs it. Connections come
//! from a small pool; one the server closed is replaced on the next call.

use customer_web_sql::kv;
use customer_web_sql::postgres::PgPool;

use super::sqlite::unavailable;
use super::{Condition, Entry, Store, StoreError, WriteOutcome, check_key, check_value};

/// A [`Store`] backed by PostgreSQL.
pub struct PostgresStore {
    pool: PgPool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (at most `connections` at once)
    /// and brings the schema up to date.
    pub fn connect(url: &str, connections: usize) -> anyhow::Result<Self> {
        let pool = PgPool::connect(url, connections)?;
        pool.with(|c| customer_web_sql::migrate(c, &kv::SCHEMA))?;
        Ok(Self { pool })
    }
}

impl Store for PostgresStore {
    fn get(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError> {
        check_key(key)?;
        self.pool.with(|c| kv::get(c, key, now)).map_err(unavailable)
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<WriteOutcome, StoreError> {
        check_key(key)?;
        check_value(value)?;
        self.pool
            .with(|c| kv::put(c, key, value, condition, expires_at, now))
            .map_err(unavailable)
    }

    fn delete(&self, key: &str, condition: Condition, now: u64) -> Result<WriteOutcome, StoreError> {
        check_key(key)?;
        self.pool
            .with(|c| kv::delete(c, key, condition, now))
            .map_err(unavailable)
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        let purged = self
            .pool
            .with(|c| kv::purge_expired(c, now))
            .map_err(unavailable)?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }

    fn count_prefix(&self, prefix: &str, now: u64) -> Result<usize, StoreError> {
        let count = self
            .pool
            .with(|c| kv::count_prefix(c, prefix, now))
            .map_err(unavailable)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn versions(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        self.pool.with(|c| kv::versions(c, now)).map_err(unavailable)
    }
}
