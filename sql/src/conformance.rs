//! The outbox contract as checks any [`Outbox`] can run: the host's
//! memory, SQLite and PostgreSQL outboxes, and the Spin adapter's on its
//! database (through `spin/conformance`, under the real `spin up`). They
//! are customer-web-core's [`Check`]s, like the store's, run by
//! [`customer_web_core::conformance::run`], each on a fresh outbox.

use customer_web_core::conformance::{Check, Time};

use crate::outbox::{DeliveryState, Outbox, OutboxError, OutgoingMessage, QueuedMessage, backoff};

/// The time the checks start at; they move it themselves (the outbox is
/// told the time by its caller).
const NOW: u64 = 1_700_000_000;

/// The checks of the [`Outbox`] contract.
pub fn outbox_checks<O: Outbox + ?Sized>() -> Vec<Check<O>> {
    vec![
        Check {
            name: "enqueue-claim-send",
            run: enqueue_claim_send::<O>,
        },
        Check {
            name: "leases",
            run: leases::<O>,
        },
        Check {
            name: "failure-backs-off",
            run: failure_backs_off_then_retries::<O>,
        },
        Check {
            name: "retry-schedule",
            run: the_retry_schedule_is_the_backoff::<O>,
        },
        Check {
            name: "dead-letters",
            run: dead_letters::<O>,
        },
        Check {
            name: "newest-first",
            run: list_is_newest_first::<O>,
        },
    ]
}

/// A message of the kind the flows send.
pub fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage {
        to: to.into(),
        subject: "【ご登録】お客さまWebサービス".into(),
        text: "以下のURLから登録を続けてください。\nhttps://example.jp/l/x\n".into(),
        kind: "enrollment-link".into(),
    }
}

