//! An in-memory [`Store`], for tests and throwaway local runs.
//!
//! One mutex guards the whole map and the version counter, so every
//! operation is trivially atomic; contention does not matter at test scale.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{
    Condition, Entry, Store, StoreError, WriteOutcome, check_key, check_value, condition_holds, is_live,
};

/// A [`Store`] held in process memory; everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Stored>,
    /// The last version handed out; store-wide, so never reused for any key.
    last_version: u64,
}

#[derive(Debug)]
struct Stored {
    value: Vec<u8>,
    version: u64,
    expires_at: Option<u64>,
}

impl Inner {
    /// The version of `key` if it is live at `now`.
    fn live_version(&self, key: &str, now: u64) -> Option<u64> {
        self.entries
            .get(key)
            .filter(|stored| is_live(stored.expires_at, now))
            .map(|stored| stored.version)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation can panic halfway through a mutation, so a poisoned
        // lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str, now: u64) -> Result<Option<Entry>, StoreError> {
        check_key(key)?;
        let inner = self.lock();
        Ok(inner
            .entries
            .get(key)
            .filter(|stored| is_live(stored.expires_at, now))
            .map(|stored| Entry {
                value: stored.value.clone(),
                version: stored.version,
            }))
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
        let mut inner = self.lock();
        if !condition_holds(condition, inner.live_version(key, now)) {
            return Ok(WriteOutcome::Conflict);
        }
        let Some(version) = inner.last_version.checked_add(1) else {
            return Err(StoreError::Unavailable("version counter exhausted".into()));
        };
        inner.last_version = version;
        inner.entries.insert(
            key.to_owned(),
            Stored {
                value: value.to_vec(),
                version,
                expires_at,
            },
        );
        Ok(WriteOutcome::Written(version))
    }

    fn delete(&self, key: &str, condition: Condition, now: u64) -> Result<WriteOutcome, StoreError> {
        check_key(key)?;
        let mut inner = self.lock();
        if !condition_holds(condition, inner.live_version(key, now)) {
            return Ok(WriteOutcome::Conflict);
        }
        // Also drops an expired leftover, which reads as absent anyway.
        inner.entries.remove(key);
        Ok(WriteOutcome::Written(0))
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let before = inner.entries.len();
        inner.entries.retain(|_, stored| is_live(stored.expires_at, now));
        Ok(before - inner.entries.len())
    }

    fn count_prefix(&self, prefix: &str, now: u64) -> Result<usize, StoreError> {
        let inner = self.lock();
        Ok(inner
            .entries
            .iter()
            .filter(|(key, stored)| key.starts_with(prefix) && is_live(stored.expires_at, now))
            .count())
    }

    fn versions(&self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let inner = self.lock();
        let mut all: Vec<_> = inner
            .entries
            .iter()
            .filter(|(_, stored)| is_live(stored.expires_at, now))
            .map(|(key, stored)| (key.clone(), stored.version))
            .collect();
        all.sort();
        Ok(all)
    }
}
