//! The Spin app run by the real Spin CLI: `spin build` once per test
//! binary, then one `spin up` per test on a free loopback port, with its
//! state (the `default` SQLite database, the logs) in a throw-away
//! directory.
//!
//! The CLI is `SPIN_BIN`, or `spin` on `PATH` (`.ci/run` puts
//! `../shared/tools` there when it exists). Without one, [`SpinApp::start`]
//! says so loudly on stderr and returns `None`, and the test returns
//! without running; with one, every failure is a test failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::browser::Browser;

/// The workspace root, where `spin.toml` sits.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The Spin CLI to run: `SPIN_BIN`, else `spin` on `PATH`.
pub fn spin_cli() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("SPIN_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "SPIN_BIN={} is no file", bin.display());
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("spin"))
        .find(|candidate| candidate.is_file())
}

/// `spin build` at the workspace root, once per test binary: the bytes
/// `spin up` then serves are the ones spin.toml's build commands make.
fn built(spin: &Path) {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let mut command = Command::new(spin);
        command.current_dir(root()).arg("build");
        clean_cargo_env(&mut command);
        let output = command.output().map_err(|e| format!("{}: {e}", spin.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "spin build failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Drops the test process's cargo settings (`CARGO_*` of the native test
/// build, `RUSTFLAGS`, …) so spin.toml's cargo commands run as a developer
/// runs them. `CARGO_HOME` stays: it is where the crates are.
fn clean_cargo_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let cargo_setting = key.starts_with("CARGO_") && key != "CARGO_HOME";
        if cargo_setting
            || key == "CARGO"
            || key == "RUSTFLAGS"
            || key == "RUSTC"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTDOC"
        {
            command.env_remove(key);
        }
    }
}

/// A running `spin up`; stopped (killed) when dropped.
pub struct SpinApp {
    pub address: SocketAddr,
    /// `--state-dir`: the app's `default` database is `sqlite_db.db` here.
    pub state: tempfile::TempDir,
    child: Child,
}

/// The hand-over secret the test apps run with (the dev page presents it).
pub const HANDOVER_SECRET: &str = "spin-test-handover-secret-0123456789abcdef";

impl SpinApp {
    /// Builds (once) and starts the app with `variables` on top of the
    /// manifest's defaults; `base_url` and `renewal_url` point at the port
    /// it listens on unless `variables` sets them. `sqlite` are `spin up
    /// --sqlite` arguments (a statement, or `@FILE`). `None`, after a loud
    /// note, when there is no Spin CLI.
    pub fn start(variables: &[(&str, &str)], sqlite: &[&str]) -> Option<SpinApp> {
        let Some(spin) = spin_cli() else {
            // Straight to stderr, past the test harness's capture: a skip
            // must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: no Spin CLI (set SPIN_BIN or put `spin` on PATH; .ci/run uses ../shared/tools/spin) ***\n"
            );
            return None;
        };
        built(&spin);
        Some(Self::start_retrying(
            &spin,
            &root().join("spin.toml"),
            variables,
            sqlite,
        ))
    }

    /// Starts the app of `manifest`, whose sources are built already, with
    /// `variables`. `None`, after a loud note, when there is no Spin CLI.
    pub fn start_manifest(manifest: &Path, variables: &[(&str, &str)]) -> Option<SpinApp> {
        let Some(spin) = spin_cli() else {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: no Spin CLI (set SPIN_BIN or put `spin` on PATH; .ci/run uses ../shared/tools/spin) ***\n"
            );
            return None;
        };
        Some(Self::start_retrying(&spin, manifest, variables, &[]))
    }

    fn start_retrying(spin: &Path, manifest: &Path, variables: &[(&str, &str)], sqlite: &[&str]) -> SpinApp {
        // A port free a moment ago may be taken by the time Spin binds it
        // (tests run side by side): then again on another.
        for _ in 0..5 {
            match Self::start_once(spin, manifest, variables, sqlite) {
                Ok(app) => return app,
                Err(log) if log.contains("in use") => continue,
                Err(log) => panic!("spin up exited before serving:\n{log}"),
            }
        }
        panic!("spin up found no free port in five tries");
    }

    fn start_once(
        spin: &Path,
        manifest: &Path,
        variables: &[(&str, &str)],
        sqlite: &[&str],
    ) -> Result<SpinApp, String> {
        let state = tempfile::tempdir().expect("a state dir");
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a loopback port");
        let mut command = Command::new(spin);
        command
            .current_dir(root())
            .arg("up")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg(address.to_string())
            .arg("--state-dir")
            .arg(state.path());
        let base = format!("http://{address}");
        // customer-web's own manifest learns where it listens.
        let mut all: Vec<(String, String)> = if manifest == root().join("spin.toml") {
            vec![
                ("base_url".into(), base.clone()),
                ("renewal_url".into(), format!("{base}/_dev/renewal")),
            ]
        } else {
            Vec::new()
        };
        all.extend(variables.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        for (name, value) in &all {
            command.arg("--variable").arg(format!("{name}={value}"));
        }
        for statement in sqlite {
            command.arg("--sqlite").arg(statement);
        }
        // The portal's secret, as the manifest advises: from the
        // environment, not the command line.
        command.env("SPIN_VARIABLE_HANDOVER_SECRET", HANDOVER_SECRET);
        let log = std::fs::File::create(state.path().join("spin-up.log")).expect("a log file");
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // A process group of its own, which Drop ends whole.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", spin.display()));
        let mut app = SpinApp {
            address,
            state,
            child,
        };
        app.wait_until_serving()?;
        Ok(app)
    }

    /// What `spin up` printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("spin-up.log")).unwrap_or_default()
    }

    /// The app's `default` SQLite database.
    pub fn database(&self) -> PathBuf {
        self.state.path().join("sqlite_db.db")
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn browser(&self) -> Browser {
        Browser::at(self.address)
    }

    /// Waits until `GET /` answers; `Err(log)` when `spin up` exited first.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        // Spin compiles the composed component before it listens; the
        // first time on a cold cache takes a while.
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = self.child.try_wait().expect("spin up's status") {
                return Err(format!("({status}) {}", self.log()));
            }
            if answers(self.address) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "spin up did not answer on {} within 180 s:\n{}",
                self.address,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether `GET /` answers at `address` with any HTTP status.
fn answers(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!("GET / HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
}

impl Drop for SpinApp {
    fn drop(&mut self) {
        // `spin up` runs the app in a child of its own (`spin trigger
        // http`), which outlives a killed parent: the whole process group
        // goes, or every test would leave a server (and its database
        // connections) behind.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Spin variables that put an app's store, outbox and audit trail in
/// the PostgreSQL database at `url` (a test's schema, through the URL's
/// `options=-c search_path=…`): the URL and the origin Spin must allow.
/// The test server is on loopback and offers TLS with a certificate from
/// a CA of the run, which Spin's client (native-tls, the system's CA
/// store) cannot verify: the URL says `sslmode=disable`.
pub fn on_postgres(url: &str) -> Vec<(&'static str, String)> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let url: &str = &format!("{url}{separator}sslmode=disable");
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host_port = rest
        .rsplit_once('@')
        .map_or(rest, |(_, after)| after)
        .split(['/', '?'])
        .next()
        .expect("a host in the test server's URL");
    vec![
        ("database_url", url.to_owned()),
        ("database_origin", format!("postgres://{host_port}")),
    ]
}
