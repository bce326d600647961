//! The portal's own storage behind the component's `Store` port: here a
//! map in memory, as simple as the contract allows. A portal puts its own
//! database here; `customer_web_core::conformance`'s checks (run in this
//! file's tests) say whether it keeps the contract.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use customer_web_core::ports::{Clock, Condition, Entry, PortError, Store, WriteOutcome, too_large};

/// Keys, values, versions and expiry in one map.
pub struct PortalStore {
    clock: Arc<dyn Clock + Send + Sync>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rows: HashMap<String, Row>,
    /// The last version handed out: versions are never reused.
    last_version: u64,
}

struct Row {
    value: Vec<u8>,
    version: u64,
    expires_at: Option<u64>,
}

impl PortalStore {
    /// An empty store whose expiry reads `clock`.
    pub fn new(clock: Arc<dyn Clock + Send + Sync>) -> Self {
        PortalStore {
            clock,
            state: Mutex::default(),
        }
    }
}

impl State {
    /// The live row of `key` at `now`, if any.
    fn live(&self, key: &str, now: u64) -> Option<&Row> {
        self.rows
            .get(key)
            .filter(|row| row.expires_at.is_none_or(|at| at > now))
    }

    /// Whether `condition` holds for `key` at `now`.
    fn holds(&self, key: &str, condition: Condition, now: u64) -> bool {
        match (condition, self.live(key, now)) {
            (Condition::Any, _) | (Condition::Absent, None) => true,
            (Condition::Version(v), Some(row)) => row.version == v,
            _ => false,
        }
    }
}

impl Store for PortalStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError> {
        if too_large(key, None) {
            return Err(PortError("key too large".into()));
        }
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.live(key, self.clock.now()).map(|row| Entry {
            value: row.value.clone(),
            version: row.version,
        }))
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<u64>,
    ) -> Result<WriteOutcome, PortError> {
        if too_large(key, Some(value)) {
            return Err(PortError("key or value too large".into()));
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.holds(key, condition, self.clock.now()) {
            return Ok(WriteOutcome::Conflict);
        }
        state.last_version += 1;
        let version = state.last_version;
        state.rows.insert(
            key.to_owned(),
            Row {
                value: value.to_vec(),
                version,
                expires_at,
            },
        );
        Ok(WriteOutcome::Written(version))
    }

    fn delete(&self, key: &str, condition: Condition) -> Result<WriteOutcome, PortError> {
        if too_large(key, None) {
            return Err(PortError("key too large".into()));
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.holds(key, condition, self.clock.now()) {
            return Ok(WriteOutcome::Conflict);
        }
        state.rows.remove(key);
        Ok(WriteOutcome::Written(0))
    }
}

#[cfg(test)]
mod tests {
    use customer_web_core::conformance::{self, race, store_checks};
    use customer_web_core::testing::FakeClock;

    use super::*;

    #[test]
    fn the_portal_store_keeps_the_contract() {
        let clock = FakeClock::default();
        let fresh = || Some(PortalStore::new(Arc::new(clock.clone())));
        let ran = conformance::run(&store_checks(), fresh, &clock).expect("every check passes");
        assert_eq!(ran, store_checks::<PortalStore>().len());
    }

    #[test]
    fn racing_writers_lose_no_increment() {
        let store = Arc::new(PortalStore::new(Arc::new(FakeClock::default())));
        race(&[store], 4, 50).expect("no increment lost");
    }
}
