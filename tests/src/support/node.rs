//! Node.js for the tests that run JavaScript (the browser walk's
//! Playwright, the Node.js host): the version they need, and their
//! packages installed from the lock file when missing or stale.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `program`'s path on `PATH`, if it is there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Node.js 20 or later, with npm; `needs` (what the test needs them for,
/// and where to get them) is the failure's message otherwise.
pub fn node(needs: &str) -> PathBuf {
    let node = on_path("node").unwrap_or_else(|| panic!("{needs}: no `node` found"));
    on_path("npm").unwrap_or_else(|| panic!("{needs}: no `npm` found"));
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "{needs}: found node {version:?}");
    node
}

/// `npm ci` in `dir` when its `node_modules` lacks `package` or was
/// installed from another `package-lock.json` (a copy kept beside the
/// modules tells).
pub fn npm_ci_when_stale(dir: &Path, package: &str) {
    let lock = std::fs::read(dir.join("package-lock.json"))
        .unwrap_or_else(|e| panic!("{}/package-lock.json: {e}", dir.display()));
    let modules = dir.join("node_modules");
    let stamp = modules.join(".customer-web-package-lock.json");
    let installed = modules.join(package).join("package.json").is_file();
    if installed && std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return;
    }
    eprintln!(
        "npm ci in {} (node_modules missing or from another package-lock.json)",
        dir.display()
    );
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir)
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .expect("run npm");
    assert!(
        output.status.success(),
        "npm ci in {} failed ({}): is the npm registry reachable?\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(&stamp, &lock).expect("write the install stamp");
}
