//! Typed records over the versioned store: JSON values, and
//! read-modify-write loops that retry on compare-and-swap conflicts.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FlowError;
use crate::model::Timestamp;
use crate::ports::{Condition, Store, WriteOutcome};

/// Conflicts tolerated by one read-modify-write before giving up. Under a
/// burst on one key (many racing submissions) conflicts are common, and
/// each retry is cheap.
const MAX_RETRIES: usize = 256;

/// A record read with its version.
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// The version it was read at.
    pub version: u64,
}

/// Reads a record. A value that does not decode is a fault, not absence.
pub fn load<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<Versioned<T>>, FlowError> {
    let Some(entry) = store.get(key)? else {
        return Ok(None);
    };
    let value = serde_json::from_slice(&entry.value)
        .map_err(|e| FlowError::Unavailable(format!("stored record {} is unreadable: {e}", key_kind(key))))?;
    Ok(Some(Versioned {
        value,
        version: entry.version,
    }))
}

/// Writes a record under a condition.
pub fn save<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    condition: Condition,
    expires_at: Option<Timestamp>,
) -> Result<WriteOutcome, FlowError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| FlowError::Unavailable(format!("cannot encode {}: {e}", key_kind(key))))?;
    Ok(store.put(key, &bytes, condition, expires_at)?)
}

/// Writes a record that must not exist yet; `false` if it does.
pub fn create<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    expires_at: Option<Timestamp>,
) -> Result<bool, FlowError> {
    Ok(matches!(
        save(store, key, value, Condition::Absent, expires_at)?,
        WriteOutcome::Written(_)
    ))
}

/// What a read-modify-write step decides.
pub enum Change<T, R> {
    /// Write this record (expiring then), and answer `R`.
    Write(T, Option<Timestamp>, R),
    /// Delete the record, and answer `R`.
    Delete(R),
    /// Leave it, and answer `R`.
    Keep(R),
}

/// Read-modify-write of one key with compare-and-swap: `decide` sees the
/// current record (or `None`) and is called again whenever another writer
/// got in between, so the change applies exactly once to the latest value.
pub fn update<T, R>(
    store: &dyn Store,
    key: &str,
    mut decide: impl FnMut(Option<&T>) -> Result<Change<T, R>, FlowError>,
) -> Result<R, FlowError>
where
    T: Serialize + DeserializeOwned,
{
    for _ in 0..MAX_RETRIES {
        let current = load::<T>(store, key)?;
        let condition = match &current {
            Some(v) => Condition::Version(v.version),
            None => Condition::Absent,
        };
        let outcome = match decide(current.as_ref().map(|v| &v.value))? {
            Change::Keep(r) => return Ok(r),
            Change::Write(value, expires_at, r) => (save(store, key, &value, condition, expires_at)?, r),
            Change::Delete(r) => (store.delete(key, condition)?, r),
        };
        if let (WriteOutcome::Written(_), r) = outcome {
            return Ok(r);
        }
    }
    Err(FlowError::Unavailable(format!(
        "too much contention on {}",
        key_kind(key)
    )))
}

/// The record kind of a key (its first segment), for messages that must
/// not carry the rest of the key.
fn key_kind(key: &str) -> &str {
    key.split('/').next().unwrap_or("record")
}
