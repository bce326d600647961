//! `customer-web:plugin/mail`: messages go into the durable outbox
//! (`cw_outbox`), then to the HTTP mail relay if one is configured.
//!
//! Spin runs no background worker, so delivery happens inside `send`:
//! after queueing, the call claims the messages that are due (the new one
//! first) under a lease, posts each to `mail_relay_url` and records the
//! outcome with the wasmtime host's backoff (30 s doubling to 1 h, never
//! giving up). A message whose attempt failed is therefore retried by a
//! later `send` once its backoff has passed: while no mail is sent, no
//! retry happens. With `mail_relay_url` empty, mail stays in the outbox,
//! which the dev mailbox shows at `/_dev/mail`.

use spin_sdk::http::{Request, Response};
use spin_sdk::sqlite::{Connection, Value};

use crate::bindings::exports::customer_web::plugin::mail::{Error, Guest, Message};
use crate::db::{self, column, int, text};
use crate::{Adapter, sql};

/// Longest subject and body accepted: the wasmtime host's limits.
const MAX_SUBJECT: usize = 998;
const MAX_TEXT: usize = 64 * 1024;

/// How long a claimed message is held by its deliverer, in seconds: the
/// wasmtime host's lease.
const DELIVERY_LEASE: u64 = 300;

/// Most messages one `send` tries to deliver (the customer waits for it).
const DELIVERY_BATCH: i64 = 5;

impl Guest for Adapter {
    fn send(message: Message) -> Result<(), Error> {
        // Header injection and oversized mail are refused here, whatever
        // the component believes it validated.
        if message.to.chars().any(|c| c.is_control() || c == ',' || c == ';') || !message.to.contains('@') {
            return Err(Error::Rejected("recipient is not a single address".into()));
        }
        if message.subject.chars().any(char::is_control) || message.subject.len() > MAX_SUBJECT {
            return Err(Error::Rejected(
                "subject has control characters or is too long".into(),
            ));
        }
        if message.text.len() > MAX_TEXT {
            return Err(Error::Rejected("body too long".into()));
        }
        let now = db::now();
        db::with(|conn| {
            let queued = db::exec(
                conn,
                sql::OUTBOX_INSERT,
                &[
                    text(message.to),
                    text(message.subject),
                    text(message.text),
                    text(message.kind),
                    int(now),
                ],
            )?;
            let id: i64 = match queued.rows.first() {
                Some(row) => column(row, 0, "outbox id")?,
                None => return Err("the outbox returned no id".into()),
            };
            // Queued durably: from here on delivery is the outbox's
            // business, never the caller's.
            deliver_due(conn, id, now);
            Ok(())
        })
        .map_err(Error::Unavailable)
    }
}

/// One queued message as claimed for delivery.
struct Claimed {
    id: i64,
    to: String,
    subject: String,
    text: String,
    kind: String,
}

/// Delivers the due messages, `first` first, if a relay is configured.
/// Every fault stays in the outbox (the message's state and last error).
fn deliver_due(conn: &Connection, first: i64, now: u64) {
    let relay = match spin_sdk::variables::get("mail_relay_url") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        // Empty or not given: the dev mailbox keeps the mail.
        _ => return,
    };
    let claimed = db::exec(
        conn,
        sql::OUTBOX_CLAIM,
        &[
            int(now),
            int(now.saturating_add(DELIVERY_LEASE)),
            Value::Integer(DELIVERY_BATCH),
            Value::Integer(first),
        ],
    );
    let Ok(claimed) = claimed else { return };
    let mut messages: Vec<Claimed> = claimed
        .rows
        .iter()
        .filter_map(|row| {
            Some(Claimed {
                id: row.get(0)?,
                to: row.get::<&str>(1)?.to_owned(),
                subject: row.get::<&str>(2)?.to_owned(),
                text: row.get::<&str>(3)?.to_owned(),
                kind: row.get::<&str>(4)?.to_owned(),
            })
        })
        .collect();
    // RETURNING gives no order: the message just queued goes first.
    messages.sort_by_key(|m| (m.id != first, m.id));
    let sender = spin_sdk::variables::get("sender_address").unwrap_or_default();
    for message in &messages {
        let outcome = post(&relay, &sender, message);
        let _ = match outcome {
            Ok(()) => db::exec(
                conn,
                sql::OUTBOX_SENT,
                &[Value::Integer(message.id), int(db::now())],
            ),
            Err(error) => db::exec(
                conn,
                sql::OUTBOX_FAILED,
                &[Value::Integer(message.id), text(error), int(db::now())],
            ),
        };
    }
}

/// POSTs one message to the relay as JSON:
/// `{"id", "from", "to", "subject", "text", "kind"}`, with
/// `Idempotency-Key: cw-outbox-<id>` so a relay can drop a message it has
/// already taken (a deliverer whose lease ran out may post it again).
/// Any 2xx answer is delivery.
fn post(relay: &str, sender: &str, message: &Claimed) -> Result<(), String> {
    if !(relay.starts_with("http://") || relay.starts_with("https://")) {
        return Err(format!("mail_relay_url {relay:?} is not an http(s) URL"));
    }
    let body = serde_json::json!({
        "id": message.id,
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
        .header("idempotency-key", format!("cw-outbox-{}", message.id))
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
