//! argon2 in the component is the patched crate of `vendor/argon2`: a
//! WebAssembly SIMD block function where the published code is portable.
//! Built for wasm32-wasip2 as the workspace builds every wasm target (with
//! SIMD), it must give exactly the published code's outputs, computed here
//! natively, over every type, version and shape of a grid of parameters.

use std::path::Path;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

#[test]
fn argon2_in_wasm_with_simd_gives_the_published_codes_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root");
    let wasm = customer_web_wasm_cargo::ARGON2_VECTORS
        .run(root)
        .unwrap_or_else(|e| panic!("{e}"));

    let engine = Engine::default();
    let component = Component::from_file(&engine, &wasm).expect("the vectors command");
    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI");
    let stdout = MemoryOutputPipe::new(1 << 20);
    let wasi = WasiCtx::builder().stdout(stdout.clone()).build();
    let mut store = Store::new(
        &engine,
        Ctx {
            wasi,
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker).expect("instantiated");
    command
        .wasi_cli_run()
        .call_run(&mut store)
        .expect("ran")
        .expect("exited 0");
    drop(store);
    let in_wasm = String::from_utf8(stdout.contents().to_vec()).expect("UTF-8");

    let native = customer_web_argon2_vectors::vectors();
    assert_eq!(in_wasm.lines().count(), native.lines().count());
    for (wasm_line, native_line) in in_wasm.lines().zip(native.lines()) {
        assert_eq!(wasm_line, native_line, "wasm (first) against native (second)");
    }
}
