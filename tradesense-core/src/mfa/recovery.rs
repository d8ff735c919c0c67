//! Recovery codes: ten random single-use codes shown once when MFA is
//! enabled, for the day the phone is lost.
//!
//! A code is 12 characters of Crockford's base32 alphabet (60 bits), shown
//! as `xxxx-xxxx-xxxx`. Only its SHA-256 is stored. A fast hash is enough
//! here, unlike for passwords: 60 random bits cannot be brute-forced from a
//! leaked hash (2^60 SHA-256 evaluations per code), so argon2's cost would
//! buy nothing but latency on every MFA login. Hashes are compared in
//! constant time anyway, so timing says nothing about how close a guess was.

use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// How many codes a user gets.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters per code (5 bits each: 60 bits).
const CODE_LEN: usize = 12;
/// Crockford's base32: no `i`, `l`, `o`, `u`, so nothing is misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A recovery code in canonical form (12 lowercase alphabet characters).
/// `Debug` is redacted; `Display` shows the grouped form for the user.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh random code.
    pub fn generate() -> Self {
        let mut bytes = [0u8; CODE_LEN];
        rand::rng().fill_bytes(&mut bytes);
        // 256 is a multiple of 32: masking keeps every character uniform.
        Self(
            bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect(),
        )
    }

    /// [`RECOVERY_CODE_COUNT`] fresh codes.
    pub fn generate_set() -> Vec<Self> {
        (0..RECOVERY_CODE_COUNT).map(|_| Self::generate()).collect()
    }

    /// Parses user input: case-insensitive, dashes and spaces ignored, and
    /// Crockford's confusables (`i`/`l` as `1`, `o` as `0`) accepted.
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() > 64 {
            return None;
        }
        let mut code = String::with_capacity(CODE_LEN);
        for c in input.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let c = match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            code.push(c);
        }
        (code.len() == CODE_LEN).then_some(Self(code))
    }

    /// The hex SHA-256 stored in `recovery_codes.code_hash`.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The id of the candidate whose hash is this code's, comparing every
    /// candidate in constant time (no early exit).
    pub fn find_in<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a (Uuid, String)>,
    ) -> Option<Uuid> {
        let mine = self.hash();
        let mut found = None;
        for (id, hash) in candidates {
            if bool::from(mine.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(*id);
            }
        }
        found
    }
}

impl fmt::Display for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ten_distinct_well_formed_codes() {
        let codes = RecoveryCode::generate_set();
        assert_eq!(codes.len(), 10);
        let shown: std::collections::HashSet<String> =
            codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown.len(), 10);
        for code in &shown {
            assert_eq!(code.len(), 14);
            assert_eq!(code.matches('-').count(), 2);
            assert_eq!(RecoveryCode::parse(code).unwrap().to_string(), *code);
        }
    }

    #[test]
    fn parsing_is_forgiving_about_case_dashes_and_confusables() {
        let code = RecoveryCode::parse("0123-4567-89ab").unwrap();
        assert_eq!(RecoveryCode::parse("O123 4567 89AB").unwrap(), code);
        assert_eq!(RecoveryCode::parse("012345678 9ab").unwrap(), code);
        assert_eq!(
            RecoveryCode::parse("oI23-4567-89ab").unwrap().to_string(),
            "0123-4567-89ab"
        );
        assert_eq!(RecoveryCode::parse("0l23456789ab").unwrap(), code);
        for bad in [
            "",
            "0123-4567-89a",
            "0123-4567-89abc",
            "0123-4567-89au",
            "0123-4567-89a!",
        ] {
            assert!(RecoveryCode::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn hashes_match_only_their_code() {
        let codes = RecoveryCode::generate_set();
        let stored: Vec<(Uuid, String)> =
            codes.iter().map(|c| (Uuid::now_v7(), c.hash())).collect();
        for (code, (id, _)) in codes.iter().zip(&stored) {
            assert_eq!(code.find_in(&stored), Some(*id));
        }
        assert_eq!(RecoveryCode::generate().find_in(&stored), None);
        assert!(!format!("{:?}", codes[0]).contains(&codes[0].0));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(input in ".{0,80}") {
            if let Some(code) = RecoveryCode::parse(&input) {
                prop_assert_eq!(code.0.len(), CODE_LEN);
                prop_assert_eq!(RecoveryCode::parse(&code.to_string()), Some(code));
            }
        }
    }
}
