//! A [`Store`] on SQL: a SQLite file (the embedded default) or a
//! PostgreSQL database many hosts share.
//!
//! The schema and every statement are `customer-web-sql`'s
//! ([`customer_web_sql::kv`]): each write is one statement, an atomic
//! compare-and-swap across threads, connections, processes and hosts.
//! Reads see every committed write.

use std::path::Path;
use std::sync::Arc;

use customer_web_core::ports::Clock;
use customer_web_sql::postgres::PgPool;
use customer_web_sql::sqlite::SqliteFile;
use customer_web_sql::{Database, SqlError, kv};

use super::{Condition, Entry, Housekeeping, PortError, Store, WriteOutcome, too_large};

/// A [`Store`] on a [`Database`], reading a clock for expiry.
pub struct SqlStore<D> {
    db: D,
    clock: Arc<dyn Clock + Send + Sync>,
}

impl<D: std::fmt::Debug> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// The store in a SQLite file.
pub type SqliteStore = SqlStore<SqliteFile>;

/// The store in PostgreSQL.
pub type PostgresStore = SqlStore<Arc<PgPool>>;

impl SqliteStore {
    /// Opens (or creates) the store in the SQLite file at `path`, creating
    /// the parent directory and the tables as needed. Each store has its
    /// own connection, so several (in this process or others) may share
    /// one file and see each other's writes at once.
    pub fn open(path: &Path, clock: Arc<dyn Clock + Send + Sync>) -> anyhow::Result<Self> {
        SqlStore::on(SqliteFile::open(path)?, clock)
    }
}

impl<D: Database> SqlStore<D> {
    /// The store on `db`, its schema brought up to date.
    pub fn on(db: D, clock: Arc<dyn Clock + Send + Sync>) -> anyhow::Result<Self> {
        db.migrate(&kv::SCHEMA)?;
        Ok(Self { db, clock })
    }

    fn run<T>(
        &self,
        f: impl FnOnce(&mut dyn customer_web_sql::Connection, u64) -> Result<T, SqlError>,
    ) -> Result<T, PortError> {
        let now = self.clock.now();
        self.db.with(|c| f(c, now)).map_err(|e| PortError(e.0))
    }
}

fn refused() -> PortError {
    PortError("key or value too large".into())
}

impl<D: Database> Store for SqlStore<D> {
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError> {
        if too_large(key, None) {
            return Err(refused());
        }
        self.run(|c, now| kv::get(c, key, now))
    }

    fn get_now(&self, key: &str) -> Option<Result<Option<Entry>, PortError>> {
        if too_large(key, None) {
            return Some(Err(refused()));
        }
        let now = self.clock.now();
        self.db
            .with_now(|c| kv::get(c, key, now))
            .map(|read| read.map_err(|e| PortError(e.0)))
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<u64>,
    ) -> Result<WriteOutcome, PortError> {
        if too_large(key, Some(value)) {
            return Err(refused());
        }
        self.run(|c, now| kv::put(c, key, value, condition, expires_at, now))
    }

    fn delete(&self, key: &str, condition: Condition) -> Result<WriteOutcome, PortError> {
        if too_large(key, None) {
            return Err(refused());
        }
        self.run(|c, now| kv::delete(c, key, condition, now))
    }
}

impl<D: Database> Housekeeping for SqlStore<D> {
    fn purge_expired(&self) -> Result<u64, PortError> {
        self.run(kv::purge_expired)
    }

    fn count_prefix(&self, prefix: &str) -> Result<u64, PortError> {
        self.run(|c, now| kv::count_prefix(c, prefix, now))
    }

    fn versions(&self) -> Result<Vec<(String, u64)>, PortError> {
        self.run(kv::versions)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, TransactionBehavior};

    use customer_web_core::testing::FakeClock;

    use super::*;

    /// A clock standing at `seconds`.
    fn clock(seconds: u64) -> Arc<FakeClock> {
        Arc::new(FakeClock::at(seconds))
    }

