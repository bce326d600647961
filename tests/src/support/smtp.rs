//! A real SMTP server for tests: Python's aiosmtpd, started here, every
//! accepted message written into a maildir and read back with Python's own
//! MIME parser.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// An aiosmtpd server writing every accepted message into a maildir.
pub struct SmtpServer {
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
        let local = crate::target_tmp().join("python");
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
    pub fn start(port: u16, maildir: &Path) -> SmtpServer {
        Self::start_with(port, maildir, "aiosmtpd.handlers.Mailbox")
    }

    /// With the handler class `handler` (`tests/smtp/` is on its path).
    pub fn start_with(port: u16, maildir: &Path, handler: &str) -> SmtpServer {
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
    pub fn received(&self) -> Vec<(String, String)> {
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
    pub fn received_with_charset(&self) -> Vec<(String, String, String)> {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
