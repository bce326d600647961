//! The customer-web WebAssembly component: a thin adapter that binds the
//! flow core's ports to the component's WIT imports and exposes the flows
//! as its WIT exports. All logic lives in `customer-web-core`.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
    });
}

mod convert;
mod exports;
mod ports;

struct Component;

bindings::export!(Component with_types_in bindings);
