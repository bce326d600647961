//! Mail delivery through a real SMTP server (Python's aiosmtpd, started
//! here): the MIME a mail client reads, and nothing lost or doubled while
//! the server is down.

use customer_web_e2e::{common, support};

use common::{Backend, CONTACT, Harness};
use customer_web_host::mail::{DeliveryState, SmtpDelivery, deliver_due};
use support::smtp::{SmtpServer, free_port};

/// A running SMTP server, and a SQLite-backed host whose outbox holds one
/// enrollment mail: (its maildir's home, server, port, host, mailed token).
fn server_and_one_mail() -> (tempfile::TempDir, SmtpServer, u16, Harness, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = SmtpServer::start(port, &dir.path().join("maildir"));
    let h = Harness::new(Backend::Sqlite);
    let token = h.mail_link(CONTACT);
    (dir, server, port, h, token)
}

#[test]
fn the_enrollment_mail_arrives_as_a_mail_client_reads_it() {
    let (_dir, server, port, h, token) = server_and_one_mail();
    let caps = h.host.capabilities();
    let smtp =
        SmtpDelivery::from_url(&format!("smtp://127.0.0.1:{port}"), &caps.settings.sender_address).unwrap();
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    let received = server.received();
    assert_eq!(received.len(), 1);
    let (subject, body) = &received[0];
    assert_eq!(subject, "【三井住友海上】初回利用登録に関するご案内");
    assert!(body.contains(&format!("/link/{token}")), "{body}");
    assert!(body.contains("ご利用期限："));
    assert_eq!(caps.outbox.list(1).unwrap()[0].state, DeliveryState::Sent);
}

#[test]
fn a_recipient_the_server_refuses_for_good_is_dead_lettered_and_never_retried() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = SmtpServer::start_with(port, &dir.path().join("maildir"), "refusing.Refusing");
    let h = Harness::new(Backend::Sqlite);
    h.mail_link("nobody@example.jp");
    h.mail_link(CONTACT);
    let caps = h.host.capabilities();
    let smtp =
        SmtpDelivery::from_url(&format!("smtp://127.0.0.1:{port}"), &caps.settings.sender_address).unwrap();
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (1, 1));
    let listed = caps.outbox.list(10).unwrap();
    let dead = listed
        .iter()
        .find(|m| m.message.to == "nobody@example.jp")
        .unwrap();
    assert_eq!(dead.state, DeliveryState::Dead, "{dead:?}");
    assert!(
        dead.last_error.as_deref().is_some_and(|e| e.contains("550")),
        "{dead:?}"
    );
    assert_eq!(dead.message.text, "", "a dead letter keeps no link");
    let sent = listed.iter().find(|m| m.message.to == CONTACT).unwrap();
    assert_eq!(sent.state, DeliveryState::Sent);
    assert_eq!(sent.message.text, "", "a delivered mail keeps no link");
    // A day later nothing is tried again.
    h.advance(86_400);
    let again = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!(again.sent + again.failed, 0);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn mail_waits_out_a_dead_server_and_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let h = Harness::new(Backend::Sqlite);
    h.mail_link(CONTACT);
    let caps = h.host.capabilities();
    let smtp =
        SmtpDelivery::from_url(&format!("smtp://127.0.0.1:{port}"), &caps.settings.sender_address).unwrap();

    // Nobody listens: the attempt fails and the message waits.
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    let waiting = caps.outbox.list(1).unwrap().remove(0);
    assert_eq!(waiting.state, DeliveryState::Failing);
    assert!(waiting.last_error.is_some());

    let server = SmtpServer::start(port, &dir.path().join("maildir"));
    // Not yet due: the backoff holds it back even though the server is up.
    let early = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!(early.sent + early.failed, 0);
    h.advance(waiting.next_attempt_at - h.now() + 1);
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    // Further passes send nothing again.
    h.advance(3600);
    let again = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!(again.sent + again.failed, 0);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn iso_2022_jp_mail_is_read_by_a_strict_decoder_and_falls_back_for_what_it_cannot_carry() {
    use customer_web_host::mail::{Charset, OutgoingMessage};
    let (_dir, server, port, h, token) = server_and_one_mail();
    let caps = h.host.capabilities();
    let smtp = SmtpDelivery::from_url(&format!("smtp://127.0.0.1:{port}"), &caps.settings.sender_address)
        .unwrap()
        .with_charset(Charset::Iso2022Jp);
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    // Python's iso2022_jp codec knows JIS X 0208 only: decoding proves the
    // message stayed inside it.
    let received = server.received_with_charset();
    let (subject, charset, body) = &received[0];
    assert_eq!(charset, "iso-2022-jp");
    assert_eq!(subject, "【三井住友海上】初回利用登録に関するご案内");
    assert!(body.contains(&format!("/link/{token}")), "{body}");
    // The desk hours are typed with a full-width tilde (Windows); JIS
    // carries the wave dash.
    assert!(body.contains("月曜日〜金曜日"), "{body}");
    assert!(body.contains("ご利用期限："));

    // A name from outside JIS X 0208 (髙) goes out in UTF-8, whole.
    caps.outbox
        .enqueue(
            &OutgoingMessage {
                to: CONTACT.into(),
                subject: "髙橋様へのご案内".into(),
                text: "髙橋　一郎 様\n".into(),
                kind: "test".into(),
            },
            caps.clock.now(),
        )
        .unwrap();
    let report = deliver_due(caps.outbox.as_ref(), &smtp, caps.clock.now()).unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    let received = server.received_with_charset();
    let utf8: Vec<_> = received.iter().filter(|(_, c, _)| c == "utf-8").collect();
    assert_eq!(received.len(), 2);
    assert_eq!(
        utf8,
        vec![&(
            "髙橋様へのご案内".to_owned(),
            "utf-8".to_owned(),
            "髙橋　一郎 様\r\n".to_owned()
        )]
    );
}
