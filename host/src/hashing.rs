//! Who hashes keywords and passwords: the component in WebAssembly (the
//! default), or this host natively in its stead
//! (`customer-web:plugin/hashing`, [`Hashing::Native`]).
//!
//! The component keeps every decision either way: it chooses argon2id's
//! parameters and salt, writes the stored form and compares in constant
//! time. Native hashing is the same argon2 crate compiled for this
//! machine (with its AVX2 code where the CPU has it), so either side
//! verifies the other's hashes. A component is untrusted input here: the
//! host hashes only within [`BOUNDS`], the memory no larger than an
//! instance's own default limit.

use std::sync::{Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::bindings::customer_web::plugin::hashing::Argon2Params;

/// Who hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hashing {
    /// The component, in WebAssembly: the host answers `none`.
    #[default]
    Component,
    /// This host, natively, on the thread of the calling instance.
    Native,
}

/// The largest parameters the host hashes with.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Memory, in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// Output, in bytes.
    pub output_len: u32,
    /// The secret, in bytes.
    pub secret_len: usize,
    /// The salt, in bytes (argon2 asks at least 8).
    pub salt_len: usize,
}

/// What [`Hashing::Native`] accepts: 64 MiB (an instance's default memory
/// limit), 16 passes, 4 lanes, 64 bytes out; secrets of up to 1 KiB (a
/// password is at most 128 characters, 512 bytes of UTF-8), salts of
/// 8 to 64 bytes.
pub const BOUNDS: Bounds = Bounds {
    m_cost: 64 * 1024,
    t_cost: 16,
    p_cost: 4,
    output_len: 64,
    secret_len: 1024,
    salt_len: 64,
};

/// Why the host did not hash.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// A parameter or input beyond [`BOUNDS`].
    #[error("argon2id parameters beyond the host's bounds: {0}")]
    Refused(&'static str),
    /// argon2 refused the parameters, or its memory could not be had.
    #[error("argon2id could not be computed")]
    Failed,
}

/// argon2's block matrices kept between native hashes: a hash takes one
/// of the right size or makes it, and puts it back. They are never freed,
/// so there are at most as many as hashes ever ran at once (each instance
/// hashes one at a time: at most `max_concurrent` of a host's, each no
/// larger than [`BOUNDS`]), and a hash writes every block before it reads
/// it, so a kept matrix needs no clearing. Reuse spares each hash the
/// page faults of 19 MiB of fresh memory, and the allocator the arenas
/// that freed matrices would otherwise leave behind on each thread.
static MATRICES: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// argon2id (version 0x13) of `secret`, natively, within [`BOUNDS`].
pub fn hash(secret: &[u8], salt: &[u8], p: Argon2Params) -> Result<Vec<u8>, HashError> {
    let b = BOUNDS;
    let refused = if p.m_cost > b.m_cost {
        Some("memory")
    } else if p.t_cost > b.t_cost {
        Some("passes")
    } else if p.p_cost > b.p_cost {
        Some("lanes")
    } else if p.output_len > b.output_len {
        Some("output length")
    } else if secret.len() > b.secret_len {
        Some("secret length")
    } else if !(8..=b.salt_len).contains(&salt.len()) {
        Some("salt length")
    } else {
        None
    };
    if let Some(what) = refused {
        return Err(HashError::Refused(what));
    }
    let params = Params::new(p.m_cost, p.t_cost, p.p_cost, Some(p.output_len as usize))
        .map_err(|_| HashError::Failed)?;
    let blocks = params.block_count();
    let mut matrix = {
        let mut kept = MATRICES.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.iter().position(|m| m.len() == blocks) {
            Some(i) => kept.swap_remove(i),
            // None of this size free: a new one (one of another size that
            // is free is dropped, so the kept ones stay as many as ran at
            // once).
            None => {
                kept.pop();
                vec![Block::default(); blocks]
            }
        }
    };
    let mut out = vec![0u8; p.output_len as usize];
    let hashed = Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into_with_memory(
        secret,
        salt,
        &mut out,
        &mut matrix[..],
    );
    MATRICES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(matrix);
    hashed.map_err(|_| HashError::Failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(m_cost: u32, t_cost: u32, p_cost: u32, output_len: u32) -> Argon2Params {
        Argon2Params {
            m_cost,
            t_cost,
            p_cost,
            output_len,
        }
    }

    #[test]
    fn native_hashes_are_argon2id_as_published() {
        // RFC 9106's argon2id shape without secret or associated data,
        // checked against the argon2 crate's published API directly.
        let (secret, salt) = (b"password".as_slice(), b"somesaltsomesalt".as_slice());
        let ours = hash(secret, salt, params(64, 3, 4, 32)).unwrap();
        let mut theirs = [0u8; 32];
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(64, 3, 4, Some(32)).unwrap(),
        )
        .hash_password_into(secret, salt, &mut theirs)
        .unwrap();
        assert_eq!(ours, theirs);
        assert_ne!(ours, hash(b"passwore", salt, params(64, 3, 4, 32)).unwrap());
    }

    #[test]
    fn a_kept_matrix_gives_what_fresh_memory_gives() {
        // The same sizes, one after another: later hashes run on matrices
        // an earlier hash filled.
        let salt = b"somesaltsomesalt";
        for (i, secret) in [b"first".as_slice(), b"second", b"first", b"third"]
            .iter()
            .enumerate()
        {
            for m in [64, 256] {
                let ours = hash(secret, salt, params(m, 2, 1, 32)).unwrap();
                let mut fresh = [0u8; 32];
                Argon2::new(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    Params::new(m, 2, 1, Some(32)).unwrap(),
                )
                .hash_password_into(secret, salt, &mut fresh)
                .unwrap();
                assert_eq!(ours, fresh, "hash {i}, m={m}");
            }
        }
    }

    #[test]
    fn a_hostile_component_cannot_make_the_host_hash_beyond_its_bounds() {
        let salt = [0u8; 16];
        for (p, what) in [
            (params(4 * 1024 * 1024, 2, 1, 32), "memory"),
            (params(64 * 1024 + 1, 2, 1, 32), "memory"),
            (params(8, 1_000_000, 1, 32), "passes"),
            (params(64, 2, 255, 32), "lanes"),
            (params(64, 2, 1, 1 << 20), "output length"),
        ] {
            assert_eq!(hash(b"x", &salt, p), Err(HashError::Refused(what)), "{p:?}");
        }
        let ok = params(64, 1, 1, 32);
        assert_eq!(
            hash(&[0; 4096], &salt, ok),
            Err(HashError::Refused("secret length"))
        );
        assert_eq!(hash(b"x", &[0; 4], ok), Err(HashError::Refused("salt length")));
        assert_eq!(hash(b"x", &[0; 4096], ok), Err(HashError::Refused("salt length")));
        // Within bounds, argon2's own refusals (too little memory for the
        // lanes, no passes) are a failure, not a panic.
        assert_eq!(hash(b"x", &salt, params(1, 1, 1, 32)), Err(HashError::Failed));
        assert_eq!(hash(b"x", &salt, params(64, 0, 1, 32)), Err(HashError::Failed));
    }
}
