//! wasmtime-environ as patched in `vendor/wasmtime-environ` (PATCHED.md):
//! a compiled-function lookup scans only its own kind's namespaces. Every
//! key of a table spanning every kind of function, with sparse modules and
//! gaps, is looked up in the table as built and as deserialized (the way a
//! precompiled component is loaded), and keys the table lacks are not found.

use wasmtime_environ::component::{TrampolineIndex, UnsafeIntrinsic};
use wasmtime_environ::{
    Abi, BuiltinFunctionIndex, CompiledFunctionsTable, CompiledFunctionsTableBuilder, DefinedFuncIndex,
    FilePos, FuncKey, FunctionLoc, ModuleInternedTypeIndex, StaticModuleIndex,
};

fn defined(module: u32, func: u32) -> FuncKey {
    FuncKey::DefinedWasmFunction(
        StaticModuleIndex::from_u32(module),
        DefinedFuncIndex::from_u32(func),
    )
}

fn array_to_wasm(module: u32, func: u32) -> FuncKey {
    FuncKey::ArrayToWasmTrampoline(
        StaticModuleIndex::from_u32(module),
        DefinedFuncIndex::from_u32(func),
    )
}

/// Keys of every kind a component's table holds: defined functions of
/// modules 0, 1, 3 and 40 with gaps in their indices, sparse trampolines,
/// component trampolines of both ABIs, intrinsics and module start-ups.
fn present() -> Vec<FuncKey> {
    let mut keys = Vec::new();
    for (module, funcs) in [
        (0, &[0, 1, 2, 5][..]),
        (1, &[0][..]),
        (3, &[1, 2, 9][..]),
        (40, &[0, 3][..]),
    ] {
        keys.extend(funcs.iter().map(|&f| defined(module, f)));
    }
    keys.extend([
        array_to_wasm(0, 1),
        array_to_wasm(0, 5),
        array_to_wasm(3, 9),
        array_to_wasm(40, 0),
    ]);
    keys.extend([0, 2, 5].map(|t| FuncKey::WasmToArrayTrampoline(ModuleInternedTypeIndex::from_u32(t))));
    keys.extend([0, 4].map(|b| FuncKey::WasmToBuiltinTrampoline(BuiltinFunctionIndex::from_u32(b))));
    keys.extend((0..5).map(|t| FuncKey::ComponentTrampoline(Abi::Wasm, TrampolineIndex::from_u32(t))));
    keys.extend([0, 1, 3].map(|t| FuncKey::ComponentTrampoline(Abi::Array, TrampolineIndex::from_u32(t))));
    keys.push(FuncKey::ResourceDropTrampoline);
    keys.push(FuncKey::UnsafeIntrinsic(Abi::Array, UnsafeIntrinsic::from_u32(0)));
    keys.push(FuncKey::ModuleStartup(Abi::Wasm, StaticModuleIndex::from_u32(1)));
    keys.push(FuncKey::ModuleStartup(Abi::Array, StaticModuleIndex::from_u32(3)));
    keys.sort();
    keys
}

/// Keys of the same kinds the table does not hold: other modules, the
/// gaps, indices past the end, the other ABI.
fn absent() -> Vec<FuncKey> {
    vec![
        defined(0, 3),
        defined(0, 4),
        defined(0, 6),
        defined(2, 0),
        defined(3, 0),
        defined(41, 0),
        array_to_wasm(0, 0),
        array_to_wasm(1, 0),
        array_to_wasm(3, 10),
        FuncKey::WasmToArrayTrampoline(ModuleInternedTypeIndex::from_u32(1)),
        FuncKey::WasmToArrayTrampoline(ModuleInternedTypeIndex::from_u32(6)),
        FuncKey::WasmToBuiltinTrampoline(BuiltinFunctionIndex::from_u32(1)),
        FuncKey::PatchableToBuiltinTrampoline(BuiltinFunctionIndex::from_u32(0)),
        FuncKey::ComponentTrampoline(Abi::Wasm, TrampolineIndex::from_u32(5)),
        FuncKey::ComponentTrampoline(Abi::Array, TrampolineIndex::from_u32(2)),
        FuncKey::ComponentTrampoline(Abi::Patchable, TrampolineIndex::from_u32(0)),
        FuncKey::UnsafeIntrinsic(Abi::Wasm, UnsafeIntrinsic::from_u32(0)),
        FuncKey::ModuleStartup(Abi::Array, StaticModuleIndex::from_u32(1)),
        FuncKey::ModuleStartup(Abi::Wasm, StaticModuleIndex::from_u32(2)),
    ]
}

fn loc(i: usize) -> FunctionLoc {
    let start = u32::try_from(i).unwrap() * 32;
    FunctionLoc { start, length: 16 }
}

/// Source positions where the kind keeps them (defined functions).
fn src(key: FuncKey, i: usize) -> FilePos {
    match key {
        FuncKey::DefinedWasmFunction(..) => FilePos::new(1000 + u32::try_from(i).unwrap()),
        _ => FilePos::none(),
    }
}

fn built() -> CompiledFunctionsTable {
    let mut builder = CompiledFunctionsTableBuilder::new();
    for (i, key) in present().into_iter().enumerate() {
        builder.push_func(key, loc(i), src(key, i));
    }
    builder.finish()
}

fn check(table: &CompiledFunctionsTable, how: &str) {
    for (i, key) in present().into_iter().enumerate() {
        assert_eq!(table.func_loc(key), Some(&loc(i)), "{how}: {key:?}");
        assert_eq!(
            table.src_loc(key),
            src(key, i).file_offset().map(|_| src(key, i)),
            "{how}: {key:?}"
        );
        assert_eq!(
            table.func_by_text_offset(loc(i).start + 3),
            Some(key),
            "{how}: {key:?}"
        );
    }
    for key in absent() {
        assert_eq!(table.func_loc(key), None, "{how}: {key:?} is not in the table");
    }
}

#[test]
fn every_kind_of_function_is_found_where_it_was_put_and_no_other() {
    check(&built(), "as built");
}

#[test]
fn a_deserialized_table_finds_the_same_functions_and_serializes_to_the_same_bytes() {
    let table = built();
    let bytes = postcard::to_allocvec(&table).expect("serialize");
    let loaded: CompiledFunctionsTable = postcard::from_bytes(&bytes).expect("deserialize");
    check(&loaded, "deserialized");
    assert_eq!(postcard::to_allocvec(&loaded).expect("serialize again"), bytes);
}
