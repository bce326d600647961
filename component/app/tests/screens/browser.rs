//! A small browser: a cookie jar, forms filled from the page (with the
//! CSRF field read from its HTML), and 303s followed.

use std::collections::BTreeMap;

use customer_web_app::handle;
use customer_web_core::testing::World;

/// An answer of the screens.
pub type Response = http::Response<Vec<u8>>;

/// Reading an answer's headers as text.
pub trait ReadHeaders {
    /// The first value of a header.
    fn header(&self, name: &str) -> Option<&str>;
    /// Every header field, in order, a name possibly repeated.
    fn fields(&self) -> Vec<(String, String)>;
}

impl ReadHeaders for Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .get(name)
            .map(|v| v.to_str().expect("header values are visible ASCII"))
    }

    fn fields(&self) -> Vec<(String, String)> {
        self.headers()
            .iter()
            .map(|(n, v)| {
                let value = v.to_str().expect("header values are visible ASCII");
                (n.as_str().to_owned(), value.to_owned())
            })
            .collect()
    }
}

/// A request as a browser (or anything else) sends it.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("a valid request")
}

/// One answer, with where it was fetched.
#[derive(Clone, Debug)]
pub struct Page {
    pub path: String,
    pub response: Response,
    pub html: String,
}

impl Page {
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// The value of the hidden CSRF field of the page's forms.
    pub fn csrf(&self) -> String {
        input_value(&self.html, "csrf").expect("page has a csrf field")
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.html.contains(text),
            "{} ({}) should contain {text:?}:\n{}",
            self.path,
            self.status(),
            self.html
        );
    }
}

