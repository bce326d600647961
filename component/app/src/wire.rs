//! What travels in the headers and bodies: header and cookie reading,
//! `Set-Cookie` writing, origins, tokens and strict form decoding.
//!
//! Header values are read as text with any bytes that are not UTF-8
//! replaced, so a value a browser sent in another encoding is read, never
//! refused, and compares unequal to every value of ours.

use std::borrow::Cow;

use http::header::{AsHeaderName, COOKIE};
use http::{HeaderMap, HeaderName};
use subtle::ConstantTimeEq;

/// `Spin-Client-Addr`, the client's address as the host reports it. A
/// name made once: looking a `&str` up parses it into a name each time.
const SPIN_CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// `Sec-Fetch-Site`, where the browser says a request comes from.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The first value of a header, as text.
pub(crate) fn header<'h>(headers: &'h HeaderMap, name: impl AsHeaderName) -> Option<Cow<'h, str>> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// The client's address as the host reports it: the *last*
/// `spin-client-addr` field. Spin 4 appends its own after any the client
/// sent, and the wasmtime host replaces whatever the client sent with
/// exactly one, so the last is the host's. Empty when there is none.
pub(crate) fn client_address(headers: &HeaderMap) -> String {
    headers
        .get_all(&SPIN_CLIENT_ADDR)
        .iter()
        .next_back()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Whether a text has the shape of a token
/// ([`customer_web_core::secret::Token`]): 22 characters of base64url.
pub(crate) fn is_token_shape(text: &str) -> bool {
    text.len() == 22
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Most bytes of `Cookie` fields read: a browser sends at most a few
/// kilobytes for one site; the rest of a longer field is not looked at.
pub(crate) const MAX_COOKIE_BYTES: usize = 16 * 1024;

/// Most cookies read (browsers keep about 180 per site, and the screens
/// set four).
pub(crate) const MAX_COOKIES: usize = 200;

/// Every cookie the browser sent, from all `Cookie` fields (HTTP/2 splits
/// them). A cookie named twice keeps its first value, the one set for the
/// most specific path. One pass over the bytes read, and bounded: at
/// most [`MAX_COOKIE_BYTES`] bytes and [`MAX_COOKIES`] cookies are taken,
/// so a field stuffed with names costs no more than a normal one.
pub(crate) fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // Ordered, not hashed: nothing to seed, and a browser's cookie names
    // cannot choose the cost of the lookups.
    let mut seen = std::collections::BTreeSet::<String>::new();
    let mut budget = MAX_COOKIE_BYTES;
    for value in headers.get_all(COOKIE) {
        let value = String::from_utf8_lossy(value.as_bytes());
        let mut end = value.len().min(budget);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        budget -= end;
        for pair in value[..end].split(';') {
            if out.len() >= MAX_COOKIES {
                return out;
            }
            let Some((name, v)) = pair.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let v = v.trim().trim_matches('"');
            if !name.is_empty() && !seen.contains(name) {
                seen.insert(name.to_owned());
                out.push((name.to_owned(), v.to_owned()));
            }
        }
        if budget == 0 {
            break;
        }
    }
    out
}

/// A `Set-Cookie` value. Every cookie of the screens is a bearer secret or
/// its CSRF twin, so none is readable by script, none is sent on cross-site
/// subrequests, and all are sent only over HTTPS unless the service runs on
/// the developer's own machine.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut out = String::with_capacity(96 + value.len());
    if secure {
        out.push_str(HOST_PREFIX);
    }
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push_str("; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        out.push_str("; Secure");
    }
    if let Some(age) = max_age {
        use std::fmt::Write;
        let _ = write!(out, "; Max-Age={age}");
    }
    out
}

/// The prefix of a `Secure` cookie's name ([`is_wire_cookie_name`]).
const HOST_PREFIX: &str = "__Host-";

/// Whether `wire` is the name a cookie named `name` travels under: with
/// `__Host-` in front when it is `Secure`, so that the browser takes it
/// only from this very host over HTTPS, with `Path=/` and no `Domain`:
/// another host of the same site cannot plant or overwrite it.
/// (Plain-HTTP loopback development cannot use the prefix, and keeps the
/// bare name.)
pub(crate) fn is_wire_cookie_name(wire: &str, name: &str, secure: bool) -> bool {
    if secure {
        wire.strip_prefix(HOST_PREFIX) == Some(name)
    } else {
        wire == name
    }
}

