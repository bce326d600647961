//! cranelift-codegen as patched in `vendor/cranelift-codegen` (PATCHED.md):
//! on x64, an `i64x2.mul` of two operands masked to their lanes' lower
//! halves is one `pmuludq`, and an `i8x16.shuffle` taking no lane from its
//! second operand is one `pshufb` of the first. Each shape, and the shapes
//! around it that must keep the published lowering, gives what WebAssembly
//! specifies over edge and pseudo-random inputs; the functions' machine code
//! shows which lowering each got. (WebAssembly's lane indices stop at 31, so
//! the zero lanes CLIF gives for larger ones are not reachable from here.)

use wasmtime::{Engine, Instance, Module, Store, TypedFunc, V128};

const LOW_HALVES: &str = "(v128.const i64x2 0xffffffff 0xffffffff)";
const OTHER_MASK: &str = "(v128.const i64x2 0x1ffffffff 0xffffffff)";
/// A rotation of each 64-bit lane right by 24 bits, as argon2's block
/// function spells it.
const ROTR24: &str = "3 4 5 6 7 0 1 2 11 12 13 14 15 8 9 10";
/// Lanes of both operands.
const BOTH: &str = "0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31";
/// The first operand's bytes in reverse order.
const REVERSED: &str = "15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0";

fn module_text() -> String {
    let mul = |name: &str, x: String, y: String| {
        format!("(func ${name} (export \"{name}\") (param v128 v128) (result v128) (i64x2.mul {x} {y}))")
    };
    let shuffle = |name: &str, lanes: &str, second: u32| {
        format!(
            "(func ${name} (export \"{name}\") (param v128 v128) (result v128) \
             (i8x16.shuffle {lanes} (local.get 0) (local.get {second})))"
        )
    };
    let masked = |local: u32| format!("(v128.and (local.get {local}) {LOW_HALVES})");
    [
        mul("masked_both", masked(0), masked(1)),
        mul(
            "masked_both_mask_first",
            format!("(v128.and {LOW_HALVES} (local.get 0))"),
            format!("(v128.and {LOW_HALVES} (local.get 1))"),
        ),
        mul("masked_one", masked(0), "(local.get 1)".into()),
        mul(
            "masked_other",
            format!("(v128.and (local.get 0) {OTHER_MASK})"),
            format!("(v128.and (local.get 1) {OTHER_MASK})"),
        ),
        mul("plain", "(local.get 0)".into(), "(local.get 1)".into()),
        shuffle("rotr24_other", ROTR24, 1),
        shuffle("rotr24_same", ROTR24, 0),
        shuffle("both", BOTH, 1),
        shuffle("reversed", REVERSED, 1),
    ]
    .into_iter()
    .fold("(module".to_owned(), |module, func| module + "\n  " + &func)
        + ")"
}

struct Compiled {
    module: Module,
    store: Store<()>,
    instance: Instance,
}

impl Compiled {
    fn new() -> Self {
        let engine = Engine::default();
        let wasm = wat::parse_str(module_text()).expect("the module parses");
        let module = Module::new(&engine, wasm).expect("the module compiles");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
        Compiled {
            module,
            store,
            instance,
        }
    }