    /// A file the first layout wrote (table `kv`, a version counter) comes
    /// through the move to `cw_kv` with every value and version, and later
    /// versions start above the counter's last.
    #[test]
    fn a_file_of_the_first_layout_keeps_its_values_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let first = customer_web_sql::Schema {
                name: kv::SCHEMA.name,
                sqlite: &kv::SCHEMA.sqlite[..1],
                postgres: &[],
            };
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            customer_web_sql::migrate(&mut conn, &first).unwrap();
            conn.execute_batch(
                "INSERT INTO kv (key, value, version, expires_at) VALUES ('flow/a', x'01', 7, NULL);
                 INSERT INTO kv (key, value, version, expires_at) VALUES ('session/b', x'02', 9, 500);
                 UPDATE kv_counter SET last = 41;",
            )
            .unwrap();
        }
        let time = FakeClock::at(10);
        let store = SqliteStore::open(&path, Arc::new(time.clone())).unwrap();
        assert_eq!(
            store.get("flow/a").unwrap(),
            Some(Entry {
                value: vec![1],
                version: 7
            })
        );
        assert_eq!(store.get("session/b").unwrap().unwrap().version, 9);
        time.advance(490);
        assert_eq!(store.get("session/b").unwrap(), None, "the expiry came along");
        // The holder of version 7 still wins its compare-and-swap.
        let WriteOutcome::Written(next) = store.put("flow/a", b"x", Condition::Version(7), None).unwrap()
        else {
            panic!("the migrated version did not match");
        };
        assert!(next > 41, "versions go on above the old counter: {next}");
        let tables: i64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('kv', 'kv_counter')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the old tables are gone");
    }

    #[test]
    fn data_and_the_version_counter_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/store.db");
        let (kept, deleted) = {
            let store = SqliteStore::open(&path, clock(10)).unwrap();
            let WriteOutcome::Written(kept) = store.put("kept", b"v", Condition::Absent, None).unwrap()
            else {
                panic!("first write conflicted");
            };
            let WriteOutcome::Written(deleted) = store.put("gone", b"v", Condition::Absent, None).unwrap()
            else {
                panic!("second write conflicted");
            };
            store.delete("gone", Condition::Any).unwrap();
            (kept, deleted)
        };
        let store = SqliteStore::open(&path, clock(10)).unwrap();
        assert_eq!(
            store.get("kept").unwrap(),
            Some(Entry {
                value: b"v".to_vec(),
                version: kept
            })
        );
        let WriteOutcome::Written(recreated) = store.put("gone", b"w", Condition::Absent, None).unwrap()
        else {
            panic!("recreating conflicted");
        };
        assert!(recreated > deleted, "the counter is persisted, not restarted");
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let first = SqliteStore::open(&path, clock(10)).unwrap();
        let second = SqliteStore::open(&path, clock(10)).unwrap();
        let WriteOutcome::Written(version) = first.put("k", b"from first", Condition::Absent, None).unwrap()
        else {
            panic!("write conflicted");
        };
        assert_eq!(second.get("k").unwrap().unwrap().version, version);
        assert_eq!(
            second.put("k", b"x", Condition::Absent, None).unwrap(),
            WriteOutcome::Conflict
        );
        assert!(matches!(
            second.put("k", b"from second", Condition::Version(version), None),
            Ok(WriteOutcome::Written(_))
        ));
        assert_eq!(first.get("k").unwrap().unwrap().value, b"from second");
        assert_eq!(
            second.delete("k", Condition::Any).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(first.get("k").unwrap(), None);
    }

    #[test]
    fn a_locked_file_is_reported_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path, clock(10)).unwrap();
        // Another connection holds the write lock past the busy timeout.
        let mut blocker = Connection::open(&path).unwrap();
        let tx = blocker
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        store.db.with(|c| c.batch("PRAGMA busy_timeout = 50")).unwrap();
        let error = store.put("k", b"v", Condition::Any, None).unwrap_err();
        assert!(error.0.contains("locked"), "unexpected error: {error}");
        // Reads still work while another writer holds the lock (WAL).
        assert_eq!(store.get("k").unwrap(), None);
        drop(tx);
        assert!(matches!(
            store.put("k", b"v", Condition::Any, None),
            Ok(WriteOutcome::Written(_))
        ));
    }

    /// A read answered at once is the read `get` gives; while this file's
    /// connection is held (here: a write waiting out another process's
    /// write lock), there is no answer at once, and `get` waits its turn.
    #[test]
    fn a_read_is_answered_at_once_only_while_the_connection_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Arc::new(SqliteStore::open(&path, clock(10)).unwrap());
        let Ok(WriteOutcome::Written(version)) = store.put("k", b"v", Condition::Any, None) else {
            panic!("write conflicted");
        };
        let read = store.get_now("k").expect("a free connection answers at once");
        assert_eq!(read.unwrap(), store.get("k").unwrap());
        assert_eq!(store.get_now("absent").map(Result::unwrap), Some(None));
        assert!(matches!(
            store.get_now(&"k".repeat(super::super::MAX_KEY_BYTES + 1)),
            Some(Err(_))
        ));

        let mut blocker = Connection::open(&path).unwrap();
        let tx = blocker
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || store.put("k", b"w", Condition::Version(version), None))
        };
        // The writer holds the connection while SQLite's busy handler waits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while store.get_now("k").is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never held the connection"
            );
            std::thread::yield_now();
        }
        drop(tx);
        assert!(matches!(writer.join().unwrap(), Ok(WriteOutcome::Written(_))));
        assert_eq!(
            store.get_now("k").expect("free again").unwrap().unwrap().value,
            b"w"
        );
    }

    #[test]
    fn a_corrupt_row_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path, clock(10)).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO cw_kv (version, key, value, expires_at) VALUES (-5, 'bad', x'00', NULL)",
            [],
        )
        .unwrap();
        assert!(store.get("bad").is_err());
        // Its holder can only be a writer that means to replace it.
        assert!(matches!(
            store.put("bad", b"v", Condition::Version(5), None),
            Ok(WriteOutcome::Conflict)
        ));
        assert!(matches!(
            store.put("bad", b"v", Condition::Any, None),
            Ok(WriteOutcome::Written(_))
        ));
        assert_eq!(store.get("bad").unwrap().unwrap().value, b"v");
    }
}
