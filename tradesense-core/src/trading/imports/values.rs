//! Cells as brokers write them: numbers, dates and times.
//!
//! Numbers: a `.` is the decimal point unless `decimal=comma`. A `,` may
//! group thousands only where it cannot be a decimal comma: groups of three
//! digits after a first group of one to three, and, in a generic file, only
//! when the number also has a decimal point or more than one group
//! (`1,234.50`, `1,234,567`); a lone `1,234` is refused there as ambiguous
//! (one thousand, or 1.234?), while a US broker's export (always a point)
//! reads it as 1234. `12,5` and `1.234,50` are row errors unless
//! `decimal=comma`, which reads `.` as the grouping under the same rules.
//! A `$`, a leading `+` and accounting parentheses (`(1.00)`) are allowed.
//!
//! Times without an offset are read in the import's zone. On a fall-back
//! night a local time such as 01:30 in `America/New_York` happens twice;
//! it is read as the **first** occurrence (daylight time, `-04:00`), the
//! reading of a broker that logs fills as they happen in local time, and a
//! file that means the second must carry its offset (RFC 3339). A local
//! time inside a spring-forward gap (02:30 on the night clocks skip it)
//! never happened and is a row error.

use super::super::parse_decimal_exact;
use super::DecimalMark;
use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// Which thousands groupings a layout's numbers may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grouping {
    /// Only a grouping that cannot be read as a decimal mark.
    Unambiguous,
    /// A US broker's: `1,234` is one thousand two hundred thirty-four.
    Us,
}

/// A decimal as brokers write it.
pub(super) fn number(text: &str, mark: DecimalMark, grouping: Grouping) -> Result<Decimal, String> {
    let original = text;
    let mut text = text.trim();
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner;
    }
    for _ in 0..2 {
        if let Some(rest) = text.strip_prefix('-') {
            negative = !negative;
            text = rest;
        }
        text = text.strip_prefix('+').unwrap_or(text);
        text = text.strip_prefix('$').unwrap_or(text).trim_start();
    }
    let (point, group) = match mark {
        DecimalMark::Point => ('.', ','),
        DecimalMark::Comma => (',', '.'),
    };
    let (int, frac) = match text.split_once(point) {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let int = if int.contains(group) {
        let groups: Vec<&str> = int.split(group).collect();
        let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
        let well_formed = (1..=3).contains(&groups[0].len())
            && !groups[0].starts_with('0')
            && groups.iter().all(|g| digits(g))
            && groups[1..].iter().all(|g| g.len() == 3);
        let ambiguous = mark == DecimalMark::Point
            && grouping == Grouping::Unambiguous
            && groups.len() == 2
            && frac.is_none();
        if !well_formed || ambiguous {
            return Err(match mark {
                DecimalMark::Point => format!(
                    "`{original}` has a comma: a decimal comma needs `decimal=comma`, \
                     and a thousands comma must group by three before a decimal point \
                     (`1,234.50`)"
                ),
                DecimalMark::Comma => format!(
                    "`{original}` has a `.`: with `decimal=comma` it may only group \
                     thousands by three (`1.234,50`)"
                ),
            });
        }
        groups.concat()
    } else {
        int.to_owned()
    };
    let plain = match frac {
        Some(frac) => format!("{int}.{frac}"),
        None => int,
    };
    let value = parse_decimal_exact(&plain).map_err(|m| format!("`{original}` {m}"))?;
    Ok(if negative { -value } else { value })
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

/// The order of a date's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateOrder {
    /// `YYYY-MM-DD`.
    Iso,
    /// `MM/DD/YYYY`, `M/D/YY`, `MM-DD-YYYY`.
    Us,
    /// `DD/MM/YYYY`, `DD.MM.YYYY`, `DD-MM-YYYY`.
    Eu,
}

impl DateOrder {
    /// chrono formats of a date in this order; two-digit years first, as
    /// `%Y` would read `26` as the year 26.
    fn formats(self) -> &'static [&'static str] {
        match self {
            Self::Iso => &["%Y-%m-%d"],
            Self::Us => &["%m/%d/%y", "%m/%d/%Y", "%m-%d-%y", "%m-%d-%Y"],
            Self::Eu => &[
                "%d/%m/%y", "%d/%m/%Y", "%d.%m.%y", "%d.%m.%Y", "%d-%m-%y", "%d-%m-%Y",
            ],
        }
    }

    /// How messages spell it.
    fn describe(self) -> &'static str {
        match self {
            Self::Iso => "`YYYY-MM-DD[ HH:MM[:SS]]` or RFC 3339",
            Self::Us => "`MM/DD/YYYY[ HH:MM[:SS]]`",
            Self::Eu => "`DD/MM/YYYY[ HH:MM[:SS]]`",
        }
    }
}

/// A date alone, in `order`.
pub(super) fn date(text: &str, order: DateOrder) -> Option<NaiveDate> {
    order
        .formats()
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text.trim(), f).ok())
        .filter(|d| (1970..=2200).contains(&chrono::Datelike::year(d)))
}

/// A time of day: `HH:MM`, `HH:MM:SS`, `HH:MM:SS.fff`, with `AM`/`PM`.
fn time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    [
        "%H:%M:%S",
        "%H:%M:%S%.f",
        "%H:%M",
        "%I:%M:%S %p",
        "%I:%M %p",
        "%I:%M:%S%p",
    ]
    .iter()
    .find_map(|f| NaiveTime::parse_from_str(text, f).ok())
}

