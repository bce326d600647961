//! A real browser walks the screens: Chromium, driven by Playwright
//! (`tests/browser/walk.mjs`) with JavaScript switched off, against
//! `serve`'s server on a loopback port with SQLite storage. The walk goes
//! through enrollment (agent link to the renewal hand-over, sign-out and
//! sign-in), the spent and unknown link pages, and recovery, saving a
//! full-page screenshot of every screen in `target/screenshots/`
//! (`NN-screen-name.png`, in walk order). Afterwards the server's own
//! records are checked: the audit trail, the outbox, storage, and the
//! credentials the walk chose.
//!
//! Needs Chromium (`/usr/bin/chromium` or `chromium` on `PATH`) with a
//! Japanese font, and Node.js 20+ with npm. When Chromium or the fonts are
//! missing and the test runs as root where apt-get exists, it installs
//! `chromium fonts-noto-cjk`; otherwise it says what to install.
//! `playwright-core` comes from `tests/browser/package-lock.json` through
//! `npm ci`, run when `tests/browser/node_modules` is missing or older than
//! the lock file's contents.

use customer_web_e2e::{common, support};

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::spin::SpinDb;
use customer_web_host::directory::FileDirectory;
use customer_web_host::mail::{DeliveryState, QueuedMessage};
use customer_web_host::{Capabilities, HostOptions};
use support::browser::{Browser, Server};
use support::node::{node, npm_ci_when_stale, on_path};
use support::spin_app::SpinApp;
use support::walks::post_json;

const AGENT: &str = "AG001";
const KEYWORD: &str = "ひまわり畑";
const CONTACT: &str = "taro@example.jp";
const USER_ID: &str = "taro.yamada@example.jp";
const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Every screen of the walk, in order: `target/screenshots/NN-NAME.png`.
const SCREENS: &[&str] = &[
    "top",
    "customer-info",
    "contact",
    "contact-mismatch-error",
    "review",
    "keyword-shown",
    "dev-mailbox",
    "enrollment-mail",
    "link-keyword",
    "link-wrong-keyword",
    "credentials",
    "credentials-review",
    "complete",
    "home",
    "contract-selection",
    "handover",
    "portal-handover",
    "signed-out",
    "home-signed-in",
    "link-spent",
    "link-unknown",
    "recover",
    "recover-keyword",
    "dev-mailbox-recovery",
    "recovery-mail",
    "recovery-link-keyword",
    "recovery-credentials",
    "recovery-review",
    "recovery-complete",
    "recovery-home",
    "signin-old-password-refused",
    "signin-new-password",
];

/// The walk's viewport width; a screenshot wider than this means the
/// page scrolls sideways on a phone.
const PHONE_WIDTH: u32 = 390;
const PHONE_HEIGHT: u32 = 844;

/// Longest the walk may take (the first Chromium start on a cold disk
/// included).
const WALK_DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn a_real_browser_walks_enrollment_and_recovery_and_photographs_every_screen() {
    let data = tempfile::tempdir().expect("temp dir");
    let caps = Capabilities::sqlite(data.path(), Arc::new(FileDirectory::sample())).expect("capabilities");
    let options = HostOptions {
        cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")),
        ..HostOptions::default()
    };
    let server = Server::start(caps, options);
    let base = format!("http://{}", server.address);
    walk_and_photograph(&base, "screenshots");

    let caps = server.host.capabilities().clone();
    // The delivery worker has passed both mails to the dev mailbox.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mails = loop {
        let mails = caps.outbox.list(100).expect("outbox");
        if mails.iter().all(|m| m.state == DeliveryState::Sent) || Instant::now() > deadline {
            break mails;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for mail in &mails {
        assert_eq!(
            mail.state,
            DeliveryState::Sent,
            "{}: {:?}",
            mail.id,
            mail.last_error
        );
    }
    let records = Records {
        events: caps
            .audit
            .recent(10_000)
            .expect("audit trail")
            .into_iter()
            .map(|e| (e.kind, e.subject, e.detail))
            .collect(),
        mails,
        keys: caps
            .housekeeping
            .as_ref()
            .expect("SQLite has housekeeping")
            .versions()
            .expect("storage")
            .into_iter()
            .map(|(key, _)| key)
            .collect(),
    };
    check_server_side(&base, &records, &mut server.browser());
}

/// The same walk, with the same screens, against the Spin app on the real
/// Spin (`spin up`; skipped with a loud note when there is no Spin CLI).
/// Screenshots go to `target/screenshots-spin/`.
#[test]
fn a_real_browser_walks_the_spin_app_on_spin() {
    let Some(app) = SpinApp::start(&[], &[]) else {
        return;
    };
    let base = app.base_url();
    walk_and_photograph(&base, "screenshots-spin");
    let db = SpinDb::new(app.database());
    let records = Records {
        events: db.audit(),
        // Without a mail relay, Spin's outbox keeps the mail for the dev
        // mailbox (pending), where the walk read it.
        mails: db.mails(),
        keys: db.versions(0).into_iter().map(|(key, _)| key).collect(),
    };
    check_server_side(&base, &records, &mut app.browser());
}

/// Runs `tests/browser/walk.mjs` against `base`, with screenshots into
/// `target/<shots>/`, and checks them.
fn walk_and_photograph(base: &str, shots: &str) {
    let (chromium, node) = prepared();
    let walk_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let out = screenshot_dir(shots);

    let mut command = Command::new(node);
    command
        .arg(walk_dir.join("walk.mjs"))
        .args(["--base", base])
        .arg("--out")
        .arg(&out)
        .arg("--chromium")
        .arg(chromium)
        .args(["--agent", AGENT, "--keyword", KEYWORD, "--contact", CONTACT])
        .args([
            "--user-id",
            USER_ID,
            "--password",
            PASSWORD,
            "--new-password",
            NEW_PASSWORD,
        ]);
    let started = Instant::now();
    let (success, log) = run_with_deadline(command, WALK_DEADLINE);
    assert!(
        success,
        "the browser walk against {base} failed (screenshots, the failing page's included, in {}):\n{log}",
        out.display()
    );
    println!(
        "browser walk against {base}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    check_screenshots(&out, &log);
}

/// Chromium with a Japanese font, Node.js, and the walk's npm packages,
/// installed when missing: once per test binary, whichever walk comes
/// first (apt-get and npm each take a lock a second one would fail on).
fn prepared() -> &'static (PathBuf, PathBuf) {
    static READY: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let chromium = chromium();
        ensure_japanese_fonts();
        let node = node(
            "the browser walk needs Node.js 20 or later with npm on PATH \
             (Debian: `apt-get install nodejs npm`, or https://nodejs.org/)",
        );
        npm_ci_when_stale(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"),
            "playwright-core",
        );
        (chromium, node)
    })
}

