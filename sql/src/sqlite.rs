//! [`Connection`] on rusqlite, and [`SqliteFile`]: the wasmtime host's
//! SQLite file.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::{Connection, Database, Dialect, Row, Schema, SqlError, Value, migrate};

/// How long a connection waits for another writer (thread or process)
/// before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection to a SQLite file, configured for many writers: WAL
/// (readers never block the writer), a [`BUSY_TIMEOUT`] for locks,
/// `synchronous=NORMAL` (durable across process crashes; in WAL mode only
/// a power loss can lose the last commits), foreign keys enforced. Several
/// of them, in this process or others, may share one file.
///
/// [`SqliteFile::open`] connects at once; [`SqliteFile::deferred`] at its
/// first statement, so a host that opens several parts of one file pays
/// at its start for the first connection only.
pub struct SqliteFile {
    path: PathBuf,
    conn: OnceLock<Mutex<rusqlite::Connection>>,
    /// Schemas [`Database::migrate`] was asked for before a deferred
    /// connection opened: brought up to date as it opens.
    pending: Mutex<Vec<Schema>>,
}

impl std::fmt::Debug for SqliteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteFile")
            .field("path", &self.path)
            .field("connected", &self.conn.get().is_some())
            .finish()
    }
}

impl SqliteFile {
    /// Opens (creating it and its directory if needed) the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteFile, SqlError> {
        let file = SqliteFile::deferred(path);
        file.connection()?;
        Ok(file)
    }

    /// The file at `path`, connected (and created, with its directory, if
    /// needed) at the first statement run on it. Schemas migrated before
    /// then are brought up to date as it connects; a failure to connect
    /// is that statement's error, and the next one tries again. For a
    /// file another [`SqliteFile::open`] has already connected to and
    /// migrated, so that connecting cannot fail for a reason the start
    /// would not have shown.
    pub fn deferred(path: &Path) -> SqliteFile {
        SqliteFile {
            path: path.to_owned(),
            conn: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Whether the connection is open (a deferred one: whether a statement
    /// has run).
    pub fn is_connected(&self) -> bool {
        self.conn.get().is_some()
    }

    /// The connection, opened now if it is not yet.
    fn connection(&self) -> Result<&Mutex<rusqlite::Connection>, SqlError> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn);
        }
        // Held while connecting: one connection per file, and the pending
        // migrations run once, on it.
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = self.conn.get() {
            return Ok(conn);
        }
        let mut conn = connect(&self.path)?;
        for schema in pending.iter() {
            migrate(&mut conn, schema)?;
        }
        pending.clear();
        Ok(self.conn.get_or_init(|| Mutex::new(conn)))
    }
}

/// A configured connection to the file at `path`, its directory made.
fn connect(path: &Path) -> Result<rusqlite::Connection, SqlError> {
    let at = |e: &dyn std::fmt::Display| SqlError(format!("SQLite file {}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| at(&e))?;
    }
    let conn = rusqlite::Connection::open(path).map_err(|e| at(&e))?;
    configure(&conn).map_err(|e| at(&e))?;
    Ok(conn)
}

impl crate::outbox::SqlOutbox<SqliteFile> {
    /// Opens (or creates) the outbox in the SQLite file at `path`, creating
    /// the parent directory and the table as needed.
    pub fn open(path: &Path) -> Result<Self, SqlError> {
        Self::on(SqliteFile::open(path)?)
    }
}

fn configure(conn: &rusqlite::Connection) -> Result<(), SqlError> {
    // Set first, so that even switching the journal mode waits for a
    // concurrent opener instead of failing at once.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fault)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(fault)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqlError(format!(
            "the database refused WAL journaling (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(fault)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(fault)?;
    Ok(())
}

impl Database for SqliteFile {
    fn with<R>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>) -> Result<R, SqlError> {
        // Every statement of the contract is one statement, and a
        // migration's transaction rolls back on error: a panic elsewhere
        // leaves the connection usable.
        let mut conn = self.connection()?.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut *conn)
    }

    /// A read in WAL mode takes no lock a writer holds; only this file's
    /// one connection may be busy (a write waiting out another process's
    /// lock holds it), and then the read is not run here. Nor is it on a
    /// deferred file not yet connected: connecting may wait.
    fn with_now<R>(
        &self,
        f: impl FnOnce(&mut dyn Connection) -> Result<R, SqlError>,
    ) -> Option<Result<R, SqlError>> {
        let mut conn = match self.conn.get()?.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(f(&mut *conn))
    }

    /// On a deferred file not yet connected, `schema` is brought up to
    /// date as it connects.
    fn migrate(&self, schema: &Schema) -> Result<(), SqlError> {
        if self.conn.get().is_none() {
            // Connecting holds this lock: either the connection is not
            // there yet and will migrate `schema` as it opens, or it is.
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if self.conn.get().is_none() {
                pending.push(*schema);
                return Ok(());
            }
        }
        self.with(|c| migrate(c, schema))
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        })
    }
}

fn fault(error: rusqlite::Error) -> SqlError {
    SqlError(format!("SQLite: {error}"))
}

fn value(column: ValueRef<'_>) -> Value {
    match column {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        // No statement of the contract reads a REAL; keep its digits.
        ValueRef::Real(r) => Value::Text(r.to_string()),
        ValueRef::Text(text) => match std::str::from_utf8(text) {
            Ok(text) => Value::Text(text.to_owned()),
            Err(_) => Value::Blob(text.to_vec()),
        },
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

impl Connection for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let mut statement = self.prepare_cached(sql).map_err(fault)?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(fault)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(fault)? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(value(row.get_ref(index).map_err(fault)?));
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut statement = self.prepare_cached(sql).map_err(fault)?;
        let changed = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(fault)?;
        Ok(changed as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.execute_batch(sql).map_err(fault)
    }
}
