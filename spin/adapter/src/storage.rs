//! `customer-web:plugin/storage` on SQLite: versioned values with expiry
//! and a true compare-and-swap, one statement per write.

use spin_sdk::sqlite::Value;

use crate::bindings::exports::customer_web::plugin::storage::{Condition, Entry, Error, Guest, WriteOutcome};
use crate::db::{self, column, int, text};
use crate::{Adapter, sql};

/// The longest key accepted, in bytes: the wasmtime host's limit.
const MAX_KEY_BYTES: usize = 512;

/// The largest value accepted, in bytes (1 MiB): the wasmtime host's limit.
const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Expired keys already read as absent; their rows are removed when a write
/// gets a version that is a multiple of this.
const PURGE_EVERY: u64 = 64;

impl Guest for Adapter {
    fn get(key: String) -> Result<Option<Entry>, Error> {
        check_key(&key)?;
        db::with(|conn| {
            let found = db::exec(conn, sql::KV_GET, &[text(key), int(db::now())])?;
            let Some(row) = found.rows.first() else {
                return Ok(None);
            };
            Ok(Some(Entry {
                value: column::<&[u8]>(row, 0, "value")?.to_vec(),
                version: column(row, 1, "version")?,
            }))
        })
        .map_err(Error::Unavailable)
    }

    fn put(
        key: String,
        value: Vec<u8>,
        condition: Condition,
        expires_at: Option<u64>,
    ) -> Result<WriteOutcome, Error> {
        check_key(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::TooLarge);
        }
        let now = db::now();
        let expires_at = expires_at.map_or(Value::Null, int);
        let (statement, params) = match condition {
            Condition::Any => (sql::KV_PUT_ANY, vec![text(key), Value::Blob(value), expires_at]),
            Condition::Absent => (
                sql::KV_PUT_ABSENT,
                vec![text(key), Value::Blob(value), expires_at, int(now)],
            ),
            Condition::Version(version) => (
                sql::KV_PUT_VERSION,
                vec![text(key), Value::Blob(value), expires_at, int(now), int(version)],
            ),
        };
        db::with(|conn| {
            let written = db::exec(conn, statement, &params)?;
            let Some(row) = written.rows.first() else {
                return Ok(WriteOutcome::Conflict);
            };
            let version: u64 = column(row, 0, "version")?;
            if version.is_multiple_of(PURGE_EVERY) {
                // Housekeeping only: expired keys read as absent either way.
                let _ = db::exec(conn, sql::KV_PURGE, &[int(now)]);
            }
            Ok(WriteOutcome::Written(version))
        })
        .map_err(Error::Unavailable)
    }

    fn delete(key: String, condition: Condition) -> Result<WriteOutcome, Error> {
        check_key(&key)?;
        let now = int(db::now());
        db::with(|conn| match condition {
            Condition::Any => {
                db::exec(conn, sql::KV_DELETE_ANY, &[text(key)])?;
                Ok(WriteOutcome::Written(0))
            }
            Condition::Absent => {
                // Holds when nothing live is there; an expired leftover,
                // which reads as absent already, goes.
                let live = db::exec(conn, sql::KV_LIVE, &[text(key.clone()), now.clone()])?;
                if !live.rows.is_empty() {
                    return Ok(WriteOutcome::Conflict);
                }
                db::exec(conn, sql::KV_DELETE_EXPIRED, &[text(key), now])?;
                Ok(WriteOutcome::Written(0))
            }
            Condition::Version(version) => {
                let deleted = db::exec(conn, sql::KV_DELETE_VERSION, &[text(key), int(version), now])?;
                Ok(if deleted.rows.is_empty() {
                    WriteOutcome::Conflict
                } else {
                    WriteOutcome::Written(0)
                })
            }
        })
        .map_err(Error::Unavailable)
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::TooLarge);
    }
    Ok(())
}
