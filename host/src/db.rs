//! Opening the host's SQLite database file, and keeping its schema current.
//!
//! Storage, the mail outbox and the audit trail may share one file (the
//! embedded default keeps them all in `./data`). Each of them owns a
//! [`Schema`], migrated by `customer-web-sql` (its bookkeeping, and why a
//! file from a newer release is refused, are described there).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use customer_web_sql::Schema;
use rusqlite::Connection;

/// How long a connection waits for another writer (thread or process)
/// before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if needed) the SQLite file at `path` and brings `schema`
/// up to date.
///
/// The connection uses WAL (readers never block the writer), waits up to
/// [`BUSY_TIMEOUT`] for locks, `synchronous=NORMAL` (durable across process
/// crashes; in WAL mode only a power loss can lose the last commits) and
/// enforces foreign keys. The parent directory is created if missing.
pub fn open(path: &Path, schema: &Schema) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the directory {}", parent.display()))?;
    }
    let mut conn =
        Connection::open(path).with_context(|| format!("opening the database {}", path.display()))?;
    configure(&conn).with_context(|| format!("configuring the database {}", path.display()))?;
    customer_web_sql::migrate(&mut conn, schema).with_context(|| {
        format!(
            "migrating the {} schema of the database {}",
            schema.name,
            path.display()
        )
    })?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    // Set first, so that even switching the journal mode waits for a
    // concurrent opener instead of failing at once.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("the database refused WAL journaling (journal_mode is {mode})");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Converts a timestamp or counter for SQLite, whose integers are signed.
///
/// Values past `i64::MAX` (hundreds of billions of years away) saturate;
/// comparisons between such far-future times are meaningless anyway.
pub fn to_sql_u64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads a column that holds an unsigned value written by [`to_sql_u64`].
///
/// A negative value means the file was edited by hand or corrupted; it is an
/// error rather than a silent zero.
pub fn column_u64(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(index)?;
    u64::try_from(value).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Integer, Box::new(error))
    })
}

/// Reads a nullable column that holds an unsigned value.
pub fn column_opt_u64(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<u64>> {
    let value: Option<i64> = row.get(index)?;
    value
        .map(|value| {
            u64::try_from(value).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Integer,
                    Box::new(error),
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Schema = Schema {
        name: "first",
        sqlite: &["CREATE TABLE a (x INTEGER NOT NULL);"],
        postgres: &[],
    };

    #[test]
    fn open_creates_parent_directory_and_sets_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/host.db");
        let conn = open(&path, &FIRST).unwrap();
        assert!(path.exists());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL is 1");
        let foreign_keys: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert_eq!(foreign_keys, 1);
        let timeout: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |row| row.get(0))
            .unwrap();
        assert_eq!(timeout, 5000);
        let layout: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(layout, 1, "the bookkeeping's layout");
    }

    #[test]
    fn unsigned_values_round_trip_and_saturate() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(to_sql_u64(u64::MAX), i64::MAX);
        let value: u64 = conn
            .query_row("SELECT ?1", [to_sql_u64(42)], |row| column_u64(row, 0))
            .unwrap();
        assert_eq!(value, 42);
        let negative = conn.query_row("SELECT -1", [], |row| column_u64(row, 0));
        assert!(negative.is_err());
        let null: Option<u64> = conn
            .query_row("SELECT NULL", [], |row| column_opt_u64(row, 0))
            .unwrap();
        assert_eq!(null, None);
    }
}
