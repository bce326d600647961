//! `customer-web:plugin/mail`: messages go into the durable outbox; the
//! delivery worker sends them.

use crate::bindings::customer_web::plugin::mail::{self, Error, Message};
use crate::ctx::HostCtx;
use crate::mail::OutgoingMessage;

impl mail::Host for HostCtx {
    fn send(&mut self, message: Message) -> wasmtime::Result<Result<(), Error>> {
        let _span = tracing::info_span!("customer_web.mail.send", kind = %message.kind).entered();
        let outgoing = OutgoingMessage {
            to: message.to,
            subject: message.subject,
            text: message.text,
            kind: message.kind,
        };
        if let Some(refusal) = outgoing.refusal() {
            return Ok(Err(Error::Rejected(refusal.into())));
        }
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
