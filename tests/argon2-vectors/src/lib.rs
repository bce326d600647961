//! Full argon2 outputs over a grid of parameters, one line each: every
//! type (Argon2id, Argon2i, Argon2d) and version (0x13, 0x10) up to 1 MiB,
//! Argon2id 0x13 up to the component's 19 MiB; t 1–3, p 1–2, 32- and
//! 64-byte outputs. Natively this runs the published argon2 code; built
//! for wasm32-wasip2 (with SIMD, as the workspace builds it), the patched
//! block function of `vendor/argon2`. The e2e suite runs both and compares
//! them (`tests/tests/argon2.rs`).

use argon2::{Algorithm, Argon2, Params, Version};

/// The grid's outputs, one line per hash: parameters, inputs, hex output.
pub fn vectors() -> String {
    let types = [
        (Algorithm::Argon2id, "id"),
        (Algorithm::Argon2i, "i"),
        (Algorithm::Argon2d, "d"),
    ];
    let versions = [(Version::V0x13, "13"), (Version::V0x10, "10")];
    let mut lines = String::new();
    let mut k = 0u32;
    for m in [8u32, 16, 33, 64, 257, 1024, 4096, 19456] {
        for t in 1..=3u32 {
            for p in 1..=2u32 {
                if m < 8 * p {
                    continue;
                }
                for (i, (algorithm, a)) in types.iter().enumerate() {
                    for (j, (version, v)) in versions.iter().enumerate() {
                        // Every type and version on small memories; the
                        // component's own (Argon2id 0x13) on large ones.
                        if m > 1024 && (i, j) != (0, 0) {
                            continue;
                        }
                        k += 1;
                        let password = format!("password-{k}-{m}");
                        let salt = format!("somesalt{:08x}", k.wrapping_mul(2_654_435_761));
                        let length = if k.is_multiple_of(3) { 64 } else { 32 };
                        let params = Params::new(m, t, p, Some(length)).expect("valid parameters");
                        let mut out = vec![0u8; length];
                        Argon2::new(*algorithm, *version, params)
                            .hash_password_into(password.as_bytes(), salt.as_bytes(), &mut out)
                            .expect("hashed");
                        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
                        lines.push_str(&format!(
                            "{a} v{v} m={m} t={t} p={p} pw={password} salt={salt} {hex}\n"
                        ));
                    }
                }
            }
        }
    }
    lines
}

/// One argon2id (version 0x13) with the component's parameters (m=19 MiB,
/// t=2, p=1, 32 bytes), hex.
pub fn one_hash() -> String {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).expect("valid parameters");
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(b"correct horse battery", b"somesaltsomesalt", &mut out)
        .expect("argon2id");
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_grid_has_every_combination_once() {
        let vectors = super::vectors();
        assert_eq!(vectors.lines().count(), 210);
        // The grid's first inputs, as the comparison expects them.
        let first = vectors.lines().next().expect("a line");
        assert!(
            first.starts_with("id v13 m=8 t=1 p=1 pw=password-1-8 salt=somesalt9e3779b1 "),
            "{first}"
        );
    }
}
