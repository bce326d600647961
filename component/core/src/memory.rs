//! A [`Store`] held in process memory: the unit tests' store and the
//! wasmtime host's throwaway one. Everything is lost when it is dropped.
//!
//! One mutex guards the map and the version counter, so every operation is
//! atomic; contention does not matter at the scale it serves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::model::Timestamp;
use crate::ports::{Clock, Condition, Entry, Housekeeping, PortError, Store, WriteOutcome, too_large};

/// A versioned map with compare-and-swap and expiry, on a clock.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock + Send + Sync>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<String, Stored>,
    /// The last version handed out; store-wide, so never reused for any key.
    last_version: u64,
}

struct Stored {
    value: Vec<u8>,
    version: u64,
    expires_at: Option<Timestamp>,
}

impl Stored {
    fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl Inner {
    /// The entry under `key` if it is live at `now`.
    fn live(&self, key: &str, now: Timestamp) -> Option<&Stored> {
        self.entries.get(key).filter(|stored| stored.is_live(now))
    }
}

/// Whether `condition` holds for a key whose live version is `current`.
fn holds(condition: Condition, current: Option<u64>) -> bool {
    match condition {
        Condition::Absent => current.is_none(),
        Condition::Version(expected) => current == Some(expected),
        Condition::Any => true,
    }
}

fn refused() -> PortError {
    PortError("key or value too large".into())
}

impl MemoryStore {
    /// An empty store whose expiry reads `clock`.
    pub fn new(clock: Arc<dyn Clock + Send + Sync>) -> Self {
        MemoryStore {
            inner: Mutex::default(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation can panic halfway through a mutation, so a poisoned
        // lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of live keys starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        let now = self.clock.now();
        self.lock()
            .entries
            .iter()
            .filter(|(key, stored)| key.starts_with(prefix) && stored.is_live(now))
            .count()
    }

    /// Every live key with its value, sorted by key: what tests compare
    /// before and after a step that must change nothing.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let now = self.clock.now();
        self.lock()
            .entries
            .iter()
            .filter(|(_, stored)| stored.is_live(now))
            .map(|(key, stored)| (key.clone(), stored.value.clone()))
            .collect()
    }
}

impl Store for MemoryStore {
    fn get_now(&self, key: &str) -> Option<Result<Option<Entry>, PortError>> {
        Some(self.get(key))
    }

    fn get(&self, key: &str) -> Result<Option<Entry>, PortError> {
        if too_large(key, None) {
            return Err(refused());
        }
        let now = self.clock.now();
        Ok(self.lock().live(key, now).map(|stored| Entry {
            value: stored.value.clone(),
            version: stored.version,
        }))
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<Timestamp>,
    ) -> Result<WriteOutcome, PortError> {
        if too_large(key, Some(value)) {
            return Err(refused());
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        if !holds(condition, inner.live(key, now).map(|stored| stored.version)) {
            return Ok(WriteOutcome::Conflict);
        }
        inner.last_version += 1;
        let version = inner.last_version;
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

    fn delete(&self, key: &str, condition: Condition) -> Result<WriteOutcome, PortError> {
        if too_large(key, None) {
            return Err(refused());
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        if !holds(condition, inner.live(key, now).map(|stored| stored.version)) {
            return Ok(WriteOutcome::Conflict);
        }
        inner.entries.remove(key);
        Ok(WriteOutcome::Written(0))
    }
}

impl Housekeeping for MemoryStore {
    fn purge_expired(&self) -> Result<u64, PortError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let before = inner.entries.len();
        inner.entries.retain(|_, stored| stored.is_live(now));
        Ok(u64::try_from(before - inner.entries.len()).unwrap_or(u64::MAX))
    }

    fn count_prefix(&self, prefix: &str) -> Result<u64, PortError> {
        Ok(u64::try_from(self.count(prefix)).unwrap_or(u64::MAX))
    }

    fn versions(&self) -> Result<Vec<(String, u64)>, PortError> {
        let now = self.clock.now();
        Ok(self
            .lock()
            .entries
            .iter()
            .filter(|(_, stored)| stored.is_live(now))
            .map(|(key, stored)| (key.clone(), stored.version))
            .collect())
    }
}
