//! The component on Node.js: the very `.wasm` the Rust host embeds,
//! transpiled with jco (`node/`, its packages pinned by
//! `node/package-lock.json`), on capabilities written in JavaScript. This
//! runs `node --test` there: the sha256 check, the enrollment and recovery
//! walks, races between worker threads on one store, and the capabilities'
//! refusals.
//!
//! Needs Node.js 20+ with npm (CI installs them; nothing here is skipped):
//! `npm ci` runs when `node/node_modules` is missing or was installed from
//! another `package-lock.json`, then `npm run transpile` with
//! `CUSTOMER_WEB_WASM`, then `node --test`; any failure fails this test
//! with node's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use customer_web_e2e::support::node::{node, npm_ci_when_stale};
use customer_web_host::plugin::EMBEDDED_COMPONENT;
use sha2::{Digest, Sha256};

/// The component file the host embeds (customer-web-artifacts').
const WASM: &str = customer_web_artifacts::COMPONENT_PATH;

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .join("node")
}

#[test]
fn the_embedded_component_runs_on_node_with_javascript_capabilities() {
    let dir = node_dir();
    node(
        "the Node.js host test needs Node.js 20 or later with npm on PATH \
         (https://nodejs.org/; Debian 12's own nodejs is 18, too old)",
    );

    // The file node transpiles must be the bytes compiled into the host.
    let embedded = hex::encode(Sha256::digest(EMBEDDED_COMPONENT));
    let on_disk = hex::encode(Sha256::digest(
        std::fs::read(WASM).unwrap_or_else(|e| panic!("reading {WASM}: {e}")),
    ));
    assert_eq!(
        on_disk, embedded,
        "{WASM} differs from the component the host embeds: rebuild with `cargo build -p customer-web-artifacts`"
    );

    npm_ci_when_stale(&dir, "@bytecodealliance/jco");
    let transpiled = run(Command::new("npm").args(["run", "--silent", "transpile"]), &dir);
    check("npm run transpile", &transpiled);

    let mut tests: Vec<String> = std::fs::read_dir(dir.join("test"))
        .expect("node/test")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("test/{name}"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no node/test/*.test.js");
    let mut node = Command::new("node");
    node.arg("--test")
        .args(&tests)
        .env("CUSTOMER_WEB_WASM_SHA256", &embedded);
    let tested = run(&mut node, &dir);
    check("node --test", &tested);
    let stdout = String::from_utf8_lossy(&tested.stdout);
    println!("{stdout}");
    // node's closing counts: every test ran and passed.
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {label} ")))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no `# {label}` line in node's output"))
    };
    assert!(count("pass") > 0, "node ran no test");
    assert_eq!(count("fail"), 0);
    assert_eq!(count("cancelled"), 0);
    assert_eq!(count("skipped"), 0);
    assert_eq!(count("pass"), count("tests"));
}

/// Runs `cmd` in `dir` with the component's path, collecting its output.
fn run(cmd: &mut Command, dir: &Path) -> Output {
    cmd.current_dir(dir)
        .env("CUSTOMER_WEB_WASM", WASM)
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn check(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
