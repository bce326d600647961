//! Hand-written `simd128` implementation of the Argon2 compression function `G`
//! for `wasm32`, modelled on the reference implementation's SSE path
//! (`opt.c` / `blamka-round-opt.h`): each `v128` holds two consecutive `u64`
//! words of the block, so a 1 KiB block is 64 vectors laid out as 8 rows of 8.

use crate::Block;
use core::arch::wasm32::*;

/// `x + y + 2 * lo32(x) * lo32(y)` lane-wise (the BlaMka "multiply-add").
#[inline(always)]
fn fblamka(x: v128, y: v128) -> v128 {
    let m = mul_lo32(x, y);
    i64x2_add(i64x2_add(x, y), i64x2_add(m, m))
}

/// Lane-wise `lo32(x) * lo32(y)` as u64: a masked 64-bit multiply, which
/// Cranelift lowers to one `vpmullq` where AVX-512 is there (and to three
/// `pmuludq` elsewhere). A widening `u64x2.extmul_low_u32x4` after a lane
/// shuffle measured the same or slower.
#[inline(always)]
fn mul_lo32(x: v128, y: v128) -> v128 {
    let mask = u64x2_splat(0xffff_ffff);
    i64x2_mul(v128_and(x, mask), v128_and(y, mask))
}

#[inline(always)]
fn rotr32(x: v128) -> v128 {
    i32x4_shuffle::<1, 0, 3, 2>(x, x)
}

#[inline(always)]
fn rotr24(x: v128) -> v128 {
    i8x16_shuffle::<3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10>(x, x)
}

#[inline(always)]
fn rotr16(x: v128) -> v128 {
    i8x16_shuffle::<2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9>(x, x)
}

#[inline(always)]
fn rotr63(x: v128) -> v128 {
    v128_xor(u64x2_shr(x, 63), i64x2_add(x, x))
}

/// (x.hi, y.lo): `palignr` / `i64x2.shuffle(1, 2)`.
#[inline(always)]
fn hi_lo(x: v128, y: v128) -> v128 {
    i64x2_shuffle::<1, 2>(x, y)
}

/// `N` independent rounds (rows or columns), interleaved step by step for ILP.
#[inline(always)]
fn round_n<const N: usize>(v: &mut [[v128; 8]; N]) {
    macro_rules! each {
        ($s:ident => $($body:tt)*) => { for k in 0..N { let $s = &mut v[k]; $($body)* } };
    }
    // index map inside a row: a0=0 a1=1 b0=2 b1=3 c0=4 c1=5 d0=6 d1=7
    macro_rules! half {
        ($rot_d:ident, $rot_b:ident) => {
            each!(s => s[0] = fblamka(s[0], s[2]); s[1] = fblamka(s[1], s[3]););
            each!(s => s[6] = $rot_d(v128_xor(s[6], s[0])); s[7] = $rot_d(v128_xor(s[7], s[1])););
            each!(s => s[4] = fblamka(s[4], s[6]); s[5] = fblamka(s[5], s[7]););
            each!(s => s[2] = $rot_b(v128_xor(s[2], s[4])); s[3] = $rot_b(v128_xor(s[3], s[5])););
        };
    }
    half!(rotr32, rotr24);
    half!(rotr16, rotr63);
    each!(s => 
        let (b0, b1) = (hi_lo(s[2], s[3]), hi_lo(s[3], s[2]));
        let (d0, d1) = (hi_lo(s[7], s[6]), hi_lo(s[6], s[7]));
        s.swap(4, 5);
        s[2] = b0; s[3] = b1; s[6] = d0; s[7] = d1;
    );
    half!(rotr32, rotr24);
    half!(rotr16, rotr63);
    each!(s => 
        let (b0, b1) = (hi_lo(s[3], s[2]), hi_lo(s[2], s[3]));
        let (d0, d1) = (hi_lo(s[6], s[7]), hi_lo(s[7], s[6]));
        s.swap(4, 5);
        s[2] = b0; s[3] = b1; s[6] = d0; s[7] = d1;
    );
}

