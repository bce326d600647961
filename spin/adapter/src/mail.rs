//! `customer-web:plugin/mail`: messages go into customer-web-sql's durable
//! [`outbox`] (table `cw_outbox`), then to the HTTP mail relay if one is
//! configured.
//!
//! Spin runs no background worker, so delivery happens inside `send`:
//! after queueing, the call claims up to five messages that are due (the
//! new one first) under a lease, posts each to `mail_relay_url` and
//! records the outcome: a message the relay took is sent, its body (the
//! one-time link) dropped; a failed attempt waits the wasmtime host's
//! backoff (30 s doubling to 1 h, never giving up). A message whose
//! attempt failed is therefore retried by a later `send` once its backoff
//! has passed: while no mail is sent, no retry happens. With
//! `mail_relay_url` empty, mail stays in the outbox, which the dev mailbox
//! shows at `/_dev/mail`.

use customer_web_sql::outbox::{self, DELIVERY_LEASE, OutgoingMessage, QueuedMessage};
use customer_web_sql::{Connection, SqlError};
use spin_sdk::http::{Request, Response};

use crate::Adapter;
use crate::bindings::exports::customer_web::plugin::mail::{Error, Guest, Message};
use crate::db;

/// Most messages one `send` tries to deliver (the customer waits for it).
const DELIVERY_BATCH: usize = 5;

impl Guest for Adapter {
    fn send(message: Message) -> Result<(), Error> {
        let message = OutgoingMessage {
            to: message.to,
            subject: message.subject,
            text: message.text,
            kind: message.kind,
        };
        // The wasmtime host's refusals, from the same function.
        if let Some(refusal) = message.refusal() {
            return Err(Error::Rejected(refusal.into()));
        }
        let now = db::now();
        db::with(|c| {
            let id = outbox::enqueue(c, &message, now)?;
            // Queued durably: from here on delivery is the outbox's
            // business, never the caller's.
            deliver_due(c, id, now);
            Ok::<(), SqlError>(())
        })
        .map_err(Error::Unavailable)
    }
}

/// Delivers the due messages, `first` first, if a relay is configured.
/// Every fault stays in the outbox (the message's state and last error).
fn deliver_due(c: &mut dyn Connection, first: u64, now: u64) {
    let relay = match spin_sdk::variables::get("mail_relay_url") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        // Empty or not given: the dev mailbox keeps the mail.
        _ => return,
    };
    let Ok(claimed) = outbox::claim_due(c, now, DELIVERY_LEASE, DELIVERY_BATCH, Some(first)) else {
        return;
    };
    let sender = spin_sdk::variables::get("sender_address").unwrap_or_default();
    for queued in &claimed {
        let _ = match post(&relay, &sender, queued) {
            Ok(()) => outbox::mark_sent(c, queued.id, db::now(), false),
            Err(error) => outbox::mark_failed(c, queued.id, &error, db::now()),
        };
    }
}

/// POSTs one message to the relay as JSON:
/// `{"id", "from", "to", "subject", "text", "kind"}`, with
/// `Idempotency-Key: cw-outbox-<id>` so a relay can drop a message it has
/// already taken (a deliverer whose lease ran out may post it again).
/// Any 2xx answer is delivery.
fn post(relay: &str, sender: &str, queued: &QueuedMessage) -> Result<(), String> {
    if !(relay.starts_with("http://") || relay.starts_with("https://")) {
        return Err(format!("mail_relay_url {relay:?} is not an http(s) URL"));
    }
    let message = &queued.message;
    let body = serde_json::json!({
        "id": queued.id,
        "from": sender,
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "kind": message.kind,
    })
    .to_string()
    .into_bytes();
    // spin-sdk sends a buffered body without Content-Length (chunked);
    // relays that want the length get it.
    let request = Request::post(relay, body.clone())
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .header("idempotency-key", format!("cw-outbox-{}", queued.id))
        .build();
    let response: Response = spin_sdk::http::run(spin_sdk::http::send(request))
        .map_err(|e| format!("mail relay unreachable: {e}"))?;
    let status = *response.status();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("mail relay answered {status}"))
    }
}
