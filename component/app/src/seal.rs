//! Keeping a keyword across a redirect without storing it in clear.
//!
//! Screens 4 and 5 of enrollment and step 3 of recovery show a keyword on
//! the page a 303 leads to, so the keyword has to outlive the request that
//! received (or made) it. It may never rest in storage, a URL, a mail or a
//! log in clear, so it is sealed: a fresh random 128-bit token is drawn, the
//! keyword (with what the screen shows beside it) is encrypted with
//! ChaCha20-Poly1305 under `SHA-256("customer-web display key" || token)`
//! and a random nonce, the ciphertext is stored under
//! `display/{SHA-256(token)}`, and the token goes to the browser in an
//! HttpOnly cookie. A copy of the store cannot decrypt it (the key needs the
//! token, and the store holds only the token's hash); the cookie alone is
//! random. The storage key is the associated data, so a sealed value moved
//! to another key does not open.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use customer_web_core::FlowError;
use customer_web_core::model::Timestamp;
use customer_web_core::ports::{Condition, Ports};
use customer_web_core::secret::Token;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of the key derivation, so this key is never another's.
const KEY_CONTEXT: &[u8] = b"customer-web display key";
/// First byte of a stored value; a later format can be told apart.
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;

/// Which screen a sealed keyword is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ShownFor {
    /// Enrollment screens 4 and 5: the customer's own keyword.
    Enrollment,
    /// Recovery step 3: the system-made keyword.
    Recovery,
}

/// What a keyword screen shows after the redirect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shown {
    /// Which flow.
    pub(crate) shown_for: ShownFor,
    /// The keyword, as the customer must type it at the link.
    pub(crate) keyword: String,
    /// Where the mail went, once it has (screen 5, recovery step 3).
    pub(crate) email: Option<String>,
    /// When the mailed link lapses, once it has been mailed.
    pub(crate) link_expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shown")
            .field("shown_for", &self.shown_for)
            .finish_non_exhaustive()
    }
}

/// The storage key of a sealed keyword: only the token's hash.
pub(crate) fn store_key(token: &Token) -> String {
    format!("display/{}", token.digest())
}

fn cipher(token: &Token) -> ChaCha20Poly1305 {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(KEY_CONTEXT)
        .chain_update(token.expose().as_bytes())
        .finalize()
        .into();
    ChaCha20Poly1305::new(&Key::from(digest))
}

/// Seals `shown` under a new token, kept until `expires_at`.
pub(crate) fn seal(ports: &Ports<'_>, shown: &Shown, expires_at: Timestamp) -> Result<Token, FlowError> {
    let token = Token::generate(ports.rng);
    reseal(ports, &token, shown, expires_at)?;
    Ok(token)
}

/// Replaces what `token` opens (screen 5 adds the address and deadline to
/// the keyword of screen 4), with a fresh nonce.
pub(crate) fn reseal(
    ports: &Ports<'_>,
    token: &Token,
    shown: &Shown,
    expires_at: Timestamp,
) -> Result<(), FlowError> {
    let key = store_key(token);
    let plaintext =
        serde_json::to_vec(shown).map_err(|_| FlowError::Unavailable("cannot encode display".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    ports.rng.fill(&mut nonce);
    let sealed = cipher(token)
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad: key.as_bytes(),
            },
        )
        .map_err(|_| FlowError::Unavailable("cannot seal display".into()))?;
    let mut value = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    value.push(FORMAT);
    value.extend_from_slice(&nonce);
    value.extend_from_slice(&sealed);
    ports.store.put(&key, &value, Condition::Any, Some(expires_at))?;
    Ok(())
}

/// What `token` opens; `None` if it was never sealed, has expired, or does
/// not open (tampered, moved, or another token).
pub(crate) fn open(ports: &Ports<'_>, token: &Token) -> Result<Option<Shown>, FlowError> {
    let key = store_key(token);
    let Some(entry) = ports.store.get(&key)? else {
        return Ok(None);
    };
    let Some((&FORMAT, rest)) = entry.value.split_first() else {
        return Ok(None);
    };
    let Some((nonce, sealed)) = rest.split_at_checked(NONCE_LEN) else {
        return Ok(None);
    };
    let Ok(nonce) = <[u8; NONCE_LEN]>::try_from(nonce) else {
        return Ok(None);
    };
    let Ok(plaintext) = cipher(token).decrypt(
        &Nonce::from(nonce),
        Payload {
            msg: sealed,
            aad: key.as_bytes(),
        },
    ) else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plaintext).ok())
}

