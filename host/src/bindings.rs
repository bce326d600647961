//! The host side of the `customer-web:plugin` WIT package. Every import is
//! trappable: the outer `Result` of a host function is a trap (a host bug),
//! the inner one is the guest's error (a capability fault it handles).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: trappable | tracing },
    additional_derives: [PartialEq],
});
