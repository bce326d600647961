//! `customer-web:plugin/storage` over the host's store: the core's
//! [`Store`](crate::storage::Store) port. Keys and values past the limits
//! are `too-large` before the backend is asked; any backend fault is
//! `unavailable`.

use crate::bindings::customer_web::plugin::storage::{self, Condition, Entry, Error, WriteOutcome};
use crate::link::{CustomerWeb, Fault};
use crate::storage as backend;

fn condition(c: Condition) -> backend::Condition {
    match c {
        Condition::Absent => backend::Condition::Absent,
        Condition::Version(v) => backend::Condition::Version(v),
        Condition::Any => backend::Condition::Any,
    }
}

fn outcome(o: backend::WriteOutcome) -> WriteOutcome {
    match o {
        backend::WriteOutcome::Written(v) => WriteOutcome::Written(v),
        backend::WriteOutcome::Conflict => WriteOutcome::Conflict,
    }
}

fn error(e: backend::PortError) -> Fault<Error> {
    tracing::warn!(error = %e, "customer_web.store fault");
    Error::Unavailable(e.0).into()
}

impl storage::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn get(&mut self, key: String) -> Result<Option<Entry>, Fault<Error>> {
        let _span = tracing::debug_span!("customer_web.store.get").entered();
        if backend::too_large(&key, None) {
            return Err(Error::TooLarge.into());
        }
        // A read the store answers at once (memory; SQLite whose connection
        // is free) runs here; one that may wait moves the worker's other
        // requests aside first.
        let store = &self.caps.store;
        store
            .get_now(&key)
            .unwrap_or_else(|| crate::blocking::run(|| store.get(&key)))
            .map(|e| {
                e.map(|e| Entry {
                    value: e.value,
                    version: e.version,
                })
            })
            .map_err(error)
    }

    fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
        c: Condition,
        expires_at: Option<u64>,
    ) -> Result<WriteOutcome, Fault<Error>> {
        let _span = tracing::debug_span!("customer_web.store.put").entered();
        if backend::too_large(&key, Some(&value)) {
            return Err(Error::TooLarge.into());
        }
        crate::blocking::run(|| self.caps.store.put(&key, &value, condition(c), expires_at))
            .map(outcome)
            .map_err(error)
    }

    fn delete(&mut self, key: String, c: Condition) -> Result<WriteOutcome, Fault<Error>> {
        let _span = tracing::debug_span!("customer_web.store.delete").entered();
        if backend::too_large(&key, None) {
            return Err(Error::TooLarge.into());
        }
        crate::blocking::run(|| self.caps.store.delete(&key, condition(c)))
            .map(outcome)
            .map_err(error)
    }
}
