//! A software authenticator for tests: what a browser with a platform
//! authenticator does for `navigator.credentials.create()` / `.get()`,
//! answering with the Level 3 JSON of `PublicKeyCredential.toJSON()`.
//! Behind the `testing` feature.
//!
//! Written here rather than taken from `webauthn-authenticator-rs`: its
//! `SoftPasskey` and `SoftToken` (0.5.5) refuse resident keys and user
//! verification, which is exactly what passkeys need. This one is an
//! independent implementation (P-256 ECDSA with `p256`, its own CBOR
//! encoder, attestation `none`), so a test that passes is webauthn-rs
//! agreeing with a second reading of the spec, not with itself.
//!
//! Knobs for the failure cases: [`SoftAuthenticator::set_counter`] (a
//! counter that goes backwards, as a cloned key's would),
//! [`SoftAuthenticator::origin`] (a phishing page's origin),
//! [`SoftAuthenticator::verifies_user`] (an authenticator skipping user
//! verification).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A credential the authenticator holds (a resident key).
#[derive(Clone)]
pub struct SoftCredential {
    /// The credential id.
    pub id: Vec<u8>,
    /// The RP ID it is bound to.
    pub rp_id: String,
    /// The user handle (`user.id` of the registration).
    pub user_handle: Vec<u8>,
    /// The signature counter (raised before each assertion).
    pub counter: u32,
    key: SigningKey,
}

impl std::fmt::Debug for SoftCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftCredential")
            .field("id", &URL_SAFE_NO_PAD.encode(&self.id))
            .field("rp_id", &self.rp_id)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// A platform authenticator in software, with resident keys and user
/// verification, behind a browser at `origin`.
#[derive(Debug, Clone)]
pub struct SoftAuthenticator {
    /// The origin the "browser" writes into `clientDataJSON`.
    pub origin: String,
    /// Whether it sets the user-verified flag (default `true`).
    pub verifies_user: bool,
    credentials: Vec<SoftCredential>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("options{pointer} missing"))
}

fn decode(value: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("{what} is not base64url"))
}

/// A signing key from random bytes (a random scalar is valid but for a
/// negligible fraction of values; retried then).
fn new_key() -> SigningKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
            return key;
        }
    }
}

// ---- a minimal CBOR encoder (RFC 8949): what attestation objects and
// COSE keys use, nothing more.

enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend([major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

impl Cbor {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(n) if *n >= 0 => cbor_head(0, *n as u64, out),
            Self::Int(n) => cbor_head(1, (-1 - *n) as u64, out),
            Self::Bytes(bytes) => {
                cbor_head(2, bytes.len() as u64, out);
                out.extend(bytes);
            }
            Self::Text(text) => {
                cbor_head(3, text.len() as u64, out);
                out.extend(text.as_bytes());
            }
            Self::Map(entries) => {
                cbor_head(5, entries.len() as u64, out);
                for (key, value) in entries {
                    key.encode(out);
                    value.encode(out);
                }
            }
        }
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

impl SoftAuthenticator {
    /// An authenticator with no credentials, in a browser at `origin`
    /// (`http://localhost:8000`).
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            verifies_user: true,
            credentials: Vec::new(),
        }
    }

    /// The credentials it holds, oldest first.
    pub fn credentials(&self) -> &[SoftCredential] {
        &self.credentials
    }

    /// Sets the counter of the newest credential (the next assertion
    /// signs `counter + 1`).
    pub fn set_counter(&mut self, counter: u32) {
        if let Some(credential) = self.credentials.last_mut() {
            credential.counter = counter;
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        // UP, UV if it verifies the user, AT for a new credential.
        0x01 | if self.verifies_user { 0x04 } else { 0 } | if attested { 0x40 } else { 0 }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// `navigator.credentials.create({publicKey: parseCreationOptionsFromJSON(options)})`
    /// then `.toJSON()`: a new resident P-256 key for `options.rp.id` and
    /// `options.user.id`. `Err` as a browser would refuse: a credential of
    /// `excludeCredentials` is here, ES256 is not offered.
    pub fn create(&mut self, options: &Value) -> Result<Value, String> {
        let rp_id = text(options, "/rp/id")?.to_owned();
        let challenge = text(options, "/challenge")?;
        let user_handle = decode(text(options, "/user/id")?, "user.id")?;
        if !options["pubKeyCredParams"]
            .as_array()
            .is_some_and(|params| params.iter().any(|p| p["alg"] == -7))
        {
            return Err("NotSupportedError: ES256 not offered".to_owned());
        }
        let excluded = options["excludeCredentials"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for descriptor in excluded {
            let id = decode(
                descriptor["id"].as_str().unwrap_or(""),
                "excludeCredentials.id",
            )?;
            if self.credentials.iter().any(|c| c.id == id) {
                return Err("InvalidStateError: already registered".to_owned());
            }
        }
        let id: [u8; 32] = rand::random();
        let key = new_key();
        let point = key.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err("an uncompressed point has coordinates".to_owned());
        };
        let cose_key = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),  // kty: EC2
            (Cbor::Int(3), Cbor::Int(-7)), // alg: ES256
            (Cbor::Int(-1), Cbor::Int(1)), // crv: P-256
            (Cbor::Int(-2), Cbor::Bytes(x.to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(y.to_vec())),
        ]);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none (attestation "none")
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(id);
        auth_data.extend(cose_key.to_vec());
        let attestation_object = Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data.clone())),
        ])
        .to_vec();
        let client_data = self.client_data("webauthn.create", challenge);
        self.credentials.push(SoftCredential {
            id: id.to_vec(),
            rp_id,
            user_handle,
            counter: 0,
            key,
        });
        Ok(json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation_object),
                "authenticatorData": b64(&auth_data),
                "transports": ["internal"],
                "publicKeyAlgorithm": -7,
            },
            "clientExtensionResults": {"credProps": {"rk": true}},
        }))
    }

    /// `navigator.credentials.get({publicKey: parseRequestOptionsFromJSON(options)})`
    /// then `.toJSON()`, with the newest credential for `options.rpId`
    /// (among `allowCredentials`, if listed). `Err` when there is none.
    pub fn get(&mut self, options: &Value) -> Result<Value, String> {
        let rp_id = text(options, "/rpId")?.to_owned();
        let challenge = text(options, "/challenge")?.to_owned();
        let allowed: Vec<Vec<u8>> = options["allowCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|d| d["id"].as_str())
                    .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
                    .collect()
            })
            .unwrap_or_default();
        let flags = self.flags(false);
        let client_data = self.client_data("webauthn.get", &challenge);
        let credential = self
            .credentials
            .iter_mut()
            .rev()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .ok_or_else(|| "NotAllowedError: no credential for this RP".to_owned())?;
        credential.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend(credential.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = credential.key.sign(&signed);
        Ok(json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&credential.user_handle),
            },
            "clientExtensionResults": {},
        }))
    }
}
