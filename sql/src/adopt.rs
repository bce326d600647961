//! Adopting a database the Spin adapter made before migrations existed.
//!
//! The adapter used to create its tables itself, with idempotent
//! statements and no bookkeeping: `cw_kv`, `cw_outbox` and `cw_audit` (and
//! its directory tables, which stay its own). Each of those is a step of a
//! [`Schema`](crate::Schema) under another name, so recording that step is
//! all it takes for [`migrate`](crate::migrate) to carry the data forward:
//!
//! - `cw_kv` is the layout of the storage schema's second SQLite step, to
//!   the index: `storage` is at version 2.
//! - `cw_outbox` has exactly the columns and the `CHECK` (no `dead` state)
//!   of the mail schema's first SQLite step, whose table is `outbox`: it
//!   is renamed `outbox` and `mail` is at version 1; steps 2 and 3 then
//!   admit dead letters and give the table its `cw_` name back.
//! - `cw_audit` is the audit schema's first step's `audit_events`: renamed,
//!   `audit` at version 1; step 2 gives the name back.

use crate::migrate::{BOOKKEEPING_VERSION, SCHEMA_VERSIONS};
use crate::{Connection, Dialect, SqlError, Value, audit, kv, outbox};

/// Adopts the Spin adapter's unversioned tables, if that is what the
/// database holds: no `schema_versions` yet, and one or more of `cw_kv`,
/// `cw_outbox`, `cw_audit`. Returns whether it adopted anything.
///
/// SQLite only (a PostgreSQL database never held them: nothing to do). It
/// runs in one `BEGIN IMMEDIATE` transaction, so instances opening the
/// database at once serialise and the second finds the work done; on any
/// other database it changes nothing. Run [`migrate`](crate::migrate) for
/// each schema afterwards.
pub fn adopt_spin_tables(c: &mut dyn Connection) -> Result<bool, SqlError> {
    if c.dialect() != Dialect::Sqlite {
        return Ok(false);
    }
    c.batch("BEGIN IMMEDIATE")?;
    let adopted = adopt(c).and_then(|adopted| c.batch("COMMIT").map(|()| adopted));
    if adopted.is_err() {
        let _ = c.batch("ROLLBACK");
    }
    adopted
}

fn adopt(c: &mut dyn Connection) -> Result<bool, SqlError> {
    // Bookkeeping of any kind (ours, or a newer release's) means the
    // database is not the old adapter's; `migrate` takes it from here.
    let layout = c
        .query("PRAGMA user_version", &[])?
        .first()
        .map_or(Ok(0), |row| row.uint(0, "user_version"))?;
    if layout != 0 || table_exists(c, "schema_versions")? {
        return Ok(false);
    }
    let has_kv = table_exists(c, "cw_kv")?;
    let has_outbox = table_exists(c, "cw_outbox")?;
    let has_audit = table_exists(c, "cw_audit")?;
    if !(has_kv || has_outbox || has_audit) {
        return Ok(false);
    }
    c.batch(SCHEMA_VERSIONS)?;
    if has_outbox {
        c.batch("ALTER TABLE cw_outbox RENAME TO outbox")?;
        record(c, outbox::SCHEMA.name, 1)?;
    }
    if has_audit {
        c.batch("ALTER TABLE cw_audit RENAME TO audit_events")?;
        record(c, audit::SCHEMA.name, 1)?;
    }
    if has_kv {
        record(c, kv::SCHEMA.name, 2)?;
    }
    c.batch(&format!("PRAGMA user_version = {BOOKKEEPING_VERSION}"))?;
    Ok(true)
}

fn table_exists(c: &mut dyn Connection, name: &str) -> Result<bool, SqlError> {
    let rows = c.query(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        &[Value::Text(name.to_owned())],
    )?;
    Ok(!rows.is_empty())
}

fn record(c: &mut dyn Connection, schema: &str, version: u64) -> Result<(), SqlError> {
    c.execute(
        "INSERT INTO schema_versions (name, version) VALUES (?1, ?2)",
        &[Value::Text(schema.to_owned()), Value::uint(version)],
    )?;
    Ok(())
}