/// Forgets a sealed keyword (best effort: it expires anyway).
pub(crate) fn discard(ports: &Ports<'_>, token: &Token) {
    let _ = ports.store.delete(&store_key(token), Condition::Any);
}

#[cfg(test)]
mod tests {
    use super::*;
    use customer_web_core::ports::{Clock, Store};
    use customer_web_core::testing::World;

    fn shown() -> Shown {
        Shown {
            shown_for: ShownFor::Enrollment,
            keyword: "さくらの木".into(),
            email: Some("taro@example.jp".into()),
            link_expires_at: Some(1_795_757_460),
        }
    }

    #[test]
    fn sealed_keyword_opens_with_its_token_only() {
        let world = World::new();
        let ports = world.ports();
        let expires = world.clock.now() + 3600;
        let token = seal(&ports, &shown(), expires).unwrap();
        assert_eq!(open(&ports, &token).unwrap(), Some(shown()));
        let other = Token::generate(ports.rng);
        assert_eq!(open(&ports, &other).unwrap(), None);
    }

    #[test]
    fn storage_holds_neither_keyword_nor_token() {
        let world = World::new();
        let ports = world.ports();
        let token = seal(&ports, &shown(), world.clock.now() + 3600).unwrap();
        let snapshot = world.store.snapshot();
        assert_eq!(snapshot.len(), 1);
        let (key, value) = &snapshot[0];
        assert_eq!(key, &format!("display/{}", token.digest()));
        assert!(!key.contains(token.expose()));
        let keyword = "さくらの木".as_bytes();
        assert!(!value.windows(keyword.len()).any(|w| w == keyword));
        let email = b"taro@example.jp";
        assert!(!value.windows(email.len()).any(|w| w == email));
        assert!(!value.windows(22).any(|w| w == token.expose().as_bytes()));
    }

    #[test]
    fn a_value_moved_to_another_key_or_tampered_does_not_open() {
        let world = World::new();
        let ports = world.ports();
        let expires = world.clock.now() + 3600;
        let a = seal(&ports, &shown(), expires).unwrap();
        let b = Token::generate(ports.rng);
        let value = world.store.get(&store_key(&a)).unwrap().unwrap().value;
        world
            .store
            .put(&store_key(&b), &value, Condition::Any, Some(expires))
            .unwrap();
        assert_eq!(open(&ports, &b).unwrap(), None);

        let mut tampered = value.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        world
            .store
            .put(&store_key(&a), &tampered, Condition::Any, Some(expires))
            .unwrap();
        assert_eq!(open(&ports, &a).unwrap(), None);
        for short in [&value[..0], &value[..1], &value[..10]] {
            world
                .store
                .put(&store_key(&a), short, Condition::Any, Some(expires))
                .unwrap();
            assert_eq!(open(&ports, &a).unwrap(), None);
        }
    }

    #[test]
    fn reseal_replaces_and_expiry_and_discard_forget() {
        let world = World::new();
        let ports = world.ports();
        let expires = world.clock.now() + 3600;
        let mut first = shown();
        first.email = None;
        let token = seal(&ports, &first, expires).unwrap();
        let before = world.store.snapshot();
        reseal(&ports, &token, &shown(), expires).unwrap();
        assert_ne!(before, world.store.snapshot(), "a fresh nonce every time");
        assert_eq!(open(&ports, &token).unwrap(), Some(shown()));

        world.clock.advance(3600);
        assert_eq!(open(&ports, &token).unwrap(), None);

        let again = seal(&ports, &shown(), world.clock.now() + 60).unwrap();
        discard(&ports, &again);
        assert_eq!(open(&ports, &again).unwrap(), None);
    }

    #[test]
    fn debug_prints_no_keyword() {
        let text = format!("{:?}", shown());
        assert!(!text.contains("さくら"));
        assert!(!text.contains("taro"));
    }
}
