//! `customer-web:plugin/mail`: messages go into the durable outbox; the
//! delivery worker sends them.

use crate::bindings::customer_web::plugin::mail::{self, Error, Message};
use crate::link::{CustomerWeb, Fault};
use crate::mail::OutgoingMessage;

impl mail::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn send(&mut self, message: Message) -> Result<(), Fault<Error>> {
        let _span = tracing::info_span!("customer_web.mail.send", kind = %message.kind).entered();
        let outgoing = OutgoingMessage {
            to: message.to,
            subject: message.subject,
            text: message.text,
            kind: message.kind,
        };
        if let Some(refusal) = outgoing.refusal() {
            return Err(Error::Rejected(refusal.into()).into());
        }
        let now = self.now();
        match crate::blocking::run(|| self.caps.outbox.enqueue(&outgoing, now)) {
            Ok(id) => {
                tracing::info!(id, kind = %outgoing.kind, "mail queued");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "customer_web.mail fault");
                Err(Error::Unavailable(e.to_string()).into())
            }
        }
    }
}
