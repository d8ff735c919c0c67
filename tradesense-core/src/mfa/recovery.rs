//! Recovery codes: ten random single-use codes shown once when MFA is
//! enabled, for the day the phone is lost.
//!
//! A code is 24 characters of Crockford's base32 alphabet (120 bits), shown
//! as `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`. Only its SHA-256 is stored, marked
//! `v2:`. A fast hash is enough at this strength (ASVS 5.0 6.5.2: a lookup
//! secret of 112 bits or more may be stored under a standard hash): 2^120
//! SHA-256 evaluations per code cannot be searched from a leaked table,
//! so argon2's cost would buy nothing but latency on every MFA login.
//! Hashes are compared in constant time anyway, so timing says nothing
//! about how close a guess was.
//!
//! Codes issued before (12 characters, 60 bits, stored as bare SHA-256
//! hex) are still accepted, once each, so that no user loses the codes
//! they wrote down; a new enrolment replaces them with strong ones. The
//! `v2:` mark tells the two kinds apart in the table.

use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// How many codes a user gets.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters per code (5 bits each: 120 bits).
const CODE_LEN: usize = 24;
/// Characters per code issued before the 112-bit rule (60 bits).
const LEGACY_CODE_LEN: usize = 12;
/// The mark on the stored hash of a [`CODE_LEN`] code.
const HASH_MARK: &str = "v2:";
/// Crockford's base32: no `i`, `l`, `o`, `u`, so nothing is misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The entropy of a freshly generated code, in bits.
pub const RECOVERY_CODE_BITS: usize = CODE_LEN * 5;
// ASVS 5.0 6.5.2: a lookup secret under a plain hash needs 112 bits.
const _: () = assert!(RECOVERY_CODE_BITS >= 112);

/// A recovery code in canonical form (24 lowercase alphabet characters, or
/// 12 for a code issued before). `Debug` is redacted; `Display` shows the
/// grouped form for the user.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh random code (from the operating system's CSPRNG, through
    /// `rand`'s thread-local generator).
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
        matches!(code.len(), CODE_LEN | LEGACY_CODE_LEN).then_some(Self(code))
    }

    /// What `recovery_codes.code_hash` holds for this code: `v2:` and the
    /// hex SHA-256 (bare hex for a code issued before).
    pub fn hash(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.0.as_bytes()));
        if self.0.len() == LEGACY_CODE_LEN {
            digest
        } else {
            format!("{HASH_MARK}{digest}")
        }
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
        for (i, group) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            // The code is ASCII by construction.
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
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
            assert_eq!(code.len(), 29);
            assert_eq!(code.matches('-').count(), 5);
            assert_eq!(RecoveryCode::parse(code).unwrap().to_string(), *code);
        }
    }

    /// Every character of a fresh code carries 5 uniform bits: over many
    /// codes each of the 32 symbols turns up about equally often in every
    /// position (a biased generator would cost entropy).
    #[test]
    fn codes_are_uniform_over_the_alphabet() {
        let mut counts = [[0u32; 32]; CODE_LEN];
        let samples = 8_000;
        for _ in 0..samples {
            let code = RecoveryCode::generate();
            for (position, c) in code.0.bytes().enumerate() {
                let symbol = ALPHABET.iter().position(|&a| a == c).unwrap();
                counts[position][symbol] += 1;
            }
        }
        // Expected 250 per cell; 150..350 is more than 6 standard deviations.
        for row in &counts {
            assert!(row.iter().all(|&n| (150..350).contains(&n)), "{row:?}");
        }
    }

    #[test]
    fn legacy_codes_still_parse_and_hash_as_before() {
        let legacy = RecoveryCode::parse("0123-4567-89ab").unwrap();
        assert_eq!(legacy.to_string(), "0123-4567-89ab");
        assert_eq!(
            legacy.hash(),
            hex::encode(Sha256::digest(b"0123456789ab")),
            "a code issued before matches its stored hash"
        );
        let strong = RecoveryCode::generate();
        assert!(strong.hash().starts_with("v2:"));
        // A strong code never matches a legacy row, nor a legacy one a v2 row.
        let rows = vec![
            (Uuid::now_v7(), legacy.hash()),
            (Uuid::now_v7(), strong.hash()),
        ];
        assert_eq!(legacy.find_in(&rows), Some(rows[0].0));
        assert_eq!(strong.find_in(&rows), Some(rows[1].0));
    }

    #[test]
    fn parsing_is_forgiving_about_case_dashes_and_confusables() {
        let code = RecoveryCode::parse("0123-4567-89ab-cdef-ghjk-mnpq").unwrap();
        assert_eq!(
            RecoveryCode::parse("O123 4567 89AB CDEF GHJK MNPQ").unwrap(),
            code
        );
        assert_eq!(
            RecoveryCode::parse("012345678 9abcdefghjkmnpq").unwrap(),
            code
        );
        assert_eq!(
            RecoveryCode::parse("oI23-4567-89ab-cdef-ghjk-mnpq")
                .unwrap()
                .to_string(),
            "0123-4567-89ab-cdef-ghjk-mnpq"
        );
        assert_eq!(
            RecoveryCode::parse("0l23456789abcdefghjkmnpq").unwrap(),
            code
        );
        for bad in [
            "",
            "0123-4567-89a",
            "0123-4567-89abc",
            "0123-4567-89ab-cdef-ghjk-mnp",
            "0123-4567-89ab-cdef-ghjk-mnpqr",
            "0123-4567-89ab-cdef-ghjk-mnpu",
            "0123-4567-89ab-cdef-ghjk-mnp!",
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
                prop_assert!(code.0.len() == CODE_LEN || code.0.len() == LEGACY_CODE_LEN);
                prop_assert_eq!(RecoveryCode::parse(&code.to_string()), Some(code));
            }
        }
    }
}
