//! Secrets as types, and how they are stored.
//!
//! Bearer tokens (flow ids, link tokens, tickets, sessions, hand-over
//! tokens) are 128 random bits; storage keys carry only their SHA-256, so a
//! copy of the store lets nobody use them. Keywords and passwords are
//! low-entropy, so they are stored as argon2id hashes (OWASP: m=19 MiB,
//! t=2, p=1) with a random salt. `Debug` of a secret prints nothing.

use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ports::{Argon2Params, Hasher, Rng};

/// argon2id memory cost in KiB (OWASP minimum: 19 MiB).
pub const ARGON2_M_COST: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_T_COST: u32 = 2;
/// argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;
const HASH_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// A random bearer token: a flow id, link token, ticket, session id or
/// hand-over token. 128 bits, written as 22 characters of base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Draws a new token.
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        Token(base64url(&bytes))
    }

    /// Wraps a token received from a caller.
    pub fn from_caller(text: &str) -> Self {
        Token(text.trim().to_owned())
    }

    /// The token as handed to its holder (a URL, a cookie, a form).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The storage key part: hex SHA-256 of the token.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// A secret shared with the portal by configuration (the hand-over
/// secret): compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SharedSecret(String);

impl SharedSecret {
    /// The fewest characters a shared secret may have.
    pub const MIN_LEN: usize = 32;

    /// Wraps a configured secret.
    pub fn new(text: impl Into<String>) -> Self {
        SharedSecret(text.into())
    }

    /// The secret, to hand to the host's configuration.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret. Both sides are hashed first,
    /// so the time taken tells neither a matching prefix nor the length.
    pub fn matches(&self, presented: &str) -> bool {
        let ours = Sha256::digest(self.0.as_bytes());
        let theirs = Sha256::digest(presented.as_bytes());
        bool::from(ours.ct_eq(&theirs))
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(…)")
    }
}

/// A low-entropy secret a person types: a keyword or a password. It is
/// hashed with argon2id before it goes anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Memorised(String);

impl Memorised {
    /// Wraps a (validated, normalised) keyword or password.
    pub fn new(text: impl Into<String>) -> Self {
        Memorised(text.into())
    }

    /// The secret itself, for showing it back on the screen it came from.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An argon2id hash with a fresh salt, as
    /// `argon2id$v=19$m=…,t=…,p=…$<salt hex>$<hash hex>`, computed by
    /// `hasher` if it hashes, else here. Fails only if the hash cannot be
    /// had (its memory, or the hasher's fault); then there is no hash at
    /// all, never a weak one.
    pub fn hash(&self, rng: &dyn Rng, hasher: &dyn Hasher) -> Result<String, HashUnavailable> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt);
        let hash = argon2id(
            hasher,
            self.0.as_bytes(),
            &salt,
            ARGON2_M_COST,
            ARGON2_T_COST,
            ARGON2_P_COST,
        )?;
        Ok(format!(
            "argon2id$v=19$m={ARGON2_M_COST},t={ARGON2_T_COST},p={ARGON2_P_COST}${}${}",
            hex::encode(salt),
            hex::encode(hash)
        ))
    }

    /// Whether this secret matches a stored hash, compared in constant
    /// time; the hash is computed by `hasher` if it hashes, else here. A
    /// malformed stored hash matches nothing. Fails if the hash cannot be
    /// computed: that is no answer, neither a match nor a mismatch.
    pub fn verify(&self, stored: &str, hasher: &dyn Hasher) -> Result<bool, HashUnavailable> {
        let Some((m, t, p, salt, expected)) = parse_hash(stored) else {
            return Ok(false);
        };
        let actual = argon2id(hasher, self.0.as_bytes(), &salt, m, t, p)?;
        Ok(actual.ct_eq(&expected).into())
    }

    /// Spends the same time as `verify` against nothing: used where the
    /// account does not exist, so timing does not tell.
    pub fn verify_nothing(&self, hasher: &dyn Hasher) {
        let _ = argon2id(
            hasher,
            self.0.as_bytes(),
            &[0u8; SALT_LEN],
            ARGON2_M_COST,
            ARGON2_T_COST,
            ARGON2_P_COST,
        );
    }
}

impl std::fmt::Debug for Memorised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memorised(…)")
    }
}

