//! What `serve` logs, at every level: a whole enrollment over the screens
//! and the JSON API, the mailed link opened under other spellings of its
//! path, and a recovery, with every log event captured under the filter
//! `customer-web` runs with at `RUST_LOG=trace`. No link token, keyword, password, mail address or identity
//! field may appear in any of it.

use customer_web_e2e::support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use customer_web_host::directory::FileDirectory;
use customer_web_host::{Capabilities, HostOptions};
use serde_json::json;
use support::browser::Server;
use support::walks::{self, KEYWORD, PASSWORD, post_json, token_in};

/// Every log line, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn no_log_line_at_any_level_holds_a_secret_or_an_identity() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        // What `customer-web` runs with when an operator asks for
        // everything (RUST_LOG=trace).
        .with_env_filter(customer_web_host::log_filter("trace"))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let dir = tempfile::tempdir().expect("temp dir");
    let caps = Capabilities::sqlite(dir.path(), Arc::new(FileDirectory::sample())).expect("capabilities");
    let options = HostOptions {
        cache_dir: Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        ..HostOptions::default()
    };
    let server = Server::start(caps, options);

    // The screens, from the agent link to the hand-over, then recovery.
    walks::recovery_after_enrollment(&|| server.browser());

    // The JSON API, with a second policyholder, and the link opened under
    // other spellings of its path first.
    let holder = FileDirectory::sample().policyholders()[1].clone();
    let email = "hanako.logs@example.jp";
    let mut b = server.browser();
    let (status, body) = walks::api_enroll_until_mail(&mut b, &walks::api_customer(&holder), email);
    assert_eq!(status, 200, "{body}");
    let outbox = server.host.capabilities().outbox.clone();
    let mail = outbox
        .list(100)
        .expect("outbox")
        .into_iter()
        .find(|m| m.message.to == email)
        .expect("the mail");
    let token = token_in(&mail.message.text);
    for path in [
        format!("/Link/{token}"),
        format!("//link/{token}"),
        format!("/%6Cink/{token}"),
        format!("/link/{token}?x=1"),
    ] {
        b.get(&path);
    }
    let (status, verified) = post_json(
        &mut b,
        "/api/v1/link/keyword",
        json!({ "token": token, "keyword": KEYWORD }),
    );
    assert_eq!(status, 200, "{verified}");

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("logs")).into_owned();
    assert!(
        logs.contains("request"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    let mut secrets = vec![
        token.clone(),
        KEYWORD.to_owned(),
        PASSWORD.to_owned(),
        email.to_owned(),
        "taro@example.jp".to_owned(),
        holder.phone.clone(),
        holder.family_name_kana.clone(),
        holder.birth_date.to_string(),
    ];
    secrets.push(verified["ticket"].as_str().expect("a ticket").to_owned());
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret:?} in the logs:\n{}",
            logs.lines()
                .filter(|l| l.contains(secret.as_str()))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
