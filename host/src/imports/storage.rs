//! `customer-web:plugin/storage` over the host's [`Store`](crate::storage::Store).

use crate::bindings::customer_web::plugin::storage::{self, Condition, Entry, Error, WriteOutcome};
use crate::ctx::HostCtx;
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

fn error(e: backend::StoreError) -> Error {
    tracing::warn!(error = %e, "customer_web.store fault");
    match e {
        backend::StoreError::Unavailable(m) => Error::Unavailable(m),
        backend::StoreError::TooLarge => Error::TooLarge,
    }
}

impl storage::Host for HostCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Entry>, Error>> {
        let _span = tracing::debug_span!("customer_web.store.get").entered();
        Ok(self
            .caps
            .store
            .get(&key, self.now())
            .map(|e| {
                e.map(|e| Entry {
                    value: e.value,
                    version: e.version,
                })
            })
            .map_err(error))
    }

    fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
        c: Condition,
        expires_at: Option<u64>,
    ) -> wasmtime::Result<Result<WriteOutcome, Error>> {
        let _span = tracing::debug_span!("customer_web.store.put").entered();
        Ok(self
            .caps
            .store
            .put(&key, &value, condition(c), expires_at, self.now())
            .map(outcome)
            .map_err(error))
    }

    fn delete(&mut self, key: String, c: Condition) -> wasmtime::Result<Result<WriteOutcome, Error>> {
        let _span = tracing::debug_span!("customer_web.store.delete").entered();
        Ok(self
            .caps
            .store
            .delete(&key, condition(c), self.now())
            .map(outcome)
            .map_err(error))
    }
}
