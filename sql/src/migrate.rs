//! Keeping a database's schema current.
//!
//! Each part of the contract (storage, the outbox, the audit trail) owns a
//! [`Schema`]: a name and an append-only list of steps per dialect. The
//! database records how far each schema has come in `schema_versions`
//! (name, version), so the parts never compete for one number. A database
//! a newer release migrated further than this one knows is refused rather
//! than misread.
//!
//! The steps of one call run in one transaction that first takes the
//! database's write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
//! transaction-scoped advisory lock), so two hosts starting on a fresh
//! database at once serialise, and the second finds the work done.

use crate::{Connection, Dialect, SqlError, Value};

/// The layout of the bookkeeping itself, in SQLite's `user_version`.
pub(crate) const BOOKKEEPING_VERSION: u64 = 1;

/// The bookkeeping table: how far each schema has come.
pub(crate) const SCHEMA_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_versions (
         name    TEXT PRIMARY KEY NOT NULL,
         version INTEGER NOT NULL
     )";

/// The advisory lock key PostgreSQL migrations hold (any fixed number
/// other applications are unlikely to use: "cw" and a date).
const PG_MIGRATION_LOCK: i64 = 0x6377_2026_1204;

/// The schema of one part: its tables, as append-only steps per dialect.
///
/// Step `n` (counting from 1) runs once per database, after steps
/// `1..n`. Steps already shipped must never change: add a new one.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// The part's key in `schema_versions`, e.g. `storage`.
    pub name: &'static str,
    /// SQLite's steps, each a batch of statements.
    pub sqlite: &'static [&'static str],
    /// PostgreSQL's steps.
    pub postgres: &'static [&'static str],
}

impl Schema {
    fn steps(&self, dialect: Dialect) -> &'static [&'static str] {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// Applies the steps of `schema` that the database has not seen yet.
pub fn migrate(c: &mut dyn Connection, schema: &Schema) -> Result<(), SqlError> {
    let dialect = c.dialect();
    // A database already current (every start but the first) is only
    // read: no write lock, no transaction, for each of the stores a host
    // opens. Versions only grow, so a current answer cannot go stale in a
    // way that matters; anything else takes the locked path below, which
    // also refuses a newer release's database.
    if bookkeeping_is_ours(c, dialect)? && is_current(c, &[schema])? {
        return Ok(());
    }
    match dialect {
        Dialect::Sqlite => c.batch("BEGIN IMMEDIATE")?,
        Dialect::Postgres => {
            c.batch("BEGIN")?;
            if let Err(e) = c.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[Value::Int(PG_MIGRATION_LOCK)],
            ) {
                let _ = c.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    match apply(c, schema, dialect) {
        Ok(()) => c.batch("COMMIT"),
        Err(e) => {
            let _ = c.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Whether every schema of `schemas` is at its newest step already. Reads
/// only, and takes no lock: a process that opens the database often (a
/// Spin instance per request) asks this first and runs [`migrate`] only
/// when the answer is no. A database without bookkeeping is not current;
/// nor is one a newer release migrated further ([`migrate`] refuses it).
pub fn is_current(c: &mut dyn Connection, schemas: &[&Schema]) -> Result<bool, SqlError> {
    let dialect = c.dialect();
    let recorded = recorded_versions(c)?;
    Ok(schemas.iter().all(|schema| {
        recorded
            .iter()
            .any(|(name, version)| name == schema.name && *version == schema.steps(dialect).len() as u64)
    }))
}

/// The schemas the database records, each with how far it has come, in
/// name order; none where it keeps no bookkeeping yet. Reads only.
pub fn recorded_versions(c: &mut dyn Connection) -> Result<Vec<(String, u64)>, SqlError> {
    let (bookkeeping, versions) = match c.dialect() {
        Dialect::Sqlite => (
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'",
            "SELECT name, version FROM schema_versions ORDER BY name",
        ),
        Dialect::Postgres => (
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'schema_versions'",
            "SELECT name, version::bigint FROM schema_versions ORDER BY name",
        ),
    };
    if c.query(bookkeeping, &[])?.is_empty() {
        return Ok(Vec::new());
    }
    c.query(versions, &[])?
        .iter()
        .map(|row| Ok((row.text(0, "schema name")?, row.uint(1, "schema version")?)))
        .collect()
}

/// Whether the bookkeeping layout is this release's (SQLite keeps it in
/// `user_version`; PostgreSQL has one layout).
fn bookkeeping_is_ours(c: &mut dyn Connection, dialect: Dialect) -> Result<bool, SqlError> {
    if dialect != Dialect::Sqlite {
        return Ok(true);
    }
    let layout = c
        .query("PRAGMA user_version", &[])?
        .first()
        .map_or(Ok(0), |row| row.uint(0, "user_version"))?;
    Ok(layout == BOOKKEEPING_VERSION)
}

fn apply(c: &mut dyn Connection, schema: &Schema, dialect: Dialect) -> Result<(), SqlError> {
    if dialect == Dialect::Sqlite {
        let layout = c
            .query("PRAGMA user_version", &[])?
            .first()
            .map_or(Ok(0), |row| row.uint(0, "user_version"))?;
        if layout > BOOKKEEPING_VERSION {
            return Err(SqlError(format!(
                "the database was written by a newer release (bookkeeping version {layout}, \
                 this one knows {BOOKKEEPING_VERSION})"
            )));
        }
        if layout < BOOKKEEPING_VERSION {
            c.batch(&format!("PRAGMA user_version = {BOOKKEEPING_VERSION}"))?;
        }
    }
    c.batch(SCHEMA_VERSIONS)?;
    let (select, upsert) = match dialect {
        Dialect::Sqlite => (
            "SELECT version FROM schema_versions WHERE name = ?1",
            "INSERT INTO schema_versions (name, version) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
        ),
        Dialect::Postgres => (
            "SELECT version::bigint FROM schema_versions WHERE name = $1",
            "INSERT INTO schema_versions (name, version) VALUES ($1, $2::bigint::integer)
             ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
        ),
    };
    let name = Value::Text(schema.name.to_owned());
    let current = c
        .query(select, std::slice::from_ref(&name))?
        .first()
        .map_or(Ok(0), |row| row.uint(0, "schema version"))?;
    let steps = schema.steps(dialect);
    let known = steps.len() as u64;
    if current > known {
        return Err(SqlError(format!(
            "the database was written by a newer release ({} schema version {current}, \
             this one knows {known})",
            schema.name
        )));
    }
    for (index, step) in steps.iter().enumerate().skip(current as usize) {
        c.batch(step).map_err(|e| {
            SqlError(format!(
                "applying {} schema version {}: {e}",
                schema.name,
                index + 1
            ))
        })?;
    }
    if current < known {
        c.execute(upsert, &[name, Value::uint(known)])?;
    }
    Ok(())
}
