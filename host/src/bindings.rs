//! The host side of the `customer-web:plugin` WIT package. Every import is
//! trappable: the outer `Result` of a host function is a trap (a host bug),
//! the inner one is the guest's error (a capability fault it handles).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // No `tracing` here: it would log import arguments (mail bodies with
    // their links, identities). The hand-written spans in `imports/` carry
    // no argument that could hold a secret.
    imports: { default: trappable },
    additional_derives: [PartialEq],
});
