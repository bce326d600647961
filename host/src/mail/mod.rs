//! The durable mail outbox behind the component's `mail` import, and the
//! worker pass that delivers from it.
//!
//! `send` only enqueues: once a message is in the [`Outbox`] the host owns it.
//! [`deliver_due`] claims due messages under a lease (so two workers never
//! send the same message), hands each to a [`Delivery`], and records the
//! outcome. A failed attempt is retried after [`backoff`]; the outbox never
//! gives up, so nothing is lost while the mail server is down, and the
//! operator sees the state of every message.

mod iso2022jp;
mod memory;
mod smtp;
mod sql;

pub use memory::MemoryOutbox;
pub use smtp::{Charset, SmtpDelivery};
pub use sql::{PostgresOutbox, SqliteOutbox};

/// How many messages one [`deliver_due`] pass claims at most.
pub const DELIVERY_BATCH: usize = 100;

pub use customer_web_sql::outbox::{
    DELIVERY_LEASE, DeliveryState, Outbox, OutboxError, OutgoingMessage, QueuedMessage, SqlOutbox, backoff,
};

/// An outbox the host can share between threads.
pub trait SharedOutbox: Outbox + Send + Sync + 'static {}

impl<T: Outbox + Send + Sync + 'static> SharedOutbox for T {}

/// Why a delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The attempt failed but may succeed later; the message is retried.
    #[error("{0}")]
    Temporary(String),
    /// The message can never be delivered (a 5xx answer, an address the
    /// mail library refuses): it is dead-lettered, not retried.
    #[error("{0}")]
    Permanent(String),
}

/// Hands one message to the world (SMTP later).
pub trait Delivery: Send + Sync + 'static {
    /// Delivers `message`, or says why it could not.
    fn deliver(&self, message: &QueuedMessage) -> Result<(), DeliveryError>;

    /// Whether the outbox keeps a delivered message's body: only where the
    /// outbox *is* the mailbox (the dev mailbox reads it there).
    fn keeps_body(&self) -> bool {
        false
    }
}

/// What one [`deliver_due`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages delivered.
    pub sent: usize,
    /// Messages whose attempt failed: retried later, or dead-lettered
    /// when the failure is permanent.
    pub failed: usize,
}

/// One pass of the delivery worker: claim due messages, deliver each, mark
/// sent/failed.
///
/// Claims at most [`DELIVERY_BATCH`] messages under a [`DELIVERY_LEASE`];
/// the caller loops (or waits) for more. An outbox fault stops the pass; the
/// messages it had claimed become due again when their lease runs out.
pub fn deliver_due(
    outbox: &dyn Outbox,
    delivery: &dyn Delivery,
    now: u64,
) -> Result<DeliveryReport, OutboxError> {
    deliver_due_leased(outbox, delivery, now, DELIVERY_LEASE)
}

/// [`deliver_due`] with claims leased for `lease` seconds: how long a
/// message claimed by a host that died waits before another host sends it.
pub fn deliver_due_leased(
    outbox: &dyn Outbox,
    delivery: &dyn Delivery,
    now: u64,
    lease: u64,
) -> Result<DeliveryReport, OutboxError> {
    let mut report = DeliveryReport::default();
    for queued in outbox.claim_due(now, lease, DELIVERY_BATCH)? {
        match delivery.deliver(&queued) {
            Ok(()) => {
                outbox.mark_sent(queued.id, now, delivery.keeps_body())?;
                report.sent += 1;
                tracing::info!(
                    id = queued.id,
                    kind = %queued.message.kind,
                    attempts = queued.attempts + 1,
                    "mail delivered"
                );
            }
            Err(DeliveryError::Temporary(error)) => {
                outbox.mark_failed(queued.id, &error, now)?;
                report.failed += 1;
                tracing::warn!(
                    id = queued.id,
                    kind = %queued.message.kind,
                    attempts = queued.attempts + 1,
                    retry_in = backoff(queued.attempts + 1),
                    %error,
                    "mail delivery failed; will retry"
                );
            }
            Err(DeliveryError::Permanent(error)) => {
                outbox.mark_dead(queued.id, &error, now)?;
                report.failed += 1;
                tracing::warn!(
                    id = queued.id,
                    kind = %queued.message.kind,
                    attempts = queued.attempts + 1,
                    %error,
                    "mail refused for good; dead-lettered"
                );
            }
        }
    }
    Ok(report)
}

