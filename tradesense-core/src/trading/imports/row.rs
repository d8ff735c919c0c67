//! Columns found by name, and one data row's cells read through them.

use super::values::{self, DateOrder, Grouping};
use super::{Candidate, DateFormat, DecimalMark, FeeSign, ImportFormat, ReadOptions, RowError};
use super::{Fees, Quantity, Side};
use crate::error::FieldError;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A header name as matched: lower case without spaces and `_`.
pub(super) fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A column a layout reads: the name errors give it (the broker's
/// spelling) and the header keys it goes by, the preferred first.
pub(super) struct Col {
    pub(super) name: &'static str,
    pub(super) keys: &'static [&'static str],
}

impl Col {
    pub(super) const fn new(name: &'static str, keys: &'static [&'static str]) -> Self {
        Self { name, keys }
    }
}

/// The header row: where each key is (the first column of a name wins).
pub(super) struct Header {
    at: HashMap<String, usize>,
}

impl Header {
    pub(super) fn new(fields: &[String]) -> Self {
        let mut at = HashMap::new();
        for (i, name) in fields.iter().enumerate() {
            at.entry(key(name)).or_insert(i);
        }
        Self { at }
    }

    /// The column of the first of `keys` present.
    fn find(&self, keys: &[&str]) -> Option<usize> {
        keys.iter().find_map(|k| self.at.get(*k).copied())
    }

    /// Whether the header has `col`.
    pub(super) fn has(&self, col: &Col) -> bool {
        self.find(col.keys).is_some()
    }

    /// Whether the header has every key of `keys` (`format=auto`).
    pub(super) fn has_all(&self, keys: &[&str]) -> bool {
        keys.iter().all(|k| self.at.contains_key(*k))
    }

    /// An error for each of `cols` the header lacks.
    pub(super) fn missing(&self, cols: &[&Col]) -> Vec<FieldError> {
        cols.iter()
            .filter(|c| !self.has(c))
            .map(|c| FieldError::new(c.name, "required column missing from the header"))
            .collect()
    }
}

/// The request's options as the layout reads them.
pub(super) struct Reading {
    pub(super) tz: Tz,
    pub(super) decimal: DecimalMark,
    pub(super) grouping: Grouping,
    pub(super) dates: DateOrder,
    pub(super) signed_fees: bool,
}

impl Reading {
    /// `date_format` and `fee_sign` are the generic layout's; the generic
    /// layout's numbers may not use an ambiguous `1,234` (is it one
    /// thousand, or 1.234 with a decimal comma?), a US broker's may.
    pub(super) fn new(
        format: ImportFormat,
        options: &ReadOptions,
    ) -> Result<Self, Vec<FieldError>> {
        let generic = format == ImportFormat::Generic;
        let mut errors = Vec::new();
        for (given, name) in [
            (options.date_format.is_some(), "date_format"),
            (options.fee_sign.is_some(), "fee_sign"),
        ] {
            if given && !generic {
                errors.push(FieldError::new(
                    name,
                    format!(
                        "only the generic layout reads it; `{}` files fix it",
                        format.as_str()
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            tz: options.tz,
            decimal: options.decimal,
            grouping: if generic {
                Grouping::Unambiguous
            } else {
                Grouping::Us
            },
            dates: match options.date_format.unwrap_or_default() {
                DateFormat::Iso => DateOrder::Iso,
                DateFormat::Us => DateOrder::Us,
                DateFormat::Eu => DateOrder::Eu,
            },
            signed_fees: options.fee_sign == Some(FeeSign::Signed),
        })
    }
}

/// One data row.
pub(super) struct Row<'a> {
    /// Its line in the file.
    pub(super) line: u64,
    fields: &'a [String],
    header: &'a Header,
    /// The request's options.
    pub(super) reading: &'a Reading,
    /// When the last fill read happened (a multi-leg order's later legs
    /// leave the time blank).
    pub(super) previous_at: Option<DateTime<Utc>>,
}

impl<'a> Row<'a> {
    pub(super) fn new(
        line: u64,
        fields: &'a [String],
        header: &'a Header,
        reading: &'a Reading,
        previous_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            line,
            fields,
            header,
            reading,
            previous_at,
        }
    }

    /// The error of this row in `col`.
    pub(super) fn fail(&self, col: &Col, message: impl Into<String>) -> RowError {
        RowError {
            row: self.line,
            field: col.name.to_owned(),
            message: message.into(),
        }
    }

    /// `col`'s cell, `None` when the header lacks it or the cell is empty.
    pub(super) fn text(&self, col: &Col) -> Option<&'a str> {
        let i = self.header.find(col.keys)?;
        self.fields
            .get(i)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `col`'s cell, which must not be empty.
    pub(super) fn required(&self, col: &Col) -> Result<&'a str, RowError> {
        self.text(col).ok_or_else(|| self.fail(col, "is empty"))
    }

