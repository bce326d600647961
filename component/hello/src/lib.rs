//! A hello-world `wasi:http/incoming-handler`: every request gets 200 and
//! `hello`. The HTTP benchmark (`tests/benches/http.rs`) serves it through
//! the same host as the customer-web component, so its figures are the
//! ceiling for a component answering over that host: a fresh instance per
//! request, no storage, nothing rendered.

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".into(), b"text/plain; charset=utf-8".to_vec())])
            .unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let Ok(body) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            let _ = stream.blocking_write_and_flush(b"hello");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Hello);
