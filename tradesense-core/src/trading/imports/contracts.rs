//! Instruments that are not shares: OCC option symbols and futures
//! multipliers, shared by every layout that meets them.

use super::super::{Multiplier, Symbol};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A call or a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Right {
    Call,
    Put,
}

impl Right {
    /// `C`/`CALL` or `P`/`PUT`, any case.
    pub(super) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "C" | "CALL" => Some(Self::Call),
            "P" | "PUT" => Some(Self::Put),
            _ => None,
        }
    }
}

/// US equity options: 100 shares a contract.
pub(super) fn option_multiplier() -> Multiplier {
    Multiplier::new(Decimal::ONE_HUNDRED).unwrap_or_default()
}

/// The OCC symbol of an option, without the padding blanks: root, expiry
/// `YYMMDD`, `C`/`P`, strike x 1000 as 8 digits (`MDB260717P00312500`).
pub(super) fn occ_symbol(
    root: &str,
    expiry: NaiveDate,
    right: Right,
    strike: Decimal,
) -> Result<Symbol, String> {
    let root = root.trim().trim_start_matches('-').trim();
    if root.is_empty() || root.len() > 6 || !root.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "`{root}` is not an option root (1-6 letters or digits)"
        ));
    }
    let thousandths = strike
        .checked_mul(Decimal::ONE_THOUSAND)
        .unwrap_or(Decimal::MAX);
    if strike.is_sign_negative()
        || !thousandths.fract().is_zero()
        || thousandths >= Decimal::from(100_000_000)
    {
        return Err(format!(
            "strike `{strike}` does not fit an OCC symbol (0 to 99999.999)"
        ));
    }
    let right = match right {
        Right::Call => 'C',
        Right::Put => 'P',
    };
    let strike = thousandths.trunc().normalize().to_string();
    format!(
        "{}{}{right}{strike:0>8}",
        root.to_ascii_uppercase(),
        expiry.format("%y%m%d"),
    )
    .parse()
}

/// Whether `symbol` is an OCC option symbol (root, 6 digits, C/P, 8 digits).
pub(super) fn is_occ(symbol: &str) -> bool {
    let bytes = symbol.as_bytes();
    let Some(root_len) = bytes.len().checked_sub(15) else {
        return false;
    };
    let (root, tail) = bytes.split_at(root_len);
    (1..=6).contains(&root.len())
        && root.iter().all(u8::is_ascii_alphanumeric)
        && tail[..6].iter().all(u8::is_ascii_digit)
        && matches!(tail[6], b'C' | b'P')
        && tail[7..].iter().all(u8::is_ascii_digit)
}

/// The root of a futures contract code: `ESZ6` and `ESZ26` are `ES`,
/// `M2KH7` is `M2K` (root, month letter, one or two year digits).
pub(super) fn futures_root(contract: &str) -> Option<&str> {
    let contract = contract.trim().trim_start_matches('/');
    let without_year = contract.trim_end_matches(|c: char| c.is_ascii_digit());
    let year_digits = contract.len() - without_year.len();
    let month = without_year.chars().last()?;
    let root = without_year.strip_suffix(month)?;
    ((1..=2).contains(&year_digits) && "FGHJKMNQUVXZ".contains(month) && !root.is_empty())
        .then_some(root)
}

/// The multiplier of a futures root (CME's contract sizes), `None` for a
/// root not in the table.
pub(super) fn futures_multiplier(root: &str) -> Option<Multiplier> {
    let (units, scale) = match root.to_ascii_uppercase().as_str() {
        "ES" | "RTY" => (50, 0),
        "MES" | "YM" | "M2K" => (5, 0),
        "NQ" => (20, 0),
        "MNQ" => (2, 0),
        "MYM" => (5, 1),
        "CL" => (1000, 0),
        "MCL" | "GC" => (100, 0),
        "MGC" => (10, 0),
        _ => return None,
    };
    Multiplier::new(Decimal::new(units, scale)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occ_symbols() {
        let expiry = NaiveDate::from_ymd_opt(2026, 7, 17).unwrap();
        let symbol = occ_symbol("mdb", expiry, Right::Put, Decimal::new(3125, 1)).unwrap();
        assert_eq!(symbol.as_str(), "MDB260717P00312500");
        assert!(is_occ(symbol.as_str()));
        assert!(!is_occ("MDB"));
        assert!(!is_occ("MDB260717X00312500"));
        assert!(occ_symbol("MDB", expiry, Right::Call, Decimal::new(1, 4)).is_err());
        assert!(occ_symbol("TOOLONGX", expiry, Right::Call, Decimal::ONE).is_err());
    }

    #[test]
    fn futures_roots_and_multipliers() {
        assert_eq!(futures_root("ESZ6"), Some("ES"));
        assert_eq!(futures_root("/MESH27"), Some("MES"));
        assert_eq!(futures_root("M2KU6"), Some("M2K"));
        assert_eq!(futures_root("AAPL"), None);
        assert_eq!(futures_multiplier("MYM").unwrap().to_string(), "0.5");
        assert_eq!(futures_multiplier("es").unwrap().to_string(), "50");
        assert!(futures_multiplier("ZZ").is_none());
    }
}
