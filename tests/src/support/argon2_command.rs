//! The argon2 vectors command (`tests/argon2-vectors`) built for
//! wasm32-wasip2 as the workspace builds every wasm target (with SIMD, the
//! patched block function of `vendor/argon2`), run in a fresh instance per
//! call: the suite compares its outputs with the published code's
//! natively, and `--bench flows` times one argon2id in it.

use std::path::Path;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
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

/// The command, compiled and linked on an engine.
pub struct Argon2Command {
    engine: Engine,
    command: CommandPre<Ctx>,
}

impl Argon2Command {
    /// Builds the command (cargo, `target/vectors`) and links it with WASI
    /// on `engine`.
    pub fn new(engine: Engine) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ sits in the workspace root");
        let wasm = customer_web_wasm_cargo::ARGON2_VECTORS
            .run(root)
            .unwrap_or_else(|e| panic!("{e}"));
        let component = Component::from_file(&engine, &wasm).expect("the vectors command");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI");
        let pre = linker.instantiate_pre(&component).expect("links");
        let command = CommandPre::new(pre).expect("a command");
        Argon2Command { engine, command }
    }

    /// Runs the command with `args` in a fresh instance; what it printed.
    pub fn run(&self, args: &[&str]) -> String {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let mut argv = vec!["argon2-vectors"];
        argv.extend_from_slice(args);
        let wasi = WasiCtx::builder().args(&argv).stdout(stdout.clone()).build();
        let ctx = Ctx {
            wasi,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, ctx);
        // An engine with epoch interruption (the host's) would stop the
        // command at once without a deadline; it has none of its own.
        store.set_epoch_deadline(u64::MAX / 2);
        let command = self.command.instantiate(&mut store).expect("instantiated");
        command
            .wasi_cli_run()
            .call_run(&mut store)
            .expect("ran")
            .expect("exited 0");
        drop(store);
        String::from_utf8(stdout.contents().to_vec()).expect("UTF-8")
    }
}
