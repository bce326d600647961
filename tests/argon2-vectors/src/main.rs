//! Prints [`customer_web_argon2_vectors::vectors`]: run as a wasm32-wasip2
//! command by the e2e suite. With the argument `hash`, prints one
//! argon2id with the component's parameters instead
//! ([`customer_web_argon2_vectors::one_hash`]): what the flows bench times
//! in WebAssembly against the same hash natively.

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("hash") => println!("{}", customer_web_argon2_vectors::one_hash()),
        _ => print!("{}", customer_web_argon2_vectors::vectors()),
    }
}
