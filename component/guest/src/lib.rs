//! The customer-web WebAssembly component: a thin adapter that binds the
//! flow core's ports to the component's WIT imports and exposes the flows
//! as its WIT exports (typed, for portals with their own UI) and as
//! `wasi:http/incoming-handler` (the reference screens and the JSON API).
//! All logic lives in `customer-web-core` and `customer-web-app`.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
    });
}

// The allocator is the component's; natively only its tests build it.
#[cfg(any(test, all(target_arch = "wasm32", not(target_feature = "atomics"))))]
mod alloc;
mod convert;
mod exports;
mod http;
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
mod libc;
mod ports;

struct Component;

bindings::export!(Component with_types_in bindings);
wasip2::http::proxy::export!(Component);
