//! Delivery by SMTP. The component wrote the words; here they become a MIME
//! message: UTF-8 text in base64, the subject encoded per RFC 2047 (lettre
//! does both), and a Message-ID made from the outbox id, so a receiver can
//! tell a retry of an already accepted message from a new one.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use super::{Delivery, DeliveryError, QueuedMessage};

/// How long one SMTP conversation may take before the attempt counts as
/// failed (and is retried after the backoff).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends outbox messages through an SMTP server.
pub struct SmtpDelivery {
    transport: SmtpTransport,
    from: Mailbox,
    domain: String,
}

impl SmtpDelivery {
    /// An SMTP delivery from a URL: `smtp://host:port` (plain; STARTTLS
    /// when the server offers it with `?tls=opportunistic`, always with
    /// `?tls=required`), `smtps://host:port` (implicit TLS), with
    /// `user:password@` for authentication. `from` is the sender address.
    pub fn from_url(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = SmtpTransport::from_url(url)
            .with_context(|| format!("SMTP URL {url:?}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from: Mailbox = from.parse().with_context(|| format!("sender address {from:?}"))?;
        let domain = from.email.domain().to_owned();
        Ok(SmtpDelivery {
            transport,
            from,
            domain,
        })
    }

    /// The MIME message for an outbox entry.
    pub fn compose(&self, queued: &QueuedMessage) -> Result<Message, DeliveryError> {
        let to: Mailbox = queued
            .message
            .to
            .parse()
            .map_err(|e| DeliveryError::Temporary(format!("recipient address: {e}")))?;
        let body = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::Base64)
            .body(queued.message.text.replace('\n', "\r\n"));
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(queued.message.subject.clone())
            .message_id(Some(format!(
                "<outbox-{}.{}@{}>",
                queued.id, queued.queued_at, self.domain
            )))
            .singlepart(body)
            .map_err(|e| DeliveryError::Temporary(format!("composing: {e}")))
    }
}

impl Delivery for SmtpDelivery {
    fn deliver(&self, queued: &QueuedMessage) -> Result<(), DeliveryError> {
        let message = self.compose(queued)?;
        let _span = tracing::info_span!("customer_web.smtp.send", id = queued.id).entered();
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| DeliveryError::Temporary(format!("SMTP: {e}")))
    }
}
