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

/// `serve` prints its address once the port is bound; a supervisor that
/// reads that one line and closes its pipes leaves a server that goes on
/// answering: the dev mailbox's line, written after stdout closed, and
/// each request's log line (`RUST_LOG=info`), written after stderr
/// closed, are lost, not fatal.
#[test]
fn serve_announces_its_address_once_bound_and_outlives_closed_stdout_and_stderr() {
    use std::io::{BufRead, Read, Write};
    let data = tempfile::tempdir().expect("a data dir");
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port");
    let mut child = Command::new(support::serve_process::binary())
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--dev", "--listen", &address.to_string()])
        .env_remove("CUSTOMER_WEB_DATABASE")
        .env_remove("CUSTOMER_WEB_COMPONENT")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("customer-web serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("serve's first line");
    drop(child.stderr.take());
    // Both pipes' readers are gone here.
    assert_eq!(line, format!("customer-web: http://{address}/\n"));
    let answer = |path: &str| {
        let mut stream = std::net::TcpStream::connect(address).expect("serve listens once announced");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
    };
    // Three requests, each logged to the closed stderr, the last two well
    // after the dev mailbox's line.
    for _ in 0..3 {
        let response = answer("/");
        assert!(response.starts_with("HTTP/1.0 200"), "{response:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        child.try_wait().expect("status").is_none(),
        "serve exited after its stdout and stderr closed"
    );
    let _ = child.kill();
    let _ = child.wait();
}
