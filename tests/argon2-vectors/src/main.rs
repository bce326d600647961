//! Prints [`customer_web_argon2_vectors::vectors`]: run as a wasm32-wasip2
//! command by the e2e suite.

fn main() {
    print!("{}", customer_web_argon2_vectors::vectors());
}
