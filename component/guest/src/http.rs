//! `wasi:http/incoming-handler`: the reference screens. Reads the request
//! (refusing bodies over the screens' limit before reading them whole),
//! hands it to `customer-web-screens`, and writes the response.

use customer_web_screens::{MAX_BODY, Request, Response};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
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
        let response = match read(request, &path_and_query) {
            Ok(request) => customer_web_screens::handle(ports(), request),
            Err(Unreadable::TooLarge) => customer_web_screens::payload_too_large(&path_and_query),
            Err(Unreadable::Broken) => customer_web_screens::bad_request(&path_and_query),
        };
        write(out, response);
    }
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    }
}

fn read(request: IncomingRequest, path_and_query: &str) -> Result<Request, Unreadable> {
    let headers: Vec<(String, String)> = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let declared = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(Unreadable::TooLarge);
    }
    let method = method_name(request.method());
    let body = read_body(&request)?;
    Ok(Request {
        method,
        path_and_query: path_and_query.to_owned(),
        headers,
        body,
    })
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
    IncomingBody::finish(incoming);
    Ok(body)
}

fn write(out: ResponseOutparam, response: Response) {
    let entries: Vec<(String, Vec<u8>)> = response
        .headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    let headers = match Fields::from_list(&entries) {
        Ok(fields) => fields,
        // A header the host refuses is a bug in the screens; answer with a
        // bare error rather than a response missing its security headers.
        Err(_) => {
            let fallback = OutgoingResponse::new(Fields::new());
            let _ = fallback.set_status_code(500);
            ResponseOutparam::set(out, Ok(fallback));
            return;
        }
    };
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        // blocking_write_and_flush takes at most 4096 bytes per call.
        for chunk in response.body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
}
