//! Delivery by SMTP. The component wrote the words; here they become a MIME
//! message: UTF-8 text in base64 with the subject encoded per RFC 2047
//! (lettre does both), or, as an option, ISO-2022-JP in `7bit` for older
//! Japanese mail readers; and a Message-ID made from the outbox id, so a
//! receiver can tell a retry of an already accepted message from a new one.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use super::iso2022jp;
use super::{Delivery, DeliveryError, QueuedMessage};

/// The character set mail is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 in base64: every character, every modern reader.
    #[default]
    Utf8,
    /// ISO-2022-JP in `7bit`, for readers that know nothing else. A message
    /// with a character outside JIS X 0208 goes out in UTF-8 instead.
    Iso2022Jp,
}

impl std::str::FromStr for Charset {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Charset::Utf8),
            "iso-2022-jp" | "jis" => Ok(Charset::Iso2022Jp),
            other => anyhow::bail!("unknown mail charset {other:?} (utf-8 or iso-2022-jp)"),
        }
    }
}

/// A subject already written as RFC 2047 encoded-words.
#[derive(Clone)]
struct EncodedSubject(String);

impl Header for EncodedSubject {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Subject")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(EncodedSubject(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        // Only ASCII encoded-words separated by CRLF + space: nothing a
        // customer typed can start a header of its own.
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), self.0.clone())
    }
}

/// How long one SMTP conversation may take before the attempt counts as
/// failed (and is retried after the backoff).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends outbox messages through an SMTP server.
pub struct SmtpDelivery {
    transport: SmtpTransport,
    from: Mailbox,
    domain: String,
    charset: Charset,
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
            charset: Charset::Utf8,
        })
    }

    /// Writes mail in `charset` from now on.
    pub fn with_charset(mut self, charset: Charset) -> Self {
        self.charset = charset;
        self
    }

    /// The MIME message for an outbox entry.
    pub fn compose(&self, queued: &QueuedMessage) -> Result<Message, DeliveryError> {
        let to: Mailbox = queued
            .message
            .to
            .parse()
            // An address the mail library cannot take never will.
            .map_err(|e| DeliveryError::Permanent(format!("recipient address: {e}")))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .message_id(Some(format!(
                "<outbox-{}.{}@{}>",
                queued.id, queued.queued_at, self.domain
            )));
        let jis = match self.charset {
            Charset::Utf8 => None,
            Charset::Iso2022Jp => match (
                iso2022jp::encode_subject(&queued.message.subject),
                iso2022jp::encode_body(&queued.message.text),
            ) {
                (Ok(subject), Ok(body)) => Some((subject, body)),
                (Err(iso2022jp::Unencodable(c)), _) | (_, Err(iso2022jp::Unencodable(c))) => {
                    tracing::warn!(
                        id = queued.id,
                        character = %c.escape_unicode(),
                        "not in ISO-2022-JP: this mail goes out in UTF-8"
                    );
                    None
                }
            },
        };
        let message = match jis {
            Some((subject, body)) => {
                let content_type = ContentType::parse("text/plain; charset=ISO-2022-JP")
                    .map_err(|e| DeliveryError::Temporary(format!("content type: {e}")))?;
                builder.header(EncodedSubject(subject)).singlepart(
                    SinglePart::builder()
                        .header(content_type)
                        .body(Body::dangerous_pre_encoded(
                            body,
                            ContentTransferEncoding::SevenBit,
                        )),
                )
            }
            None => builder.subject(queued.message.subject.clone()).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(queued.message.text.replace('\n', "\r\n")),
            ),
        };
        message.map_err(|e| DeliveryError::Temporary(format!("composing: {e}")))
    }
}

impl Delivery for SmtpDelivery {
    fn deliver(&self, queued: &QueuedMessage) -> Result<(), DeliveryError> {
        let message = self.compose(queued)?;
        let _span = tracing::info_span!("customer_web.smtp.send", id = queued.id).entered();
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            // A 5xx answer is the server's final word; anything else
            // (4xx, the connection, TLS, a time-out) may pass.
            if e.is_permanent() {
                DeliveryError::Permanent(format!("SMTP: {e}"))
            } else {
                DeliveryError::Temporary(format!("SMTP: {e}"))
            }
        })
    }
}
