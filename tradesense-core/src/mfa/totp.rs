//! TOTP (RFC 6238) as every authenticator app reads it: HMAC-SHA1, 6 digits,
//! 30-second steps, a 160-bit secret shown as unpadded base32.
//!
//! The arithmetic is totp-rs's; this module adds what an API needs around it:
//! a secret type that never prints itself, the provisioning URI and QR code,
//! a parsed [`TotpCode`] (so arbitrary client strings never reach the
//! generator), and verification that returns the matched *step*, which the
//! caller records so a code is accepted only once (RFC 6238 §5.2).

use base64::Engine as _;
use rand::RngCore as _;
use std::fmt;
use totp_rs::{Algorithm, Builder, Totp};

/// The issuer shown by authenticator apps and used as the label prefix,
/// unless the application names its own
/// ([`MfaService::with_issuer`](super::MfaService::with_issuer)).
pub const DEFAULT_ISSUER: &str = "TradeSense";
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one (clock drift, typing time).
pub const SKEW_STEPS: u16 = 1;
/// Secret length in bytes: 160 bits, RFC 4226's recommendation.
pub const SECRET_LEN: usize = 20;

/// A TOTP shared secret. `Debug` never shows it; the only ways out are
/// [`to_base32`](Self::to_base32) (for its owner, once, at setup) and
/// [`as_bytes`](Self::as_bytes) (for encryption at rest).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// 160 fresh bits from the OS-seeded CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from its raw bytes (e.g. after decryption); `None` unless
    /// exactly [`SECRET_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// A secret from the base32 an authenticator app is given (what
    /// [`to_base32`](Self::to_base32) and `/mfa/setup` show): how a client,
    /// or an embedder's test, computes codes. `None` unless valid base32 of
    /// exactly [`SECRET_LEN`] bytes.
    pub fn from_base32(encoded: &str) -> Option<Self> {
        let secret = totp_rs::Secret::try_from_base32(encoded).ok()?;
        Self::from_bytes(secret.as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what users type into an app.
    pub fn to_base32(&self) -> String {
        totp_rs::Secret::from(self.0).to_base32()
    }

    fn totp(&self, account: &str) -> Totp {
        // `build_noncompliant` only skips checks that cannot fail here (the
        // parameters are the constants above and the secret is 160 bits);
        // the account name is validated by `provisioning`, which needs it.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0)
            .with_issuer(Some(DEFAULT_ISSUER))
            .with_account_name(account)
            .build_noncompliant()
    }

    /// The code of the step containing `unix_time`.
    pub fn code_at(&self, unix_time: u64) -> String {
        self.totp("-").generate(unix_time).to_string()
    }

    /// Checks `code` against the steps around `unix_time` (±[`SKEW_STEPS`]).
    /// Returns the matched step: the caller must accept it only if it is
    /// later than the last step it accepted, or the code could be replayed.
    pub fn verify(&self, code: &TotpCode, unix_time: u64) -> Option<u64> {
        // totp-rs compares tokens in constant time and scans the window.
        self.totp("-").check(code.as_str(), unix_time)
    }

    /// The provisioning data for `account` (e.g. an email) under `issuer`
    /// (the application's name, see [`validate_issuer`]): the secret, the
    /// `otpauth://` URI and that URI as a locally rendered QR code PNG data
    /// URI.
    pub fn provisioning(&self, issuer: &str, account: &str) -> Result<Provisioning, TotpError> {
        validate_issuer(issuer)?;
        let totp = Builder::new()
            .with_secret(self.0)
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map_err(|err| TotpError(err.to_string()))?;
        let uri = totp.to_url().map_err(|err| TotpError(err.to_string()))?;
        // Rendered here, never by a third-party QR service: the image
        // contains the secret.
        let png = totp.to_qr_png().map_err(|_| TotpError("QR code".into()))?;
        let qr_code = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        );
        Ok(Provisioning {
            secret: self.to_base32(),
            uri,
            qr_code,
        })
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// What `/mfa/setup` shows the user once. `Debug` is redacted: every field
/// carries the secret.
#[derive(Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Provisioning {
    /// The secret, base32 without padding.
    pub secret: String,
    /// `otpauth://totp/<issuer>:<account>?secret=...&issuer=<issuer>`.
    #[serde(rename = "provisioning_uri")]
    pub uri: String,
    /// `data:image/png;base64,...` of the URI as a QR code.
    pub qr_code: String,
}

impl fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Provisioning(<redacted>)")
    }
}

/// The provisioning data could not be built (an issuer that is empty or
/// has a `:`, an account name with `:`, or a URI too long for a QR code).
/// Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("cannot build TOTP provisioning data: {0}")]
pub struct TotpError(String);

/// Checks an issuer before it names anything: not empty (apps would show
/// a blank account) and without `:`, which separates the issuer from the
/// account in the URI's label (Key Uri Format).
pub fn validate_issuer(issuer: &str) -> Result<(), TotpError> {
    if issuer.trim().is_empty() {
        return Err(TotpError("the issuer is empty".into()));
    }
    if issuer.contains(':') {
        return Err(TotpError("the issuer contains ':'".into()));
    }
    Ok(())
}

