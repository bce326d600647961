//! An in-memory [`Outbox`], for tests and throwaway local runs (its messages
//! do not survive a restart).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{DeliveryState, Outbox, OutboxError, OutgoingMessage, QueuedMessage, backoff};

/// An [`Outbox`] held in process memory.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Keyed by id, so iteration is in queueing order.
    messages: BTreeMap<u64, Record>,
    last_id: u64,
}

#[derive(Debug)]
struct Record {
    queued: QueuedMessage,
    /// A claim holds the message until this time; 0 when unclaimed.
    leased_until: u64,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation can panic halfway through a mutation, so a poisoned
        // lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unknown(id: u64) -> OutboxError {
    OutboxError::Unavailable(format!("no message {id} in the outbox"))
}

impl Outbox for MemoryOutbox {
    fn enqueue(&self, message: &OutgoingMessage, now: u64) -> Result<u64, OutboxError> {
        let mut inner = self.lock();
        let id = inner
            .last_id
            .checked_add(1)
            .ok_or_else(|| OutboxError::Unavailable("message ids exhausted".into()))?;
        inner.last_id = id;
        inner.messages.insert(
            id,
            Record {
                queued: QueuedMessage {
                    id,
                    message: message.clone(),
                    queued_at: now,
                    attempts: 0,
                    state: DeliveryState::Pending,
                    next_attempt_at: now,
                    last_error: None,
                    sent_at: None,
                },
                leased_until: 0,
            },
        );
        Ok(id)
    }

    fn claim_due(&self, now: u64, lease: u64, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        let mut inner = self.lock();
        let mut due: Vec<&mut Record> = inner
            .messages
            .values_mut()
            .filter(|record| {
                matches!(
                    record.queued.state,
                    DeliveryState::Pending | DeliveryState::Failing
                ) && record.queued.next_attempt_at <= now
                    && record.leased_until <= now
            })
            .collect();
        // Oldest due first; ties in queueing order (the sort is stable).
        due.sort_by_key(|record| record.queued.next_attempt_at);
        Ok(due
            .into_iter()
            .take(limit)
            .map(|record| {
                record.leased_until = now.saturating_add(lease);
                record.queued.clone()
            })
            .collect())
    }

    fn mark_sent(&self, id: u64, now: u64, keep_body: bool) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let record = inner.messages.get_mut(&id).ok_or_else(|| unknown(id))?;
        if record.queued.state == DeliveryState::Sent {
            // A second report of the same delivery keeps the first record.
            return Ok(());
        }
        if !keep_body {
            record.queued.message.text.clear();
        }
        record.queued.state = DeliveryState::Sent;
        record.queued.attempts = record.queued.attempts.saturating_add(1);
        record.queued.sent_at = Some(now);
        record.leased_until = 0;
        Ok(())
    }

    fn mark_dead(&self, id: u64, error: &str, _now: u64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let record = inner.messages.get_mut(&id).ok_or_else(|| unknown(id))?;
        if matches!(record.queued.state, DeliveryState::Sent | DeliveryState::Dead) {
            return Ok(());
        }
        record.queued.message.text.clear();
        record.queued.attempts = record.queued.attempts.saturating_add(1);
        record.queued.state = DeliveryState::Dead;
        record.queued.last_error = Some(error.to_owned());
        record.leased_until = 0;
        Ok(())
    }

    fn mark_failed(&self, id: u64, error: &str, now: u64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let record = inner.messages.get_mut(&id).ok_or_else(|| unknown(id))?;
        if matches!(record.queued.state, DeliveryState::Sent | DeliveryState::Dead) {
            return Ok(());
        }
        let attempts = record.queued.attempts.saturating_add(1);
        record.queued.attempts = attempts;
        record.queued.state = DeliveryState::Failing;
        record.queued.next_attempt_at = now.saturating_add(backoff(attempts));
        record.queued.last_error = Some(error.to_owned());
        record.leased_until = 0;
        Ok(())
    }

    fn list(&self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        let inner = self.lock();
        Ok(inner
            .messages
            .values()
            .rev()
            .take(limit)
            .map(|record| record.queued.clone())
            .collect())
    }

    fn get(&self, id: u64) -> Result<Option<QueuedMessage>, OutboxError> {
        let inner = self.lock();
        Ok(inner.messages.get(&id).map(|record| record.queued.clone()))
    }
}
