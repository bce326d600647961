//! The versioned key-value store behind the component's `storage` import.
//!
//! Every flow, link, account and session of customer-web lives here, so the
//! guarantees matter; they are the core's [`Store`] port, which every
//! backend implements directly and `customer_web_core::conformance` checks:
//! [`MemoryStore`] (the core's) for tests and throwaway runs,
//! [`SqliteStore`] for the embedded default and [`PostgresStore`] for many
//! hosts on one database, both on `customer-web-sql`'s statements. Each
//! reads the host's clock for expiry; [`Housekeeping`] is what the host
//! does beside the flows (the scheduled purge, counts for operators).

mod sql;

pub use sql::{PostgresStore, SqlStore, SqliteStore};

pub use customer_web_core::memory::MemoryStore;
pub use customer_web_core::ports::{
    Condition, Entry, Housekeeping, MAX_KEY_BYTES, MAX_VALUE_BYTES, PortError, Store, WriteOutcome, too_large,
};

/// A store the host can share between threads.
pub trait SharedStore: Store + Send + Sync + 'static {}

impl<T: Store + Send + Sync + 'static> SharedStore for T {}

/// Housekeeping the host can share between threads.
pub trait SharedHousekeeping: Housekeeping + Send + Sync + 'static {}

impl<T: Housekeeping + Send + Sync + 'static> SharedHousekeeping for T {}

/// Every backend keeps the one contract: the core's checks, run unchanged
/// on each, plus racing writers on two connections or hosts.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use customer_web_core::conformance::{self, housekeeping_checks, race, store_checks};
    use customer_web_core::testing::FakeClock;
    use customer_web_sql::postgres::PgPool;
    use customer_web_sql::postgres::testing::TestDatabase;

    use super::*;

    /// Runs every check, each on a fresh store from `fresh`, which reads
    /// `clock`; `None` from `fresh`: the backend is not available here.
    fn keeps_the_contract<S: Store + Housekeeping>(clock: &FakeClock, mut fresh: impl FnMut() -> Option<S>) {
        let ran = conformance::run(&store_checks(), &mut fresh, clock).unwrap();
        let kept = conformance::run(&housekeeping_checks(), &mut fresh, clock).unwrap();
        if ran + kept > 0 {
            assert_eq!(
                (ran, kept),
                (store_checks::<S>().len(), housekeeping_checks::<S>().len())
            );
        }
    }

    #[test]
    fn memory_store_follows_the_contract() {
        let clock = FakeClock::default();
        keeps_the_contract(&clock, || Some(MemoryStore::new(Arc::new(clock.clone()))));
    }

    #[test]
    fn sqlite_store_follows_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::default();
        let mut files = 0;
        keeps_the_contract(&clock, || {
            files += 1;
            let path = dir.path().join(format!("store-{files}.db"));
            Some(SqliteStore::open(&path, Arc::new(clock.clone())).unwrap())
        });
    }

    #[test]
    fn postgres_store_follows_the_contract() {
        let clock = FakeClock::default();
        let mut databases = Vec::new();
        keeps_the_contract(&clock, || {
            let db = TestDatabase::create("PostgresStore")?;
            let pool = PgPool::connect(&db.url, 4).unwrap();
            let store = PostgresStore::on(Arc::new(pool), Arc::new(clock.clone())).unwrap();
            databases.push(db);
            Some(store)
        });
    }

    /// Two pools, as two hosts would have, racing on one database.
    #[test]
    fn postgres_compare_and_swap_is_atomic_across_two_hosts() {
        let Some(db) = TestDatabase::create("PostgresStore") else {
            return;
        };
        let clock = FakeClock::default();
        let host = || {
            let pool = PgPool::connect(&db.url, 8).unwrap();
            Arc::new(PostgresStore::on(Arc::new(pool), Arc::new(clock.clone())).unwrap())
        };
        race(&[host(), host()], 16, 50).unwrap();
    }

    #[test]
    fn memory_store_compare_and_swap_is_atomic_across_threads() {
        let store = Arc::new(MemoryStore::new(Arc::new(FakeClock::default())));
        race(&[Arc::clone(&store), store], 16, 50).unwrap();
    }

    #[test]
    fn sqlite_compare_and_swap_is_atomic_across_two_stores_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let clock = FakeClock::default();
        let open = || Arc::new(SqliteStore::open(&path, Arc::new(clock.clone())).unwrap());
        race(&[open(), open()], 16, 50).unwrap();
    }
}
