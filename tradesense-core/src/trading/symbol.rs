//! Instrument symbols and trade sides.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An instrument symbol: 1-32 characters of `[A-Z0-9.:/-]` after
/// (ASCII) upper-casing (`aapl` is `AAPL`; `BTC/USD`, `ES:CME`, `BRK.B` are fine).
/// 32 leaves room for an OCC option symbol without its padding blanks
/// (`MDB260717P00312500`: root, expiry, put or call, strike x 1000) and a
/// venue suffix.
///
/// ```
/// use tradesense_core::trading::Symbol;
/// assert_eq!("brk.b".parse::<Symbol>().unwrap().as_str(), "BRK.B");
/// assert!("A B".parse::<Symbol>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(String);

impl Symbol {
    /// The longest symbol accepted.
    pub const MAX_LEN: usize = 32;

    /// The symbol text (upper case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Symbol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // ASCII upper-casing only: `ß` must not turn into an accepted `SS`.
        let upper = s.to_ascii_uppercase();
        let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || ".:/-".contains(c);
        if upper.is_empty() || upper.chars().count() > Self::MAX_LEN || !upper.chars().all(allowed)
        {
            return Err(format!(
                "must be 1-{} characters of A-Z, 0-9, '.', ':', '/', '-'",
                Self::MAX_LEN
            ));
        }
        Ok(Self(upper))
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(D::Error::custom)
    }
}

/// Whether a trade bought or sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Adds quantity at a cost.
    Buy,
    /// Removes quantity, realizing P&L.
    Sell,
}

impl Side {
    /// `"buy"` or `"sell"`, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

impl FromStr for Side {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "buy" => Ok(Self::Buy),
            "sell" => Ok(Self::Sell),
            _ => Err("must be \"buy\" or \"sell\"".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols() {
        for ok in [
            "aapl",
            "BTC/USD",
            "es:cme",
            "brk.b",
            "X",
            "MDB260717P00312500",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        ] {
            assert!(ok.parse::<Symbol>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
            "MDB   260717P00312500",
            "A B",
            "AAPL$",
            "é",
            "ß",
        ] {
            assert!(bad.parse::<Symbol>().is_err(), "{bad}");
        }
        let s: Symbol = serde_json::from_str("\"msft\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"MSFT\"");
    }

    #[test]
    fn sides() {
        assert_eq!("buy".parse::<Side>(), Ok(Side::Buy));
        assert!("BUY".parse::<Side>().is_err());
        assert_eq!(serde_json::to_string(&Side::Sell).unwrap(), "\"sell\"");
    }
}
