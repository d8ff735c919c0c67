//! Reading broker CSV files into trade candidates (docs/API.md, "Imports"):
//! pure, record by record; the store applies them.
//!
//! The shared reading is here and in [`records`] (delimiter, quotes, line
//! numbers), [`options`] (the request's parameters), [`row`] (columns by
//! name, one row's cells) and [`values`] (numbers, dates); [`contracts`]
//! builds OCC option symbols and knows futures multipliers. Each broker's
//! layout is one module behind [`BrokerFormat`]: how to recognise its
//! header, which columns it needs, how to read one row (a fill, or a row
//! that is not one: `skipped`).
//!
//! Adding a broker: a module with a unit struct implementing
//! [`BrokerFormat`], an [`ImportFormat`] variant mapped to it in
//! [`ImportFormat::layout`] and listed in [`ImportFormat::ALL`] (the order
//! `format=auto` tries), and a fixture under `tests/fixtures/imports/`.

#[cfg(test)]
mod broker_tests;
mod contracts;
mod etrade;
mod fidelity;
mod generic;
mod ibkr;
mod options;
mod records;
mod row;
mod schwab;
#[cfg(test)]
mod tests;
mod thinkorswim;
mod tradovate;
mod values;
mod webull;

pub use options::{DateFormat, DecimalMark, FeeSign, ReadOptions, RequestedFormat};
pub use values::local_to_utc;

use super::{Fees, Multiplier, Price, Quantity, Side, Symbol, Tags};
use crate::error::FieldError;
use chrono::{DateTime, Utc};
use records::{Records, Scanned};
use row::{Header, Row};
use serde::Serialize;

/// The file layouts understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Any CSV with the generic header names and their aliases.
    Generic,
    /// Interactive Brokers' Flex Query trades CSV.
    Ibkr,
    /// Charles Schwab's transaction history.
    Schwab,
    /// thinkorswim's (and paperMoney's) Account Trade History.
    Thinkorswim,
    /// E*TRADE's transaction history (both header generations).
    Etrade,
    /// Fidelity's Account History.
    Fidelity,
    /// Webull's orders export.
    Webull,
    /// Tradovate's fills or orders export.
    Tradovate,
}

impl ImportFormat {
    /// Every layout, in the order `format=auto` tries them: the brokers'
    /// distinctive headers first, the generic names last.
    pub const ALL: [Self; 8] = [
        Self::Ibkr,
        Self::Schwab,
        Self::Thinkorswim,
        Self::Etrade,
        Self::Fidelity,
        Self::Webull,
        Self::Tradovate,
        Self::Generic,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Ibkr => "ibkr",
            Self::Schwab => "schwab",
            Self::Thinkorswim => "thinkorswim",
            Self::Etrade => "etrade",
            Self::Fidelity => "fidelity",
            Self::Webull => "webull",
            Self::Tradovate => "tradovate",
        }
    }

    fn layout(self) -> &'static dyn BrokerFormat {
        match self {
            Self::Generic => &generic::Generic,
            Self::Ibkr => &ibkr::Ibkr,
            Self::Schwab => &schwab::Schwab,
            Self::Thinkorswim => &thinkorswim::Thinkorswim,
            Self::Etrade => &etrade::Etrade,
            Self::Fidelity => &fidelity::Fidelity,
            Self::Webull => &webull::Webull,
            Self::Tradovate => &tradovate::Tradovate,
        }
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("must be one of {}", format_names()))
    }
}

/// `generic`, `ibkr`, ... as listed in messages.
fn format_names() -> String {
    let mut names: Vec<String> = ImportFormat::ALL
        .iter()
        .map(|f| format!("`{}`", f.as_str()))
        .collect();
    names.push("`auto`".to_owned());
    names.join(", ")
}

/// One row that failed: its line in the file, the column, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row's line number in the file (the header is line 1; a row
    /// with a quoted multi-line field is numbered by its first line).
    pub row: u64,
    /// The column (or `quantity` for an oversell, `body` for a row that is
    /// not CSV).
    pub field: String,
    /// Why.
    pub message: String,
}

/// A row read into a trade, not yet applied.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The row's line number in the file.
    pub row: u64,
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// How much.
    pub quantity: Quantity,
    /// Unit price.
    pub price: Price,
    /// Fees (negative: a rebate).
    pub fees: Fees,
    /// Contract multiplier (`1` for shares, `100` for an equity option).
    pub multiplier: Multiplier,
    /// When (UTC).
    pub executed_at: DateTime<Utc>,
    /// The broker's id of the fill, if the file has one.
    pub broker_id: Option<String>,
    /// Notes.
    pub notes: Option<super::Notes>,
    /// Tags.
    pub tags: Tags,
}

impl Candidate {
    /// A fill of line `row` without fees, id, notes or tags, multiplier 1.
    fn new(
        row: u64,
        symbol: Symbol,
        (side, quantity): (Side, Quantity),
        price: Price,
        executed_at: DateTime<Utc>,
    ) -> Self {
        Self {
            row,
            symbol,
            side,
            quantity,
            price,
            fees: Fees::ZERO,
            multiplier: Multiplier::ONE,
            executed_at,
            broker_id: None,
            notes: None,
            tags: Tags::default(),
        }
    }
}

