//! argon2 in the component is the patched crate of `vendor/argon2`: a
//! WebAssembly SIMD block function where the published code is portable.
//! Built for wasm32-wasip2 as the workspace builds every wasm target (with
//! SIMD), it must give exactly the published code's outputs, computed here
//! natively, over every type, version and shape of a grid of parameters.

use customer_web_e2e::support::argon2_command::Argon2Command;

#[test]
fn argon2_in_wasm_with_simd_gives_the_published_codes_outputs() {
    let in_wasm = Argon2Command::new(wasmtime::Engine::default()).run(&[]);
    let native = customer_web_argon2_vectors::vectors();
    assert_eq!(in_wasm.lines().count(), native.lines().count());
    for (wasm_line, native_line) in in_wasm.lines().zip(native.lines()) {
        assert_eq!(wasm_line, native_line, "wasm (first) against native (second)");
    }
}