/// The behaviour every outbox must show, written once and run against each.
#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    use std::sync::{Mutex, MutexGuard, PoisonError};

    use customer_web_sql::conformance::{message, outbox_checks};

    /// A sink for the tests: keeps every delivered message in memory; can be
    /// told to fail the next N deliveries (to test retries).
    #[derive(Debug, Default)]
    pub struct CapturingDelivery {
        inner: Mutex<Capture>,
    }

    #[derive(Debug, Default)]
    struct Capture {
        delivered: Vec<OutgoingMessage>,
        failures_left: usize,
        refusals_left: usize,
    }

    impl CapturingDelivery {
        /// A sink that has delivered nothing and fails nothing.
        pub fn new() -> Self {
            Self::default()
        }

        /// Every message delivered so far, in delivery order.
        pub fn delivered(&self) -> Vec<OutgoingMessage> {
            self.lock().delivered.clone()
        }

        /// Makes the next `n` deliveries fail with a temporary error.
        pub fn fail_next(&self, n: usize) {
            self.lock().failures_left = n;
        }

        /// Makes the next `n` deliveries fail for good (`550 no such user`).
        pub fn refuse_next(&self, n: usize) {
            self.lock().refusals_left = n;
        }

        fn lock(&self) -> MutexGuard<'_, Capture> {
            // Nothing panics while the lock is held; the data stays consistent.
            self.inner.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl Delivery for CapturingDelivery {
        fn deliver(&self, message: &QueuedMessage) -> Result<(), DeliveryError> {
            let mut capture = self.lock();
            if capture.refusals_left > 0 {
                capture.refusals_left -= 1;
                return Err(DeliveryError::Permanent("550 no such user".into()));
            }
            if capture.failures_left > 0 {
                capture.failures_left -= 1;
                return Err(DeliveryError::Temporary("simulated delivery failure".into()));
            }
            capture.delivered.push(message.message.clone());
            Ok(())
        }
    }

    fn delivers_exactly_once_through_failures(outbox: &impl Outbox) {
        let delivery = CapturingDelivery::new();
        delivery.fail_next(2);
        let id = outbox.enqueue(&message("a@example.jp"), NOW).unwrap();

        let report = deliver_due(outbox, &delivery, NOW).unwrap();
        assert_eq!(report, DeliveryReport { sent: 0, failed: 1 });
        // Not due again until the backoff has passed.
        assert_eq!(
            deliver_due(outbox, &delivery, NOW + 29).unwrap(),
            DeliveryReport::default()
        );
        let report = deliver_due(outbox, &delivery, NOW + 30).unwrap();
        assert_eq!(report, DeliveryReport { sent: 0, failed: 1 });
        assert_eq!(outbox.get(id).unwrap().unwrap().next_attempt_at, NOW + 90);
        let report = deliver_due(outbox, &delivery, NOW + 90).unwrap();
        assert_eq!(report, DeliveryReport { sent: 1, failed: 0 });
        // Later passes find nothing to do.
        assert_eq!(
            deliver_due(outbox, &delivery, NOW + 100_000).unwrap(),
            DeliveryReport::default()
        );

        assert_eq!(delivery.delivered(), vec![message("a@example.jp")]);
        let sent = outbox.get(id).unwrap().unwrap();
        assert_eq!(sent.state, DeliveryState::Sent);
        assert_eq!(sent.attempts, 3);
        assert_eq!(sent.sent_at, Some(NOW + 90));
        assert_eq!(sent.last_error.as_deref(), Some("simulated delivery failure"));
    }

    fn a_permanent_refusal_is_dead_lettered_and_never_retried(outbox: &impl Outbox) {
        let delivery = CapturingDelivery::new();
        delivery.refuse_next(1);
        let dead = outbox.enqueue(&message("nobody@example.jp"), NOW).unwrap();
        let report = deliver_due(outbox, &delivery, NOW).unwrap();
        assert_eq!(report, DeliveryReport { sent: 0, failed: 1 });
        let record = outbox.get(dead).unwrap().unwrap();
        assert_eq!(record.state, DeliveryState::Dead);
        assert_eq!(record.attempts, 1);
        assert_eq!(record.message.text, "", "no link rests in a dead letter");
        assert_eq!(record.last_error.as_deref(), Some("550 no such user"));
        // Never again, however long the wait.
        assert_eq!(
            deliver_due(outbox, &delivery, NOW + 1_000_000).unwrap(),
            DeliveryReport::default()
        );
        assert!(delivery.delivered().is_empty());
        // A late report does not revive it, and it stays in the list.
        outbox.mark_failed(dead, "late", NOW + 2).unwrap();
        assert_eq!(outbox.get(dead).unwrap().unwrap().state, DeliveryState::Dead);
        assert_eq!(outbox.list(10).unwrap()[0].state, DeliveryState::Dead);
        // A delivered message is not dead-lettered by a late report.
        let sent = outbox.enqueue(&message("a@example.jp"), NOW).unwrap();
        deliver_due(outbox, &delivery, NOW + 1).unwrap();
        outbox.mark_dead(sent, "late", NOW + 2).unwrap();
        assert_eq!(outbox.get(sent).unwrap().unwrap().state, DeliveryState::Sent);
    }

    /// The outbox contract's checks (customer-web-sql's, which the Spin
    /// adapter's outbox runs too), then the delivery worker's, each on a
    /// fresh outbox from `fresh` (`None`: the backend is not available
    /// here, and said so).
    fn run_suite<O: Outbox>(mut fresh: impl FnMut() -> Option<O>) {
        let clock = customer_web_core::testing::FakeClock::default();
        let ran = customer_web_core::conformance::run(&outbox_checks(), &mut fresh, &clock).unwrap();
        if ran == 0 {
            return;
        }
        assert_eq!(ran, outbox_checks::<O>().len());
        let worker: [fn(&O); 2] = [
            a_permanent_refusal_is_dead_lettered_and_never_retried,
            delivers_exactly_once_through_failures,
        ];
        for check in worker {
            let Some(outbox) = fresh() else { return };
            check(&outbox);
        }
    }

    #[test]
    fn memory_outbox_follows_the_contract() {
        run_suite(|| Some(MemoryOutbox::new()));
    }

    #[test]
    fn sqlite_outbox_follows_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = 0;
        run_suite(|| {
            files += 1;
            Some(SqliteOutbox::open(&dir.path().join(format!("outbox-{files}.db"))).unwrap())
        });
    }

    #[test]
    fn postgres_outbox_follows_the_contract() {
        let mut databases = Vec::new();
        run_suite(|| {
            let db = customer_web_sql::postgres::testing::TestDatabase::create("PostgresOutbox")?;
            let pool = customer_web_sql::postgres::PgPool::connect(&db.url, 2).unwrap();
            let outbox = PostgresOutbox::on(std::sync::Arc::new(pool)).unwrap();
            databases.push(db);
            Some(outbox)
        });
    }

    /// One worker per outbox claims in batches until nothing is due at
    /// `now`; together they must have claimed each of `messages` once.
    pub(super) fn assert_each_claimed_once<O: Outbox + Sync>(outboxes: &[O], now: u64, messages: usize) {
        let mut all: Vec<u64> = std::thread::scope(|scope| {
            let workers: Vec<_> = outboxes
                .iter()
                .map(|outbox| {
                    scope.spawn(move || {
                        let mut claimed = Vec::new();
                        loop {
                            let batch = outbox.claim_due(now, 600, 7).unwrap();
                            if batch.is_empty() {
                                break claimed;
                            }
                            claimed.extend(batch.into_iter().map(|queued| queued.id));
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "a message was claimed twice");
        assert_eq!(all.len(), messages);
    }

    /// Four hosts' workers claiming from one PostgreSQL outbox: every
    /// message claimed once.
    #[test]
    fn hosts_sharing_a_postgres_outbox_never_claim_a_message_twice() {
        const MESSAGES: usize = 300;
        let Some(db) = customer_web_sql::postgres::testing::TestDatabase::create("PostgresOutbox") else {
            return;
        };
        let host = || {
            let pool = customer_web_sql::postgres::PgPool::connect(&db.url, 2).unwrap();
            PostgresOutbox::on(std::sync::Arc::new(pool)).unwrap()
        };
        let hosts: Vec<PostgresOutbox> = (0..4).map(|_| host()).collect();
        for index in 0..MESSAGES {
            hosts[index % 4]
                .enqueue(&message(&format!("user{index}@example.jp")), NOW)
                .unwrap();
        }
        assert_each_claimed_once(&hosts, NOW, MESSAGES);
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(backoff).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(0), 30);
        assert_eq!(backoff(64), 3600);
        assert_eq!(backoff(u32::MAX), 3600);
    }

    #[test]
    fn delivery_states_round_trip_by_name() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Sent,
            DeliveryState::Failing,
            DeliveryState::Dead,
        ] {
            assert_eq!(DeliveryState::from_name(state.as_str()), Some(state));
        }
        assert_eq!(DeliveryState::from_name("lost"), None);
    }

    #[test]
    fn capturing_delivery_fails_exactly_as_told() {
        let delivery = CapturingDelivery::new();
        let queued = QueuedMessage {
            id: 1,
            message: message("a@example.jp"),
            queued_at: NOW,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: NOW,
            last_error: None,
            sent_at: None,
        };
        delivery.fail_next(1);
        assert!(delivery.deliver(&queued).is_err());
        assert!(delivery.delivered().is_empty());
        assert!(delivery.deliver(&queued).is_ok());
        assert!(delivery.deliver(&queued).is_ok());
        assert_eq!(delivery.delivered().len(), 2);
    }
}
