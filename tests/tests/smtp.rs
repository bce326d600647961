//! Mail delivery through a real SMTP server (Python's aiosmtpd, started
//! here): the MIME a mail client reads, and nothing lost or doubled while
//! the server is down.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{Backend, CONTACT, Harness};
use customer_web_host::mail::{DeliveryState, SmtpDelivery, deliver_due};

/// An aiosmtpd server writing every accepted message into a maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

/// A `PYTHONPATH` under which aiosmtpd runs: the system's if it has it,
/// else a copy installed from PyPI into the target directory once, so
/// `cargo test` needs no set-up of its own.
fn aiosmtpd_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let has = |path: &str| {
            Command::new("python3")
                .args(["-c", "import aiosmtpd.handlers, aiosmtpd.smtp"])
                .env("PYTHONPATH", path)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let local = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python");
        let local = local.to_string_lossy().into_owned();
        if has("") || has(&local) {
            return local;
        }
        let installed = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                &local,
            ])
            .arg("aiosmtpd")
            .status()
            .expect("python3 -m pip");
        assert!(
            installed.success() && has(&local),
            "aiosmtpd could not be installed from PyPI"
        );
        local
    })
}

impl SmtpServer {
    fn start(port: u16, maildir: &Path) -> SmtpServer {
        Self::start_with(port, maildir, "aiosmtpd.handlers.Mailbox")
    }

    /// With the handler class `handler` (`tests/smtp/` is on its path).
    fn start_with(port: u16, maildir: &Path, handler: &str) -> SmtpServer {
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp");
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                handler,
            ])
            .arg(maildir)
            .env("PYTHONPATH", format!("{}:{}", aiosmtpd_path(), ours.display()))
            .spawn()
            .expect("python3 -m aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            child,
            maildir: maildir.to_owned(),
        }
    }

    /// Every message the server accepted, which must all be in UTF-8,
    /// decoded by Python's own MIME parser: (subject, body).
    fn received(&self) -> Vec<(String, String)> {
        self.received_with_charset()
            .into_iter()
            .map(|(subject, charset, body)| {
                assert_eq!(charset, "utf-8");
                (subject, body)
            })
            .collect()
    }

    /// Every message the server accepted: (subject, charset of the body,
    /// body).
    fn received_with_charset(&self) -> Vec<(String, String, String)> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|file| {
                let out = Command::new("python3")
                    .args([
                        "-c",
                        "import email,email.header,sys\n\
                         m=email.message_from_binary_file(open(sys.argv[1],'rb'))\n\
                         s=str(email.header.make_header(email.header.decode_header(m['Subject'])))\n\
                         sys.stdout.write(s+'\\n'+m.get_content_charset()+'\\n'+m.get_payload(decode=True).decode(m.get_content_charset()))",
                    ])
                    .arg(file)
                    .output()
                    .expect("python3 decodes the message");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let text = String::from_utf8(out.stdout).expect("UTF-8");
                let mut parts = text.splitn(3, '\n');
                let subject = parts.next().unwrap_or_default().to_owned();
                let charset = parts.next().unwrap_or_default().to_owned();
                (subject, charset, parts.next().unwrap_or_default().to_owned())
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

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
