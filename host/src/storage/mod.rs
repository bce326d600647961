//! The versioned key-value store behind the component's `storage` import.
//!
//! Every flow, link, account and session of customer-web lives here, so the
//! guarantees matter: a read sees every write that returned before it, and a
//! conditional write is an atomic compare-and-swap. Two backends give the same
//! semantics: [`MemoryStore`] for tests, [`SqliteStore`] for the embedded
//! default and [`PostgresStore`] for many hosts on one database; the SQL
//! of the last two is `customer-web-sql`'s.
//!
//! Versions come from one store-wide counter and are never reused, even for
//! a key that was deleted and written again: a writer holding a version from
//! before the delete can therefore never overwrite the new value (the ABA
//! problem).

mod memory;
mod sql;

pub use memory::MemoryStore;
pub use sql::{PostgresStore, SqlStore, SqliteStore};

pub use customer_web_core::ports::{Condition, Entry, WriteOutcome};
pub use customer_web_sql::kv::{MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// A storage fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed; carries its description (never a value).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The key is longer than [`MAX_KEY_BYTES`] or the value larger than
    /// [`MAX_VALUE_BYTES`].
    #[error("key or value too large")]
    TooLarge,
}

/// A versioned key-value store with expiry and compare-and-swap.
///
/// `now` is the caller's clock (seconds since the Unix epoch): a key whose
/// `expires_at` is at or before `now` reads as absent, and `Condition::Absent`
/// holds for it.
pub trait Store: Send + Sync + 'static {
    /// Reads a key; absent or expired keys are `None`.
    fn get(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError>;

    /// Writes `value` under `key` if `condition` holds, with a fresh version.
    /// `expires_at` makes the key read as absent from that time on; `None`
    /// keeps it until deleted.
    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<WriteOutcome, StoreError>;

    /// Deletes `key` if `condition` holds. Deleting an absent key with
    /// `Absent` or `Any` is `Written(0)`; with `Version` it is `Conflict`.
    fn delete(&self, key: &str, condition: Condition, now: u64) -> Result<WriteOutcome, StoreError>;

    /// Removes expired keys; returns how many.
    fn purge_expired(&self, now: u64) -> Result<usize, StoreError>;

    /// Number of live keys with this prefix (operators and tests use it).
    fn count_prefix(&self, prefix: &str, now: u64) -> Result<usize, StoreError>;

    /// Every live key with its version, sorted by key. Versions change on
    /// every write, so two listings that are equal prove nothing was
    /// written in between (tests of "bad input changes nothing" use it).
    fn versions(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError>;
}

/// Refuses keys and values past the limits, before any backend work.
fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::TooLarge);
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::TooLarge);
    }
    Ok(())
}

/// Whether a key with this expiry is still live at `now`.
fn is_live(expires_at: Option<u64>, now: u64) -> bool {
    expires_at.is_none_or(|at| at > now)
}

/// Whether `condition` holds for a key whose live version is `current`
/// (`None` when absent or expired).
fn condition_holds(condition: Condition, current: Option<u64>) -> bool {
    match condition {
        Condition::Absent => current.is_none(),
        Condition::Version(expected) => current == Some(expected),
        Condition::Any => true,
    }
}

