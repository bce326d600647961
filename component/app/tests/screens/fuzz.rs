//! `handle` never panics, whatever it is sent.

use customer_web_app::{bad_request, csrf_field, handle};
use customer_web_core::testing::World;
use http::{HeaderName, HeaderValue, Method, Uri};

use crate::browser::encode;

/// xorshift64*: enough to vary inputs reproducibly.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn text(&mut self, max: usize) -> String {
        let pieces = [
            "a",
            "%",
            "%E3",
            "%zz",
            "&",
            "=",
            "/",
            "?",
            ";",
            "山",
            "ｱ",
            "\u{0}",
            "\r\n",
            " ",
            "+",
            "..",
            "\"",
            "<",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "１",
        ];
        let n = self.below(max + 1);
        (0..n).map(|_| self.pick(&pieces)).collect()
    }
}

const PATHS: &[&str] = &[
    "/",
    "/signin",
    "/signout",
    "/enroll",
    "/enroll/contact",
    "/enroll/review",
    "/enroll/confirm",
    "/enroll/sent",
    "/link/AAAAAAAAAAAAAAAAAAAAAA",
    "/credentials",
    "/credentials/review",
    "/credentials/complete",
    "/complete",
    "/home",
    "/renewal",
    "/recover",
    "/recover/keyword",
    "/static/style.css",
];

const FIELDS: &[&str] = &[
    "family-name",
    "given-name",
    "family-name-kana",
    "given-name-kana",
    "birth-date",
    "phone",
    "postal-code",
    "policy-number",
    "accepted-terms",
    "agent-code",
    "keyword",
    "email",
    "email-confirm",
    "user-id",
    "password",
    "password-confirm",
];

#[test]
fn handle_never_panics_on_random_requests() {
    let world = World::new();
    let mut noise = Noise(0x5EED_CAFE_F00D_BEEF);
    let csrf = "AAAAAAAAAAAAAAAAAAAAAA";
    // The form field for each cookie set below: signed out, or with the
    // session cookie equal to the CSRF cookie.
    let fields_csrf = [csrf_field(csrf, ""), csrf_field(csrf, csrf)];
    for round in 0..600 {
        let method = noise
            .pick(&["GET", "POST", "HEAD", "PUT", "", "G\u{0}ET", "POST "])
            .to_owned();
        let path = match noise.below(4) {
            0 => noise.text(12),
            1 => format!("{}?{}", noise.pick(PATHS), noise.text(8)),
            _ => noise.pick(PATHS).to_owned(),
        };
        let mut headers = vec![];
        for _ in 0..noise.below(4) {
            let name = noise.pick(&["cookie", "Cookie", "content-type", "sec-fetch-site", "x-junk", ""]);
            let value = match name {
                "cookie" | "Cookie" => match noise.below(3) {
                    0 => noise.text(10),
                    1 => format!(
                        "cw_csrf={csrf}; cw_flow={}; cw_ticket=e.{}",
                        noise.text(3),
                        noise.text(3)
                    ),
                    _ => format!("cw_csrf={csrf}; cw_session={csrf}; cw_display={csrf}; cw_ticket=r.{csrf}"),
                },
                "content-type" => noise
                    .pick(&["application/x-www-form-urlencoded", "text/plain", ";", ""])
                    .to_owned(),
                _ => noise.text(6),
            };
            headers.push((name.to_owned(), value));
        }
        let body = match noise.below(3) {
            0 => noise.bytes(200),
            1 => noise.text(30).into_bytes(),
            _ => {
                let mut fields: Vec<(String, String)> =
                    vec![("csrf".into(), fields_csrf[noise.below(2)].clone())];
                for _ in 0..noise.below(5) {
                    fields.push((noise.pick(FIELDS).into(), noise.text(6)));
                }
                let refs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                encode(&refs)
            }
        };
        let method = Method::from_bytes(method.as_bytes());
        let uri = Uri::try_from(path.as_str());
        let response = match (method, uri) {
            (Ok(method), Ok(uri)) => {
                let mut request = http::Request::new(body);
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                // A field no `http` header can hold never reaches `handle`.
                for (name, value) in headers {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(&value),
                    ) {
                        request.headers_mut().append(name, value);
                    }
                }
                handle(world.ports(), request)
            }
            // A method or URI no `http` request can hold: the adapter
            // answers it itself.
            _ => bad_request(&path),
        };
        let status = response.status().as_u16();
        assert!((200..600).contains(&status), "round {round}: {path:?}");
        for (name, value) in response.headers() {
            assert!(
                value
                    .as_bytes()
                    .iter()
                    .all(|b| *b == b'\t' || (b' '..=b'~').contains(b)),
                "round {round}: {name}: {value:?}"
            );
        }
        if round % 97 == 0 {
            world.clock.advance(3_601);
        }
    }
}
