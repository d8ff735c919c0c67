//! Keyed pseudonyms for personal data in logs and Redis keys, and the key
//! derivation from `SECRET_KEY` that every purpose-bound key shares.
//!
//! A bare SHA-256 of an e-mail address hides nothing from someone who
//! reads the logs or the Redis keys: they hash the addresses they suspect
//! and compare. [`Pseudonyms`] computes HMAC-SHA-256 under a key derived
//! from the server's secret instead, so the same address always gives the
//! same pseudonym (logs can be correlated, a throttle shared through Redis
//! counts one account on every instance), but nobody without the secret
//! can confirm a guess.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;

/// A 256-bit key for one purpose, derived from `SECRET_KEY`.
///
/// HMAC-SHA256 keyed by the secret over a fixed `label` is a PRF, so the
/// output is a uniform key even though `SECRET_KEY` is an arbitrary string
/// (HKDF-Expand with one block; the extract step adds nothing when the
/// input is already a high-entropy secret), and keys of different labels
/// are independent of each other.
pub fn derive_key(secret_key: &SecretString, label: &[u8]) -> [u8; 32] {
    let mut mac = hmac_with(secret_key.expose_secret().as_bytes());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// Keyed once, at construction (never on a request path).
fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The label of the pseudonym key: independent of every other key derived
/// from `SECRET_KEY`.
const LABEL: &[u8] = b"tradesense/pseudonyms/v1";

/// HMAC-SHA-256 pseudonyms of identifiers (e-mail addresses) under a
/// secret key. Cheap to clone; `Debug` never shows the key.
///
/// ```
/// use secrecy::SecretString;
/// use tradesense_core::pseudonym::Pseudonyms;
/// let ids = Pseudonyms::from_secret_key(&SecretString::from("a-secret-of-at-least-32-characters!"));
/// let p = ids.pseudonym("ada@example.com");
/// assert_eq!(p.len(), 64);
/// assert_eq!(p, ids.pseudonym("ada@example.com"));
/// assert_eq!(ids.short("ada@example.com"), p[..16]);
/// ```
#[derive(Clone)]
pub struct Pseudonyms {
    /// The keyed HMAC state, cloned per use (the key is absorbed once).
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonyms").finish_non_exhaustive()
    }
}

impl Pseudonyms {
    /// Pseudonyms under a key derived from `SECRET_KEY`: every instance
    /// with the same secret names an identifier the same way.
    pub fn from_secret_key(secret_key: &SecretString) -> Self {
        Self {
            mac: hmac_with(&derive_key(secret_key, LABEL)),
        }
    }

    /// Pseudonyms under a fresh random key: stable within this process
    /// only. What a piece gets when its embedder gives it no key (an
    /// in-process throttle, logs of one process).
    pub fn ephemeral() -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            mac: hmac_with(&key),
        }
    }

    /// The full pseudonym of `identifier`: 64 hex digits (256 bits), for
    /// keys that must not collide (the throttle's Redis keys).
    pub fn pseudonym(&self, identifier: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(identifier.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A short pseudonym for log lines: 16 hex digits (64 bits), enough to
    /// tell accounts apart when reading logs.
    pub fn short(&self, identifier: &str) -> String {
        let mut long = self.pseudonym(identifier);
        long.truncate(16);
        long
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Issue 21: the identifier is keyed. It depends on `SECRET_KEY`, is
    /// not the bare SHA-256 a log reader could compute from a guess (nor a
    /// prefix of it), and is stable for one key.
    #[test]
    fn pseudonyms_are_keyed_by_the_secret_key() {
        let email = "ada@example.com";
        let one =
            Pseudonyms::from_secret_key(&SecretString::from("one-secret-key-of-at-least-32-chars"));
        let two =
            Pseudonyms::from_secret_key(&SecretString::from("two-secret-key-of-at-least-32-chars"));
        assert_eq!(one.pseudonym(email), one.pseudonym(email));
        assert_ne!(one.pseudonym(email), two.pseudonym(email));
        assert_ne!(one.short(email), two.short(email));
        let bare = hex::encode(Sha256::digest(email.as_bytes()));
        for p in [one.pseudonym(email), two.pseudonym(email)] {
            assert_ne!(p, bare);
            assert!(!bare.starts_with(&p[..16]));
        }
        assert_ne!(one.pseudonym(email), one.pseudonym("eve@example.com"));
        assert_ne!(
            Pseudonyms::ephemeral().pseudonym(email),
            one.pseudonym(email)
        );
        assert!(!format!("{one:?}").contains(&one.pseudonym("")[..8]));
    }

    #[test]
    fn derived_keys_depend_on_the_label_and_the_secret() {
        let secret = SecretString::from("one-secret-key-of-at-least-32-chars");
        assert_ne!(derive_key(&secret, b"a"), derive_key(&secret, b"b"));
        let other = SecretString::from("two-secret-key-of-at-least-32-chars");
        assert_ne!(derive_key(&secret, b"a"), derive_key(&other, b"a"));
    }
}
