//! The `customer-web` binary's choice of component: the one it embeds, or
//! the one `--component` names.

use customer_web_e2e::support;

use std::process::{Command, Output};

use customer_web_host::plugin::EMBEDDED_COMPONENT;

fn customer_web(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(support::serve_process::binary())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("CUSTOMER_WEB_DATABASE")
        .env_remove("CUSTOMER_WEB_COMPONENT")
        .output()
        .expect("customer-web runs")
}

#[test]
fn the_demo_runs_on_a_component_named_on_the_command_line() {
    let data = tempfile::tempdir().expect("a data dir");
    let wasm = data.path().join("portal-copy.wasm");
    std::fs::write(&wasm, EMBEDDED_COMPONENT).expect("the component written");
    let out = customer_web(
        data.path(),
        &["--component", wasm.to_str().expect("UTF-8"), "demo"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("/link/"), "the demo mails a link: {stdout}");
}

#[test]
fn a_file_that_is_no_component_is_refused_by_name() {
    let data = tempfile::tempdir().expect("a data dir");
    let bogus = data.path().join("not-a-component.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0").expect("a core module header");
    let out = customer_web(
        data.path(),
        &["--component", bogus.to_str().expect("UTF-8"), "demo"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the component"), "{stderr}");
    assert!(stderr.contains("not-a-component.wasm"), "{stderr}");

    let missing = customer_web(data.path(), &["--component", "/nonexistent/x.wasm", "demo"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("reading the component /nonexistent/x.wasm"),
        "{stderr}"
    );
}