/// The `value` of the input named `name`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[at..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = v + tag[v..].find('"')?;
    Some(unescape(&tag[v..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Form encoding as browsers do it.
pub fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
    fn component(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    char::from(b).to_string()
                } else if b == b' ' {
                    "+".into()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    fields
        .iter()
        .map(|(n, v)| format!("{}={}", component(n), component(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub struct Browser<'w> {
    pub world: &'w World,
    pub jar: BTreeMap<String, String>,
    /// Every `Location` answered to this browser.
    pub locations: Vec<String>,
    /// Every answer this browser received.
    pub log: Vec<Response>,
}

impl<'w> Browser<'w> {
    pub fn new(world: &'w World) -> Self {
        Self {
            world,
            jar: BTreeMap::new(),
            locations: Vec::new(),
            log: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> Option<String> {
        (!self.jar.is_empty()).then(|| {
            self.jar
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Sends a request as is, with the jar's cookies, and keeps what the
    /// answer sets.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        mut headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Response {
        if let Some(cookies) = self.cookie_header() {
            headers.push(("Cookie".into(), cookies));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let response = handle(self.world.ports(), request(method, path, &headers, body));
        for (name, value) in response.fields() {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap();
                let (n, v) = pair.split_once('=').unwrap();
                if value.contains("Max-Age=0") {
                    self.jar.remove(n);
                } else {
                    self.jar.insert(n.into(), v.into());
                }
            }
            if name.eq_ignore_ascii_case("location") {
                self.locations.push(value);
            }
        }
        self.log.push(response.clone());
        response
    }

    fn page(path: &str, response: Response) -> Page {
        Page {
            path: path.into(),
            html: String::from_utf8(response.body().clone()).expect("pages are UTF-8"),
            response,
        }
    }

    /// GET, following redirects within the service.
    pub fn get(&mut self, path: &str) -> Page {
        let mut path = path.to_owned();
        for _ in 0..10 {
            let response = self.send("GET", &path, vec![], vec![]);
            match response.header("location") {
                Some(to) if response.status() == 303 && to.starts_with('/') => path = to.to_owned(),
                _ => return Self::page(&path, response),
            }
        }
        panic!("redirect loop at {path}");
    }

    /// POSTs a form as the page's form would (its CSRF field added),
    /// without following the answer.
    pub fn post(&mut self, from: &Page, action: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = from.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, encode(&all))
    }

    /// POSTs a body as a form, without a CSRF field unless it has one.
    pub fn post_raw(&mut self, action: &str, body: Vec<u8>) -> Response {
        self.send(
            "POST",
            action,
            vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body,
        )
    }

    /// POSTs a form and follows the 303 it must answer (PRG).
    #[track_caller]
    pub fn submit(&mut self, from: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
        let response = self.post(from, action, fields);
        if response.status() != 303 {
            let page = Self::page(action, response);
            panic!("POST {action} answered {} not 303:\n{}", page.status(), page.html);
        }
        let to = response.header("location").unwrap().to_owned();
        self.get(&to)
    }

    /// POSTs a form whose answer is a page (bad input).
    pub fn submit_page(&mut self, from: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
        let response = self.post(from, action, fields);
        Self::page(action, response)
    }
}

pub const KEYWORD: &str = "さくらの木";
pub const EMAIL: &str = "taro@example.jp";
pub const USER_ID: &str = "yamada.taro@example.com";
pub const PASSWORD: &str = "kasumigaseki-2026";

/// Screen 2 for the sample policyholder, typed as a customer would.
pub fn customer_fields(terms: &str) -> Vec<(&'static str, String)> {
    vec![
        ("family-name", "山田".into()),
        ("given-name", "太郎".into()),
        ("family-name-kana", "ヤマダ".into()),
        ("given-name-kana", "タロウ".into()),
        ("birth-date", "１９８５年４月１日".into()),
        ("phone", "090-1234-5678".into()),
        ("postal-code", "100-0004".into()),
        ("policy-number", "A123456789".into()),
        ("accepted-terms", terms.into()),
    ]
}

pub fn as_refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// The path of the newest mailed link.
pub fn mailed_link(world: &World) -> String {
    let mail = world.mailer.sent().pop().expect("a mail was sent");
    let line = mail
        .text
        .lines()
        .find(|l| l.contains("/link/"))
        .expect("the mail has a link");
    let at = line.find("/link/").unwrap();
    line[at..].trim().to_owned()
}

/// Screens 2 to 5; returns screen 5.
pub fn enroll_until_mail(b: &mut Browser<'_>, agent: Option<&str>) -> Page {
    let top = b.get(&match agent {
        Some(a) => format!("/?agent={a}"),
        None => "/".into(),
    });
    assert_eq!(top.status(), 200);
    let href = match agent {
        Some(a) => format!("/enroll?agent={a}"),
        None => "/enroll".into(),
    };
    top.assert_contains(&format!("href=\"{href}\""));
    let screen2 = b.get(&href);
    assert_eq!(screen2.status(), 200);
    let terms = input_value(&screen2.html, "accepted-terms").unwrap();
    let agent_code = input_value(&screen2.html, "agent-code").unwrap_or_default();
    let mut fields = customer_fields(&terms);
    fields.push(("agent-code", agent_code));
    let screen3 = b.submit(&screen2, "/enroll", &as_refs(&fields));
    assert_eq!(screen3.path, "/enroll/contact");
    let screen4 = b.submit(
        &screen3,
        "/enroll/contact",
        &[("keyword", KEYWORD), ("email", EMAIL), ("email-confirm", EMAIL)],
    );
    assert_eq!(screen4.path, "/enroll/review");
    screen4.assert_contains(KEYWORD);
    let screen5 = b.submit(&screen4, "/enroll/confirm", &[]);
    assert_eq!(screen5.path, "/enroll/sent");
    screen5
}

/// Screens 7 to 10 at a link; returns screen 10.
pub fn set_credentials(
    b: &mut Browser<'_>,
    link: &str,
    keyword: &str,
    user_id: &str,
    password: &str,
) -> Page {
    let screen7 = b.get(link);
    assert_eq!(screen7.status(), 200, "{}", screen7.html);
    let screen8 = b.submit(&screen7, link, &[("keyword", keyword)]);
    assert_eq!(screen8.path, "/credentials");
    let screen9 = b.submit(
        &screen8,
        "/credentials",
        &[
            ("user-id", user_id),
            ("password", password),
            ("password-confirm", password),
        ],
    );
    assert_eq!(screen9.path, "/credentials/review");
    screen9.assert_contains(user_id);
    let screen10 = b.submit(&screen9, "/credentials/complete", &[]);
    assert!(screen10.path.starts_with("/complete"));
    screen10
}

/// A whole enrollment; the browser ends signed in.
pub fn enroll_fully(b: &mut Browser<'_>) {
    enroll_until_mail(b, None);
    let link = mailed_link(b.world);
    set_credentials(b, &link, KEYWORD, USER_ID, PASSWORD);
}