    /// Whether only the first cell holds anything: a title, a total or a
    /// footnote under the data, not a row.
    pub(super) fn is_note(&self) -> bool {
        self.fields.iter().skip(1).all(String::is_empty)
    }

    /// `col` as a number, `None` when empty.
    pub(super) fn number(&self, col: &Col) -> Result<Option<Decimal>, RowError> {
        self.text(col)
            .map(|t| values::number(t, self.reading.decimal, self.reading.grouping))
            .transpose()
            .map_err(|m| self.fail(col, m))
    }

    /// `col` as a number that must be there.
    pub(super) fn decimal(&self, col: &Col) -> Result<Decimal, RowError> {
        self.number(col)?.ok_or_else(|| self.fail(col, "is empty"))
    }

    /// `col` as a price.
    pub(super) fn price(&self, col: &Col) -> Result<super::Price, RowError> {
        super::Price::new(self.decimal(col)?).map_err(|m| self.fail(col, m))
    }

    /// The sum of `cols` (costs, whatever sign the broker writes them with).
    pub(super) fn costs(&self, cols: &[&Col]) -> Result<Fees, RowError> {
        let mut total = Decimal::ZERO;
        for col in cols {
            let cost = self.number(col)?.unwrap_or_default().abs();
            total = total
                .checked_add(cost)
                .ok_or_else(|| self.fail(col, "is too large"))?;
        }
        Fees::new(total).map_err(|m| self.fail(cols[0], m))
    }

    /// The side and quantity of a fill from its side (if the row names one)
    /// and `col`'s quantity, which brokers often sign: negative with `sell`
    /// or without a side is a sell; negative with `buy` contradicts itself.
    pub(super) fn side_quantity(
        &self,
        side: Option<Side>,
        col: &Col,
    ) -> Result<(Side, Quantity), RowError> {
        let signed = self.decimal(col)?;
        let side = match side {
            Some(Side::Buy) if signed.is_sign_negative() && !signed.is_zero() => {
                return Err(self.fail(col, "is negative on a buy"));
            }
            Some(side) => side,
            None if signed.is_sign_negative() => Side::Sell,
            None => Side::Buy,
        };
        let quantity = Quantity::new(signed.abs()).map_err(|m| self.fail(col, m))?;
        Ok((side, quantity))
    }

    /// A fill of this row.
    pub(super) fn fill(
        &self,
        symbol: super::Symbol,
        side_quantity: (Side, Quantity),
        price: super::Price,
        executed_at: DateTime<Utc>,
    ) -> Candidate {
        Candidate::new(self.line, symbol, side_quantity, price, executed_at)
    }

    /// A US date without a time of day (`MM/DD/YYYY`, `MM/DD/YY`, `-` for
    /// `/`): midnight in `tz`, the broker's day.
    pub(super) fn us_day(&self, col: &Col, text: &str) -> Result<DateTime<Utc>, RowError> {
        let day = values::date(text, DateOrder::Us)
            .ok_or_else(|| self.fail(col, format!("`{text}` is not `MM/DD/YYYY`")))?;
        values::local_to_utc(day.and_time(chrono::NaiveTime::MIN), self.reading.tz)
            .map_err(|m| self.fail(col, m))
    }

    /// The instrument of a row whose layout writes options its own way:
    /// the OCC symbol `option` read (multiplier 100), else `col` as a
    /// share's symbol (multiplier 1).
    pub(super) fn option_or_symbol(
        &self,
        option: Option<Result<super::Symbol, RowError>>,
        col: &Col,
    ) -> Result<(super::Symbol, super::Multiplier), RowError> {
        match option {
            Some(symbol) => Ok((symbol?, super::contracts::option_multiplier())),
            None => Ok((self.symbol(col)?, super::Multiplier::ONE)),
        }
    }

    /// `col` as a symbol.
    pub(super) fn symbol(&self, col: &Col) -> Result<super::Symbol, RowError> {
        self.required(col)?
            .parse()
            .map_err(|m: String| self.fail(col, m))
    }
}