/// A local date and optional time in `order` (`T` or blanks between
/// them); a date alone is midnight.
pub(super) fn local(text: &str, order: DateOrder) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (day, time) = match text.split_once([' ', 'T']) {
        Some((day, time)) => (day, Some(time)),
        None => (text, None),
    };
    let day = date(day, order)?;
    let time = match time {
        Some(time) => time_of_day(time)?,
        None => NaiveTime::MIN,
    };
    Some(day.and_time(time))
}

/// RFC 3339, or a local date (and time) in `order` read in `tz`.
pub(super) fn timestamp(text: &str, order: DateOrder, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    match local(text, order) {
        Some(at) => local_to_utc(at, tz),
        None if order == DateOrder::Iso && text.contains('/') => Err(format!(
            "`{text}` is not {}; for month/day or day/month dates pass \
             `date_format=us` or `date_format=eu`",
            order.describe()
        )),
        None => Err(format!("`{text}` is not {}", order.describe())),
    }
}

/// A US local time with a zone abbreviation (`07/15/2026 09:31:02 EDT`),
/// or without one (read in `tz`).
pub(super) fn zoned(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let (local_text, offset) = match text.rsplit_once(' ') {
        Some((rest, zone)) if zone.chars().all(|c| c.is_ascii_alphabetic()) => {
            match zone_offset(zone) {
                Some(hours) => (rest, Some(hours)),
                None if zone.eq_ignore_ascii_case("AM") || zone.eq_ignore_ascii_case("PM") => {
                    (text, None)
                }
                None => {
                    return Err(format!(
                        "`{zone}` is not a time zone abbreviation known here"
                    ));
                }
            }
        }
        _ => (text, None),
    };
    let at = local(local_text, DateOrder::Us)
        .ok_or_else(|| format!("`{text}` is not `MM/DD/YYYY HH:MM:SS ZONE`"))?;
    match offset.and_then(|hours| FixedOffset::east_opt(hours * 3600)) {
        Some(offset) => offset
            .from_local_datetime(&at)
            .single()
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| format!("`{text}` is out of range")),
        None => local_to_utc(at, tz),
    }
}

/// UTC offsets (hours) of the zone abbreviations brokers print.
fn zone_offset(zone: &str) -> Option<i32> {
    Some(match zone.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" | "AKDT" => -8,
        "AKST" => -9,
        "HST" => -10,
        "BST" | "CET" => 1,
        "CEST" => 2,
        "HKT" | "SGT" | "AWST" => 8,
        "JST" => 9,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(text: &str, grouping: Grouping) -> Result<String, String> {
        number(text, DecimalMark::Point, grouping).map(|d| d.to_string())
    }

    #[test]
    fn commas_are_never_silently_misread() {
        let g = Grouping::Unambiguous;
        assert_eq!(point("1,234.50", g).unwrap(), "1234.5");
        assert_eq!(point("1,234,567", g).unwrap(), "1234567");
        assert_eq!(point("$-1,234.5", g).unwrap(), "-1234.5");
        assert_eq!(point("($0.66)", g).unwrap(), "-0.66");
        assert_eq!(point("+3", g).unwrap(), "3");
        for bad in [
            "12,5", "1.234,50", "1,234", "0,500", "1,23.4", "1,2345.0", "1 234",
        ] {
            assert!(point(bad, g).is_err(), "{bad}");
        }
        assert_eq!(point("1,234", Grouping::Us).unwrap(), "1234");
        assert!(point("12,5", Grouping::Us).is_err());
        let comma = |t: &str| number(t, DecimalMark::Comma, g).map(|d| d.to_string());
        assert_eq!(comma("1.234,50").unwrap(), "1234.5");
        assert_eq!(comma("12,5").unwrap(), "12.5");
        assert_eq!(comma("-0,25").unwrap(), "-0.25");
        assert!(comma("1.5").is_err());
        assert!(comma("1,2,3").is_err());
    }

    #[test]
    fn dates_in_each_order() {
        let utc = Tz::UTC;
        let at = |t: &str, o: DateOrder| timestamp(t, o, utc).map(|d| d.to_rfc3339());
        assert_eq!(
            at("07/15/2026 9:31", DateOrder::Us).unwrap(),
            "2026-07-15T09:31:00+00:00"
        );
        assert_eq!(
            at("7/5/26 13:02:03", DateOrder::Us).unwrap(),
            "2026-07-05T13:02:03+00:00"
        );
        assert_eq!(
            at("05.07.2026 13:02", DateOrder::Eu).unwrap(),
            "2026-07-05T13:02:00+00:00"
        );
        assert_eq!(
            at("2026-07-05", DateOrder::Iso).unwrap(),
            "2026-07-05T00:00:00+00:00"
        );
        assert!(
            at("07/15/2026", DateOrder::Iso)
                .unwrap_err()
                .contains("date_format")
        );
        assert!(at("15/07/2026", DateOrder::Us).is_err());
        assert_eq!(
            zoned("07/15/2026 09:31:02 EDT", utc).unwrap().to_rfc3339(),
            "2026-07-15T13:31:02+00:00"
        );
        assert!(zoned("07/15/2026 09:31:02 XYZ", utc).is_err());
    }
}
