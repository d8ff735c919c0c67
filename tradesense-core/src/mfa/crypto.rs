//! Encryption of MFA secrets at rest: ChaCha20-Poly1305 under a key derived
//! from `SECRET_KEY`.
//!
//! Sealed layout: `version (1 byte) || nonce (12 bytes) || ciphertext+tag`.
//! A fresh random nonce per encryption (96 bits: collisions are negligible
//! for the handful of secrets a user ever has), and the user id as
//! associated data, so a ciphertext copied into another user's row does not
//! decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore as _;
use secrecy::SecretString;
use std::fmt;
use uuid::Uuid;

/// The first byte of every sealed value: lets a future key or algorithm
/// change coexist with old rows.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// The fixed label of the key derivation: the MFA key is independent of any
/// other key derived from `SECRET_KEY` for another purpose.
const KDF_LABEL: &[u8] = b"tradesense/mfa-secret-encryption/v1";

/// A secret could not be encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the secret could not be encrypted")]
pub struct SealError;

/// Seals and opens MFA secrets. `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: ChaCha20Poly1305,
}

/// A sealed value could not be opened: wrong key (rotated `SECRET_KEY`),
/// tampering, or a value moved between users. Carries no detail on purpose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sealed MFA secret cannot be opened")]
pub struct OpenError;

impl SecretCipher {
    /// Derives the encryption key from `SECRET_KEY`
    /// ([`derive_key`](crate::pseudonym::derive_key) under this module's
    /// own label).
    pub fn from_secret_key(secret_key: &SecretString) -> Self {
        let key = crate::pseudonym::derive_key(secret_key, KDF_LABEL);
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// Encrypts `plaintext` for `user_id` under a fresh random nonce. Fails
    /// only for plaintexts of about 256 GiB.
    pub fn seal(&self, user_id: Uuid, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| SealError)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts a value sealed for `user_id`.
    pub fn open(&self, user_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(<key redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: &str) -> SecretCipher {
        SecretCipher::from_secret_key(&SecretString::from(key.to_owned()))
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let c = cipher("k".repeat(32).as_str());
        let user = Uuid::now_v7();
        let a = c.seal(user, b"twenty bytes secret!").unwrap();
        let b = c.seal(user, b"twenty bytes secret!").unwrap();
        assert_ne!(a, b, "same plaintext, different nonces");
        assert!(!a.windows(20).any(|w| w == b"twenty bytes secret!"));
        assert_eq!(c.open(user, &a).unwrap(), b"twenty bytes secret!");
        assert_eq!(c.open(user, &b).unwrap(), b"twenty bytes secret!");
    }

    #[test]
    fn wrong_key_user_or_tampering_is_refused() {
        let c = cipher("k".repeat(32).as_str());
        let user = Uuid::now_v7();
        let sealed = c.seal(user, b"secret").unwrap();
        assert_eq!(cipher(&"x".repeat(32)).open(user, &sealed), Err(OpenError));
        assert_eq!(c.open(Uuid::now_v7(), &sealed), Err(OpenError));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(c.open(user, &bad), Err(OpenError), "byte {i}");
        }
        assert_eq!(c.open(user, &[]), Err(OpenError));
        assert_eq!(c.open(user, &sealed[..5]), Err(OpenError));
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", cipher("supersecretsupersecretsupersecret!"));
        assert!(!shown.contains("supersecret"));
    }
}
