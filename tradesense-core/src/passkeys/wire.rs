//! The WebAuthn Level 3 JSON on the wire, so a frontend writes no base64
//! code: `options` is what `PublicKeyCredential.parseCreationOptionsFromJSON()`
//! / `parseRequestOptionsFromJSON()` take, and a `credential` is what
//! `PublicKeyCredential.toJSON()` gives.
//!
//! webauthn-rs 0.5 speaks nearly that already (binary fields base64url);
//! what differs, and is adapted here:
//! - its options come wrapped (`{"publicKey": {...}, "mediation"}`): the
//!   inner object is what the parse functions take;
//! - registration asks for no resident key (its `Passkey` ceremony leaves
//!   that to the authenticator): we require one (`residentKey: required`,
//!   `requireResidentKey: true`), because the login names no user and can
//!   only find discoverable credentials;
//! - the obsolete `uvm` extension (dropped from the spec, ignored by
//!   browsers) is left out, as is an empty `allowCredentials` (a login of
//!   discoverable credentials lists none);
//! - the credential is read into our own types, so a bad shape is a `422`
//!   naming the field (`credential.response.clientDataJSON`), with the
//!   Level 3 members webauthn-rs does not know (`authenticatorAttachment`,
//!   `publicKey`, `publicKeyAlgorithm`, `authenticatorData` of a
//!   registration) accepted and ignored: they repeat what the signed
//!   attestation object holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};
use webauthn_rs_proto::{
    AuthenticationExtensionsClientOutputs, AuthenticatorAssertionResponseRaw,
    AuthenticatorAttestationResponseRaw, AuthenticatorTransport,
    RegistrationExtensionsClientOutputs,
};

/// Bytes sent as base64url (RFC 4648 §5, unpadded as `toJSON()` writes
/// it; padding tolerated).
#[derive(Clone, PartialEq, Eq)]
pub struct Base64Url(pub Vec<u8>);

impl std::fmt::Debug for Base64Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Url({} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Base64Url {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(Base64Url)
            .map_err(|_| serde::de::Error::custom("must be base64url"))
    }
}

/// The credential type: always `public-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub enum CredentialType {
    /// The only type WebAuthn has.
    #[serde(rename = "public-key")]
    PublicKey,
}

/// `AuthenticatorAttestationResponseJSON`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponseJson {
    /// base64url of the client data (type, challenge, origin).
    #[serde(rename = "clientDataJSON")]
    #[schema(value_type = String)]
    pub client_data_json: Base64Url,
    /// base64url of the CBOR attestation object.
    #[schema(value_type = String)]
    pub attestation_object: Base64Url,
    /// How the authenticator can be reached (`internal`, `usb`, `hybrid`, ...).
    #[serde(default)]
    pub transports: Vec<String>,
}

/// `RegistrationResponseJSON`: what `toJSON()` gives for a new credential.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationCredential {
    /// base64url of the credential id.
    pub id: String,
    /// The same, as `rawId`.
    #[schema(value_type = String)]
    pub raw_id: Base64Url,
    /// `public-key`.
    #[serde(rename = "type")]
    pub type_: CredentialType,
    /// The authenticator's answer.
    pub response: AttestationResponseJson,
    /// Unsigned client extension outputs (`credProps`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub client_extension_results: Value,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponseJson {
    /// base64url of the client data.
    #[serde(rename = "clientDataJSON")]
    #[schema(value_type = String)]
    pub client_data_json: Base64Url,
    /// base64url of the authenticator data (RP ID hash, flags, counter).
    #[schema(value_type = String)]
    pub authenticator_data: Base64Url,
    /// base64url of the signature.
    #[schema(value_type = String)]
    pub signature: Base64Url,
    /// base64url of the user handle the credential was created with.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_handle: Option<Base64Url>,
}

/// `AuthenticationResponseJSON`: what `toJSON()` gives for an assertion.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationCredential {
    /// base64url of the credential id.
    pub id: String,
    /// The same, as `rawId`.
    #[schema(value_type = String)]
    pub raw_id: Base64Url,
    /// `public-key`.
    #[serde(rename = "type")]
    pub type_: CredentialType,
    /// The authenticator's answer.
    pub response: AssertionResponseJson,
    /// Unsigned client extension outputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub client_extension_results: Value,
}

