//! `wasi:http/incoming-handler`: the screens and the JSON API. Reads the
//! request into an `http::Request` (refusing bodies over the limit before
//! reading them whole), hands it to `customer-web-app`, and writes the
//! `http::Response` back.

use customer_web_app::MAX_BODY;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use wasip2::http::types::{
    Fields, HeaderError, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use crate::Component;
use crate::ports::ports;

/// Why a request could not be read.
enum Unreadable {
    TooLarge,
    Broken,
}

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path_and_query = request.path_with_query().unwrap_or_else(|| "/".into());
        let path = path_and_query.split('?').next().unwrap_or_default();
        let response = match read(request, &path_and_query) {
            Ok(request) => customer_web_app::handle(ports(), request),
            Err(Unreadable::TooLarge) => customer_web_app::payload_too_large(path),
            Err(Unreadable::Broken) => customer_web_app::bad_request(path),
        };
        write(out, response);
    }
}

fn method(method: Method) -> Result<http::Method, Unreadable> {
    Ok(match method {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(other) => http::Method::from_bytes(other.as_bytes()).map_err(|_| Unreadable::Broken)?,
    })
}

/// The fields of the request; one no `http` header can hold (the host
/// has already refused such) is left out.
fn headers(request: &IncomingRequest) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in request.headers().entries() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn read(request: IncomingRequest, path_and_query: &str) -> Result<Request<Vec<u8>>, Unreadable> {
    let headers = headers(&request);
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(Unreadable::TooLarge);
    }
    let method = method(request.method())?;
    let uri = Uri::try_from(path_and_query).map_err(|_| Unreadable::Broken)?;
    // A request that declares an empty body, or a GET or HEAD that
    // declares none, has none (unless a transfer coding says otherwise):
    // its body is not opened, which saves the calls that would find it
    // empty.
    let chunked = headers.contains_key(TRANSFER_ENCODING);
    let bodiless = !chunked
        && (declared == Some(0)
            || (matches!(method, http::Method::GET | http::Method::HEAD)
                && !headers.contains_key(CONTENT_LENGTH)));
    let body = if bodiless {
        Vec::new()
    } else {
        read_body(&request)?
    };
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Unreadable> {
    let Ok(incoming) = request.consume() else {
        return Ok(Vec::new());
    };
    let mut body = Vec::new();
    {
        let Ok(stream) = incoming.stream() else {
            return Err(Unreadable::Broken);
        };
        loop {
            match stream.blocking_read(16 * 1024) {
                Ok(chunk) => {
                    body.extend_from_slice(&chunk);
                    // Stop reading as soon as the limit is passed: a client
                    // that lied about its length gets no further.
                    if body.len() > MAX_BODY {
                        return Err(Unreadable::TooLarge);
                    }
                }
                Err(wasip2::io::streams::StreamError::Closed) => break,
                Err(_) => return Err(Unreadable::Broken),
            }
        }
    }
    // The body was read to its end; its trailers are not used, so the body
    // is dropped rather than finished (which would import `finish` and the
    // trailers' future, linked at every instantiation).
    drop(incoming);
    Ok(body)
}

fn write(out: ResponseOutparam, response: Response<Vec<u8>>) {
    let (parts, content) = response.into_parts();
    // The whole body is known: its length goes ahead of it, so the
    // server sends it as one piece rather than in chunks.
    let mut digits = [0; 20];
    let length = (!content.is_empty() && !parts.headers.contains_key(CONTENT_LENGTH))
        .then(|| decimal(content.len(), &mut digits));
    // Each field on its own: `set-cookie` is never folded into one.
    let entries = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
        .chain(length.map(|length| (CONTENT_LENGTH.as_str().as_bytes(), length)));
    let headers = match fields_from_list(entries) {
        Ok(fields) => fields,
        // A header the host refuses is a bug in the app; answer with a
        // bare error rather than a response missing its security headers.
        Err(_) => {
            let Ok(empty) = fields_from_list(std::iter::empty()) else {
                return;
            };
            let fallback = OutgoingResponse::new(empty);
            let _ = fallback.set_status_code(500);
            ResponseOutparam::set(out, Ok(fallback));
            return;
        }
    };
    let outgoing = OutgoingResponse::new(headers);
    // A new outgoing-response's status is 200 (wasi:http/types): only
    // another status costs a host call.
    if parts.status != http::StatusCode::OK {
        let _ = outgoing.set_status_code(parts.status.as_u16());
    }
    let Ok(body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        // blocking_write_and_flush takes at most 4096 bytes per call. A
        // long page in one `write` after `check-write` would take fewer
        // calls, but five imports more (`check-write`, `write`,
        // `blocking-flush`, and `subscribe` and `block` to wait), each
        // linked at every instantiation: 4,000 instructions more per
        // `GET /` by cachegrind, more than the calls save.
        for chunk in content.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// `n` in decimal digits, written at the end of `digits`, without the
/// formatting machinery (`to_string`), which is a large part of a small
/// page's cost in WebAssembly.
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
}

/// `wasi:http/types.[static]fields.from-list` over borrowed names and
/// values: the same call the generated binding makes, without an owned
/// `String` and `Vec` per field, and with the list laid out as it is
/// collected. Every name must be UTF-8 (a `HeaderName` is ASCII).
fn fields_from_list<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Result<Fields, HeaderError> {
    /// One `tuple<field-name, field-value>` in the canonical ABI: two
    /// (pointer, length) pairs.
    #[repr(C)]
    struct Entry {
        name: *const u8,
        name_len: usize,
        value: *const u8,
        value_len: usize,
    }
    /// `result<fields, header-error>`: a discriminant byte, then the
    /// handle or the error's case at offset 4.
    #[repr(C, align(4))]
    struct RetArea([u8; 8]);

    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "wasi:http/types@0.2.12")]
    unsafe extern "C" {
        #[link_name = "[static]fields.from-list"]
        fn from_list(entries: *const Entry, len: usize, ret: *mut RetArea);
    }
    #[cfg(not(target_arch = "wasm32"))]
    unsafe extern "C" fn from_list(_: *const Entry, _: usize, _: *mut RetArea) {
        unreachable!("wasi:http is only imported by the wasm32 component")
    }

    let list: Vec<Entry> = entries
        .map(|(name, value)| Entry {
            name: name.as_ptr(),
            name_len: name.len(),
            value: value.as_ptr(),
            value_len: value.len(),
        })
        .collect();
    let mut ret = RetArea([0; 8]);
    // SAFETY: `list` and every slice it points into outlive the call,
    // which only reads them; the host writes the result into `ret`, laid
    // out as the canonical ABI lays out `result<fields, header-error>`.
    unsafe { from_list(list.as_ptr(), list.len(), &mut ret) };
    let payload = i32::from_le_bytes([ret.0[4], ret.0[5], ret.0[6], ret.0[7]]);
    match ret.0[0] {
        // SAFETY: the host has just handed this handle over.
        0 => Ok(unsafe { Fields::from_handle(payload as u32) }),
        _ => Err(match ret.0[4] {
            0 => HeaderError::InvalidSyntax,
            1 => HeaderError::Forbidden,
            _ => HeaderError::Immutable,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_writes_what_to_string_writes() {
        let mut digits = [0; 20];
        for n in [0, 7, 10, 2228, 65_536, 1_000_000_007, usize::MAX] {
            assert_eq!(decimal(n, &mut digits), n.to_string().as_bytes());
        }
    }
}