/// What a server recorded of the walk: its audit trail (kind, subject,
/// detail), its outbox, and its storage keys.
struct Records {
    events: Vec<(String, String, String)>,
    mails: Vec<QueuedMessage>,
    keys: Vec<String>,
}

/// What the walk did, as the server recorded it.
fn check_server_side(base: &str, records: &Records, b: &mut Browser) {
    // The audit trail tells the whole story, once each where once is right.
    let events = &records.events;
    let count = |kind: &str| events.iter().filter(|(k, _, _)| k == kind).count();
    for (kind, expected) in [
        ("enrollment-started", 1),
        ("keyword-failed", 1),
        ("link-spent", 2),
        ("account-created", 1),
        ("renewal-handover", 1),
        ("renewal-redeemed", 1),
        ("recovery-started", 1),
        ("credentials-reset", 1),
        ("mail-sent", 1),
    ] {
        let kinds: Vec<&str> = events.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(count(kind), expected, "audit events {kind}: {kinds:?}");
    }
    let detail = |kind: &str| {
        events
            .iter()
            .find(|(k, _, _)| k == kind)
            .map(|(_, _, detail)| detail.clone())
            .unwrap_or_default()
    };
    // The identity matched the directory, and recovery found the account.
    assert!(
        detail("mail-sent").contains("kind=enrollment-link identity=matched"),
        "{}",
        detail("mail-sent")
    );
    assert!(
        detail("recovery-started").contains("outcome=mail-sent"),
        "{}",
        detail("recovery-started")
    );
    assert!(count("signed-out") >= 2, "sign-outs recorded");
    assert!(count("sign-in-succeeded") >= 2, "sign-ins recorded");
    assert!(
        count("sign-in-failed") >= 1,
        "the old password's refusal recorded"
    );
    for event in events {
        for secret in [KEYWORD, PASSWORD, NEW_PASSWORD] {
            assert!(
                !event.1.contains(secret) && !event.2.contains(secret),
                "a secret in the audit trail: {event:?}"
            );
        }
    }

    // Two mails, both to the contact address, neither with a keyword.
    let mails = &records.mails;
    let mut kinds: Vec<&str> = mails.iter().map(|m| m.message.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["enrollment-link", "recovery-link"], "outbox");
    let mut tokens = Vec::new();
    for mail in mails {
        assert_eq!(mail.message.to, CONTACT);
        assert!(
            !mail.message.text.contains(KEYWORD),
            "the keyword is never mailed"
        );
        let link = format!("{base}/link/");
        let token = mail
            .message
            .text
            .split(&link)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {link}… in mail {}", mail.id));
        tokens.push(token.to_owned());
    }

    // Storage knows the links only by their hashes.
    for token in &tokens {
        assert!(
            records.keys.iter().all(|key| !key.contains(token.as_str())),
            "a link token in clear in a storage key"
        );
    }

    // The credentials are the ones chosen in recovery: the new password
    // signs in to 山田 太郎's account, the enrollment one no longer does.
    let (status, grant) = post_json(
        b,
        "/api/v1/session",
        serde_json::json!({ "user_id": USER_ID, "password": NEW_PASSWORD }),
    );
    assert_eq!(status, 200, "the password chosen in recovery signs in: {grant}");
    let bearer = format!("Bearer {}", grant["session"].as_str().expect("a session"));
    let home = b.request("GET", "/api/v1/home", &[("authorization", &bearer)], None);
    assert_eq!(home.status, 200, "{}", home.body);
    let home: serde_json::Value = serde_json::from_str(&home.body).expect("JSON");
    assert_eq!(home["user_id"], USER_ID);
    assert!(
        home["display_name"].as_str().is_some_and(|n| n.contains("山田")),
        "{home}"
    );
    let (status, old) = post_json(
        b,
        "/api/v1/session",
        serde_json::json!({ "user_id": USER_ID, "password": PASSWORD }),
    );
    assert_eq!(
        (status, old["error"].as_str()),
        (401, Some("bad-credentials")),
        "the enrollment password after recovery: {old}"
    );
}