/// Whether the public base URL is the developer's own machine, where
/// plain HTTP is normal and a `Secure` cookie would never come back.
pub(crate) fn is_local_base_url(base_url: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            base_url
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

/// The origin (`scheme://host[:port]`, lower-cased) of a URL; `None`
/// for anything that is not an absolute http(s) URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

/// Where a POST came from, as the browser tells it, judged against the
/// service's own origin `ours`: `Sec-Fetch-Site` when the browser sends
/// it (only `same-origin` and `none`, a request the user made directly,
/// pass: `same-site` is another host of the domain); otherwise `Origin`,
/// else the `Referer`'s origin, which must be `ours`. A request that says
/// nothing (not a browser, or one that strips both) passes on its token
/// alone.
pub(crate) fn from_our_origin(headers: &HeaderMap, ours: Option<&str>) -> bool {
    if let Some(site) = header(headers, &SEC_FETCH_SITE) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    let claimed = header(headers, http::header::ORIGIN)
        .filter(|o| !o.eq_ignore_ascii_case("null"))
        .map(Cow::into_owned)
        .or_else(|| header(headers, http::header::REFERER).and_then(|r| origin_of(&r)));
    let Some(claimed) = claimed else {
        // `Origin: null` (a sandboxed or privacy-stripped request) is
        // not ours.
        return !headers.contains_key(http::header::ORIGIN);
    };
    match (origin_of(&claimed), ours.and_then(origin_of)) {
        (Some(claimed), Some(ours)) => claimed == ours,
        _ => false,
    }
}

/// Compares two secrets in constant time.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// An `application/x-www-form-urlencoded` body or query, decoded.
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

/// The body was not a well-formed form in UTF-8.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

impl Form {
    /// Decodes strictly: a broken `%` escape or bytes that are not UTF-8
    /// refuse the whole form rather than being guessed at, since a guessed
    /// name or keyword would be silently wrong.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Form, Malformed> {
        let mut pairs = Vec::new();
        for part in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Form(pairs))
    }

    /// The first value of a field; empty if it was not sent (an unticked
    /// checkbox is not sent at all).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

fn decode(bytes: &[u8]) -> Result<String, Malformed> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter();
    while let Some(&b) = iter.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = iter.next().and_then(|h| hex_value(*h)).ok_or(Malformed)?;
                let lo = iter.next().and_then(|l| hex_value(*l)).ok_or(Malformed)?;
                out.push(hi << 4 | lo);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| Malformed)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a
