//! The example portal, built and run as its users run it: from the
//! command line, with the component at a path of its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// The component, written where the portal loads it from.
fn component() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("customer_web_component.wasm");
    std::fs::write(&path, customer_web_artifacts::COMPONENT).expect("component written");
    (dir, path)
}

fn portal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portal-host"))
}

#[test]
fn the_portal_walks_enrollment_to_a_signed_in_home() {
    let (_dir, wasm) = component();
    let out = portal()
        .arg("walk")
        .arg(&wasm)
        .output()
        .expect("portal-host runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("mail queued for taro@example.jp"), "{stdout}");
    assert!(stdout.contains("enrolled taro@example.jp"), "{stdout}");
    assert!(stdout.contains("signed in as 山田　太郎"), "{stdout}");
}

#[test]
fn a_missing_component_is_a_clear_error() {
    let out = portal()
        .args(["walk", "/nonexistent/customer_web_component.wasm"])
        .output()
        .expect("portal-host runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("loading the component /nonexistent/customer_web_component.wasm"),
        "{stderr}"
    );
}

/// The server process, killed when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` in HTTP/1.0 (a body without chunks, to the end of the
/// stream): the status line, the headers and the body.
fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer read");
    String::from_utf8(answer).expect("UTF-8")
}

#[test]
fn the_portal_serves_its_own_page_and_the_screens() {
    let (_dir, wasm) = component();
    let mut child = portal()
        .arg("serve")
        .arg(&wasm)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("portal-host starts");
    let stdout = child.stdout.take().expect("stdout");
    let serving = Serving(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the address line");
    let address = line
        .trim()
        .strip_prefix("portal listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let page = get(&address, "/portal");
    assert!(page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(page.contains("<h1>ポータル</h1>"), "{page}");

    // The component's screens, with their own security headers.
    let screens = get(&address, "/");
    assert!(screens.starts_with("HTTP/1.0 200"), "{screens}");
    assert!(
        screens.to_ascii_lowercase().contains("content-security-policy:"),
        "{screens}"
    );
    assert!(screens.contains("お客さまWebサービス"), "{screens}");
    let enroll = get(&address, "/enroll");
    assert!(enroll.starts_with("HTTP/1.0 200"), "{enroll}");

    // Every screen was a call of the portal's host.
    let page = get(&address, "/portal");
    assert!(page.contains("2 calls so far"), "{page}");
    drop(serving);
}
