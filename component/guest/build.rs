//! Link options of the component.

/// The component's stack: a quarter of the default mebibyte. A page of
/// the screens touches less than 4 KiB of it (read from the host's page
/// map after `GET /`), and every flow, argon2id's included, runs in it
/// (the e2e suite, the flows bench). The stack is the start of linear
/// memory, so an overflow traps rather than writing over data; and every
/// page of it is one a host scans for writes to reset after each request:
/// 768 KiB less is 192 page-table entries fewer per request.
const STACK_BYTES: u32 = 256 * 1024;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}
