//! Reading a JSON object field by field, so a `422` lists *every* bad field
//! (one `errors` entry each) instead of stopping at serde's first complaint.
//!
//! Each field is kept as its raw JSON text until it is parsed by its own
//! type, which is also what lets decimals be read exactly.

use crate::error::{ApiError, FieldError};
use crate::http::{Request, parse_json};
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
    /// Reads the body as a JSON object (`400` if malformed, `422` if not an
    /// object).
    pub(crate) fn from_request(request: &Request) -> Result<Self, ApiError> {
        let map =
            parse_json::<HashMap<String, Box<RawValue>>>(request).map_err(|err| match err {
                ApiError::Validation(_) => ApiError::invalid("body", "must be a JSON object"),
                other => other,
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
