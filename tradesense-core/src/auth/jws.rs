//! Compact HS256 JWS (RFC 7515) for the tokens [`TokenKeys`](super::TokenKeys)
//! issues, signed and verified here byte for byte instead of by a general
//! JWT library.
//!
//! Why: verification runs on every authenticated request, and the general
//! path (`jsonwebtoken`) parsed the header as JSON twice (our pinning
//! checks, then its own), decoded the claims twice (its validation, then our
//! typed claims) and keyed the HMAC afresh each time: a third of the
//! instructions of `GET /api/v1/users/me` under callgrind
//! (benches/README.md). Here:
//! - the header is never parsed: a token's header segment must equal, byte
//!   for byte, one this process writes (`alg` HS256, the `typ` asked for, a
//!   known `kid`), so `alg: none` or an algorithm switch cannot even be
//!   expressed; a mismatch is diagnosed (for the debug log) only then;
//! - the HMAC starts from a state keyed once per key;
//! - the claims are decoded once, into the caller's type.
//!
//! The encoding is exactly `jsonwebtoken`'s (same header field order, no
//! padding), so tokens issued before this module existed stay valid; a
//! test signs with each and verifies with the other.

use super::token::TokenError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// One HS256 key: its id, its keyed HMAC state, and the header segments of
/// the token types it signs.
#[derive(Clone)]
pub(super) struct Hs256Key {
    kid: String,
    mac: HmacSha256,
    /// `(typ, base64url(header JSON))` for each token type.
    headers: Vec<(&'static str, String)>,
}

impl Hs256Key {
    /// A key named `kid` for tokens of the types `typs`.
    pub(super) fn new(kid: String, secret: &[u8], typs: &[&'static str]) -> Self {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        let headers = typs
            .iter()
            .map(|&typ| (typ, URL_SAFE_NO_PAD.encode(header_json(typ, &kid))))
            .collect();
        Self { kid, mac, headers }
    }

    pub(super) fn kid(&self) -> &str {
        &self.kid
    }

    fn header(&self, typ: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(t, _)| *t == typ)
            .map(|(_, header)| header.as_str())
    }