/// value placed in a query string.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a `Content-Type` is a URL-encoded form (parameters such as a
/// charset may follow).
pub(crate) fn is_form_content_type(value: Option<&str>) -> bool {
    value.and_then(|v| v.split(';').next()).is_some_and(|mime| {
        mime.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};

    use super::*;

    /// Header fields in the order given, a name possibly repeated.
    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn header_values_are_read_whatever_their_bytes() {
        let mut headers = map(&[
            ("spin-client-addr", "10.0.0.1:1"),
            ("spin-client-addr", "127.0.0.1:2"),
        ]);
        assert_eq!(client_address(&headers), "127.0.0.1:2");
        headers.insert("x-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(header(&headers, "x-latin1").as_deref(), Some("caf\u{fffd}"));
        assert_eq!(client_address(&HeaderMap::new()), "");
    }

    #[test]
    fn forms_decode_plus_percent_and_utf8() {
        let form = Form::parse(b"a=%E5%B1%B1%E7%94%B0+%E5%A4%AA&b=&c&a=second").unwrap();
        assert_eq!(form.get("a"), "山田 太");
        assert_eq!(form.get("b"), "");
        assert_eq!(form.get("c"), "");
        assert_eq!(form.get("missing"), "");
    }

    #[test]
    fn forms_refuse_broken_escapes_and_non_utf8() {
        assert_eq!(Form::parse(b"a=%E5%B1").unwrap_err(), Malformed);
        assert_eq!(Form::parse(b"a=%zz").unwrap_err(), Malformed);
        assert_eq!(Form::parse(b"a=%4").unwrap_err(), Malformed);
        assert_eq!(Form::parse(b"a=\xff").unwrap_err(), Malformed);
    }

    #[test]
    fn cookies_come_from_every_cookie_field_first_value_wins() {
        let headers = map(&[("Cookie", "a=1; b=\"2\""), ("cookie", "a=3;c=4; junk")]);
        assert_eq!(
            cookies(&headers),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "4".to_owned())
            ]
        );
    }

    #[test]
    fn a_cookie_field_stuffed_with_names_is_read_in_one_bounded_pass() {
        // 80,000 names: the attack that took seconds of CPU when every
        // name was compared with every one before it.
        let stuffed: String = (0..80_000).map(|i| format!("n{i}=v; ")).collect();
        let first = format!("cw_session=abc; {stuffed}");
        let headers = map(&[("cookie", &first), ("cookie", "late=1")]);
        let read = cookies(&headers);
        assert!(read.len() <= MAX_COOKIES, "{}", read.len());
        assert_eq!(read[0], ("cw_session".to_owned(), "abc".to_owned()));
        let bytes: usize = read.iter().map(|(n, v)| n.len() + v.len() + 3).sum();
        assert!(bytes <= MAX_COOKIE_BYTES, "{bytes}");
        // A name repeated thousands of times is one cookie, its first value.
        let repeated = map(&[("cookie", &("a=1; ".repeat(5_000) + "a=2"))]);
        assert_eq!(cookies(&repeated), vec![("a".to_owned(), "1".to_owned())]);
        // A multi-byte character across the byte limit is not split.
        let wide = map(&[("cookie", &format!("x={}", "あ".repeat(MAX_COOKIE_BYTES)))]);
        assert_eq!(cookies(&wide).len(), 1);
    }

    #[test]
    fn a_post_is_ours_only_when_the_browser_says_so() {
        let ours = Some("https://www.example.co.jp/customer");
        let h = map;
        assert!(from_our_origin(&h(&[("sec-fetch-site", "same-origin")]), ours));
        assert!(from_our_origin(&h(&[("Sec-Fetch-Site", "none")]), ours));
        // Another host of the same site, with a planted cookie pair.
        assert!(!from_our_origin(
            &h(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://evil.example.co.jp")
            ]),
            ours
        ));
        assert!(!from_our_origin(&h(&[("sec-fetch-site", "cross-site")]), ours));
        // Without Sec-Fetch-Site: Origin, then Referer.
        assert!(from_our_origin(
            &h(&[("origin", "https://WWW.example.co.jp")]),
            ours
        ));
        assert!(from_our_origin(
            &h(&[("origin", "https://www.example.co.jp:443")]),
            ours
        ));
        assert!(!from_our_origin(
            &h(&[("origin", "https://evil.example.co.jp")]),
            ours
        ));
        assert!(!from_our_origin(
            &h(&[("origin", "http://www.example.co.jp")]),
            ours
        ));
        assert!(!from_our_origin(&h(&[("origin", "null")]), ours));
        assert!(from_our_origin(
            &h(&[("referer", "https://www.example.co.jp/customer/enroll")]),
            ours
        ));
        assert!(!from_our_origin(
            &h(&[("referer", "https://evil.example/x")]),
            ours
        ));
        // Saying nothing: the token alone decides.
        assert!(from_our_origin(&h(&[]), ours));
    }

    #[test]
    fn local_base_urls_are_exactly_the_loopback_ones() {
        assert!(is_local_base_url("http://127.0.0.1:3000"));
        assert!(is_local_base_url("http://localhost"));
        assert!(is_local_base_url("http://[::1]:8080/app"));
        assert!(!is_local_base_url("http://localhost.example.com"));
        assert!(!is_local_base_url("https://127.0.0.1"));
        assert!(!is_local_base_url("https://portal.example.co.jp"));
    }

    #[test]
    fn set_cookie_carries_every_flag() {
        assert_eq!(
            set_cookie("cw_x", "v", Some(60), true),
            "__Host-cw_x=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"
        );
        assert_eq!(
            set_cookie("cw_x", "", Some(0), false),
            "cw_x=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn content_types() {
        assert!(is_form_content_type(Some("application/x-www-form-urlencoded")));
        assert!(is_form_content_type(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form_content_type(Some("multipart/form-data; boundary=x")));
        assert!(!is_form_content_type(None));
    }

    #[test]
    fn encode_component_leaves_only_unreserved() {
        assert_eq!(encode_component("AG-01_x"), "AG-01_x");
        assert_eq!(encode_component("a&b=c d"), "a%26b%3Dc%20d");
    }
}