/// The behaviour every backend must show, written once and run against each.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn written(outcome: WriteOutcome) -> u64 {
        match outcome {
            WriteOutcome::Written(version) => version,
            WriteOutcome::Conflict => panic!("expected a write, got a conflict"),
        }
    }

    fn put_get_and_versions(store: &impl Store) {
        assert_eq!(store.get("flow/1", NOW).unwrap(), None);
        let v1 = written(store.put("flow/1", b"one", Condition::Absent, None, NOW).unwrap());
        assert!(v1 > 0, "a written value has a non-zero version");
        assert_eq!(
            store.get("flow/1", NOW).unwrap(),
            Some(Entry {
                value: b"one".to_vec(),
                version: v1
            })
        );
        // Absent no longer holds.
        assert_eq!(
            store.put("flow/1", b"x", Condition::Absent, None, NOW).unwrap(),
            WriteOutcome::Conflict
        );
        // The right version wins and bumps the version.
        let v2 = written(
            store
                .put("flow/1", b"two", Condition::Version(v1), None, NOW)
                .unwrap(),
        );
        assert!(v2 > v1);
        // The old version no longer matches, and nothing changes.
        assert_eq!(
            store
                .put("flow/1", b"stale", Condition::Version(v1), None, NOW)
                .unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(store.get("flow/1", NOW).unwrap().unwrap().value, b"two");
        // Any always writes.
        let v3 = written(store.put("flow/1", b"three", Condition::Any, None, NOW).unwrap());
        assert!(v3 > v2);
        let v4 = written(store.put("flow/2", b"", Condition::Any, None, NOW).unwrap());
        assert!(v4 > v3, "versions come from one store-wide counter");
        assert_eq!(store.get("flow/2", NOW).unwrap().unwrap().value, b"");
        // A version on an absent key is a conflict.
        assert_eq!(
            store
                .put("flow/none", b"x", Condition::Version(v4), None, NOW)
                .unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(store.get("flow/none", NOW).unwrap(), None);
    }

    fn delete_semantics(store: &impl Store) {
        assert_eq!(
            store.delete("k", Condition::Absent, NOW).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(
            store.delete("k", Condition::Any, NOW).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(
            store.delete("k", Condition::Version(1), NOW).unwrap(),
            WriteOutcome::Conflict
        );

        let v = written(store.put("k", b"v", Condition::Absent, None, NOW).unwrap());
        assert_eq!(
            store.delete("k", Condition::Absent, NOW).unwrap(),
            WriteOutcome::Conflict,
            "absent does not hold for a live key"
        );
        assert_eq!(
            store.delete("k", Condition::Version(v + 1), NOW).unwrap(),
            WriteOutcome::Conflict
        );
        assert!(store.get("k", NOW).unwrap().is_some());
        assert_eq!(
            store.delete("k", Condition::Version(v), NOW).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(store.get("k", NOW).unwrap(), None);

        written(store.put("k", b"v", Condition::Absent, None, NOW).unwrap());
        assert_eq!(
            store.delete("k", Condition::Any, NOW).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(store.get("k", NOW).unwrap(), None);
    }

    fn versions_are_never_reused(store: &impl Store) {
        let old = written(
            store
                .put("link/a", b"first", Condition::Absent, None, NOW)
                .unwrap(),
        );
        written(store.delete("link/a", Condition::Version(old), NOW).unwrap());
        let new = written(
            store
                .put("link/a", b"second", Condition::Absent, None, NOW)
                .unwrap(),
        );
        assert_ne!(new, old);
        // A writer still holding the old version must lose (ABA).
        assert_eq!(
            store
                .put("link/a", b"stale", Condition::Version(old), None, NOW)
                .unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(
            store.delete("link/a", Condition::Version(old), NOW).unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(store.get("link/a", NOW).unwrap().unwrap().value, b"second");

        // The same holds when the key vanished by expiry instead of delete.
        let expiring = written(
            store
                .put("link/b", b"first", Condition::Absent, Some(NOW + 10), NOW)
                .unwrap(),
        );
        let later = NOW + 10;
        let recreated = written(
            store
                .put("link/b", b"second", Condition::Absent, None, later)
                .unwrap(),
        );
        assert!(recreated > expiring);
        assert_eq!(
            store
                .put("link/b", b"stale", Condition::Version(expiring), None, later)
                .unwrap(),
            WriteOutcome::Conflict
        );
    }

    fn expiry(store: &impl Store) {
        let v = written(
            store
                .put("session/1", b"s", Condition::Absent, Some(NOW + 60), NOW)
                .unwrap(),
        );
        assert_eq!(store.get("session/1", NOW + 59).unwrap().unwrap().version, v);
        // expires_at <= now reads as absent.
        assert_eq!(store.get("session/1", NOW + 60).unwrap(), None);
        assert_eq!(store.count_prefix("session/", NOW + 60).unwrap(), 0);
        // An expired key's version no longer matches, for put or delete.
        assert_eq!(
            store
                .put("session/1", b"x", Condition::Version(v), None, NOW + 60)
                .unwrap(),
            WriteOutcome::Conflict
        );
        assert_eq!(
            store
                .delete("session/1", Condition::Version(v), NOW + 60)
                .unwrap(),
            WriteOutcome::Conflict
        );
        // Deleting an expired key is deleting an absent key.
        assert_eq!(
            store.delete("session/1", Condition::Absent, NOW + 60).unwrap(),
            WriteOutcome::Written(0)
        );
        // And Absent holds for it.
        written(
            store
                .put("session/2", b"s", Condition::Absent, Some(NOW + 5), NOW)
                .unwrap(),
        );
        let again = written(
            store
                .put("session/2", b"t", Condition::Absent, None, NOW + 5)
                .unwrap(),
        );
        assert_eq!(
            store.get("session/2", NOW + 1_000_000).unwrap(),
            Some(Entry {
                value: b"t".to_vec(),
                version: again
            }),
            "rewriting without expiry clears the old deadline"
        );
        // A put can set a deadline on an existing key, too.
        written(
            store
                .put(
                    "session/2",
                    b"u",
                    Condition::Version(again),
                    Some(NOW + 100),
                    NOW + 5,
                )
                .unwrap(),
        );
        assert_eq!(store.get("session/2", NOW + 100).unwrap(), None);
    }

    fn purge_and_count(store: &impl Store) {
        for (index, expires_at) in [Some(NOW + 10), Some(NOW + 20), None, Some(NOW + 30)]
            .into_iter()
            .enumerate()
        {
            written(
                store
                    .put(&format!("flow/{index}"), b"f", Condition::Any, expires_at, NOW)
                    .unwrap(),
            );
        }
        written(store.put("link/1", b"l", Condition::Any, None, NOW).unwrap());
        written(
            store
                .put("flo", b"not a flow", Condition::Any, None, NOW)
                .unwrap(),
        );

        assert_eq!(store.count_prefix("flow/", NOW).unwrap(), 4);
        assert_eq!(store.count_prefix("flow/", NOW + 20).unwrap(), 2);
        assert_eq!(store.count_prefix("link/", NOW).unwrap(), 1);
        assert_eq!(store.count_prefix("", NOW).unwrap(), 6);
        assert_eq!(store.count_prefix("nothing/", NOW).unwrap(), 0);
        // Prefixes are literal: no wildcard or case folding.
        assert_eq!(store.count_prefix("FLOW/", NOW).unwrap(), 0);
        assert_eq!(store.count_prefix("f%", NOW).unwrap(), 0);
        assert_eq!(store.count_prefix("f_ow/", NOW).unwrap(), 0);

        assert_eq!(store.purge_expired(NOW).unwrap(), 0);
        assert_eq!(store.purge_expired(NOW + 20).unwrap(), 2);
        assert_eq!(store.purge_expired(NOW + 20).unwrap(), 0);
        assert_eq!(
            store.count_prefix("flow/", NOW).unwrap(),
            2,
            "purged keys are gone"
        );
        assert_eq!(store.purge_expired(NOW + 1_000).unwrap(), 1);
        assert_eq!(store.count_prefix("", NOW).unwrap(), 3);
    }

    fn keys_are_exact_strings(store: &impl Store) {
        for key in ["フロー/一", "a\0b", "a", "A", "a%", "a_"] {
            written(
                store
                    .put(key, key.as_bytes(), Condition::Absent, None, NOW)
                    .unwrap(),
            );
        }
        for key in ["フロー/一", "a\0b", "a", "A", "a%", "a_"] {
            assert_eq!(store.get(key, NOW).unwrap().unwrap().value, key.as_bytes());
        }
        assert_eq!(store.count_prefix("フロー/", NOW).unwrap(), 1);
        assert_eq!(store.count_prefix("a\0", NOW).unwrap(), 1);
        assert_eq!(store.count_prefix("a", NOW).unwrap(), 4);
    }

    fn limits(store: &impl Store) {
        let longest = "k".repeat(MAX_KEY_BYTES);
        let too_long = "k".repeat(MAX_KEY_BYTES + 1);
        let largest = vec![7u8; MAX_VALUE_BYTES];
        let too_large = vec![7u8; MAX_VALUE_BYTES + 1];

        let v = written(
            store
                .put(&longest, &largest, Condition::Absent, None, NOW)
                .unwrap(),
        );
        assert_eq!(
            store.get(&longest, NOW).unwrap(),
            Some(Entry {
                value: largest.clone(),
                version: v
            })
        );
        assert!(matches!(
            store.put(&too_long, b"v", Condition::Any, None, NOW),
            Err(StoreError::TooLarge)
        ));
        assert!(matches!(
            store.put("k", &too_large, Condition::Any, None, NOW),
            Err(StoreError::TooLarge)
        ));
        assert_eq!(
            store.get("k", NOW).unwrap(),
            None,
            "a refused write writes nothing"
        );
        // A multi-byte key is measured in bytes, not characters.
        let wide = "鍵".repeat(MAX_KEY_BYTES / 3 + 1);
        assert!(wide.chars().count() <= MAX_KEY_BYTES);
        assert!(matches!(
            store.put(&wide, b"v", Condition::Any, None, NOW),
            Err(StoreError::TooLarge)
        ));
    }

    /// 16 threads × 50 read-modify-write increments, half on each store;
    /// with a working compare-and-swap no increment is lost.
    fn concurrent_increments<S: Store>(first: Arc<S>, second: Arc<S>) {
        const THREADS: usize = 16;
        const INCREMENTS: u64 = 50;
        let handles: Vec<_> = (0..THREADS)
            .map(|index| {
                let store = if index % 2 == 0 {
                    Arc::clone(&first)
                } else {
                    Arc::clone(&second)
                };
                std::thread::spawn(move || {
                    let mut conflicts = 0u64;
                    for _ in 0..INCREMENTS {
                        loop {
                            let (count, condition) = match store.get("counter", NOW).unwrap() {
                                Some(entry) => {
                                    let text = String::from_utf8(entry.value).unwrap();
                                    (text.parse::<u64>().unwrap(), Condition::Version(entry.version))
                                }
                                None => (0, Condition::Absent),
                            };
                            let next = (count + 1).to_string();
                            match store
                                .put("counter", next.as_bytes(), condition, None, NOW)
                                .unwrap()
                            {
                                WriteOutcome::Written(_) => break,
                                WriteOutcome::Conflict => conflicts += 1,
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        for store in [&first, &second] {
            let entry = store.get("counter", NOW).unwrap().unwrap();
            assert_eq!(
                String::from_utf8(entry.value).unwrap(),
                (THREADS as u64 * INCREMENTS).to_string()
            );
        }
    }

    /// Every check on a fresh store from `fresh` (`None`: the backend is
    /// not available here, and said so).
    fn run_suite<S: Store>(mut fresh: impl FnMut() -> Option<S>) {
        let checks: [fn(&S); 7] = [
            put_get_and_versions,
            delete_semantics,
            versions_are_never_reused,
            expiry,
            purge_and_count,
            keys_are_exact_strings,
            limits,
        ];
        for check in checks {
            let Some(store) = fresh() else { return };
            check(&store);
        }
    }

    #[test]
    fn memory_store_follows_the_contract() {
        run_suite(|| Some(MemoryStore::new()));
    }

    #[test]
    fn sqlite_store_follows_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = 0;
        run_suite(|| {
            files += 1;
            Some(SqliteStore::open(&dir.path().join(format!("store-{files}.db"))).unwrap())
        });
    }

    #[test]
    fn postgres_store_follows_the_contract() {
        let mut databases = Vec::new();
        run_suite(|| {
            let db = customer_web_sql::postgres::testing::TestDatabase::create("PostgresStore")?;
            let pool = customer_web_sql::postgres::PgPool::connect(&db.url, 4).unwrap();
            let store = PostgresStore::on(Arc::new(pool)).unwrap();
            databases.push(db);
            Some(store)
        });
    }

    /// Two pools, as two hosts would have, racing on one database.
    #[test]
    fn postgres_compare_and_swap_is_atomic_across_two_hosts() {
        let Some(db) = customer_web_sql::postgres::testing::TestDatabase::create("PostgresStore") else {
            return;
        };
        let host = || {
            let pool = customer_web_sql::postgres::PgPool::connect(&db.url, 8).unwrap();
            Arc::new(PostgresStore::on(Arc::new(pool)).unwrap())
        };
        let (first, second) = (host(), host());
        concurrent_increments(first, second);
    }

    #[test]
    fn memory_store_compare_and_swap_is_atomic_across_threads() {
        let store = Arc::new(MemoryStore::new());
        concurrent_increments(Arc::clone(&store), store);
    }

    #[test]
    fn sqlite_compare_and_swap_is_atomic_across_two_stores_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let first = Arc::new(SqliteStore::open(&path).unwrap());
        let second = Arc::new(SqliteStore::open(&path).unwrap());
        concurrent_increments(first, second);
    }
}