    /// `header.payload.signature` for `claims` as a token of type `typ`.
    pub(super) fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, TokenError> {
        let header = self.header(typ).ok_or(TokenError::Invalid("typ"))?;
        let payload = serde_json::to_vec(claims).map_err(|_| TokenError::Invalid("claims"))?;
        let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 48);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self
            .mac
            .clone()
            .chain_update(token.as_bytes())
            .finalize()
            .into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// The header as `jsonwebtoken` serialises it: `typ`, `alg`, `kid`, in that
/// order. `typ` is one of our constants and `kid` hex, so nothing needs
/// escaping.
fn header_json(typ: &str, kid: &str) -> String {
    format!(r#"{{"typ":"{typ}","alg":"HS256","kid":"{kid}"}}"#)
}

/// Verifies `token` as a token of type `typ` signed by one of `keys`, and
/// decodes its claims. Checks nothing in the claims: the caller does.
pub(super) fn verify<T: DeserializeOwned>(
    keys: &[Hs256Key],
    typ: &str,
    token: &str,
) -> Result<T, TokenError> {
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(TokenError::Invalid("header"))?;
    let (header, payload) = signing_input
        .split_once('.')
        .filter(|(_, payload)| !payload.contains('.'))
        .ok_or(TokenError::Invalid("header"))?;
    let key = keys
        .iter()
        .find(|key| key.header(typ) == Some(header))
        .ok_or_else(|| TokenError::Invalid(diagnose_header(keys, typ, header)))?;
    // 43 characters decode to the 32 bytes of an HMAC-SHA256; the slack
    // lets a longer (invalid) segment fail on its length, not the buffer's.
    let mut mac = [0u8; 48];
    let len = URL_SAFE_NO_PAD
        .decode_slice(signature, &mut mac)
        .map_err(|_| TokenError::Invalid("signature"))?;
    key.mac
        .clone()
        .chain_update(signing_input.as_bytes())
        .verify_slice(&mac[..len])
        .map_err(|_| TokenError::Invalid("signature"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Invalid("claims"))?;
    // Typed claims: a missing `iat`, `sid` or a wrong shape fails here.
    serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid("claims"))
}

/// Why a header segment is none of ours, for the log: the cold path of a
/// refused token, so it may parse.
fn diagnose_header(keys: &[Hs256Key], typ: &str, segment: &str) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Header {
        alg: Option<String>,
        typ: Option<String>,
        kid: Option<String>,
    }
    let Some(header) = URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|json| serde_json::from_slice::<Header>(&json).ok())
    else {
        return "header";
    };
    if header.alg.as_deref() != Some("HS256") {
        "alg"
    } else if header.typ.as_deref() != Some(typ) {
        "typ"
    } else if !keys
        .iter()
        .any(|key| Some(key.kid()) == header.kid.as_deref())
    {
        "kid"
    } else {
        // Our fields, in another order or spacing: not a header we wrote.
        "header"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> Hs256Key {
        Hs256Key::new("k1".into(), SECRET, &["at+jwt", "mfa+jwt"])
    }

    fn claims() -> Claims {
        Claims {
            sub: "someone".into(),
            exp: 4_102_444_800,
        }
    }

    fn jsonwebtoken_header(typ: &str) -> Header {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(typ.into());
        header.kid = Some("k1".into());
        header
    }

    #[test]
    fn encodes_exactly_as_jsonwebtoken_does() {
        let ours = key().sign("at+jwt", &claims()).unwrap();
        let theirs = jsonwebtoken::encode(
            &jsonwebtoken_header("at+jwt"),
            &claims(),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(ours, theirs);
        // And each side accepts the other's.
        assert_eq!(
            verify::<Claims>(&[key()], "at+jwt", &theirs).unwrap(),
            claims()
        );
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        let decoded =
            jsonwebtoken::decode::<Claims>(&ours, &DecodingKey::from_secret(SECRET), &validation)
                .unwrap();
        assert_eq!(decoded.claims, claims());
    }

    #[test]
    fn refuses_every_tampering() {
        let keys = [key()];
        let token = key().sign("at+jwt", &claims()).unwrap();
        let (header, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":4102444800}"#);
        let other_key = Hs256Key::new("k1".into(), b"another secret", &["at+jwt"]);
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{header}.{forged_payload}.{signature}"),
                "signature",
            ),
            (format!("{header}.{payload}."), "signature"),
            (format!("{header}.{payload}.{signature}A"), "signature"),
            (format!("{header}.{payload}"), "header"),
            (format!("{header}.{payload}.{signature}.x"), "header"),
            (other_key.sign("at+jwt", &claims()).unwrap(), "signature"),
            (key().sign("mfa+jwt", &claims()).unwrap(), "typ"),
            (
                Hs256Key::new("k2".into(), SECRET, &["at+jwt"])
                    .sign("at+jwt", &claims())
                    .unwrap(),
                "kid",
            ),
            (
                format!(
                    "{}.{payload}.",
                    URL_SAFE_NO_PAD.encode(r#"{"typ":"at+jwt","alg":"none","kid":"k1"}"#)
                ),
                "alg",
            ),
            (
                // Our fields, reordered: valid JSON, not a header we write.
                format!(
                    "{}.{payload}.{signature}",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#)
                ),
                "header",
            ),
            ("not a token".into(), "header"),
            (String::new(), "header"),
        ];
        for (token, reason) in cases {
            assert_eq!(
                verify::<Claims>(&keys, "at+jwt", &token),
                Err(TokenError::Invalid(reason)),
                "{token}"
            );
        }
    }

    #[test]
    fn a_signed_payload_that_is_not_the_claims_is_refused() {
        let token = key()
            .sign("at+jwt", &serde_json::json!({"sub": 1}))
            .unwrap();
        assert_eq!(
            verify::<Claims>(&[key()], "at+jwt", &token),
            Err(TokenError::Invalid("claims"))
        );
    }
}
