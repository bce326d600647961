//! A [`Store`] in a SQLite file: the wasmtime host's embedded default.
//!
//! Each conditional write runs in one `BEGIN IMMEDIATE` transaction, which
//! takes the file's write lock before reading the current version: the check
//! and the write are therefore atomic across threads, connections and
//! processes. Reads are single statements and see every committed write.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Condition, Entry, Store, StoreError, WriteOutcome, check_key, check_value, condition_holds, is_live,
};
use crate::db::{self, Schema, column_opt_u64, column_u64, to_sql_u64};

/// The tables of the store. Append steps; never edit a shipped one.
const SCHEMA: Schema = Schema {
    name: "storage",
    migrations: &["
        CREATE TABLE IF NOT EXISTS kv (
            key        TEXT PRIMARY KEY NOT NULL,
            value      BLOB NOT NULL,
            version    INTEGER NOT NULL,
            expires_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at)
            WHERE expires_at IS NOT NULL;
        -- One row: the last version handed out. Store-wide and only ever
        -- increased, so a version is never reused, even for a recreated key.
        CREATE TABLE IF NOT EXISTS kv_counter (
            id   INTEGER PRIMARY KEY CHECK (id = 0),
            last INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO kv_counter (id, last) VALUES (0, 0);
    "],
};

/// A [`Store`] backed by a SQLite file.
///
/// Each instance owns its own connection, so several stores (in this process
/// or others) may share one file and still see each other's writes at once.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the store in the SQLite file at `path`, creating
    /// the parent directory and the tables as needed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = db::open(path, &SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held leaves at worst an open
        // transaction, which rusqlite rolls back when it is dropped; the
        // connection itself stays usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// The version of `key` if it is live at `now`.
fn live_version(conn: &Connection, key: &str, now: u64) -> rusqlite::Result<Option<u64>> {
    let row = conn
        .prepare_cached("SELECT version, expires_at FROM kv WHERE key = ?1")?
        .query_row([key], |row| Ok((column_u64(row, 0)?, column_opt_u64(row, 1)?)))
        .optional()?;
    Ok(row
        .filter(|&(_, expires_at)| is_live(expires_at, now))
        .map(|(version, _)| version))
}

impl Store for SqliteStore {
    fn get(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError> {
        check_key(key)?;
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT value, version FROM kv
                 WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![key, to_sql_u64(now)], |row| {
                        Ok(Entry {
                            value: row.get(0)?,
                            version: column_u64(row, 1)?,
                        })
                    })
                    .optional()
            })
            .map_err(unavailable)?;
        Ok(row)
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
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let current = live_version(&tx, key, now).map_err(unavailable)?;
        if !condition_holds(condition, current) {
            // Dropping the transaction rolls it back; nothing was written.
            return Ok(WriteOutcome::Conflict);
        }
        let version = tx
            .prepare_cached("UPDATE kv_counter SET last = last + 1 WHERE id = 0 RETURNING last")
            .and_then(|mut statement| statement.query_row([], |row| column_u64(row, 0)))
            .map_err(unavailable)?;
        tx.prepare_cached(
            "INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET
                 value = excluded.value,
                 version = excluded.version,
                 expires_at = excluded.expires_at",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                key,
                value,
                to_sql_u64(version),
                expires_at.map(to_sql_u64)
            ])
        })
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        Ok(WriteOutcome::Written(version))
    }

    fn delete(&self, key: &str, condition: Condition, now: u64) -> Result<WriteOutcome, StoreError> {
        check_key(key)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let current = live_version(&tx, key, now).map_err(unavailable)?;
        if !condition_holds(condition, current) {
            return Ok(WriteOutcome::Conflict);
        }
        // Also drops an expired leftover, which reads as absent anyway.
        tx.prepare_cached("DELETE FROM kv WHERE key = ?1")
            .and_then(|mut statement| statement.execute([key]))
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        Ok(WriteOutcome::Written(0))
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        let conn = self.conn();
        conn.prepare_cached("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1")
            .and_then(|mut statement| statement.execute([to_sql_u64(now)]))
            .map_err(unavailable)
    }

    fn count_prefix(&self, prefix: &str, now: u64) -> Result<usize, StoreError> {
        let conn = self.conn();
        // Compared as bytes: LIKE would treat `%` and `_` as wildcards and
        // fold case, and text functions stop at an embedded NUL.
        let count: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM kv
                 WHERE substr(CAST(key AS BLOB), 1, ?2) = ?1
                   AND (expires_at IS NULL OR expires_at > ?3)",
            )
            .and_then(|mut statement| {
                statement.query_row(
                    params![
                        prefix.as_bytes(),
                        i64::try_from(prefix.len()).unwrap_or(i64::MAX),
                        to_sql_u64(now)
                    ],
                    |row| row.get(0),
                )
            })
            .map_err(unavailable)?;
        usize::try_from(count).map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    fn versions(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT key, version FROM kv WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY CAST(key AS BLOB)",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![to_sql_u64(now)], |row| Ok((row.get::<_, String>(0)?, column_u64(row, 1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        store
            .conn()
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
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
            "INSERT INTO kv (key, value, version, expires_at) VALUES ('bad', x'00', -5, NULL)",
            [],
        )
        .unwrap();
        assert!(matches!(store.get("bad", 1), Err(StoreError::Unavailable(_))));
        assert!(matches!(
            store.put("bad", b"v", Condition::Any, None, 1),
            Err(StoreError::Unavailable(_))
        ));
    }
}
