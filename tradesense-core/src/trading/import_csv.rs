//! Reading broker CSV files into trade candidates (docs/API.md, "Imports"):
//! pure, record by record with the `csv` crate; the store applies them.
//!
//! Columns are found by name, case-insensitively, ignoring spaces and `_`.
//! Times without an offset are read in the import's zone. On a fall-back
//! night a local time such as 01:30 in `America/New_York` happens twice;
//! it is read as the **first** occurrence (daylight time, `-04:00`), the
//! reading of a broker that logs fills as they happen in local time, and a
//! file that means the second must carry its offset (RFC 3339). A local
//! time inside a spring-forward gap (02:30 on the night clocks skip it)
//! never happened and is a row error.

use super::{Fees, Multiplier, Notes, Price, Quantity, Side, Symbol, Tags, parse_decimal_exact};
use crate::error::FieldError;
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

/// The file layouts understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Any CSV with the generic header names and their aliases.
    Generic,
    /// Interactive Brokers' Flex Query trades CSV.
    Ibkr,
}

impl ImportFormat {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Ibkr => "ibkr",
        }
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "generic" => Ok(Self::Generic),
            "ibkr" => Ok(Self::Ibkr),
            _ => Err("must be `generic` or `ibkr`".to_owned()),
        }
    }
}

/// One row that failed: its 1-based data row, the column, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based data row (the header is row 0).
    pub row: u64,
    /// The column (or `quantity` for an oversell).
    pub field: String,
    /// Why.
    pub message: String,
}

/// A row read into a trade, not yet applied.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// 1-based data row.
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
    pub notes: Option<Notes>,
    /// Tags.
    pub tags: Tags,
}

/// A file read: the data rows seen, the candidates and the rows refused.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// Data rows (not counting the header or blank lines).
    pub rows: u64,
    /// Rows that read into trades, in file order.
    pub candidates: Vec<Candidate>,
    /// Rows that did not.
    pub errors: Vec<RowError>,
}

/// A header name as matched: lower case without spaces and `_`.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each column is (`None`: the file has none).
struct Columns {
    symbol: usize,
    side: Option<usize>,
    quantity: usize,
    price: usize,
    fees: Option<usize>,
    executed_at: Option<usize>,
    date: Option<usize>,
    time: Option<usize>,
    id: Option<usize>,
    notes: Option<usize>,
    tags: Option<usize>,
}

impl Columns {
    fn find(header: &csv::StringRecord, format: ImportFormat) -> Result<Self, Vec<FieldError>> {
        let keys: Vec<String> = header.iter().map(key).collect();
        let find = |aliases: &[&str]| {
            aliases
                .iter()
                .find_map(|a| keys.iter().position(|k| k == a))
        };
        let mut missing = Vec::new();
        let mut need = |name: &str, at: Option<usize>| {
            if at.is_none() {
                missing.push(FieldError::new(
                    name,
                    "required column missing from the header",
                ));
            }
            at.unwrap_or(0)
        };
        let columns = match format {
            ImportFormat::Generic => {
                let executed_at = find(&["executedat"]);
                let (date, time) = (find(&["date"]), find(&["time"]));
                if executed_at.is_none() && (date.is_none() || time.is_none()) {
                    need("executed_at", None);
                }
                Self {
                    symbol: need("symbol", find(&["symbol"])),
                    side: find(&["side", "action"]),
                    quantity: need("quantity", find(&["quantity", "qty", "shares"])),
                    price: need("price", find(&["price"])),
                    fees: find(&["fees", "commission"]),
                    executed_at,
                    date,
                    time,
                    id: find(&["id", "executionid", "tradeid"]),
                    notes: find(&["notes"]),
                    tags: find(&["tags"]),
                }
            }
            ImportFormat::Ibkr => {
                let executed_at = find(&["datetime"]);
                let date = find(&["tradedate"]);
                if executed_at.is_none() && date.is_none() {
                    need("DateTime", None);
                }
                Self {
                    symbol: need("Symbol", find(&["symbol"])),
                    side: find(&["buy/sell"]),
                    quantity: need("Quantity", find(&["quantity"])),
                    price: need("TradePrice", find(&["tradeprice"])),
                    fees: find(&["ibcommission"]),
                    executed_at,
                    date,
                    time: None,
                    id: find(&["tradeid"]),
                    notes: None,
                    tags: None,
                }
            }
        };
        if missing.is_empty() {
            Ok(columns)
        } else {
            Err(missing)
        }
    }
}

/// A local time in `tz`: the first of two on a fall-back night, an error
/// inside a spring-forward gap.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{local} does not exist in {} (skipped by a daylight-saving change)",
            tz.name()
        )),
    }
}

/// RFC 3339, or a local `YYYY-MM-DD HH:MM:SS` (also with `T`) in `tz`.
fn generic_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .ok_or_else(|| "must be RFC 3339 or `YYYY-MM-DD HH:MM:SS`".to_owned())
    .and_then(|local| local_to_utc(local, tz))
}