/// A syntactically valid TOTP code: exactly six ASCII digits. Spaces
/// anywhere (`123 456`) are tolerated because apps display codes that way.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    /// Parses user input; `None` unless it is six digits.
    pub fn parse(input: &str) -> Option<Self> {
        // Bounded before allocating: a megabyte of spaces is not a code.
        if input.len() > 32 {
            return None;
        }
        let digits: String = input.chars().filter(|c| *c != ' ').collect();
        (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(Self(digits))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// The TOTP step containing `unix_time`.
pub fn step_of(unix_time: u64) -> u64 {
    unix_time / STEP_SECONDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_reads_back_from_its_base32() {
        let secret = TotpSecret::generate();
        let read = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(read, secret);
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert!(TotpSecret::from_base32("MFRGG").is_none(), "too short");
    }
    use proptest::prelude::*;

    /// RFC 6238 Appendix B, SHA1 column: the secret is the ASCII string
    /// "12345678901234567890"; the RFC prints 8 digits, a 6-digit code is
    /// the same value mod 10^6, i.e. the last six.
    const RFC6238_SHA1: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors_six_digits() {
        for (time, code) in RFC6238_SHA1 {
            assert_eq!(rfc_secret().code_at(time), code[2..], "T = {time}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors_eight_digits() {
        // The same generator configured as the RFC's reference: 8 digits.
        let totp = Builder::new()
            .with_digits(8)
            .with_secret(*b"12345678901234567890")
            .build()
            .unwrap();
        for (time, code) in RFC6238_SHA1 {
            assert_eq!(totp.generate(time).to_string(), code, "T = {time}");
        }
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_returns_the_step() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = step_of(now);
        for delta in [-1i64, 0, 1] {
            let at = (step as i64 + delta) as u64 * STEP_SECONDS;
            let code = TotpCode::parse(&secret.code_at(at)).unwrap();
            assert_eq!(secret.verify(&code, now), Some(step_of(at)));
        }
        for delta in [-3i64, -2, 2, 3] {
            let at = (step as i64 + delta) as u64 * STEP_SECONDS;
            let code = TotpCode::parse(&secret.code_at(at)).unwrap();
            // A code of a step out of the window may collide with one inside
            // by chance (1 in 10^6 per step); it then matches that step.
            if let Some(matched) = secret.verify(&code, now) {
                assert!(matched.abs_diff(step) <= 1);
            }
        }
    }

    #[test]
    fn generated_secrets_are_160_bits_base32_unpadded() {
        let secret = TotpSecret::generate();
        let b32 = secret.to_base32();
        assert_eq!(b32.len(), 32);
        assert!(
            b32.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_ne!(secret, TotpSecret::generate());
    }

    #[test]
    fn provisioning_uri_and_qr_png() {
        let secret = rfc_secret();
        let p = secret
            .provisioning(DEFAULT_ISSUER, "alice@example.com")
            .unwrap();
        assert_eq!(
            p.uri,
            format!(
                "otpauth://totp/TradeSense:alice%40example.com?secret={}&issuer=TradeSense",
                secret.to_base32()
            )
        );
        let b64 = p.qr_code.strip_prefix("data:image/png;base64,").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
    }

    #[test]
    fn the_issuer_is_the_applications_and_checked() {
        let secret = rfc_secret();
        let p = secret.provisioning("Acme Books", "bob").unwrap();
        assert_eq!(
            p.uri,
            format!(
                "otpauth://totp/Acme%20Books:bob?secret={}&issuer=Acme%20Books",
                secret.to_base32()
            )
        );
        for bad in ["", "  ", "Acme:Books"] {
            assert!(secret.provisioning(bad, "bob").is_err(), "{bad:?}");
            assert!(validate_issuer(bad).is_err(), "{bad:?}");
        }
        assert!(secret.provisioning("Acme", "bob:x").is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = rfc_secret();
        let p = secret.provisioning(DEFAULT_ISSUER, "a@b.c").unwrap();
        for shown in [format!("{secret:?}"), format!("{p:?}")] {
            assert!(!shown.contains(&secret.to_base32()));
            assert!(shown.contains("redacted"));
        }
    }

    #[test]
    fn code_parsing() {
        assert_eq!(TotpCode::parse("012345").unwrap().as_str(), "012345");
        assert_eq!(TotpCode::parse(" 012 345 ").unwrap().as_str(), "012345");
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "１２３４５６",
            "12\u{0}456",
        ] {
            assert!(TotpCode::parse(bad).is_none(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic_and_only_the_right_code_passes(input in ".{0,40}") {
            let secret = rfc_secret();
            let now = 1_700_000_000;
            let window: Vec<String> = (-1i64..=1)
                .map(|d| secret.code_at((step_of(now) as i64 + d) as u64 * STEP_SECONDS))
                .collect();
            let accepted = TotpCode::parse(&input).and_then(|c| secret.verify(&c, now));
            let normalised: String = input.chars().filter(|c| *c != ' ').collect();
            prop_assert_eq!(accepted.is_some(), input.len() <= 32 && window.contains(&normalised));
        }

        #[test]
        fn six_digit_strings_pass_only_when_equal_to_a_window_code(code in "[0-9]{6}") {
            let secret = rfc_secret();
            let now = 1_234_567_890;
            let expected = (-1i64..=1)
                .any(|d| secret.code_at((step_of(now) as i64 + d) as u64 * STEP_SECONDS) == code);
            let parsed = TotpCode::parse(&code).unwrap();
            prop_assert_eq!(secret.verify(&parsed, now).is_some(), expected);
        }
    }
}