/// argon2id of `secret` from `hasher`, or computed here if it does not
/// hash. A hasher's fault, or an answer of the wrong length, is no hash.
fn argon2id(
    hasher: &dyn Hasher,
    secret: &[u8],
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Vec<u8>, HashUnavailable> {
    let params = Argon2Params {
        m_cost: m,
        t_cost: t,
        p_cost: p,
        output_len: HASH_LEN as u32,
    };
    match hasher.argon2id(secret, salt, params) {
        Ok(Some(out)) if out.len() == HASH_LEN => Ok(out),
        Ok(Some(_)) | Err(_) => Err(HashUnavailable),
        Ok(None) => argon2id_here(secret, salt, params).ok_or(HashUnavailable),
    }
}

/// argon2id computed here, or `None` if it cannot be (parameters out of
/// range, or its memory cannot be allocated).
fn argon2id_here(secret: &[u8], salt: &[u8], params: Argon2Params) -> Option<Vec<u8>> {
    let len = usize::try_from(params.output_len).ok()?;
    let params = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(len)).ok()?;
    let mut out = vec![0u8; len];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(secret, salt, &mut out)
        .ok()?;
    Some(out)
}

/// No hash could be had (its memory, or the host's hashing failed); the
/// step fails cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is unavailable")]
pub struct HashUnavailable;

impl From<HashUnavailable> for crate::error::FlowError {
    fn from(e: HashUnavailable) -> Self {
        crate::error::FlowError::Unavailable(e.to_string())
    }
}

type ParsedHash = (u32, u32, u32, Vec<u8>, Vec<u8>);

