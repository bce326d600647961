//! The versioned key-value store behind the component's `storage` import,
//! in SQL.
//!
//! Guarantees, in both dialects and across any number of connections,
//! processes and hosts on one database: a read sees every committed write;
//! a conditional write is one statement, an atomic compare-and-swap (of two
//! writers holding one version, exactly one wins); versions are never
//! reused, not even for a key deleted and written again, so a writer
//! holding a version from before the delete can never overwrite the new
//! value (ABA); a key whose `expires_at` is at or before `now` reads as
//! absent, and `absent` holds for it.
//!
//! How each dialect keeps them:
//! - SQLite: `version` is the `AUTOINCREMENT` rowid. `INSERT OR REPLACE`
//!   deletes the old row and inserts one whose rowid is above any ever
//!   used; the condition is the statement's `WHERE [NOT] EXISTS`, and a
//!   statement that wrote nothing returns no row.
//! - PostgreSQL: versions come from the sequence `cw_kv_version`. A
//!   conditional write is an `UPDATE … WHERE version = $5` or an
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE` the old row has expired:
//!   under READ COMMITTED a racing writer waits for the row lock, then
//!   re-checks its condition against the committed row, and loses. Keys
//!   are `bytea` (PostgreSQL's text cannot hold NUL) and compare as bytes.

use customer_web_core::ports::{Condition, Entry, WriteOutcome};
pub use customer_web_core::ports::{MAX_KEY_BYTES, MAX_VALUE_BYTES, too_large};

use crate::{Connection, Dialect, Schema, SqlError, Statement, Value};

/// The store's schema. Steps are append-only: add one, never edit a
/// shipped one.
///
/// SQLite's first step is the wasmtime host's first layout (`kv` and a
/// version counter), kept so that a file it wrote is carried forward by
/// the second, which moves every row into `cw_kv` (the Spin adapter's
/// layout, now the one layout) and starts its rowids above the counter's
/// last version.
pub const SCHEMA: Schema = Schema {
    name: "storage",
    sqlite: &[
        "CREATE TABLE IF NOT EXISTS kv (
            key        TEXT PRIMARY KEY NOT NULL,
            value      BLOB NOT NULL,
            version    INTEGER NOT NULL,
            expires_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at)
            WHERE expires_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS kv_counter (
            id   INTEGER PRIMARY KEY CHECK (id = 0),
            last INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO kv_counter (id, last) VALUES (0, 0);",
        "CREATE TABLE IF NOT EXISTS cw_kv (
            version    INTEGER PRIMARY KEY AUTOINCREMENT,
            key        TEXT NOT NULL UNIQUE,
            value      BLOB NOT NULL,
            expires_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS cw_kv_expires_at ON cw_kv (expires_at)
            WHERE expires_at IS NOT NULL;
        INSERT INTO cw_kv (version, key, value, expires_at)
            SELECT version, key, value, expires_at FROM kv;
        INSERT INTO sqlite_sequence (name, seq)
            SELECT 'cw_kv', last FROM kv_counter
            WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'cw_kv');
        UPDATE sqlite_sequence
            SET seq = max(seq, (SELECT coalesce(max(last), 0) FROM kv_counter))
            WHERE name = 'cw_kv';
        DROP TABLE kv;
        DROP TABLE kv_counter;",
    ],
    postgres: &["CREATE SEQUENCE cw_kv_version;
        CREATE TABLE cw_kv (
            key        BYTEA PRIMARY KEY,
            value      BYTEA NOT NULL,
            version    BIGINT NOT NULL,
            expires_at BIGINT
        );
        CREATE INDEX cw_kv_expires_at ON cw_kv (expires_at) WHERE expires_at IS NOT NULL;"],
};

/// 1 key, 2 now → `(value, version)` if the key is live.
pub const GET: Statement = Statement {
    sqlite: "SELECT value, version FROM cw_kv
             WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    postgres: "SELECT value, version FROM cw_kv
               WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
};

/// 1 key, 2 value, 3 expires_at (or NULL) → the new version.
pub const PUT_ANY: Statement = Statement {
    sqlite: "INSERT OR REPLACE INTO cw_kv (key, value, expires_at) VALUES (?1, ?2, ?3)
             RETURNING version",
    postgres: "INSERT INTO cw_kv (key, value, version, expires_at)
               VALUES ($1, $2, nextval('cw_kv_version'), $3)
               ON CONFLICT (key) DO UPDATE
                   SET value = EXCLUDED.value, version = EXCLUDED.version,
                       expires_at = EXCLUDED.expires_at
               RETURNING version",
};

/// 1 key, 2 value, 3 expires_at, 4 now → the new version, or no row if a
/// live value is there (conflict). An expired leftover is replaced.
pub const PUT_ABSENT: Statement = Statement {
    sqlite: "INSERT OR REPLACE INTO cw_kv (key, value, expires_at)
             SELECT ?1, ?2, ?3
             WHERE NOT EXISTS (SELECT 1 FROM cw_kv
                               WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?4))
             RETURNING version",
    postgres: "INSERT INTO cw_kv (key, value, version, expires_at)
               VALUES ($1, $2, nextval('cw_kv_version'), $3)
               ON CONFLICT (key) DO UPDATE
                   SET value = EXCLUDED.value, version = EXCLUDED.version,
                       expires_at = EXCLUDED.expires_at
                   WHERE cw_kv.expires_at IS NOT NULL AND cw_kv.expires_at <= $4
               RETURNING version",
};

/// 1 key, 2 value, 3 expires_at, 4 now, 5 expected version → the new
/// version, or no row unless the live value has that version (conflict).
pub const PUT_VERSION: Statement = Statement {
    sqlite: "INSERT OR REPLACE INTO cw_kv (key, value, expires_at)
             SELECT ?1, ?2, ?3
             WHERE EXISTS (SELECT 1 FROM cw_kv
                           WHERE key = ?1 AND version = ?5
                             AND (expires_at IS NULL OR expires_at > ?4))
             RETURNING version",
    postgres: "UPDATE cw_kv SET value = $2, version = nextval('cw_kv_version'), expires_at = $3
               WHERE key = $1 AND version = $5 AND (expires_at IS NULL OR expires_at > $4)
               RETURNING version",
};

/// 1 key: deletes whatever is there (condition `any`).
pub const DELETE_ANY: Statement = Statement {
    sqlite: "DELETE FROM cw_kv WHERE key = ?1",
    postgres: "DELETE FROM cw_kv WHERE key = $1",
};

/// 1 key, 2 now → a row if a live value is there (then a delete with
/// condition `absent` is a conflict).
pub const LIVE: Statement = Statement {
    sqlite: "SELECT 1 FROM cw_kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    postgres: "SELECT 1 FROM cw_kv WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
};

/// 1 key, 2 now: drops an expired leftover (a delete with condition
/// `absent` that holds).
pub const DELETE_EXPIRED: Statement = Statement {
    sqlite: "DELETE FROM cw_kv WHERE key = ?1 AND expires_at <= ?2",
    postgres: "DELETE FROM cw_kv WHERE key = $1 AND expires_at <= $2",
};

/// 1 key, 2 expected version, 3 now → a row if the live value had that
/// version and is now deleted; no row is a conflict.
pub const DELETE_VERSION: Statement = Statement {
    sqlite: "DELETE FROM cw_kv
             WHERE key = ?1 AND version = ?2 AND (expires_at IS NULL OR expires_at > ?3)
             RETURNING version",
    postgres: "DELETE FROM cw_kv
               WHERE key = $1 AND version = $2 AND (expires_at IS NULL OR expires_at > $3)
               RETURNING version",
};

/// 1 now: removes expired keys, which already read as absent. One purge
/// at a time: SQLite's runs under the file's write lock; on PostgreSQL the
/// statement first tries a transaction-scoped advisory lock, and a host
/// that does not get it (another host is purging) deletes nothing.
pub const PURGE: Statement = Statement {
    sqlite: "DELETE FROM cw_kv WHERE expires_at IS NOT NULL AND expires_at <= ?1",
    postgres: "WITH purger AS (SELECT pg_try_advisory_xact_lock(7165853226370356482) AS alone)
               DELETE FROM cw_kv
               WHERE expires_at IS NOT NULL AND expires_at <= $1 AND (SELECT alone FROM purger)",
};

/// 1 prefix (bytes), 2 its length, 3 now → the number of live keys with
/// that prefix. Compared as bytes: `LIKE` would take `%` and `_` as
/// wildcards and fold case, and text functions stop at NUL.
pub const COUNT_PREFIX: Statement = Statement {
    sqlite: "SELECT count(*) FROM cw_kv
             WHERE substr(CAST(key AS BLOB), 1, ?2) = ?1
               AND (expires_at IS NULL OR expires_at > ?3)",
    postgres: "SELECT count(*) FROM cw_kv
               WHERE substring(key FROM 1 FOR $2::bigint::integer) = $1
                 AND (expires_at IS NULL OR expires_at > $3)",
};

/// 1 now → `(key, version)` of every live key, by key as bytes.
pub const VERSIONS: Statement = Statement {
    sqlite: "SELECT key, version FROM cw_kv WHERE expires_at IS NULL OR expires_at > ?1
             ORDER BY CAST(key AS BLOB)",
    postgres: "SELECT key, version FROM cw_kv WHERE expires_at IS NULL OR expires_at > $1
               ORDER BY key",
};

/// A key as a parameter: text in SQLite, bytes in PostgreSQL.
fn key(dialect: Dialect, key: &str) -> Value {
    match dialect {
        Dialect::Sqlite => Value::Text(key.to_owned()),
        Dialect::Postgres => Value::Blob(key.as_bytes().to_vec()),
    }
}

/// Reads a key; absent or expired keys are `None`.
pub fn get(c: &mut dyn Connection, k: &str, now: u64) -> Result<Option<Entry>, SqlError> {
    let d = c.dialect();
    let rows = c.query(GET.text(d), &[key(d, k), Value::uint(now)])?;
    match rows.first() {
        None => Ok(None),
        Some(row) => Ok(Some(Entry {
            value: row.bytes(0, "value")?,
            version: row.uint(1, "version")?,
        })),
    }
}

/// Writes `value` under `k` if `condition` holds, with a fresh version.
pub fn put(
    c: &mut dyn Connection,
    k: &str,
    value: &[u8],
    condition: Condition,
    expires_at: Option<u64>,
    now: u64,
) -> Result<WriteOutcome, SqlError> {
    let d = c.dialect();
    let mut params = vec![
        key(d, k),
        Value::Blob(value.to_vec()),
        Value::opt_uint(expires_at),
    ];
    let statement = match condition {
        Condition::Any => PUT_ANY,
        Condition::Absent => {
            params.push(Value::uint(now));
            PUT_ABSENT
        }
        Condition::Version(version) => {
            params.push(Value::uint(now));
            params.push(Value::uint(version));
            PUT_VERSION
        }
    };
    let rows = c.query(statement.text(d), &params)?;
    match rows.first() {
        None => Ok(WriteOutcome::Conflict),
        Some(row) => Ok(WriteOutcome::Written(row.uint(0, "version")?)),
    }
}

/// Deletes `k` if `condition` holds. Deleting an absent key with `absent`
/// or `any` is `Written(0)`; with a version it is a conflict.
pub fn delete(
    c: &mut dyn Connection,
    k: &str,
    condition: Condition,
    now: u64,
) -> Result<WriteOutcome, SqlError> {
    let d = c.dialect();
    match condition {
        Condition::Any => {
            c.execute(DELETE_ANY.text(d), &[key(d, k)])?;
            Ok(WriteOutcome::Written(0))
        }
        Condition::Absent => {
            // Holds when nothing live is there; an expired leftover, which
            // reads as absent already, goes. A value written between the
            // two statements is not expired and stays: the delete came
            // first.
            if !c.query(LIVE.text(d), &[key(d, k), Value::uint(now)])?.is_empty() {
                return Ok(WriteOutcome::Conflict);
            }
            c.execute(DELETE_EXPIRED.text(d), &[key(d, k), Value::uint(now)])?;
            Ok(WriteOutcome::Written(0))
        }
        Condition::Version(version) => {
            let deleted = c.query(
                DELETE_VERSION.text(d),
                &[key(d, k), Value::uint(version), Value::uint(now)],
            )?;
            Ok(if deleted.is_empty() {
                WriteOutcome::Conflict
            } else {
                WriteOutcome::Written(0)
            })
        }
    }
}

/// Removes expired keys; returns how many.
pub fn purge_expired(c: &mut dyn Connection, now: u64) -> Result<u64, SqlError> {
    let d = c.dialect();
    c.execute(PURGE.text(d), &[Value::uint(now)])
}

/// The number of live keys that start with `prefix` (bytes, literally).
pub fn count_prefix(c: &mut dyn Connection, prefix: &str, now: u64) -> Result<u64, SqlError> {
    let d = c.dialect();
    let length = Value::Int(i64::try_from(prefix.len()).unwrap_or(i64::MAX));
    let rows = c.query(
        COUNT_PREFIX.text(d),
        &[Value::Blob(prefix.as_bytes().to_vec()), length, Value::uint(now)],
    )?;
    rows.first().map_or(Ok(0), |row| row.uint(0, "count"))
}

/// Every live key with its version, by key as bytes.
pub fn versions(c: &mut dyn Connection, now: u64) -> Result<Vec<(String, u64)>, SqlError> {
    let d = c.dialect();
    c.query(VERSIONS.text(d), &[Value::uint(now)])?
        .iter()
        .map(|row| Ok((row.text(0, "key")?, row.uint(1, "version")?)))
        .collect()
}
