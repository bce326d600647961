//! `customer-web:plugin/mail`: messages go into the durable outbox; the
//! delivery worker sends them.

use crate::bindings::customer_web::plugin::mail::{self, Error, Message};
use crate::ctx::HostCtx;
use crate::mail::OutgoingMessage;

/// Longest subject and body accepted from the component.
const MAX_SUBJECT: usize = 998;
const MAX_TEXT: usize = 64 * 1024;

impl mail::Host for HostCtx {
    fn send(&mut self, message: Message) -> wasmtime::Result<Result<(), Error>> {
        let _span = tracing::info_span!("customer_web.mail.send", kind = %message.kind).entered();
        // Header injection and oversized mail are refused here, whatever
        // the component believes it validated.
        if message.to.chars().any(|c| c.is_control() || c == ',' || c == ';') || !message.to.contains('@') {
            return Ok(Err(Error::Rejected("recipient is not a single address".into())));
        }
        if message.subject.chars().any(char::is_control) || message.subject.len() > MAX_SUBJECT {
            return Ok(Err(Error::Rejected(
                "subject has control characters or is too long".into(),
            )));
        }
        if message.text.len() > MAX_TEXT {
            return Ok(Err(Error::Rejected("body too long".into())));
        }
        let outgoing = OutgoingMessage {
            to: message.to,
            subject: message.subject,
            text: message.text,
            kind: message.kind,
        };
        Ok(match self.caps.outbox.enqueue(&outgoing, self.now()) {
            Ok(id) => {
                tracing::info!(id, kind = %outgoing.kind, "mail queued");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "customer_web.mail fault");
                Err(Error::Unavailable(e.to_string()))
            }
        })
    }
}
