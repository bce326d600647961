//! `customer-web:plugin/storage` on SQLite: customer-web-sql's versioned
//! key-value store ([`kv`]), values with expiry and a true
//! compare-and-swap, one statement per write.

use customer_web_core::ports;
use customer_web_sql::kv;

use crate::Adapter;
use crate::bindings::exports::customer_web::plugin::storage::{Condition, Entry, Error, Guest, WriteOutcome};
use crate::db;

/// Expired keys already read as absent; their rows are removed when a write
/// gets a version that is a multiple of this.
const PURGE_EVERY: u64 = 64;

impl Guest for Adapter {
    fn get(key: String) -> Result<Option<Entry>, Error> {
        check(&key, None)?;
        let entry = db::with(|c| kv::get(c, &key, db::now())).map_err(Error::Unavailable)?;
        Ok(entry.map(|entry| Entry {
            value: entry.value,
            version: entry.version,
        }))
    }

    fn put(
        key: String,
        value: Vec<u8>,
        condition: Condition,
        expires_at: Option<u64>,
    ) -> Result<WriteOutcome, Error> {
        check(&key, Some(&value))?;
        let now = db::now();
        db::with(|c| {
            let outcome = kv::put(c, &key, &value, condition_of(condition), expires_at, now)?;
            if let ports::WriteOutcome::Written(version) = outcome
                && version.is_multiple_of(PURGE_EVERY)
            {
                // Housekeeping only: expired keys read as absent either way.
                let _ = kv::purge_expired(c, now);
            }
            Ok(outcome_of(outcome))
        })
        .map_err(Error::Unavailable)
    }

    fn delete(key: String, condition: Condition) -> Result<WriteOutcome, Error> {
        check(&key, None)?;
        db::with(|c| kv::delete(c, &key, condition_of(condition), db::now()))
            .map(outcome_of)
            .map_err(Error::Unavailable)
    }
}

/// The wasmtime host's limits ([`kv::MAX_KEY_BYTES`],
/// [`kv::MAX_VALUE_BYTES`]), checked before any database work.
fn check(key: &str, value: Option<&[u8]>) -> Result<(), Error> {
    if kv::too_large(key, value) {
        return Err(Error::TooLarge);
    }
    Ok(())
}

fn condition_of(condition: Condition) -> ports::Condition {
    match condition {
        Condition::Any => ports::Condition::Any,
        Condition::Absent => ports::Condition::Absent,
        Condition::Version(version) => ports::Condition::Version(version),
    }
}

fn outcome_of(outcome: ports::WriteOutcome) -> WriteOutcome {
    match outcome {
        ports::WriteOutcome::Written(version) => WriteOutcome::Written(version),
        ports::WriteOutcome::Conflict => WriteOutcome::Conflict,
    }
}
