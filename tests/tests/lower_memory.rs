//! wasmtime as patched in `vendor/wasmtime` (PATCHED.md): a lowering
//! context finds the definition of the memory it writes into once, and
//! reads the memory's base and length from it at each write. A component
//! whose `realloc` grows the memory for every allocation, and hands out
//! only the newly grown part, shows that strings lowered into it arrive
//! whole: a string argument of an export and a string returned by an
//! import, on an engine whose memory may move when it grows, on the
//! default engine and in a pooled slot used by one instance after another.

use wasmtime::component::{Component, Linker, TypedFunc};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

const COMPONENT: &str = r#"
(component
  (import "give" (func $give (result string)))
  (core module $libc
    (memory (export "memory") 1)
    ;; Every allocation starts at the memory's end as it was, and grows
    ;; the memory by enough pages for it: a write that used the length
    ;; from before the call would fall outside the memory.
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.mul (memory.size) (i32.const 65536)))
      (if (i32.eq
            (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1)))
            (i32.const -1))
        (then unreachable))
      (local.get $at)))
  (core instance $libc (instantiate $libc))
  (core func $give (canon lower (func $give)
    (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (core module $main
    (import "libc" "memory" (memory 1))
    (import "host" "give" (func $give (param i32)))
    ;; A digest of a string: the sum of its bytes, plus its length in
    ;; 64 KiB units times 2^24 (all modulo 2^32).
    (func $digest (param $ptr i32) (param $len i32) (result i32)
      (local $i i32) (local $sum i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
          (local.set $sum (i32.add (local.get $sum)
            (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (i32.add (local.get $sum) (i32.shl (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 24))))
    (func (export "digest") (param i32 i32) (result i32)
      (call $digest (local.get 0) (local.get 1)))
    ;; The import's string through a return area at 0.
    (func (export "digest-given") (result i32)
      (call $give (i32.const 0))
      (call $digest (i32.load (i32.const 0)) (i32.load (i32.const 4))))
    (func (export "pages") (result i32) (memory.size)))
  (core instance $main (instantiate $main
    (with "libc" (instance $libc))
    (with "host" (instance (export "give" (func $give))))))
  (func (export "digest") (param "s" string) (result u32)
    (canon lift (core func $main "digest")
      (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (func (export "digest-given") (result u32)
    (canon lift (core func $main "digest-given")))
  (func (export "pages") (result u32)
    (canon lift (core func $main "pages"))))
"#;

/// The string the host's `give` returns: 150,000 bytes, over two pages.
fn given() -> String {
    "給".repeat(50_000)
}

/// What the component's `digest` answers for `s`.
fn digest(s: &str) -> u32 {
    let sum = s.bytes().fold(0u32, |sum, b| sum.wrapping_add(u32::from(b)));
    sum.wrapping_add(u32::try_from(s.len() >> 16).unwrap() << 24)
}

struct Exports {
    digest: TypedFunc<(String,), (u32,)>,
    digest_given: TypedFunc<(), (u32,)>,
    pages: TypedFunc<(), (u32,)>,
}

fn instantiate(engine: &Engine, component: &Component) -> (Store<()>, Exports) {
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker
        .root()
        .func_wrap("give", |_, (): ()| Ok((given(),)))
        .unwrap();
    let instance = linker.instantiate(&mut store, component).expect("instantiation");
    let exports = Exports {
        digest: instance.get_typed_func(&mut store, "digest").unwrap(),
        digest_given: instance.get_typed_func(&mut store, "digest-given").unwrap(),
        pages: instance.get_typed_func(&mut store, "pages").unwrap(),
    };
    (store, exports)
}

/// Lowers strings of several sizes into a fresh instance, both ways, and
/// checks what the component read and how far its memory grew.
fn lowers_whole(engine: &Engine) {
    let component = Component::new(engine, wat::parse_str(COMPONENT).unwrap()).unwrap();
    let (mut store, exports) = instantiate(engine, &component);
    let mut pages = 1;
    for s in ["", "a", &"ア".repeat(30_000), &"z".repeat(200_000)] {
        let (got,) = exports.digest.call(&mut store, (s.to_owned(),)).expect("digest");
        assert_eq!(got, digest(s), "a string of {} bytes", s.len());
        pages += s.len() / 65536 + 1;
        let (now,) = exports.pages.call(&mut store, ()).unwrap();
        assert_eq!(now as usize, pages, "one realloc per string");
    }
    let (got,) = exports.digest_given.call(&mut store, ()).expect("digest-given");
    assert_eq!(got, digest(&given()));
}

#[test]
fn strings_lowered_into_a_memory_that_moves_as_it_grows_arrive_whole() {
    let mut config = Config::new();
    config
        .memory_reservation(0)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_may_move(true);
    lowers_whole(&Engine::new(&config).unwrap());
}

#[test]
fn strings_lowered_into_a_growing_memory_arrive_whole() {
    lowers_whole(&Engine::default());
}

#[test]
fn strings_lowered_into_a_reused_pooled_slot_arrive_whole() {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1)
        .total_core_instances(2)
        .total_memories(1)
        .total_tables(1)
        .max_memory_size(1 << 24);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).unwrap();
    for _ in 0..3 {
        lowers_whole(&engine);
    }
}