    fn func(&mut self, name: &str) -> TypedFunc<(V128, V128), V128> {
        self.instance
            .get_typed_func(&mut self.store, name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn call(&mut self, name: &str, x: u128, y: u128) -> u128 {
        let f = self.func(name);
        f.call(&mut self.store, (x.into(), y.into()))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into()
    }

    /// The length of `name`'s machine code, in bytes.
    fn code_len(&self, name: &str) -> usize {
        self.module
            .functions()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no function {name}"))
            .len
    }
}

fn lanes64(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

fn from_lanes64(l: [u64; 2]) -> u128 {
    u128::from(l[0]) | (u128::from(l[1]) << 64)
}

fn mul_lanes(x: u128, y: u128, mx: u64, my: u64) -> u128 {
    let (x, y) = (lanes64(x), lanes64(y));
    from_lanes64([0, 1].map(|i| (x[i] & mx).wrapping_mul(y[i] & my)))
}

fn shuffle(lanes: &str, x: u128, y: u128) -> u128 {
    let bytes: Vec<u8> = x.to_le_bytes().into_iter().chain(y.to_le_bytes()).collect();
    let out: Vec<u8> = lanes
        .split(' ')
        .map(|i| bytes[i.parse::<usize>().expect("a lane index")])
        .collect();
    u128::from_le_bytes(out.try_into().expect("16 lanes"))
}

/// Pairs of vectors whose lanes are edge values (zero, one, the halves'
/// limits, the top bit, all ones) and pseudo-random (xorshift, fixed seed).
fn inputs() -> Vec<(u128, u128)> {
    let edges = [
        0,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_ffff_ffff,
        0x8000_0000,
        0x8000_0000_0000_0000,
        0xdead_beef_cafe_f00d,
        u64::MAX,
    ];
    let mut pairs = Vec::new();
    for &a in &edges {
        for &b in &edges {
            pairs.push((from_lanes64([a, b]), from_lanes64([b, a])));
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2_000 {
        let x = from_lanes64([next(), next()]);
        let y = from_lanes64([next(), next()]);
        pairs.push((x, y));
    }
    pairs
}

#[test]
fn multiplications_of_masked_lanes_give_what_webassembly_specifies() {
    let mut compiled = Compiled::new();
    let low = 0xffff_ffff;
    for (x, y) in inputs() {
        for (name, want) in [
            ("masked_both", mul_lanes(x, y, low, low)),
            ("masked_both_mask_first", mul_lanes(x, y, low, low)),
            ("masked_one", mul_lanes(x, y, low, u64::MAX)),
            ("masked_other", {
                let (mx, my) = (0x1_ffff_ffff, 0x1_ffff_ffff);
                let (lx, ly) = (lanes64(x), lanes64(y));
                // The other mask differs between the lanes.
                from_lanes64([
                    (lx[0] & mx).wrapping_mul(ly[0] & my),
                    (lx[1] & low).wrapping_mul(ly[1] & low),
                ])
            }),
            ("plain", mul_lanes(x, y, u64::MAX, u64::MAX)),
        ] {
            assert_eq!(compiled.call(name, x, y), want, "{name}({x:#x}, {y:#x})");
        }
    }
}

#[test]
fn shuffles_of_one_vector_give_what_webassembly_specifies() {
    let mut compiled = Compiled::new();
    for (x, y) in inputs() {
        for (name, lanes, second) in [
            ("rotr24_other", ROTR24, y),
            ("rotr24_same", ROTR24, x),
            ("both", BOTH, y),
            ("reversed", REVERSED, y),
        ] {
            let want = shuffle(lanes, x, second);
            assert_eq!(compiled.call(name, x, y), want, "{name}({x:#x}, {y:#x})");
        }
        let rotated = lanes64(x).map(|l| l.rotate_right(24));
        assert_eq!(compiled.call("rotr24_other", x, y), from_lanes64(rotated));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_patched_lowerings_are_the_ones_compiled() {
    let compiled = Compiled::new();
    let len = |name| compiled.code_len(name);
    // One `pmuludq`, against one mask and the long-hand multiplication (and
    // the published lowering of both masks, longer still).
    assert!(
        len("masked_both") < len("masked_one"),
        "both masked: {} bytes, one masked: {} bytes",
        len("masked_both"),
        len("masked_one")
    );
    assert_eq!(len("masked_both"), len("masked_both_mask_first"));
    assert!(len("masked_other") > len("masked_both"));
    // One `pshufb` whatever the unused operand is, against two and a `por`
    // when both operands give lanes.
    assert_eq!(len("rotr24_other"), len("rotr24_same"));
    assert!(
        len("rotr24_other") < len("both"),
        "one vector: {} bytes, both: {} bytes",
        len("rotr24_other"),
        len("both")
    );
    assert_eq!(len("reversed"), len("rotr24_same"));
}
