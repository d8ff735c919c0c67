//! The shared reading through the generic and IBKR layouts: aliases,
//! signs, zones across DST, header errors, line numbers, quotes, decimal
//! commas, delimiters, `format=auto`, occurrence keys.

use super::{
    DateFormat, DecimalMark, FeeSign, ImportFormat, ParsedFile, ReadOptions, RequestedFormat,
    dedupe_keys, local_to_utc,
};
use crate::error::FieldError;
use crate::trading::parse_timezone;
use chrono::NaiveDate;

fn ny() -> chrono_tz::Tz {
    parse_timezone("America/New_York").unwrap()
}

fn parse_file(
    file: &[u8],
    format: ImportFormat,
    tz: chrono_tz::Tz,
) -> Result<ParsedFile, Vec<FieldError>> {
    super::parse_file(
        file,
        RequestedFormat::Exactly(format),
        &ReadOptions::in_zone(tz),
    )
}

fn with(file: &str, options: ReadOptions) -> ParsedFile {
    super::parse_file(
        file.as_bytes(),
        RequestedFormat::Exactly(ImportFormat::Generic),
        &options,
    )
    .unwrap()
}

/// `(line, field)` of each error.
fn errors(parsed: &ParsedFile) -> Vec<(u64, &str)> {
    parsed
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect()
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
        x1,bot,\"1,000.00\",1.5,-2,2026-01-02,09:30:00,A; b ;,X\n\
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
    assert_eq!(
        parsed.errors[0].row, 5,
        "its line: the repeated header counts"
    );
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

#[test]
fn row_numbers_are_lines_and_an_unterminated_quote_breaks_its_row_only() {
    let file = "symbol,side,quantity,price,executed_at,notes\n\
        \n\
        X,buy,1,1,2026-01-01T00:00:00Z,\"two\nlines\"\n\
        X,buy,1,1,2026-01-01T00:00:01Z,\"never closed\n\
        X,buy,1,oops,2026-01-01T00:00:02Z,\n\
        X,buy,2,1,2026-01-01T00:00:03Z,\n";
    let parsed = with(file, ReadOptions::in_zone(ny()));
    assert_eq!(errors(&parsed), [(5, "body"), (6, "price")]);
    assert_eq!(parsed.rows, 4);
    let lines: Vec<u64> = parsed.candidates.iter().map(|c| c.row).collect();
    assert_eq!(lines, [3, 7]);
    assert_eq!(
        parsed.candidates[0].notes.as_ref().unwrap().as_str(),
        "two\nlines"
    );
}

#[test]
fn decimal_commas_need_the_parameter_and_delimiters_are_detected() {
    let file = "symbol;side;quantity;price;fees;executed_at\n\
        X;buy;12,5;1.234,50;-0,25;2026-01-01T00:00:00Z\n";
    let point = with(file, ReadOptions::in_zone(ny()));
    assert_eq!(errors(&point), [(2, "quantity")], "never 125");
    assert!(point.errors[0].message.contains("decimal=comma"));
    let comma = with(
        file,
        ReadOptions {
            decimal: DecimalMark::Comma,
            ..ReadOptions::in_zone(ny())
        },
    );
    let c = &comma.candidates[0];
    assert_eq!(
        (
            c.quantity.to_string(),
            c.price.to_string(),
            c.fees.to_string()
        ),
        ("12.5".into(), "1234.5".into(), "0.25".into())
    );
    let tabs = with(
        "symbol\tqty\tprice\texecuted_at\nX\t-2\t1,234.50\t2026-01-01 10:00:00\n",
        ReadOptions::in_zone(ny()),
    );
    assert_eq!(tabs.candidates[0].price.to_string(), "1234.5");
    assert_eq!(tabs.candidates[0].side.as_str(), "sell");
}

#[test]
fn a_negative_quantity_with_a_buy_is_refused() {
    let parsed = with(
        "symbol,side,quantity,price,executed_at\nX,buy,-3,1,2026-01-01T00:00:00Z\n\
         X,sell,-3,1,2026-01-01T00:00:00Z\n",
        ReadOptions::in_zone(ny()),
    );
    assert_eq!(errors(&parsed), [(2, "quantity")]);
    assert_eq!(parsed.candidates[0].side.as_str(), "sell");
}

#[test]
fn generic_dates_fees_and_multipliers() {
    let file = "symbol,side,quantity,price,fees,multiplier,date,time\n\
        ES,buy,1,5000,-1.5,50,07/04/2026,9:30\n\
        ES,sell,1,5010,2,50,07/04/2026,10:30:15\n";
    let us = with(
        file,
        ReadOptions {
            date_format: Some(DateFormat::Us),
            fee_sign: Some(FeeSign::Signed),
            ..ReadOptions::in_zone(ny())
        },
    );
    assert!(us.errors.is_empty(), "{:?}", us.errors);
    let c = &us.candidates[0];
    assert_eq!(c.executed_at.to_rfc3339(), "2026-07-04T13:30:00+00:00");
    assert_eq!(c.fees.to_string(), "-1.5", "a rebate");
    assert_eq!(c.multiplier.to_string(), "50");
    let eu = with(
        file,
        ReadOptions {
            date_format: Some(DateFormat::Eu),
            ..ReadOptions::in_zone(ny())
        },
    );
    assert_eq!(
        eu.candidates[0].executed_at.to_rfc3339(),
        "2026-04-07T13:30:00+00:00"
    );
    assert_eq!(eu.candidates[0].fees.to_string(), "1.5", "sign ignored");
    let iso = with(file, ReadOptions::in_zone(ny()));
    assert_eq!(errors(&iso), [(2, "date"), (3, "date")]);
    assert!(iso.errors[0].message.contains("date_format=us"));
    // A broker's layout fixes both.
    let refused = super::parse_file(
        b"Symbol,TradePrice,Quantity,DateTime\n",
        RequestedFormat::Exactly(ImportFormat::Ibkr),
        &ReadOptions {
            fee_sign: Some(FeeSign::Signed),
            ..ReadOptions::in_zone(ny())
        },
    )
    .unwrap_err();
    assert_eq!(refused[0].field, "fee_sign");
}

#[test]
fn auto_recognises_layouts_or_names_format() {
    let auto = |file: &str| {
        super::parse_file(
            file.as_bytes(),
            RequestedFormat::Auto,
            &ReadOptions::in_zone(ny()),
        )
        .map(|p| p.format)
    };
    assert_eq!(
        auto("Symbol,DateTime,Quantity,TradePrice,IBCommission,Buy/Sell\n"),
        Ok(ImportFormat::Ibkr)
    );
    assert_eq!(
        auto("symbol,side,qty,price,executed_at\n"),
        Ok(ImportFormat::Generic)
    );
    let err = auto("when,what,how much\n").unwrap_err();
    assert_eq!(err[0].field, "format");
}

#[test]
fn ibkr_options_futures_and_commission_signs() {
    let file = "AssetClass,Symbol,UnderlyingSymbol,Expiry,Put/Call,Strike,Multiplier,\
        TradeID,DateTime,Quantity,TradePrice,IBCommission,Buy/Sell,LevelOfDetail\n\
        OPT,MDB   260717P00312500,MDB,20260717,P,312.5,100,1,20260715;093000,2,4.1,-1.3,BUY,EXECUTION\n\
        FUT,ESU6,ES,,,,,2,20260715;093100,-1,5000,0.25,SELL,EXECUTION\n\
        STK,SPY,,,,,1,3,20260715;093200,5,500,-1,BUY,ORDER\n";
    let parsed = parse_file(file.as_bytes(), ImportFormat::Ibkr, ny()).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.skipped, 1, "an ORDER row repeats its executions");
    let option = &parsed.candidates[0];
    assert_eq!(option.symbol.as_str(), "MDB260717P00312500");
    assert_eq!(option.multiplier.to_string(), "100");
    assert_eq!(option.fees.to_string(), "1.3", "negative is a cost");
    let future = &parsed.candidates[1];
    assert_eq!(future.multiplier.to_string(), "50", "ES's, from the table");
    assert_eq!(future.fees.to_string(), "-0.25", "positive is a rebate");
    assert_eq!(future.side.as_str(), "sell");
}
