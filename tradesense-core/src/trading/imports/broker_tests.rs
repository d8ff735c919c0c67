//! Each broker's fixture (tests/fixtures/imports/, written from the
//! broker's published export layout) read by its layout and by
//! `format=auto`: the fills, what is skipped, option symbols, multipliers,
//! fees and times.

use super::{ImportFormat, ParsedFile, ReadOptions, RequestedFormat, parse_file};
use crate::trading::parse_timezone;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/imports/", $name))
    };
}

fn read(file: &[u8], format: ImportFormat) -> ParsedFile {
    let options = ReadOptions::in_zone(parse_timezone("America/New_York").unwrap());
    let parsed = parse_file(file, RequestedFormat::Exactly(format), &options).unwrap();
    let auto = parse_file(file, RequestedFormat::Auto, &options).unwrap();
    assert_eq!(auto.format, format, "format=auto recognises it");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    parsed
}

/// `symbol side quantity price fees multiplier time`, oldest first.
fn fills(parsed: &ParsedFile) -> Vec<String> {
    parsed
        .candidates
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {} {} {}",
                c.symbol,
                c.side.as_str(),
                c.quantity,
                c.price,
                c.fees,
                c.multiplier,
                c.executed_at.format("%m-%d %H:%M:%S")
            )
        })
        .collect()
}

#[test]
fn schwab() {
    let parsed = read(fixture!("schwab.csv"), ImportFormat::Schwab);
    assert_eq!((parsed.rows, parsed.skipped), (7, 3));
    assert_eq!(
        fills(&parsed),
        [
            "AAPL buy 1000 210.1 0 1 07-15 04:00:00",
            "MDB260717P00312500 buy 2 4.15 1.32 100 07-15 04:00:00",
            "AAPL sell 1000 212.4 0 1 07-16 04:00:00",
            "MDB260717P00312500 sell 2 6.2 1.32 100 07-16 04:00:00",
        ]
    );
}

#[test]
fn thinkorswim() {
    let parsed = read(fixture!("thinkorswim.csv"), ImportFormat::Thinkorswim);
    assert_eq!((parsed.rows, parsed.skipped), (7, 1));
    assert_eq!(
        fills(&parsed),
        [
            "MDB260717P00312500 buy 2 4.15 0 100 07-15 13:31:02",
            "SPY260821C00660000 buy 1 7.8 0 100 07-15 13:45:10",
            "SPY260821P00600000 buy 1 5.15 0 100 07-15 13:45:10",
            "NVDA buy 100 171.25 0 1 07-15 14:02:44",
            "MDB260717P00312500 sell 2 6.2 0 100 07-16 18:20:00",
            "NVDA sell 100 173.1 0 1 07-16 19:59:01",
        ]
    );
}

#[test]
fn etrade() {
    let parsed = read(fixture!("etrade.csv"), ImportFormat::Etrade);
    assert_eq!((parsed.rows, parsed.skipped), (5, 1));
    assert_eq!(
        fills(&parsed),
        [
            "MSFT buy 50 495 0 1 07-15 04:00:00",
            "MDB260717P00312500 buy 2 4.15 1.33 100 07-15 04:00:00",
            "MSFT sell 50 501 0.5 1 07-16 04:00:00",
            "MDB260717P00312500 sell 2 6.2 1.33 100 07-16 04:00:00",
        ]
    );
    // The newer header generation.
    let newer = "Activity/Trade Date,Transaction/Settlement Date,Activity Type,Description,\
        Symbol,Cusip,Quantity #,Price $,Amount $,Commission,Category,Note\n\
        07/15/26,07/16/26,Sold Short,MICROSOFT CORP COM,MSFT,594918104,-5,\"1,001.00\",5005,0,,\n";
    let parsed = read(newer.as_bytes(), ImportFormat::Etrade);
    assert_eq!(fills(&parsed), ["MSFT sell 5 1001 0 1 07-15 04:00:00"]);
}

#[test]
fn fidelity() {
    let parsed = read(fixture!("fidelity.csv"), ImportFormat::Fidelity);
    assert_eq!((parsed.rows, parsed.skipped), (8, 4));
    assert_eq!(
        fills(&parsed),
        [
            "AMZN buy 25 228.75 0 1 07-06 04:00:00",
            "NVDA260710P00195000 buy 3 1.8 2 100 07-06 04:00:00",
            "AMZN sell 25 231.4 0.02 1 07-07 04:00:00",
            "NVDA260710P00195000 sell 3 2.35 2.01 100 07-08 04:00:00",
        ]
    );
    assert_eq!(parsed.candidates[0].row, 8, "two blank lines open the file");
}

#[test]
fn webull() {
    let parsed = read(fixture!("webull.csv"), ImportFormat::Webull);
    assert_eq!((parsed.rows, parsed.skipped), (5, 1));
    assert_eq!(
        fills(&parsed),
        [
            "TSLA buy 10 318.15 0 1 07-15 13:30:07",
            "MDB260717P00312500 buy 2 4.15 0 100 07-15 13:31:02",
            "TSLA sell 10 322.4 0 1 07-16 14:02:13",
            "MDB260717P00312500 sell 2 6.2 0 100 07-16 18:20:01",
        ]
    );
}

