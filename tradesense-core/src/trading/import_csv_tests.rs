//! The CSV reader alone: aliases, signs, zones across DST, header errors,
//! occurrence keys.

use super::import_csv::{ImportFormat, dedupe_keys, local_to_utc, parse_file};
use super::parse_timezone;
use chrono::NaiveDate;

fn ny() -> chrono_tz::Tz {
    parse_timezone("America/New_York").unwrap()
}

#[test]
fn fall_back_reads_the_first_occurrence_and_gaps_are_refused() {
    let at = |d: u32, m: u32, h: u32, min: u32| {
        NaiveDate::from_ymd_opt(2026, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    };
    // 1 November 2026: 01:00-02:00 happens twice in New York.
    assert_eq!(
        local_to_utc(at(1, 11, 1, 30), ny()).unwrap().to_rfc3339(),
        "2026-11-01T05:30:00+00:00"
    );
    assert_eq!(
        local_to_utc(at(1, 11, 2, 30), ny()).unwrap().to_rfc3339(),
        "2026-11-01T07:30:00+00:00"
    );
    // 8 March 2026: 02:00-03:00 does not exist.
    assert!(local_to_utc(at(8, 3, 2, 30), ny()).is_err());
    assert_eq!(
        local_to_utc(at(8, 3, 3, 0), ny()).unwrap().to_rfc3339(),
        "2026-03-08T07:00:00+00:00"
    );
    // Zones without DST are never ambiguous.
    assert_eq!(
        local_to_utc(at(1, 11, 1, 30), parse_timezone("UTC").unwrap())
            .unwrap()
            .to_rfc3339(),
        "2026-11-01T01:30:00+00:00"
    );
}

#[test]
fn generic_aliases_signs_and_spacing() {
    let file = b"Trade_ID , ACTION,Shares,Price,Commission,Date,Time,Tags,SYM BOL\n\
        x1,bot,\"1,000\",1.5,-2,2026-01-02,09:30:00,A; b ;,X\n\
        \n\
        x2,SLD,10,2,,2026-01-02,10:00:00,,X\n";
    let parsed = parse_file(file, ImportFormat::Generic, ny()).unwrap();
    assert_eq!(parsed.rows, 2);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let first = &parsed.candidates[0];
    assert_eq!(first.quantity.get().to_string(), "1000");
    assert_eq!(first.fees.get().to_string(), "2");
    assert_eq!(first.broker_id.as_deref(), Some("x1"));
    assert_eq!(first.tags.to_json(), r#"["a","b"]"#);
    assert_eq!(first.executed_at.to_rfc3339(), "2026-01-02T14:30:00+00:00");
    let signed = parse_file(
        b"symbol,qty,price,executed_at\nX,-2,1,2026-01-02T00:00:00Z\n",
        ImportFormat::Generic,
        ny(),
    )
    .unwrap();
    assert_eq!(signed.candidates[0].side.as_str(), "sell");
}

#[test]
fn a_header_without_required_columns_names_each() {
    let errors = parse_file(b"sym,side,amount\n", ImportFormat::Generic, ny()).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["executed_at", "symbol", "quantity", "price"]);
    let errors = parse_file(b"Symbol,Quantity\n", ImportFormat::Ibkr, ny()).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["DateTime", "TradePrice"]);
    assert!(parse_file(b"", ImportFormat::Generic, ny()).is_err());
}

#[test]
fn ibkr_times_sides_and_repeated_headers() {
    let file = b"Symbol,TradeID,DateTime,Quantity,TradePrice,IBCommission,Buy/Sell\n\
        SPY,1,20261101;013000,5,10,-1,BUY\n\
        Symbol,TradeID,DateTime,Quantity,TradePrice,IBCommission,Buy/Sell\n\
        SPY,2,2026-11-01;02:30:00,-5,11,-1,SELL\n\
        SPY,3,20260308;023000,1,1,0,BUY\n";
    let parsed = parse_file(file, ImportFormat::Ibkr, ny()).unwrap();
    assert_eq!(parsed.rows, 3);
    assert_eq!(parsed.candidates.len(), 2);
    assert_eq!(
        parsed.candidates[0].executed_at.to_rfc3339(),
        "2026-11-01T05:30:00+00:00"
    );
    assert_eq!(parsed.candidates[1].side.as_str(), "sell");
    assert_eq!(parsed.candidates[1].quantity.get().to_string(), "5");
    assert_eq!(parsed.errors[0].row, 3);
    assert_eq!(parsed.errors[0].field, "DateTime");
}

#[test]
fn occurrence_keys_count_identical_fills() {
    let file = b"symbol,side,quantity,price,executed_at\n\
        X,buy,1,1.0,2026-01-01T00:00:00Z\nX,buy,1,1,2026-01-01T00:00:00Z\nX,buy,2,1,2026-01-01T00:00:00Z\n";
    let parsed = parse_file(file, ImportFormat::Generic, ny()).unwrap();
    let keys = dedupe_keys(&parsed.candidates);
    assert!(
        keys[0].ends_with("#1") && keys[1].ends_with("#2") && keys[2].ends_with("#1"),
        "{keys:?}"
    );
    assert_eq!(
        keys[0].trim_end_matches("#1"),
        keys[1].trim_end_matches("#2"),
        "1.0 and 1 are one price"
    );
}