/// IBKR's `YYYYMMDD;HHMMSS` (also `YYYY-MM-DD;HH:MM:SS`, or a space or `,`
/// for the `;`), or a bare `YYYYMMDD` trade date (midnight), in `tz`.
fn ibkr_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let formats = [
        "%Y%m%d;%H%M%S",
        "%Y%m%d %H%M%S",
        "%Y-%m-%d;%H:%M:%S",
        "%Y-%m-%d, %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ];
    let local = formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            ["%Y%m%d", "%Y-%m-%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                .map(|d| d.and_time(NaiveTime::MIN))
        })
        .ok_or_else(|| "must be `YYYYMMDD;HHMMSS`".to_owned())?;
    local_to_utc(local, tz)
}

fn side(text: &str) -> Result<Side, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "buy" | "b" | "bot" => Ok(Side::Buy),
        "sell" | "s" | "sld" => Ok(Side::Sell),
        _ => Err("must be buy/sell (or b/s, bot/sld)".to_owned()),
    }
}

/// A decimal as brokers write it: blanks and thousands separators removed.
fn number(text: &str) -> Result<Decimal, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    parse_decimal_exact(&cleaned)
}

/// Reads one data record, or the column that broke it.
fn read_row(
    record: &csv::StringRecord,
    at: &Columns,
    format: ImportFormat,
    tz: Tz,
    row: u64,
) -> Result<Candidate, RowError> {
    let fail = |field: &str, message: String| RowError {
        row,
        field: field.to_owned(),
        message,
    };
    let names = match format {
        ImportFormat::Generic => ["symbol", "side", "quantity", "price", "fees", "executed_at"],
        ImportFormat::Ibkr => [
            "Symbol",
            "Buy/Sell",
            "Quantity",
            "TradePrice",
            "IBCommission",
            "DateTime",
        ],
    };
    let get = |i: usize| record.get(i).unwrap_or("").trim();
    let opt = |i: Option<usize>| i.map(get).filter(|v| !v.is_empty());
    let symbol = get(at.symbol)
        .parse::<Symbol>()
        .map_err(|m| fail(names[0], m))?;
    let signed = number(get(at.quantity)).map_err(|m| fail(names[2], m))?;
    let side = match opt(at.side) {
        Some(text) => side(text).map_err(|m| fail(names[1], m))?,
        None if signed.is_sign_negative() => Side::Sell,
        None => Side::Buy,
    };
    let quantity = Quantity::new(signed.abs()).map_err(|m| fail(names[2], m))?;
    let price = number(get(at.price))
        .and_then(Price::new)
        .map_err(|m| fail(names[3], m))?;
    let fees = match opt(at.fees) {
        // Brokers write commissions negative (a cost): the sign is ignored.
        Some(text) => number(text).and_then(|f| Fees::new(f.abs())),
        None => Ok(Fees::ZERO),
    }
    .map_err(|m| fail(names[4], m))?;
    let executed_at = match (format, opt(at.executed_at)) {
        (ImportFormat::Generic, Some(text)) => generic_time(text, tz),
        (ImportFormat::Generic, None) => generic_time(
            &format!(
                "{} {}",
                opt(at.date).unwrap_or(""),
                opt(at.time).unwrap_or("")
            ),
            tz,
        ),
        (ImportFormat::Ibkr, Some(text)) => ibkr_time(text, tz),
        (ImportFormat::Ibkr, None) => ibkr_time(opt(at.date).unwrap_or(""), tz),
    }
    .map_err(|m| {
        fail(
            if at.executed_at.is_some() {
                names[5]
            } else {
                "date"
            },
            m,
        )
    })?;
    let notes = opt(at.notes)
        .map(str::parse::<Notes>)
        .transpose()
        .map_err(|m| fail("notes", m))?;
    let tags = Tags::parse(
        opt(at.tags)
            .unwrap_or("")
            .split(';')
            .filter(|t| !t.trim().is_empty()),
    )
    .map_err(|m| fail("tags", m))?;
    Ok(Candidate {
        row,
        symbol,
        side,
        quantity,
        price,
        fees,
        multiplier: Multiplier::ONE,
        executed_at,
        broker_id: opt(at.id).map(str::to_owned),
        notes,
        tags,
    })
}

/// Reads `file` record by record. `Err` is a header without a required
/// column (nothing imports); a bad row is one entry of `errors`.
pub fn parse_file(
    file: &[u8],
    format: ImportFormat,
    tz: Tz,
) -> Result<ParsedFile, Vec<FieldError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = reader
        .headers()
        .map_err(|err| vec![FieldError::new("body", format!("unreadable CSV: {err}"))])?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(vec![FieldError::new("body", "the file has no header line")]);
    }
    let columns = Columns::find(&header, format)?;
    let mut parsed = ParsedFile::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => {
                parsed.rows += 1;
                parsed.errors.push(RowError {
                    row: parsed.rows,
                    field: "body".to_owned(),
                    message: format!("unreadable CSV: {err}"),
                });
                continue;
            }
        }
        // Blank lines, and the header again (IBKR repeats it per section).
        if record.iter().all(str::is_empty) || record == header {
            continue;
        }
        parsed.rows += 1;
        match read_row(&record, &columns, format, tz, parsed.rows) {
            Ok(candidate) => parsed.candidates.push(candidate),
            Err(error) => parsed.errors.push(error),
        }
    }
    Ok(parsed)
}

/// The dedupe keys of `candidates`, in order: the broker id where there is
/// one, else the fill's fields with its occurrence number in the file (the
/// k-th identical fill of a file matches the k-th of an earlier import).
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