/// Each screen's file is there, a PNG of the phone's width (dev pages
/// aside), at least a screen tall, and not blank; nothing else is.
fn check_screenshots(out: &Path, log: &str) {
    let mut expected = Vec::new();
    for (i, name) in SCREENS.iter().enumerate() {
        let file = format!("{:02}-{name}.png", i + 1);
        let path = out.join(&file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}\n{log}", path.display()));
        assert!(
            bytes.len() > 8 * 1024,
            "{file}: {} bytes, too small to show a screen",
            bytes.len()
        );
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file}: not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR", "{file}: no PNG header");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        // The developer's own pages are not laid out for phones.
        if !name.starts_with("dev-") {
            assert_eq!(width, PHONE_WIDTH, "{file}: the page scrolls sideways on a phone");
        }
        assert!(height >= PHONE_HEIGHT, "{file}: {width}×{height}");
        assert!(log.contains(&file), "the walk did not report {file}");
        expected.push(file);
    }
    let mut present: Vec<String> = std::fs::read_dir(out)
        .expect("screenshot dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".png"))
        .collect();
    present.sort();
    assert_eq!(present, expected, "screenshots in {}", out.display());
}

/// `target/NAME/`, emptied of the last run's pictures.
fn screenshot_dir(name: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().expect("CARGO_TARGET_TMPDIR is target/tmp");
    let out = target.join(name);
    std::fs::create_dir_all(&out).expect("screenshot dir");
    for entry in std::fs::read_dir(&out).expect("screenshot dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(entry.path()).expect("remove an old screenshot");
        }
    }
    out
}

/// Runs `command`, printing its output line by line as it comes (shown
/// with `--nocapture`); kills it at the deadline. Returns whether it
/// succeeded and everything it printed.
fn run_with_deadline(mut command: Command, deadline: Duration) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let pump = |stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                println!("{line}");
                seen.push_str(&line);
                seen.push('\n');
            }
            seen
        })
    };
    let stdout = pump(Box::new(child.stdout.take().expect("stdout")));
    let stderr = pump(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut log = stdout.join().unwrap_or_default();
    log.push_str(&stderr.join().unwrap_or_default());
    match status {
        Some(status) => (status.success(), log),
        None => (false, format!("{log}\nkilled after {} s", deadline.as_secs())),
    }
}

// --- what the walk needs from the machine ---------------------------------

fn find_chromium() -> Option<PathBuf> {
    let system = PathBuf::from("/usr/bin/chromium");
    if system.is_file() {
        return Some(system);
    }
    on_path("chromium")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian packages when running as root where apt-get exists;
/// returns false when it cannot try.
fn apt_install(packages: &[&str], why: &str) -> bool {
    if !is_root() || on_path("apt-get").is_none() {
        return false;
    }
    eprintln!(
        "browser walk: {why}; installing {} with apt-get",
        packages.join(" ")
    );
    let apt = |args: &[&str]| {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .expect("run apt-get");
        assert!(status.success(), "apt-get {} failed: {status}", args.join(" "));
    };
    apt(&["update"]);
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt(&install);
    true
}

fn chromium() -> PathBuf {
    if let Some(found) = find_chromium() {
        return found;
    }
    let tried = apt_install(&["chromium", "fonts-noto-cjk"], "Chromium is missing");
    find_chromium().unwrap_or_else(|| {
        panic!(
            "the browser walk needs Chromium at /usr/bin/chromium or `chromium` on PATH{}: \
             install it with `apt-get install chromium fonts-noto-cjk` (Debian/Ubuntu) and run again",
            if tried {
                " (apt-get ran, yet none is there)"
            } else {
                ""
            }
        )
    })
}

/// Without a Japanese font every screenshot shows boxes for the text:
/// installed when possible, otherwise a warning (the walk's checks read
/// the text, not the pixels).
fn ensure_japanese_fonts() {
    let has_japanese = || {
        Command::new("fc-list")
            .args([":lang=ja", "family"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
    };
    if has_japanese() || (apt_install(&["fonts-noto-cjk"], "no Japanese font") && has_japanese()) {
        return;
    }
    eprintln!(
        "browser walk: WARNING: no Japanese font found (fc-list :lang=ja); screenshots will show boxes \
         for Japanese text: install fonts-noto-cjk"
    );
}