/// A credential whose parts do not fit together: the JSON path of the
/// part (under `credential`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// The member, e.g. `id`.
    pub field: &'static str,
    /// What is wrong.
    pub message: &'static str,
}

fn check_id(id: &str, raw_id: &[u8]) -> Result<(), ShapeError> {
    if raw_id.is_empty() || id != URL_SAFE_NO_PAD.encode(raw_id) {
        return Err(ShapeError {
            field: "id",
            message: "must be the base64url of rawId",
        });
    }
    Ok(())
}

fn transports(names: &[String]) -> Option<Vec<AuthenticatorTransport>> {
    // Unknown names are hints a newer browser knows: dropped, not refused.
    let known: Vec<AuthenticatorTransport> = names
        .iter()
        .filter_map(|name| name.parse().ok())
        .filter(|t| *t != AuthenticatorTransport::Unknown)
        .collect();
    (!known.is_empty()).then_some(known)
}

impl RegistrationCredential {
    /// webauthn-rs' form of it.
    pub fn to_webauthn(&self) -> Result<RegisterPublicKeyCredential, ShapeError> {
        check_id(&self.id, &self.raw_id.0)?;
        let extensions: RegistrationExtensionsClientOutputs =
            from_extensions(&self.client_extension_results)?;
        Ok(RegisterPublicKeyCredential {
            id: self.id.clone(),
            raw_id: self.raw_id.0.clone().into(),
            response: AuthenticatorAttestationResponseRaw {
                attestation_object: self.response.attestation_object.0.clone().into(),
                client_data_json: self.response.client_data_json.0.clone().into(),
                transports: transports(&self.response.transports),
            },
            type_: "public-key".to_owned(),
            extensions,
        })
    }
}

impl AuthenticationCredential {
    /// webauthn-rs' form of it.
    pub fn to_webauthn(&self) -> Result<PublicKeyCredential, ShapeError> {
        check_id(&self.id, &self.raw_id.0)?;
        let extensions: AuthenticationExtensionsClientOutputs =
            from_extensions(&self.client_extension_results)?;
        Ok(PublicKeyCredential {
            id: self.id.clone(),
            raw_id: self.raw_id.0.clone().into(),
            response: AuthenticatorAssertionResponseRaw {
                authenticator_data: self.response.authenticator_data.0.clone().into(),
                client_data_json: self.response.client_data_json.0.clone().into(),
                signature: self.response.signature.0.clone().into(),
                user_handle: self
                    .response
                    .user_handle
                    .as_ref()
                    .map(|h| h.0.clone().into()),
            },
            extensions,
            type_: "public-key".to_owned(),
        })
    }
}

/// The client extension outputs webauthn-rs reads; members it does not
/// know are ignored, a known one of the wrong type is a shape error.
fn from_extensions<T: serde::de::DeserializeOwned + Default>(
    value: &Value,
) -> Result<T, ShapeError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone()).map_err(|_| ShapeError {
        field: "clientExtensionResults",
        message: "has a member of the wrong type",
    })
}

/// `PublicKeyCredentialCreationOptionsJSON` from webauthn-rs' challenge.
pub(crate) fn creation_options(ccr: &CreationChallengeResponse) -> serde_json::Result<Value> {
    let mut options = serde_json::to_value(&ccr.public_key)?;
    if let Some(object) = options.as_object_mut() {
        object.insert(
            "authenticatorSelection".to_owned(),
            serde_json::json!({
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "required",
            }),
        );
        if let Some(extensions) = object.get_mut("extensions").and_then(Value::as_object_mut) {
            extensions.remove("uvm");
        }
        // An empty exclusion list says nothing; leave the member out.
        if object
            .get("excludeCredentials")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            object.remove("excludeCredentials");
        }
    }
    Ok(options)
}

/// `PublicKeyCredentialRequestOptionsJSON` from webauthn-rs' challenge.
pub(crate) fn request_options(rcr: &RequestChallengeResponse) -> serde_json::Result<Value> {
    let mut options = serde_json::to_value(&rcr.public_key)?;
    if let Some(object) = options.as_object_mut() {
        // Discoverable credentials: the authenticator offers its own.
        if object
            .get("allowCredentials")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            object.remove("allowCredentials");
        }
        if let Some(extensions) = object.get_mut("extensions").and_then(Value::as_object_mut) {
            extensions.remove("uvm");
            if extensions.is_empty() {
                object.remove("extensions");
            }
        }
    }
    Ok(options)
}
