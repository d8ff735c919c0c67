//! Tags on trades (docs/API.md, "Trades"): up to 20 distinct strings of
//! 1-40 characters, stored trimmed and lower-cased, listed sorted.
//!
//! A set, not a list: `["Breakout", "breakout "]` is one tag, so the order
//! and duplicates a client sends never show up in what it reads back.

use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::str::FromStr;

/// One tag: 1-40 printable characters once trimmed, lower case.
///
/// ```
/// use tradesense_core::trading::Tag;
/// assert_eq!(" Breakout ".parse::<Tag>().unwrap().as_str(), "breakout");
/// assert!("  ".parse::<Tag>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    /// The longest tag accepted, in characters.
    pub const MAX_LEN: usize = 40;

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let tag = s.trim().to_lowercase();
        if tag.is_empty()
            || tag.chars().count() > Self::MAX_LEN
            || tag.chars().any(char::is_control)
        {
            return Err(format!(
                "each tag must be 1-{} printable characters",
                Self::MAX_LEN
            ));
        }
        Ok(Self(tag))
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A trade's (or round trip's) tags, sorted and distinct.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tags(BTreeSet<Tag>);

impl Tags {
    /// The most tags one trade may carry.
    pub const MAX: usize = 20;

    /// No tags.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates `tags` (each normalised; duplicates after normalising
    /// count once; at most [`Tags::MAX`]).
    pub fn parse<'a>(tags: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for tag in tags {
            set.insert(tag.parse::<Tag>()?);
        }
        if set.len() > Self::MAX {
            return Err(format!("at most {} distinct tags", Self::MAX));
        }
        Ok(Self(set))
    }

    /// The tags, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `tag` is one of them.
    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    /// Adds every tag of `other` (a round trip's tags are its trades').
    /// Unbounded: a union may exceed [`Tags::MAX`].
    pub fn extend(&mut self, other: &Tags) {
        self.0.extend(other.0.iter().cloned());
    }

    /// The stored form: a JSON array of the sorted tags.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Reads the stored form back (no bound: a round trip's union may
    /// hold more than one trade's maximum).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let list: Vec<String> = serde_json::from_str(text).map_err(|err| err.to_string())?;
        let mut set = BTreeSet::new();
        for tag in &list {
            set.insert(tag.parse::<Tag>()?);
        }
        Ok(Self(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_sorted_distinct_and_bounded() {
        let tags = Tags::parse(["Swing", " breakout", "SWING "]).unwrap();
        assert_eq!(tags.to_json(), r#"["breakout","swing"]"#);
        assert_eq!(Tags::from_json(&tags.to_json()).unwrap(), tags);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(many.iter().map(String::as_str)).is_err());
        let twenty_with_repeats: Vec<String> = (0..40).map(|i| format!("T{}", i % 20)).collect();
        assert_eq!(
            Tags::parse(twenty_with_repeats.iter().map(String::as_str))
                .unwrap()
                .len(),
            20
        );
        assert!(Tags::parse(["x".repeat(41).as_str()]).is_err());
        assert!(Tags::parse(["ÄÖ".repeat(20).as_str()]).is_ok());
        assert!(Tags::parse(["a\u{7}"]).is_err());
        assert!(Tags::parse([""]).is_err());
    }
}
