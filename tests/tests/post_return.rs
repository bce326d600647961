//! wasmtime as patched in `vendor/wasmtime` (PATCHED.md): a post-return
//! function is looked up at the first call of its export rather than at
//! instantiation. A component with two string-returning exports, each with
//! its own post-return (one adds 1 to a counter, the other 100), shows that
//! every call runs its own export's post-return exactly once, in a fresh
//! instance and in one called many times, and that an instance reusing a
//! pooled slot never runs a post-return looked up by the instance before.

use wasmtime::component::{Component, Linker, TypedFunc};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

const COMPONENT: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (global $count (mut i32) (i32.const 0))
    (data (i32.const 16) "hello")
    ;; Both return the string at 16 through the return area at 0.
    (func (export "one") (result i32)
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 5))
      (i32.const 0))
    (func (export "hundred") (result i32)
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 5))
      (i32.const 0))
    (func (export "post-one") (param i32)
      (global.set $count (i32.add (global.get $count) (i32.const 1))))
    (func (export "post-hundred") (param i32)
      (global.set $count (i32.add (global.get $count) (i32.const 100))))
    (func (export "count") (result i32) (global.get $count)))
  (core instance $i (instantiate $m))
  (func (export "one") (result string)
    (canon lift (core func $i "one") (memory (core memory $i "memory")) (post-return (core func $i "post-one"))))
  (func (export "hundred") (result string)
    (canon lift (core func $i "hundred") (memory (core memory $i "memory"))
      (post-return (core func $i "post-hundred"))))
  (func (export "count") (result u32)
    (canon lift (core func $i "count"))))
"#;

struct Exports {
    one: TypedFunc<(), (String,)>,
    hundred: TypedFunc<(), (String,)>,
    count: TypedFunc<(), (u32,)>,
}

/// An engine whose pool holds one component instance, so that each
/// instance takes the slot (and the context memory) of the one before.
fn engine() -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1)
        .total_core_instances(1)
        .total_memories(1)
        .total_tables(1)
        .max_memory_size(1 << 16);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("engine")
}

fn instantiate(engine: &Engine, component: &Component) -> (Store<()>, Exports) {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine)
        .instantiate(&mut store, component)
        .expect("instantiation");
    let exports = Exports {
        one: instance.get_typed_func(&mut store, "one").unwrap(),
        hundred: instance.get_typed_func(&mut store, "hundred").unwrap(),
        count: instance.get_typed_func(&mut store, "count").unwrap(),
    };
    (store, exports)
}

fn call(store: &mut Store<()>, f: &TypedFunc<(), (String,)>) {
    let (s,) = f.call(&mut *store, ()).expect("the call");
    assert_eq!(s, "hello");
}

fn count(store: &mut Store<()>, exports: &Exports) -> u32 {
    exports.count.call(&mut *store, ()).expect("count").0
}

#[test]
fn each_call_runs_its_own_exports_post_return_once() {
    let engine = engine();
    let component = Component::new(&engine, wat::parse_str(COMPONENT).unwrap()).unwrap();

    let (mut store, exports) = instantiate(&engine, &component);
    assert_eq!(
        count(&mut store, &exports),
        0,
        "no post-return runs at instantiation"
    );
    call(&mut store, &exports.one);
    assert_eq!(count(&mut store, &exports), 1);
    call(&mut store, &exports.hundred);
    call(&mut store, &exports.one);
    call(&mut store, &exports.hundred);
    assert_eq!(
        count(&mut store, &exports),
        202,
        "each export's own, once per call"
    );
}

#[test]
fn an_instance_in_a_reused_slot_looks_its_post_returns_up_afresh() {
    let engine = engine();
    let component = Component::new(&engine, wat::parse_str(COMPONENT).unwrap()).unwrap();

    // The first instance looks both post-returns up, in the only slot.
    let (mut first, exports) = instantiate(&engine, &component);
    call(&mut first, &exports.one);
    call(&mut first, &exports.hundred);
    assert_eq!(count(&mut first, &exports), 101);
    drop(first);

    // The next instance takes the same slot: its post-returns are its own
    // (a reference kept from the instance before would add to a counter
    // that no longer exists, and leave this one at 0).
    for _ in 0..3 {
        let (mut store, exports) = instantiate(&engine, &component);
        call(&mut store, &exports.hundred);
        assert_eq!(count(&mut store, &exports), 100);
        call(&mut store, &exports.one);
        assert_eq!(count(&mut store, &exports), 101);
    }
}
