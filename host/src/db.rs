//! Opening the host's SQLite database file, and keeping its schema current.
//!
//! Storage, the mail outbox and the audit trail may share one file (the
//! embedded default keeps them all in `./data`). Each of them owns a
//! [`Schema`]: a name and an append-only list of migration steps. The file
//! records how far each schema has been migrated in a small bookkeeping table
//! keyed by schema name, so the modules never compete for one version number;
//! the `user_version` pragma records the version of that bookkeeping itself,
//! so a file written by a newer host with a different layout is refused
//! rather than misread.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// How long a connection waits for another writer (thread or process)
/// before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The layout of the migration bookkeeping, stored in `user_version`.
const BOOKKEEPING_VERSION: i64 = 1;

/// The schema of one module: its tables, as an append-only list of steps.
///
/// Step `n` (counting from 1) runs once per database file, in order, after
/// steps `1..n`. Steps already shipped must never change: add a new one.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The module's key in the bookkeeping table, e.g. `storage`.
    pub name: &'static str,
    /// SQL batches, one per schema version.
    pub migrations: &'static [&'static str],
}

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
    migrate(&mut conn, schema).with_context(|| {
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

/// Applies the steps of `schema` that this file has not seen yet.
///
/// Runs in one IMMEDIATE transaction: two processes opening a fresh file at
/// once serialise here, and the second finds the work done.
fn migrate(conn: &mut Connection, schema: &Schema) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let layout: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if layout > BOOKKEEPING_VERSION {
        bail!(
            "the database was written by a newer host (bookkeeping version {layout}, \
             this host knows {BOOKKEEPING_VERSION})"
        );
    }
    if layout < BOOKKEEPING_VERSION {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (
                 name    TEXT PRIMARY KEY NOT NULL,
                 version INTEGER NOT NULL
             );",
        )?;
        tx.pragma_update(None, "user_version", BOOKKEEPING_VERSION)?;
    }
    let current: i64 = tx
        .query_row(
            "SELECT version FROM schema_versions WHERE name = ?1",
            [schema.name],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let known = i64::try_from(schema.migrations.len())?;
    if current > known {
        bail!(
            "the database was written by a newer host ({} schema version {current}, \
             this host knows {known})",
            schema.name
        );
    }
    let done = usize::try_from(current)?;
    for (index, step) in schema.migrations.iter().enumerate().skip(done) {
        tx.execute_batch(step)
            .with_context(|| format!("applying {} schema version {}", schema.name, index + 1))?;
    }
    if current < known {
        tx.execute(
            "INSERT INTO schema_versions (name, version) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            rusqlite::params![schema.name, known],
        )?;
        tracing::info!(
            schema = schema.name,
            from = current,
            to = known,
            "database schema migrated"
        );
    }
    tx.commit()?;
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
        migrations: &["CREATE TABLE a (x INTEGER NOT NULL);"],
    };
    const FIRST_V2: Schema = Schema {
        name: "first",
        migrations: &[
            "CREATE TABLE a (x INTEGER NOT NULL);",
            "ALTER TABLE a ADD COLUMN y TEXT;",
        ],
    };
    const SECOND: Schema = Schema {
        name: "second",
        migrations: &["CREATE TABLE b (x INTEGER NOT NULL);"],
    };

    fn version_of(conn: &Connection, name: &str) -> i64 {
        conn.query_row(
            "SELECT version FROM schema_versions WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .unwrap()
    }

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
        assert_eq!(layout, BOOKKEEPING_VERSION);
    }

    #[test]
    fn schemas_of_different_modules_coexist_and_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        {
            let conn = open(&path, &FIRST).unwrap();
            conn.execute("INSERT INTO a (x) VALUES (1)", []).unwrap();
        }
        let conn = open(&path, &SECOND).unwrap();
        assert_eq!(version_of(&conn, "first"), 1);
        assert_eq!(version_of(&conn, "second"), 1);
        drop(conn);

        // Reopening with the same schema must not rerun step 1 (it would
        // fail: the table exists and has no IF NOT EXISTS).
        let conn = open(&path, &FIRST).unwrap();
        drop(conn);

        // A new step runs once and keeps the data.
        let conn = open(&path, &FIRST_V2).unwrap();
        assert_eq!(version_of(&conn, "first"), 2);
        let (x, y): (i64, Option<String>) = conn
            .query_row("SELECT x, y FROM a", [], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        assert_eq!((x, y), (1, None));
    }

    #[test]
    fn a_file_from_a_newer_host_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        drop(open(&path, &FIRST_V2).unwrap());
        let error = open(&path, &FIRST).unwrap_err();
        assert!(
            format!("{error:#}").contains("newer host"),
            "unexpected error: {error:#}"
        );

        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", BOOKKEEPING_VERSION + 1)
            .unwrap();
        drop(conn);
        let error = open(&path, &SECOND).unwrap_err();
        assert!(format!("{error:#}").contains("bookkeeping version"));
    }

    #[test]
    fn a_failing_step_leaves_the_file_unchanged() {
        const BROKEN: Schema = Schema {
            name: "broken",
            migrations: &["CREATE TABLE c (x INTEGER);", "THIS IS NOT SQL;"],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.db");
        let error = open(&path, &BROKEN).unwrap_err();
        assert!(format!("{error:#}").contains("broken schema version 2"));
        let conn = Connection::open(&path).unwrap();
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'c'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(tables, 0, "step 1 must roll back with step 2");
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