#[test]
fn tradovate() {
    let parsed = read(fixture!("tradovate.csv"), ImportFormat::Tradovate);
    assert_eq!((parsed.rows, parsed.skipped), (5, 1));
    assert_eq!(
        fills(&parsed),
        [
            "ESU6 buy 2 6412.25 4.18 50 07-15 13:31:02",
            "ESU6 sell 2 6418.5 4.18 50 07-15 14:05:44",
            "MNQU6 buy 3 23498.75 1.56 2 07-15 15:12:09",
            "MNQU6 sell 3 23521.25 1.56 2 07-15 17:40:27",
        ]
    );
    assert_eq!(parsed.candidates[0].broker_id.as_deref(), Some("8812301"));
    let unknown = "Fill Time,B/S,Contract,Quantity,Price\n07/15/2026 09:31:02,Buy,ZBU6,1,118.5\n";
    let options = ReadOptions::in_zone(chrono_tz::Tz::UTC);
    let parsed = parse_file(unknown.as_bytes(), RequestedFormat::Auto, &options).unwrap();
    assert_eq!(parsed.errors[0].field, "multiplier", "never a guessed 1");
}

#[test]
fn ibkr() {
    let parsed = read(fixture!("ibkr.csv"), ImportFormat::Ibkr);
    assert_eq!((parsed.rows, parsed.skipped), (6, 1));
    assert_eq!(
        fills(&parsed),
        [
            "MDB260717P00312500 buy 2 4.15 1.3 100 07-15 13:31:02",
            "ESU6 buy 1 6412.25 2.25 50 07-15 14:00:00",
            "ESU6 sell 1 6420.5 2.25 50 07-15 15:30:00",
            "MDB260717P00312500 sell 2 6.2 1.31 100 07-16 18:20:01",
            "SPY buy 100 630.1 -0.18 1 07-16 13:35:12",
        ]
    );
}

#[test]
fn generic_european() {
    let options = ReadOptions {
        decimal: super::DecimalMark::Comma,
        date_format: Some(super::DateFormat::Eu),
        fee_sign: Some(super::FeeSign::Signed),
        ..ReadOptions::in_zone(parse_timezone("Europe/Berlin").unwrap())
    };
    let file = fixture!("generic_eu.csv");
    let parsed = parse_file(file, RequestedFormat::Auto, &options).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(
        fills(&parsed),
        [
            "SAP buy 10 231.45 1.5 1 07-01 07:05:12",
            "SAP sell 10 234.1 1.5 1 07-02 13:30:00",
            "FESX buy 1 5310 2 10 07-01 08:00:00",
            "FESX sell 1 5325 -0.35 10 07-01 14:00:00",
        ]
    );
    assert_eq!(parsed.candidates[0].broker_id.as_deref(), Some("EU-1"));
    // Without `decimal=comma` every comma is a row error, never a guess.
    let plain = ReadOptions::in_zone(chrono_tz::Tz::UTC);
    let parsed = parse_file(file, RequestedFormat::Auto, &plain).unwrap();
    assert!(parsed.candidates.is_empty());
    assert_eq!(parsed.errors.len(), 4);
}

/// One row of `layout` after `header`, read in UTC.
fn one(header: &str, row: &str, format: ImportFormat) -> Result<String, (u64, String)> {
    let file = format!("{header}\n{row}\n");
    let options = ReadOptions::in_zone(chrono_tz::Tz::UTC);
    let parsed = parse_file(file.as_bytes(), RequestedFormat::Exactly(format), &options).unwrap();
    match (parsed.errors.first(), parsed.skipped) {
        (Some(e), _) => Err((e.row, e.field.clone())),
        (None, 1) => Ok("skipped".to_owned()),
        (None, _) => Ok(fills(&parsed).join("|")),
    }
}

#[test]
fn action_words_and_signs() {
    let schwab = "Date,Action,Symbol,Quantity,Price,Fees & Comm";
    for (action, side) in [
        ("Sell Short", "sell"),
        ("Buy to Cover", "buy"),
        ("Sell to Open", "sell"),
        ("Reinvest Shares", "buy"),
    ] {
        let read = one(
            schwab,
            &format!("07/15/2026,{action},KO,1,60,"),
            ImportFormat::Schwab,
        );
        assert!(
            read.as_ref().unwrap().starts_with(&format!("KO {side} ")),
            "{action}: {read:?}"
        );
    }
    for skipped in ["Expired", "Journal", "Bank Interest", "Cash Dividend"] {
        let read = one(
            schwab,
            &format!("07/15/2026,{skipped},KO,1,,"),
            ImportFormat::Schwab,
        );
        assert_eq!(read.as_deref(), Ok("skipped"), "{skipped}");
    }
    // thinkorswim signs its Qty; a negative beside BUY contradicts itself.
    let tos = ",Exec Time,Side,Qty,Pos Effect,Symbol,Exp,Strike,Type,Price";
    let read = one(
        tos,
        ",7/15/26 09:31:02,BUY,-2,TO OPEN,KO,,,STOCK,60",
        ImportFormat::Thinkorswim,
    );
    assert_eq!(read, Err((2, "Qty".to_owned())));
    // Webull's short sale is a sell; its times need a known zone.
    let webull = "Symbol,Side,Status,Filled,Avg Price,Filled Time";
    let read = one(
        webull,
        "KO,Short,Filled,3,60,07/15/2026 09:31:02 EST",
        ImportFormat::Webull,
    );
    assert_eq!(read.as_deref(), Ok("KO sell 3 60 0 1 07-15 14:31:02"));
    let read = one(
        webull,
        "KO,Buy,Filled,3,60,07/15/2026 09:31:02 XYZ",
        ImportFormat::Webull,
    );
    assert_eq!(read, Err((2, "Filled Time".to_owned())));
    // IBKR without UnderlyingSymbol: the root of the padded OCC `Symbol`.
    let ibkr = "AssetClass,Symbol,Expiry,Put/Call,Strike,DateTime,Quantity,TradePrice";
    let read = one(
        ibkr,
        "OPT,SPY   260821C00660000,20260821,C,660,20260715;093000,1,7.8",
        ImportFormat::Ibkr,
    );
    assert_eq!(
        read.as_deref(),
        Ok("SPY260821C00660000 buy 1 7.8 0 100 07-15 09:30:00")
    );
}
