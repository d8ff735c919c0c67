//! Exact decimals on the wire: quantities, prices and fees.
//!
//! Requests may send a decimal as a JSON string (`"0.1"`) or a JSON number
//! (`0.1`, `1e-7`). serde_json would turn a number into an `f64` before any
//! decimal type saw it (`0.1` would become `0.1000000000000000055...`), so
//! these types deserialize through [`RawValue`] and parse the literal text
//! themselves. A value that a [`Decimal`] cannot hold exactly (more than 28
//! fractional digits, or beyond ~7.9e28) is refused, never rounded: silently
//! changing an amount is worse than asking the client to send another.
//!
//! Responses always render decimals as normalized strings (`"101.25"`).

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::value::RawValue;
use std::fmt;
use std::str::FromStr;

/// Parses a decimal literal exactly: `-?digits[.digits][(e|E)[+-]digits]`.
///
/// Anything else (underscores, blanks, `NaN`, hex) is refused, and so is a
/// value that does not fit a [`Decimal`] without rounding.
///
/// ```
/// use tradesense_core::trading::parse_decimal_exact;
/// assert_eq!(parse_decimal_exact("0.1").unwrap().to_string(), "0.1");
/// assert_eq!(parse_decimal_exact("1e-7").unwrap().to_string(), "0.0000001");
/// assert!(parse_decimal_exact("0.1234567890123456789012345678901").is_err());
/// ```
pub fn parse_decimal_exact(text: &str) -> Result<Decimal, String> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let unsigned = mantissa.strip_prefix('-').unwrap_or(mantissa);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err("must be a decimal number".to_owned());
    }
    let too_precise = || "has more precision than 28 decimal places or 96 bits allow".to_owned();
    let mut value = Decimal::from_str_exact(mantissa).map_err(|_| too_precise())?;
    if let Some(exponent) = exponent {
        let unsigned_exp = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        if !digits(unsigned_exp) {
            return Err("must be a decimal number".to_owned());
        }
        let magnitude: u32 = unsigned_exp.parse().map_err(|_| too_precise())?;
        if exponent.starts_with('-') {
            // Moving the point left is exact as long as the scale fits.
            let scale = value
                .scale()
                .checked_add(magnitude)
                .ok_or_else(too_precise)?;
            value.set_scale(scale).map_err(|_| too_precise())?;
        } else {
            for _ in 0..magnitude.min(40) {
                value = value.checked_mul(Decimal::TEN).ok_or_else(too_precise)?;
            }
            if magnitude > 40 && !value.is_zero() {
                return Err(too_precise());
            }
        }
    }
    Ok(value.normalize())
}

/// Deserializes a decimal from a JSON string or number, exactly.
pub fn deserialize_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    decimal_from_raw(&raw).map_err(D::Error::custom)
}

/// Parses the raw JSON text of a decimal: a string or a number literal.
pub fn decimal_from_raw(raw: &RawValue) -> Result<Decimal, String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).map_err(|err| err.to_string())?;
        parse_decimal_exact(&inner)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        parse_decimal_exact(text)
    } else {
        Err("must be a decimal number or a string holding one".to_owned())
    }
}

/// Serializes a decimal as its normalized string (`"1.5"`, never `1.50`).
pub fn serialize_decimal<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&value.normalize())
}

macro_rules! amount {
    ($(#[$doc:meta])* $name:ident, $field:literal, $ok:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Checks the rule of this amount.
            pub fn new(value: Decimal) -> Result<Self, String> {
                let ok: fn(&Decimal) -> bool = $ok;
                if ok(&value) {
                    Ok(Self(value.normalize()))
                } else {
                    Err(concat!("must be ", $rule).to_owned())
                }
            }

            /// The value.
            pub fn get(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::new(parse_decimal_exact(s)?)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_decimal(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(deserialize_decimal(deserializer)?).map_err(D::Error::custom)
            }
        }
    };
}

amount!(
    /// A traded quantity: strictly positive.
    Quantity, "quantity", |v| v.is_sign_positive() && !v.is_zero(), "greater than 0"
);
amount!(
    /// A unit price: zero or more (a free transfer-in is a buy at 0).
    Price, "price", |v| !v.is_sign_negative() || v.is_zero(), "zero or more"
);
amount!(
    /// Fees paid on a trade: any decimal, a negative one being a rebate
    /// (some venues pay for added liquidity).
    Fees, "fees", |_| true, "a decimal number"
);

impl Fees {
    /// No fees.
    pub const ZERO: Self = Self(Decimal::ZERO);
}

amount!(
    /// The contract multiplier of an instrument: how much money one unit of
    /// price is worth per unit of quantity (`1` for shares, `100` for US
    /// equity options, `50` for ES futures). Strictly positive.
    Multiplier, "multiplier", |v| v.is_sign_positive() && !v.is_zero(), "greater than 0"
);

impl Multiplier {
    /// Shares, currencies, anything quoted per unit.
    pub const ONE: Self = Self(Decimal::ONE);
}

impl Default for Multiplier {
    fn default() -> Self {
        Self::ONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn numbers_and_strings_parse_exactly() {
        let q: Quantity = from_json("0.1").unwrap();
        assert_eq!(q.get(), Decimal::new(1, 1));
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"0.1\"");
        let q: Quantity = from_json("\"0.1\"").unwrap();
        assert_eq!(q.to_string(), "0.1");
        let q: Quantity = from_json("1e-7").unwrap();
        assert_eq!(q.to_string(), "0.0000001");
        let q: Quantity = from_json("1.5E+3").unwrap();
        assert_eq!(q.to_string(), "1500");
        let p: Price = from_json("\"101.2500\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"101.25\"");
    }

    #[test]
    fn long_numbers_are_exact_or_refused_never_rounded() {
        // 28 significant digits fit exactly.
        let q: Quantity = from_json("1234567890.123456789012345678").unwrap();
        assert_eq!(q.to_string(), "1234567890.123456789012345678");
        // 30 digits do not: an f64 or a rounding parser would quietly change
        // the amount; we refuse it.
        assert!(from_json::<Quantity>("123456789012345678901234567890").is_err());
        assert!(from_json::<Quantity>("0.123456789012345678901234567890").is_err());
        assert!(from_json::<Quantity>("\"1.23456789012345678901234567890\"").is_err());
    }

    #[test]
    fn rules_and_junk() {
        assert!(from_json::<Quantity>("0").is_err());
        assert!(from_json::<Quantity>("-1").is_err());
        assert!(from_json::<Price>("0").is_ok());
        assert!(from_json::<Price>("-0.01").is_err());
        assert!(from_json::<Fees>("\"-0\"").is_ok());
        assert_eq!(from_json::<Fees>("-0.25").unwrap().to_string(), "-0.25");
        assert!(from_json::<Multiplier>("0").is_err());
        assert!(from_json::<Multiplier>("-100").is_err());
        assert_eq!(
            from_json::<Multiplier>("\"0.5\"").unwrap().to_string(),
            "0.5"
        );
        for junk in [
            "\"1_000\"",
            "\" 1\"",
            "\"abc\"",
            "true",
            "null",
            "\"1e\"",
            "\".5\"",
            "[1]",
        ] {
            assert!(from_json::<Price>(junk).is_err(), "{junk}");
        }
    }
}