/// A file read: its layout, the data rows seen, the candidates and the
/// rows refused or skipped.
#[derive(Debug)]
pub struct ParsedFile {
    /// The layout read (the one recognised, for `format=auto`).
    pub format: ImportFormat,
    /// Data rows (not counting the header, its repeats or blank lines).
    pub rows: u64,
    /// Rows that are not fills (dividends, transfers, cancelled orders,
    /// summaries, footnotes).
    pub skipped: u64,
    /// Rows that read into trades, oldest first (file order, reversed for
    /// a file listed newest first).
    pub candidates: Vec<Candidate>,
    /// Rows that did not.
    pub errors: Vec<RowError>,
}

/// What one row is.
enum Read {
    /// A fill.
    Fill(Box<Candidate>),
    /// Not a fill (counted in `skipped`).
    Skipped,
}

/// One broker's file layout.
trait BrokerFormat: Sync {
    /// Whether `header` is this layout's (for `format=auto`): its
    /// distinctive columns are there.
    fn recognises(&self, header: &Header) -> bool;

    /// The required columns `header` lacks, as the broker names them.
    fn missing(&self, header: &Header) -> Vec<FieldError>;

    /// Reads one data row.
    fn read(&self, row: &Row<'_>) -> Result<Read, RowError>;

    /// Whether the broker lists newest first, for a file whose times cannot
    /// tell (every row on one date without a time of day).
    fn newest_first(&self) -> bool {
        false
    }
}

/// Reads `file` record by record. `Err` is a file nothing can be imported
/// from (no header, a header without a required column, a layout `auto`
/// does not recognise, a parameter the layout does not read); a bad row is
/// one entry of `errors`.
pub fn parse_file(
    file: &[u8],
    requested: RequestedFormat,
    options: &ReadOptions,
) -> Result<ParsedFile, Vec<FieldError>> {
    let mut records = Records::new(file);
    let header_fields = match records.next() {
        Some(Scanned::Record { fields, .. }) => fields,
        Some(Scanned::Broken { message, .. }) => {
            return Err(vec![FieldError::new(
                "body",
                format!("the header line is not CSV: {message}"),
            )]);
        }
        None => return Err(vec![FieldError::new("body", "the file has no header line")]),
    };
    let header = Header::new(&header_fields);
    let format = match requested {
        RequestedFormat::Exactly(format) => format,
        RequestedFormat::Auto => ImportFormat::ALL
            .into_iter()
            .find(|f| f.layout().recognises(&header))
            .ok_or_else(|| {
                vec![FieldError::new(
                    "format",
                    format!(
                        "the header matches no known layout; name one: {}",
                        format_names()
                    ),
                )]
            })?,
    };
    let layout = format.layout();
    let missing = layout.missing(&header);
    if !missing.is_empty() {
        return Err(missing);
    }
    let reading = row::Reading::new(format, options)?;
    let mut parsed = ParsedFile {
        format,
        rows: 0,
        skipped: 0,
        candidates: Vec::new(),
        errors: Vec::new(),
    };
    let mut previous_at = None;
    for scanned in records {
        let (line, fields) = match scanned {
            // IBKR repeats the header per section.
            Scanned::Record { fields, .. } if fields == header_fields => continue,
            Scanned::Record { line, fields } => (line, fields),
            Scanned::Broken { line, message } => {
                parsed.rows += 1;
                parsed.errors.push(RowError {
                    row: line,
                    field: "body".to_owned(),
                    message,
                });
                continue;
            }
        };
        parsed.rows += 1;
        let row = Row::new(line, &fields, &header, &reading, previous_at);
        match layout.read(&row) {
            Ok(Read::Fill(candidate)) => {
                previous_at = Some(candidate.executed_at);
                parsed.candidates.push(*candidate);
            }
            Ok(Read::Skipped) => parsed.skipped += 1,
            Err(error) => parsed.errors.push(error),
        }
    }
    if newest_first(&parsed.candidates, layout.newest_first()) {
        parsed.candidates.reverse();
    }
    Ok(parsed)
}

/// Whether the file lists its fills newest first: its times only fall (or
/// never change, and the broker lists newest first). Equal times then keep
/// the reverse of the file's order, the order they happened in.
fn newest_first(candidates: &[Candidate], by_default: bool) -> bool {
    let steps = candidates
        .windows(2)
        .map(|w| w[0].executed_at.cmp(&w[1].executed_at));
    let (mut falls, mut rises) = (false, false);
    for step in steps {
        match step {
            std::cmp::Ordering::Greater => falls = true,
            std::cmp::Ordering::Less => rises = true,
            std::cmp::Ordering::Equal => {}
        }
    }
    match (falls, rises) {
        (true, false) => true,
        (false, false) => by_default,
        _ => false,
    }
}

/// The dedupe keys of `candidates`, in order: the broker id where there is
/// one, else the fill's fields with its occurrence number in the file (the
/// k-th identical fill of a file matches the k-th of an earlier import).
/// The store scopes them to the user, portfolio and layout.
pub fn dedupe_keys(candidates: &[Candidate]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    candidates
        .iter()
        .map(|c| match &c.broker_id {
            Some(id) => format!("id:{id}"),
            None => {
                let fill = format!(
                    "fill:{}|{}|{}|{}|{}|{}",
                    c.symbol,
                    c.side.as_str(),
                    c.quantity.get().normalize(),
                    c.price.get().normalize(),
                    c.fees.get().normalize(),
                    c.executed_at.timestamp_micros()
                );
                let k = seen.entry(fill.clone()).or_default();
                *k += 1;
                format!("{fill}#{k}")
            }
        })
        .collect()
}