fn ids(messages: &[QueuedMessage]) -> Vec<u64> {
    messages.iter().map(|queued| queued.id).collect()
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

fn same<T: PartialEq + std::fmt::Debug>(left: T, right: T, what: &str) -> Result<(), String> {
    ensure(left == right, || {
        format!("{what}: got {left:?}, expected {right:?}")
    })
}

fn reached<T>(result: Result<T, OutboxError>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

/// The message `id`, which must exist.
fn record<O: Outbox + ?Sized>(outbox: &O, id: u64) -> Result<QueuedMessage, String> {
    reached(outbox.get(id), "get")?.ok_or_else(|| format!("message {id} is gone"))
}

/// The ids claimed at `now`.
fn claimed<O: Outbox + ?Sized>(outbox: &O, now: u64, lease: u64, limit: usize) -> Result<Vec<u64>, String> {
    Ok(ids(&reached(outbox.claim_due(now, lease, limit), "claim")?))
}

fn enqueue_claim_send<O: Outbox + ?Sized>(outbox: &O, _: &dyn Time, _: &str) -> Result<(), String> {
    let id = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    let queued = record(outbox, id)?;
    same(
        &queued,
        &QueuedMessage {
            id,
            message: message("a@example.jp"),
            queued_at: NOW,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: NOW,
            last_error: None,
            sent_at: None,
        },
        "the queued message",
    )?;
    same(
        claimed(outbox, NOW - 1, 60, 10)?,
        vec![],
        "due before it was queued",
    )?;
    same(
        reached(outbox.claim_due(NOW, 60, 10), "claim")?,
        vec![queued],
        "the claim",
    )?;
    reached(outbox.mark_sent(id, NOW + 1, false), "mark sent")?;
    let sent = record(outbox, id)?;
    same(sent.state, DeliveryState::Sent, "the state")?;
    same(sent.sent_at, Some(NOW + 1), "the time sent")?;
    same(sent.attempts, 1, "the attempts")?;
    // The body, with its one-time link, is gone; what an operator needs stays.
    same(sent.message.text.as_str(), "", "a sent body")?;
    same(
        (sent.message.to, sent.message.subject, sent.message.kind),
        ("a@example.jp".to_owned(), message("").subject, message("").kind),
        "what the operator sees",
    )?;
    // Never claimed again, not even after the lease would have run out.
    same(claimed(outbox, NOW + 1, 60, 10)?, vec![], "a sent message")?;
    same(
        claimed(outbox, NOW + 100_000, 60, 10)?,
        vec![],
        "a sent message later",
    )?;
    same(reached(outbox.get(id + 1_000), "get")?, None, "an unknown id")
}

fn leases<O: Outbox + ?Sized>(outbox: &O, _: &dyn Time, _: &str) -> Result<(), String> {
    let first = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    let second = reached(outbox.enqueue(&message("b@example.jp"), NOW), "enqueue")?;
    let third = reached(outbox.enqueue(&message("c@example.jp"), NOW), "enqueue")?;
    ensure(first < second && second < third, || {
        format!("ids do not grow: {first}, {second}, {third}")
    })?;
    // The limit is honoured, oldest first.
    same(
        claimed(outbox, NOW, 60, 2)?,
        vec![first, second],
        "a claim of two",
    )?;
    // A second worker gets only what the first did not claim.
    same(
        claimed(outbox, NOW, 60, 10)?,
        vec![third],
        "a second worker's claim",
    )?;
    same(claimed(outbox, NOW + 59, 60, 10)?, vec![], "during the lease")?;
    same(claimed(outbox, NOW + 60, 60, 0)?, vec![], "a claim of none")?;
    // A worker that died leaves its messages to be claimed after the lease.
    reached(outbox.mark_sent(second, NOW + 10, false), "mark sent")?;
    same(
        claimed(outbox, NOW + 60, 60, 10)?,
        vec![first, third],
        "after the lease ran out",
    )?;
    same(claimed(outbox, NOW + 60, 60, 10)?, vec![], "claimed again")
}

fn failure_backs_off_then_retries<O: Outbox + ?Sized>(
    outbox: &O,
    _: &dyn Time,
    _: &str,
) -> Result<(), String> {
    let id = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    same(claimed(outbox, NOW, 300, 10)?, vec![id], "the first claim")?;
    reached(
        outbox.mark_failed(id, "connection refused", NOW + 1),
        "mark failed",
    )?;
    let failing = record(outbox, id)?;
    same(failing.state, DeliveryState::Failing, "the state")?;
    same(failing.attempts, 1, "the attempts")?;
    same(failing.next_attempt_at, NOW + 1 + 30, "the next attempt")?;
    same(
        failing.last_error.as_deref(),
        Some("connection refused"),
        "the error",
    )?;

    // The failure releases the lease, but the backoff holds it back.
    same(claimed(outbox, NOW + 30, 300, 10)?, vec![], "during the backoff")?;
    let retry = reached(outbox.claim_due(NOW + 31, 300, 10), "claim")?;
    same(ids(&retry), vec![id], "after the backoff")?;
    same(retry[0].attempts, 1, "the attempts of the retry")?;

    reached(outbox.mark_failed(id, "timed out", NOW + 40), "mark failed")?;
    let again = record(outbox, id)?;
    same(again.attempts, 2, "the attempts")?;
    same(again.next_attempt_at, NOW + 40 + 60, "the second backoff")?;
    same(again.last_error.as_deref(), Some("timed out"), "the last error")?;
    same(
        claimed(outbox, NOW + 99, 300, 10)?,
        vec![],
        "during the second backoff",
    )?;
    same(claimed(outbox, NOW + 100, 300, 10)?, vec![id], "after it")?;

    reached(outbox.mark_sent(id, NOW + 101, true), "mark sent")?;
    let sent = record(outbox, id)?;
    same(sent.state, DeliveryState::Sent, "the state")?;
    same(sent.attempts, 3, "the attempts")?;
    same(sent.sent_at, Some(NOW + 101), "the time sent")?;
    // Kept where the outbox is the mailbox.
    same(sent.message.text.clone(), message("").text, "a body kept")?;

    // A late failure report from a worker whose lease ran out does not
    // undo the delivery.
    reached(outbox.mark_failed(id, "late", NOW + 200), "mark failed")?;
    same(record(outbox, id)?, sent, "after a late failure")?;

    // Marking a message that does not exist is an error.
    ensure(outbox.mark_sent(id + 1_000, NOW, false).is_err(), || {
        "marking an unknown message sent".into()
    })?;
    ensure(outbox.mark_dead(id + 1_000, "x", NOW).is_err(), || {
        "marking an unknown message dead".into()
    })?;
    ensure(outbox.mark_failed(id + 1_000, "x", NOW).is_err(), || {
        "marking an unknown message failed".into()
    })
}

/// Each failure waits [`backoff`] of the attempts so far, whoever
/// computes it (the SQL outboxes do, in SQL).
fn the_retry_schedule_is_the_backoff<O: Outbox + ?Sized>(
    outbox: &O,
    _: &dyn Time,
    _: &str,
) -> Result<(), String> {
    let id = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    let mut now = NOW;
    for attempts in 1..=10u32 {
        same(claimed(outbox, now, 60, 1)?.len(), 1, "a due retry")?;
        reached(outbox.mark_failed(id, "421", now), "mark failed")?;
        let queued = record(outbox, id)?;
        same(queued.attempts, attempts, "the attempts")?;
        same(
            queued.next_attempt_at - now,
            backoff(attempts),
            &format!("the wait after {attempts} attempts"),
        )?;
        now = queued.next_attempt_at;
    }
    Ok(())
}

fn dead_letters<O: Outbox + ?Sized>(outbox: &O, _: &dyn Time, _: &str) -> Result<(), String> {
    let dead = reached(outbox.enqueue(&message("nobody@example.jp"), NOW), "enqueue")?;
    same(claimed(outbox, NOW, 60, 10)?, vec![dead], "the claim")?;
    reached(outbox.mark_dead(dead, "550 no such user", NOW), "mark dead")?;
    let letter = record(outbox, dead)?;
    same(letter.state, DeliveryState::Dead, "the state")?;
    same(letter.message.text.as_str(), "", "a dead letter's body")?;
    same(
        letter.last_error.as_deref(),
        Some("550 no such user"),
        "the error",
    )?;
    // Never again, however long the wait, and a late report does not revive it.
    same(claimed(outbox, NOW + 1_000_000, 60, 10)?, vec![], "a dead letter")?;
    reached(outbox.mark_failed(dead, "late", NOW + 2), "mark failed")?;
    same(
        record(outbox, dead)?.state,
        DeliveryState::Dead,
        "after a late failure",
    )?;
    // A delivered message is not dead-lettered by a late report.
    let sent = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    same(claimed(outbox, NOW + 1, 60, 10)?, vec![sent], "the claim")?;
    reached(outbox.mark_sent(sent, NOW + 1, false), "mark sent")?;
    reached(outbox.mark_dead(sent, "late", NOW + 2), "mark dead")?;
    same(
        record(outbox, sent)?.state,
        DeliveryState::Sent,
        "after a late refusal",
    )
}

fn list_is_newest_first<O: Outbox + ?Sized>(outbox: &O, _: &dyn Time, _: &str) -> Result<(), String> {
    same(reached(outbox.list(10), "list")?, vec![], "an empty outbox")?;
    let first = reached(outbox.enqueue(&message("a@example.jp"), NOW), "enqueue")?;
    let second = reached(outbox.enqueue(&message("b@example.jp"), NOW + 1), "enqueue")?;
    let third = reached(outbox.enqueue(&message("c@example.jp"), NOW + 2), "enqueue")?;
    same(
        ids(&reached(outbox.list(10), "list")?),
        vec![third, second, first],
        "the list",
    )?;
    same(ids(&reached(outbox.list(2), "list")?), vec![third, second], "two")?;
    same(ids(&reached(outbox.list(0), "list")?), vec![], "none")
}