fn parse_hash(stored: &str) -> Option<ParsedHash> {
    let mut parts = stored.split('$');
    if parts.next()? != "argon2id" || parts.next()? != "v=19" {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in parts.next()?.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let salt = hex::decode(parts.next()?).ok()?;
    let hash = hex::decode(parts.next()?).ok()?;
    // Refuse parameters far outside what this crate writes, so a corrupted
    // record cannot make one request allocate gigabytes.
    let (m, t, p) = (m?, t?, p?);
    if !(8..=256 * 1024).contains(&m) || !(1..=16).contains(&t) || !(1..=4).contains(&p) {
        return None;
    }
    if parts.next().is_some() || hash.len() != HASH_LEN {
        return None;
    }
    Some((m, t, p, salt, hash))
}

/// Hex SHA-256 of a text, for storage keys that must not show the text
/// (e-mail addresses in index keys).
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A short public reference (e.g. `E-1a2b3c4d5e6f`) naming a flow or link
/// in audit records and operator views. It grants nothing.
pub fn reference(prefix: char, rng: &dyn Rng) -> String {
    let mut bytes = [0u8; 6];
    rng.fill(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}

/// A keyword made by the system (recovery step 3): 8 characters from an
/// alphabet without look-alikes (no 0/O, 1/I/L), about 40 bits.
pub fn system_keyword(rng: &dyn Rng) -> Memorised {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut out = String::with_capacity(8);
    while out.len() < 8 {
        let mut b = [0u8; 1];
        rng.fill(&mut b);
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        if (b[0] as usize) < limit {
            out.push(ALPHABET[b[0] as usize % ALPHABET.len()] as char);
        }
    }
    Memorised(out)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{OwnHashing, PortError};
    use crate::testing::SeqRng;

    #[test]
    fn a_shared_secret_matches_itself_only_and_never_prints() {
        let secret = SharedSecret::new("s".repeat(40));
        assert!(secret.matches(&"s".repeat(40)));
        assert!(!secret.matches(&"s".repeat(39)));
        assert!(!secret.matches(&"s".repeat(41)));
        assert!(!secret.matches(""));
        assert!(!format!("{secret:?}").contains("sss"));
    }

    #[test]
    fn token_is_128_bits_of_base64url() {
        let rng = SeqRng::default();
        let a = Token::generate(&rng);
        let b = Token::generate(&rng);
        assert_eq!(a.expose().len(), 22);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), a.expose());
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn hash_verifies_only_the_same_secret() {
        let rng = SeqRng::default();
        let secret = Memorised::new("さくらの木");
        let stored = secret.hash(&rng, &OwnHashing).unwrap();
        assert!(stored.starts_with("argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!stored.contains("さくら"));
        assert_eq!(secret.verify(&stored, &OwnHashing), Ok(true));
        assert_eq!(
            Memorised::new("さくらの花").verify(&stored, &OwnHashing),
            Ok(false)
        );
        // A fresh salt makes every hash of one secret different.
        assert_ne!(stored, secret.hash(&rng, &OwnHashing).unwrap());
    }

    #[test]
    fn malformed_or_hostile_hashes_match_nothing() {
        let s = Memorised::new("x");
        assert_eq!(s.verify("", &OwnHashing), Ok(false));
        assert_eq!(
            s.verify("argon2id$v=19$m=4194304,t=2,p=1$00$00", &OwnHashing),
            Ok(false)
        );
        assert_eq!(s.verify("bcrypt$whatever", &OwnHashing), Ok(false));
    }

    /// A host that hashes: computes with the same code, counts its calls,
    /// or answers as told.
    struct HostHasher {
        calls: std::cell::Cell<u32>,
        answer: Answer,
    }

    type Answer = fn(&[u8], &[u8], Argon2Params) -> Result<Option<Vec<u8>>, PortError>;

    impl Hasher for HostHasher {
        fn argon2id(
            &self,
            secret: &[u8],
            salt: &[u8],
            params: Argon2Params,
        ) -> Result<Option<Vec<u8>>, PortError> {
            self.calls.set(self.calls.get() + 1);
            (self.answer)(secret, salt, params)
        }
    }

    fn host(answer: Answer) -> HostHasher {
        HostHasher {
            calls: std::cell::Cell::new(0),
            answer,
        }
    }

    #[test]
    fn hashes_from_a_host_and_from_here_are_interchangeable() {
        let rng = SeqRng::default();
        let native = host(|s, salt, p| Ok(argon2id_here(s, salt, p)));
        let secret = Memorised::new("さくらの木");
        let by_host = secret.hash(&rng, &native).unwrap();
        assert_eq!(native.calls.get(), 1);
        assert!(by_host.starts_with("argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(secret.verify(&by_host, &OwnHashing), Ok(true));
        let here = secret.hash(&rng, &OwnHashing).unwrap();
        assert_eq!(secret.verify(&here, &native), Ok(true));
        assert_eq!(Memorised::new("さくらの花").verify(&here, &native), Ok(false));
        assert_eq!(native.calls.get(), 3);
    }

    #[test]
    fn the_host_is_asked_for_the_cores_parameters_and_salt() {
        let rng = SeqRng::default();
        let asked = host(|_, salt, p| {
            assert_eq!(
                p,
                Argon2Params {
                    m_cost: ARGON2_M_COST,
                    t_cost: ARGON2_T_COST,
                    p_cost: ARGON2_P_COST,
                    output_len: 32,
                }
            );
            assert_eq!(salt.len(), SALT_LEN);
            Ok(Some(vec![7; 32]))
        });
        let stored = Memorised::new("x").hash(&rng, &asked).unwrap();
        assert!(stored.ends_with(&format!("${}", "07".repeat(32))), "{stored}");
    }

    #[test]
    fn a_failing_or_malformed_host_answer_is_no_hash_never_a_mismatch() {
        let rng = SeqRng::default();
        let stored = Memorised::new("x").hash(&rng, &OwnHashing).unwrap();
        let failing = host(|_, _, _| Err(PortError("hashing: out of memory".into())));
        assert_eq!(Memorised::new("x").hash(&rng, &failing), Err(HashUnavailable));
        assert_eq!(
            Memorised::new("x").verify(&stored, &failing),
            Err(HashUnavailable)
        );
        let short = host(|_, _, _| Ok(Some(vec![0; 16])));
        assert_eq!(Memorised::new("x").hash(&rng, &short), Err(HashUnavailable));
        assert_eq!(Memorised::new("x").verify(&stored, &short), Err(HashUnavailable));
    }

    #[test]
    fn debug_prints_no_secret() {
        assert_eq!(format!("{:?}", Memorised::new("hunter2")), "Memorised(…)");
        let t = Token::from_caller("abc");
        assert_eq!(format!("{t:?}"), "Token(…)");
    }

    #[test]
    fn system_keyword_uses_unambiguous_alphabet() {
        let rng = SeqRng::default();
        for _ in 0..50 {
            let k = system_keyword(&rng);
            assert_eq!(k.expose().len(), 8);
            assert!(!k.expose().contains(['0', 'O', '1', 'I', 'L']));
        }
    }
}
