//! A [`Store`] on SQL: a SQLite file (the embedded default) or a
//! PostgreSQL database many hosts share.
//!
//! The schema and every statement are `customer-web-sql`'s
//! ([`customer_web_sql::kv`]): each write is one statement, an atomic
//! compare-and-swap across threads, connections, processes and hosts.
//! Reads see every committed write.

use std::path::Path;
use std::sync::Arc;

use customer_web_sql::postgres::PgPool;
use customer_web_sql::sqlite::SqliteFile;
use customer_web_sql::{Database, SqlError, kv};

use super::{Condition, Entry, Store, StoreError, WriteOutcome, check_key, check_value};

/// A [`Store`] on a [`Database`].
#[derive(Debug)]
pub struct SqlStore<D> {
    db: D,
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
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        SqlStore::on(SqliteFile::open(path)?)
    }
}

impl<D: Database> SqlStore<D> {
    /// The store on `db`, its schema brought up to date.
    pub fn on(db: D) -> anyhow::Result<Self> {
        db.migrate(&kv::SCHEMA)?;
        Ok(Self { db })
    }
}

pub(crate) fn unavailable(error: SqlError) -> StoreError {
    StoreError::Unavailable(error.0)
}

impl<D: Database> Store for SqlStore<D> {
    fn get(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError> {
        check_key(key)?;
        self.db.with(|c| kv::get(c, key, now)).map_err(unavailable)
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
        self.db
            .with(|c| kv::put(c, key, value, condition, expires_at, now))
            .map_err(unavailable)
    }

    fn delete(&self, key: &str, condition: Condition, now: u64) -> Result<WriteOutcome, StoreError> {
        check_key(key)?;
        self.db
            .with(|c| kv::delete(c, key, condition, now))
            .map_err(unavailable)
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        let purged = self.db.with(|c| kv::purge_expired(c, now)).map_err(unavailable)?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }

    fn count_prefix(&self, prefix: &str, now: u64) -> Result<usize, StoreError> {
        let count = self
            .db
            .with(|c| kv::count_prefix(c, prefix, now))
            .map_err(unavailable)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn versions(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        self.db.with(|c| kv::versions(c, now)).map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, TransactionBehavior};

    use super::*;

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
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.get("flow/a", 10).unwrap(),
            Some(Entry {
                value: vec![1],
                version: 7
            })
        );
        assert_eq!(store.get("session/b", 10).unwrap().unwrap().version, 9);
        assert_eq!(
            store.get("session/b", 500).unwrap(),
            None,
            "the expiry came along"
        );
        // The holder of version 7 still wins its compare-and-swap.
        let WriteOutcome::Written(next) = store
            .put("flow/a", b"x", Condition::Version(7), None, 10)
            .unwrap()
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
            let store = SqliteStore::open(&path).unwrap();
            let WriteOutcome::Written(kept) = store.put("kept", b"v", Condition::Absent, None, 10).unwrap()
            else {
                panic!("first write conflicted");
            };
            let WriteOutcome::Written(deleted) =
                store.put("gone", b"v", Condition::Absent, None, 10).unwrap()
            else {
                panic!("second write conflicted");
            };
            store.delete("gone", Condition::Any, 10).unwrap();
            (kept, deleted)
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.get("kept", 10).unwrap(),
            Some(Entry {
                value: b"v".to_vec(),
                version: kept
            })
        );
        let WriteOutcome::Written(recreated) = store.put("gone", b"w", Condition::Absent, None, 10).unwrap()
        else {
            panic!("recreating conflicted");
        };
        assert!(recreated > deleted, "the counter is persisted, not restarted");
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let first = SqliteStore::open(&path).unwrap();
        let second = SqliteStore::open(&path).unwrap();
        let WriteOutcome::Written(version) =
            first.put("k", b"from first", Condition::Absent, None, 1).unwrap()
        else {
            panic!("write conflicted");
        };
        assert_eq!(second.get("k", 1).unwrap().unwrap().version, version);
        assert_eq!(
            second.put("k", b"x", Condition::Absent, None, 1).unwrap(),
            WriteOutcome::Conflict
        );
        assert!(matches!(
            second.put("k", b"from second", Condition::Version(version), None, 1),
            Ok(WriteOutcome::Written(_))
        ));
        assert_eq!(first.get("k", 1).unwrap().unwrap().value, b"from second");
        assert_eq!(
            second.delete("k", Condition::Any, 1).unwrap(),
            WriteOutcome::Written(0)
        );
        assert_eq!(first.get("k", 1).unwrap(), None);
    }

    #[test]
    fn a_locked_file_is_reported_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).unwrap();
        // Another connection holds the write lock past the busy timeout.
        let mut blocker = Connection::open(&path).unwrap();
        let tx = blocker
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        store.db.with(|c| c.batch("PRAGMA busy_timeout = 50")).unwrap();
        let error = store.put("k", b"v", Condition::Any, None, 1).unwrap_err();
        assert!(
            matches!(&error, StoreError::Unavailable(text) if text.contains("locked")),
            "unexpected error: {error}"
        );
        // Reads still work while another writer holds the lock (WAL).
        assert_eq!(store.get("k", 1).unwrap(), None);
        drop(tx);
        assert!(matches!(
            store.put("k", b"v", Condition::Any, None, 1),
            Ok(WriteOutcome::Written(_))
        ));
    }

    #[test]
    fn a_corrupt_row_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO cw_kv (version, key, value, expires_at) VALUES (-5, 'bad', x'00', NULL)",
            [],
        )
        .unwrap();
        assert!(matches!(store.get("bad", 1), Err(StoreError::Unavailable(_))));
        // Its holder can only be a writer that means to replace it.
        assert!(matches!(
            store.put("bad", b"v", Condition::Version(5), None, 1),
            Ok(WriteOutcome::Conflict)
        ));
        assert!(matches!(
            store.put("bad", b"v", Condition::Any, None, 1),
            Ok(WriteOutcome::Written(_))
        ));
        assert_eq!(store.get("bad", 1).unwrap().unwrap().value, b"v");
    }
}
