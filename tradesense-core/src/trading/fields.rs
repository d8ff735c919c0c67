//! Reading a JSON object field by field, so a `422` lists *every* bad field
//! (one `errors` entry each) instead of stopping at serde's first complaint.
//!
//! Each field is kept as its raw JSON text until it is parsed by its own
//! type, which is also what lets decimals be read exactly.

use crate::error::{ApiError, FieldError};
use crate::http::JsonBody;
use axum::extract::{FromRequest, Request};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::str::FromStr;

/// The fields of a JSON object body, and the errors found so far.
#[derive(Debug)]
pub(crate) struct Fields {
    map: HashMap<String, Box<RawValue>>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// Reads `body` as a JSON object (`400` if malformed, `422` if not an
    /// object). An empty body is the empty object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            body
        };
        let map: HashMap<String, Box<RawValue>> =
            serde_json::from_slice(body).map_err(|err| match err.classify() {
                serde_json::error::Category::Data => {
                    ApiError::invalid("body", "must be a JSON object")
                }
                _ => ApiError::MalformedBody(format!("malformed JSON body: {err}")),
            })?;
        Ok(Self {
            map,
            errors: Vec::new(),
        })
    }

    /// A field that must be present and not null.
    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&RawValue) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(name) {
            None => {
                self.errors.push(FieldError::new(name, "field required"));
                None
            }
            Some(raw) if raw.get() == "null" => {
                self.errors.push(FieldError::new(name, "must not be null"));
                None
            }
            Some(raw) => self.check(name, parse(raw)),
        }
    }

    /// A field that may be absent (`None`) or null (`Some(None)`).
    pub(crate) fn nullable<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&RawValue) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.map.get(name) {
            None => None,
            Some(raw) if raw.get() == "null" => Some(None),
            Some(raw) => self.check(name, parse(raw)).map(Some),
        }
    }

    /// A field that may be absent, but not null.
    pub(crate) fn optional<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&RawValue) -> Result<T, String>,
    ) -> Option<T> {
        if self.map.get(name).is_some_and(|raw| raw.get() == "null") {
            self.errors.push(FieldError::new(name, "must not be null"));
            return None;
        }
        self.nullable(name, parse).flatten()
    }

    /// Refuses every field not in `known`, one error each: an endpoint
    /// never answers `200` having ignored part of what it was sent.
    pub(crate) fn deny_unknown(&mut self, known: &[&str]) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .collect();
        unknown.sort();
        for name in unknown {
            self.errors.push(FieldError::new(
                name.as_str(),
                format!("unknown or read-only field; editable: {}", known.join(", ")),
            ));
        }
    }

    fn check<T>(&mut self, name: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.errors.push(FieldError::new(name, message)))
            .ok()
    }

    /// `Ok` if every field read so far was valid, else the `422`.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// A JSON string parsed by `T::from_str`.
pub(crate) fn text<T: FromStr<Err = String>>(raw: &RawValue) -> Result<T, String> {
    let text: String =
        serde_json::from_str(raw.get()).map_err(|_| "must be a string".to_owned())?;
    text.parse()
}

/// A request body read field by field into `T`, every bad field named.
pub(crate) trait FromFields: Sized {
    /// Reads every field of `T` from `fields`; `None` when one was bad
    /// (the errors are in `fields`).
    fn from_fields(fields: &mut Fields) -> Option<Self>;
}

/// The extractor of a [`FromFields`] body: `T` or the `422` listing every
/// bad field.
pub(crate) struct FieldsJson<T>(pub(crate) T);

impl<T: FromFields, S: Send + Sync> FromRequest<S> for FieldsJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(body) = JsonBody::from_request(request, state).await?;
        let mut fields = Fields::parse(&body)?;
        let value = T::from_fields(&mut fields);
        fields.finish()?;
        // `finish` is `Ok` only when every field parsed, so `value` is
        // `Some`; answer 422 rather than panic should the two ever disagree.
        value
            .map(FieldsJson)
            .ok_or_else(|| ApiError::invalid("body", "invalid fields"))
    }
}
