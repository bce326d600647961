//! `customer-web serve` as a process of its own (the binary users run), on
//! a free loopback port, and the PostgreSQL servers the several-hosts tests
//! run it on.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::browser::Browser;

/// The `customer-web` binary of this build (`target/<profile>/`), brought
/// up to date first, once per test binary: `cargo test` builds another
/// package's binary only when it is missing, and a binary left by an
/// earlier build would test old code.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps");
            let binary = profile_dir.join("customer-web");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let release = profile_dir.file_name().is_some_and(|name| name == "release");
            let status = Command::new(cargo)
                .args(["build", "--package", "customer-web", "--bin", "customer-web"])
                .args(release.then_some("--release"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo build");
            assert!(
                status.success() && binary.exists(),
                "building customer-web failed"
            );
            binary
        })
        .clone()
}

/// One `customer-web serve`; killed when dropped.
pub struct ServeProcess {
    pub address: SocketAddr,
    child: Child,
    /// Its `--data-dir` (the compilation cache; the database is elsewhere).
    pub data: tempfile::TempDir,
}

impl ServeProcess {
    /// `customer-web --database DATABASE serve --listen 127.0.0.1:PORT`
    /// with `args` (`--dev`, or `--smtp URL`, …); returns once it answers.
    pub fn start(database: &str, args: &[&str]) -> ServeProcess {
        Self::start_logging(database, args, "info")
    }

    /// [`ServeProcess::start`] logging at `level` (`RUST_LOG`); a benchmark
    /// runs at the default, `warn`, as production does.
    pub fn start_logging(database: &str, args: &[&str], level: &str) -> ServeProcess {
        let mut data = tempfile::tempdir().expect("a data dir");
        for _ in 0..5 {
            let address = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a loopback port");
            let log = std::fs::File::create(data.path().join("serve.log")).expect("a log file");
            let child = Command::new(binary())
                .arg("--data-dir")
                .arg(data.path())
                .arg("serve")
                .arg("--listen")
                .arg(address.to_string())
                .args(args)
                .env("CUSTOMER_WEB_DATABASE", database)
                .env("RUST_LOG", level)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("customer-web serve");
            let mut process = ServeProcess { address, child, data };
            match process.wait_until_serving() {
                Ok(()) => return process,
                Err(log) if log.contains("in use") => {
                    data = process.into_data();
                    continue;
                }
                Err(log) => panic!("customer-web serve exited before serving:\n{log}"),
            }
        }
        panic!("customer-web serve found no free port in five tries");
    }

    fn into_data(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data = tempfile::tempdir().expect("a data dir");
        std::mem::replace(&mut self.data, data)
    }

    fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.log());
            }
            if std::net::TcpStream::connect(self.address).is_ok() {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "serve did not listen:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("serve.log")).unwrap_or_default()
    }

    /// A browser with no cookies at this host.
    pub fn browser(&self) -> Browser {
        Browser::at(self.address)
    }

    /// `kill -9`: no shutdown, no cleanup, leases left as they are.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A PostgreSQL server of the test's own (`.ci/postgres`), for a test that
/// stops and starts it; stopped and removed when dropped. `None` (after a
/// loud note; under CI a failure) when no server binaries can be had.
pub struct OwnPostgres {
    pub url: String,
    dir: String,
}

impl OwnPostgres {
    pub fn start() -> Option<OwnPostgres> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .expect("bash .ci/postgres start");
        if !out.status.success() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must be able to start a PostgreSQL server (.ci/postgres start failed)"
            );
            eprintln!("\n*** SKIPPED: no PostgreSQL server could be started (.ci/postgres start) ***\n");
            return None;
        }
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .to_owned()
        };
        Some(OwnPostgres {
            url: value("CUSTOMER_WEB_TEST_POSTGRES"),
            dir: value("PG_TEST_DIR"),
        })
    }

    fn script(&self, command: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres");
        let status = Command::new("bash")
            .arg(&script)
            .arg(command)
            .arg(&self.dir)
            .status()
            .expect("bash .ci/postgres");
        assert!(status.success(), ".ci/postgres {command} failed");
    }

    /// Stops the server (fast shutdown: every connection is cut).
    pub fn stop(&self) {
        self.script("halt");
    }

    /// Starts it again on the same port, with the same data.
    pub fn resume(&self) {
        self.script("resume");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.script("stop");
    }
}
