//! A served customer-web on a loopback port, and a small HTTP/1.1 client
//! that behaves like a browser without JavaScript: a cookie jar, forms,
//! redirects it follows only when asked, raw access to every header.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use customer_web_host::dev::DevMailbox;
use customer_web_host::guard::{Limits, Rate};
use customer_web_host::serve::{ServeOptions, serve};
use customer_web_host::{Capabilities, HostOptions, PluginHost};

/// A server on 127.0.0.1 with its own runtime thread; stops when dropped.
pub struct Server {
    pub address: SocketAddr,
    pub host: Arc<PluginHost>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// Limits for tests whose every client is 127.0.0.1: the production
/// shapes, with per-client rates and caps out of the way. The hostile
/// tests set their own.
pub fn test_limits() -> Limits {
    let many = Rate {
        burst: 100_000,
        per: Duration::from_millis(1),
    };
    Limits {
        connections_per_client: 512,
        hash_queue: 512,
        hash_wait: Duration::from_secs(120),
        hash_per_client: many,
        flows_per_client: many,
        ..Limits::default()
    }
}

impl Server {
    pub fn start(caps: Capabilities, options: HostOptions) -> Self {
        Self::start_with(caps, options, test_limits())
    }

    /// [`Server::start`] held to `limits`.
    pub fn start_with(mut caps: Capabilities, options: HostOptions, limits: Limits) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("address");
        caps.settings.base_url = format!("http://{address}");
        caps.settings.renewal_url = format!("http://{address}/_dev/renewal");
        let host = Arc::new(
            PluginHost::new(customer_web_host::plugin::EMBEDDED_COMPONENT, caps, options).expect("host"),
        );
        Self::run(listener, host, limits)
    }

    /// Serves a host made elsewhere (any component, e.g. one from
    /// `PluginHost::proxy_only`); its settings keep their base URL.
    pub fn serving(host: Arc<PluginHost>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        Self::run(listener, host, test_limits())
    }

    fn run(listener: std::net::TcpListener, host: Arc<PluginHost>, limits: Limits) -> Self {
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = host.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let options = ServeOptions {
                    delivery: Arc::new(DevMailbox),
                    delivery_interval: Duration::from_millis(200),
                    delivery_lease: customer_web_host::mail::DELIVERY_LEASE,
                    dev_mailbox: true,
                    limits,
                    purge_interval: Duration::from_millis(200),
                };
                serve(served, listener, options, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        Server {
            address,
            host,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Asks the server to stop and waits until it has drained.
    pub fn shut_down(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("server thread panicked"))?,
            None => Ok(()),
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::at(self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location in {} {}", self.status, self.body))
    }

    /// The value of `<input name="NAME" ... value="...">`.
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\"");
        let at = self.body.find(&needle)?;
        let start = self.body[..at].rfind('<')?;
        let end = at + self.body[at..].find('>')?;
        let tag = &self.body[start..end];
        let value = tag.split("value=\"").nth(1)?.split('"').next()?;
        Some(unescape(value))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A cookie-keeping client.
pub struct Browser {
    pub address: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// The loopback address its connections come from (another client on
    /// the same machine: 127.0.0.2, …); `None`: the system's choice.
    pub source: Option<std::net::IpAddr>,
}

impl Browser {
    /// A browser with no cookies, talking to `address`.
    pub fn at(address: SocketAddr) -> Self {
        Browser {
            address,
            cookies: BTreeMap::new(),
            source: None,
        }
    }

    /// The same, its connections coming from `source`.
    pub fn from_source(address: SocketAddr, source: std::net::IpAddr) -> Self {
        Browser {
            source: Some(source),
            ..Browser::at(address)
        }
    }

    /// A new connection to the server, from [`Browser::source`] if set.
    pub fn connect(&self) -> std::io::Result<TcpStream> {
        match self.source {
            None => TcpStream::connect(self.address),
            Some(source) => {
                let domain = socket2::Domain::for_address(self.address);
                let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
                socket.bind(&SocketAddr::new(source, 0).into())?;
                socket.connect(&self.address.into())?;
                Ok(socket.into())
            }
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, &[], None)
    }

    /// Posts a form (url-encoded) with the page's CSRF field added when
    /// `csrf_from` is given.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = encode_form(fields);
        self.request(
            "POST",
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
        )
    }

    /// GET a page, then POST its form with `fields` plus its CSRF token.
    pub fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page);
        assert_eq!(page.status, 200, "GET {form_page}: {}", page.body);
        let csrf = page
            .field("csrf")
            .unwrap_or_else(|| panic!("no CSRF field on {form_page}"));
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post_form(action, &all)
    }

    /// Follows a 303 and returns the page it leads to.
    pub fn follow(&mut self, page: &Page) -> Page {
        assert_eq!(
            page.status, 303,
            "expected a redirect, got {}: {}",
            page.status, page.body
        );
        let location = page.location().to_owned();
        let path = match location.strip_prefix(&format!("http://{}", self.address)) {
            Some(p) => p.to_owned(),
            None => location,
        };
        self.get(&path)
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Page {
        let mut stream = self.connect().expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        // A `host` among `headers` stands in for the server's address.
        let mut head = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("host: {}\r\n", self.address));
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            head.push_str(&format!("cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write head");
        if let Some(body) = body {
            // A server may refuse early (413) and close; that is an answer.
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let page = parse(&raw);
        for cookie in page.headers_named("set-cookie") {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let expired = cookie.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        page
    }
}

impl Browser {
    /// One request written byte for byte as `raw` (any framing, the
    /// browser's cookies left out), on a connection of its own; the answer.
    pub fn raw(&self, raw: &[u8]) -> Page {
        let mut stream = self.connect().expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        stream.write_all(raw).expect("write the request");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        parse(&answer)
    }
}

pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn parse(raw: &[u8]) -> Page {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}