/// Rows (then columns) processed together, step by step, so that two
/// independent dependency chains fill the pipeline: measured faster than
/// one or four.
const ILP: usize = 2;

#[inline(always)]
fn load(b: *const Block, i: usize) -> v128 {
    debug_assert!(i < 64);
    // SAFETY: callers pass a pointer derived from a valid `&Block`/`&mut Block`, and `i < 64`
    // at every call site (constant-bounded loops); a `Block` is 128 `u64` = 64 `v128`, and
    // `v128_load` has no alignment requirement.
    unsafe { v128_load(b.cast::<v128>().add(i)) }
}

#[inline(always)]
fn store(b: *mut Block, i: usize, v: v128) {
    debug_assert!(i < 64);
    // SAFETY: see `load`.
    unsafe { v128_store(b.cast::<v128>().add(i), v) }
}

/// Core of `G`: `dst = (if xor { dst } else { 0 }) ^ R ^ P(R)` with `R = rhs ^ lhs`.
///
/// `dst` may alias `rhs` and/or `lhs` (row `i` of the inputs is read before row `i` of `dst`
/// is first written, and the inputs are not read after that).
///
/// # Safety
/// All three pointers must be valid for the accesses above (reads of `rhs`/`lhs`, reads and
/// writes of `dst`), and no other reference to `dst` may be live.
#[inline(always)]
unsafe fn compress_raw<const XOR: bool>(dst: *mut Block, rhs: *const Block, lhs: *const Block) {
    // Intermediate state after the row pass; never read before written.
    let mut q = core::mem::MaybeUninit::<[v128; 64]>::uninit();
    let qp = q.as_mut_ptr().cast::<v128>();

    // Rows: 8 consecutive vectors each. Also stash R (xor the old dst) in `dst`.
    for i0 in (0..8).step_by(ILP) {
        let mut v = [[u64x2_splat(0); 8]; ILP];
        for n in 0..ILP {
            let i = i0 + n;
            for j in 0..8 {
                let k = 8 * i + j;
                let r = v128_xor(load(rhs, k), load(lhs, k));
                v[n][j] = r;
                store(dst, k, if XOR { v128_xor(load(dst, k), r) } else { r });
            }
        }
        round_n(&mut v);
        for n in 0..ILP {
            for j in 0..8 {
                // SAFETY: `8 * (i0 + n) + j < 64`, inside the 64-element array.
                unsafe { qp.add(8 * (i0 + n) + j).write(v[n][j]) };
            }
        }
    }

    // Columns: vector i of each row; final result is xored into `dst`.
    for i0 in (0..8).step_by(ILP) {
        let mut v = [[u64x2_splat(0); 8]; ILP];
        for n in 0..ILP {
            for j in 0..8 {
                // SAFETY: `8 * j + i0 + n < 64`, and every element was written by the row pass.
                v[n][j] = unsafe { qp.add(8 * j + i0 + n).read() };
            }
        }
        round_n(&mut v);
        for n in 0..ILP {
            for j in 0..8 {
                let k = 8 * j + i0 + n;
                store(dst, k, v128_xor(load(dst, k), v[n][j]));
            }
        }
    }
}

/// `G(rhs, lhs)`; same result as the portable `Block::compress`.
#[inline(always)]
pub(crate) fn compress(rhs: &Block, lhs: &Block) -> Block {
    let mut out = core::mem::MaybeUninit::<Block>::uninit();
    // SAFETY: `out` is valid for writes; with `xor = false` it is only read after being
    // written (row pass writes all 64 vectors before the column pass reads them).
    unsafe {
        compress_raw::<false>(out.as_mut_ptr(), rhs, lhs);
        out.assume_init()
    }
}

/// `*dst = G(rhs, lhs)` (or `*dst ^= G(rhs, lhs)` if `xor`), without temporaries/copies.
#[inline(always)]
pub(crate) fn compress_into(dst: &mut Block, rhs: &Block, lhs: &Block, xor: bool) {
    // SAFETY: references are valid and `dst` is exclusive.
    unsafe {
        if xor {
            compress_raw::<true>(dst, rhs, lhs)
        } else {
            compress_raw::<false>(dst, rhs, lhs)
        }
    }
}
