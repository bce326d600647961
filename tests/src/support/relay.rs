//! A real HTTP mail relay on a loopback port, as the Spin adapter's
//! `mail_relay_url` expects one: it takes each `POST`, records it and
//! answers 200. It can be stopped (the port then refuses connections, as a
//! relay that is down does) and started again on the same port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request the relay took.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// The relay; its record outlives stops and restarts.
pub struct Relay {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Relay {
    /// A relay on a free loopback port, up.
    pub fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let mut relay = Relay {
            address: listener.local_addr().expect("address"),
            received: Arc::default(),
            running: None,
        };
        relay.serve(listener);
        relay
    }

    /// `http://ADDRESS`: the origin for Spin's `allowed_outbound_hosts`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the record").clone()
    }

    /// Down: the port refuses connections until [`Relay::restart`].
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so it sees the flag and drops the socket.
            let _ = TcpStream::connect(self.address);
            let _ = thread.join();
        }
    }

    /// Up again, on the same port.
    pub fn restart(&mut self) {
        assert!(self.running.is_none(), "the relay is running");
        let listener = TcpListener::bind(self.address).expect("the relay's port again");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let received = self.received.clone();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Some(request) = take(stream) {
                    received.lock().expect("the record").push(request);
                }
            }
        });
        self.running = Some((stop, thread));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one request (Content-Length or chunked body) and answers 200.
fn take(stream: TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let find = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(length) = find("content-length") {
        let length: usize = length.parse().ok()?;
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    } else if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}
