//! The journal's statistics (docs/API.md, "Summary"): pure functions of
//! closed round trips in `(closed_at, id)` order, with exact sums and every
//! division rounded half-even to [`JOURNAL_DP`](super::JOURNAL_DP) places.
//! Days, weekdays and hours are those of `closed_at` in an IANA zone.

use super::money::serialize_decimal;
use super::round_trip::serialize_option_decimal;
use super::{Symbol, Tags, divide};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the statistics need of a closed round trip (the analytics read
/// only these columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedTrip {
    /// The round trip's id.
    pub id: uuid::Uuid,
    /// Instrument.
    pub symbol: Symbol,
    /// When it closed.
    pub closed_at: DateTime<Utc>,
    /// Its realized P&L.
    pub realized_pnl: Decimal,
    /// `closed_at - opened_at`, whole seconds.
    pub holding_seconds: i64,
    /// Its tags.
    pub tags: Tags,
}

/// The statistics of a set of closed round trips. A statistic of no round
/// trips is `null` (counts are `0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// How many closed round trips.
    pub round_trips: u64,
    /// `realized_pnl > 0`.
    pub wins: u64,
    /// `realized_pnl < 0`.
    pub losses: u64,
    /// `realized_pnl = 0`.
    pub breakevens: u64,
    /// `wins / round_trips`.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub win_rate: Option<Decimal>,
    /// Sum of the wins.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub gross_profit: Option<Decimal>,
    /// Sum of the losses, as a non-negative amount.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub gross_loss: Option<Decimal>,
    /// Sum of every `realized_pnl`.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub net_pnl: Option<Decimal>,
    /// `gross_profit / gross_loss`; `null` when `gross_loss` is zero.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub profit_factor: Option<Decimal>,
    /// `gross_profit / wins`.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub average_win: Option<Decimal>,
    /// `gross_loss / losses` (non-negative).
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub average_loss: Option<Decimal>,
    /// `net_pnl / round_trips`.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub expectancy: Option<Decimal>,
    /// The largest win.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub largest_win: Option<Decimal>,
    /// The largest loss (non-negative).
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub largest_loss: Option<Decimal>,
    /// The largest fall of cumulative P&L from a running peak starting at 0.
    #[serde(serialize_with = "serialize_option_decimal")]
    #[schema(value_type = Option<String>)]
    pub max_drawdown: Option<Decimal>,
    /// Longest run of wins in `closed_at` order (a breakeven ends it).
    pub max_consecutive_wins: u64,
    /// Longest run of losses in `closed_at` order (a breakeven ends it).
    pub max_consecutive_losses: u64,
    /// Mean holding time, rounded half-even to a whole second.
    pub average_holding_seconds: Option<i64>,
}

/// The summary of `trips`, closed and in `(closed_at, id)` order. Sums use
/// saturating-free checked arithmetic; an out-of-range sum (beyond ~7.9e28)
/// makes that statistic `null` rather than a panic.
pub fn summarize<'a>(trips: impl IntoIterator<Item = &'a ClosedTrip>) -> Summary {
    let zero = Decimal::ZERO;
    let (mut n, mut wins, mut losses, mut breakevens) = (0u64, 0u64, 0u64, 0u64);
    let (mut profit, mut loss, mut net) = (Some(zero), Some(zero), Some(zero));
    let (mut largest_win, mut largest_loss): (Option<Decimal>, Option<Decimal>) = (None, None);
    let (mut peak, mut drawdown) = (Some(zero), Some(zero));
    let (mut run_w, mut run_l, mut best_w, mut best_l) = (0u64, 0u64, 0u64, 0u64);
    let mut holding: i128 = 0;
    for trip in trips {
        let pnl = trip.realized_pnl;
        n += 1;
        net = net.and_then(|v| v.checked_add(pnl));
        if pnl > zero {
            wins += 1;
            profit = profit.and_then(|v| v.checked_add(pnl));
            largest_win = Some(largest_win.map_or(pnl, |w| w.max(pnl)));
            run_w += 1;
            run_l = 0;
        } else if pnl < zero {
            losses += 1;
            loss = loss.and_then(|v| v.checked_add(-pnl));
            largest_loss = Some(largest_loss.map_or(-pnl, |l| l.max(-pnl)));
            run_l += 1;
            run_w = 0;
        } else {
            breakevens += 1;
            run_w = 0;
            run_l = 0;
        }
        best_w = best_w.max(run_w);
        best_l = best_l.max(run_l);
        if let (Some(cumulative), Some(top)) = (net, peak) {
            let top = top.max(cumulative);
            peak = Some(top);
            drawdown = drawdown
                .zip(top.checked_sub(cumulative))
                .map(|(d, f)| d.max(f));
        } else {
            (peak, drawdown) = (None, None);
        }
        holding += i128::from(trip.holding_seconds);
    }
    if n == 0 {
        return Summary {
            round_trips: 0,
            wins: 0,
            losses: 0,
            breakevens: 0,
            win_rate: None,
            gross_profit: None,
            gross_loss: None,
            net_pnl: None,
            profit_factor: None,
            average_win: None,
            average_loss: None,
            expectancy: None,
            largest_win: None,
            largest_loss: None,
            max_drawdown: None,
            max_consecutive_wins: 0,
            max_consecutive_losses: 0,
            average_holding_seconds: None,
        };
    }
    let count = |c: u64| Decimal::from(c);
    let norm = |d: Option<Decimal>| d.map(|d| d.normalize());
    Summary {
        round_trips: n,
        wins,
        losses,
        breakevens,
        win_rate: divide(count(wins), count(n)),
        gross_profit: norm(profit),
        gross_loss: norm(loss),
        net_pnl: norm(net),
        profit_factor: profit.zip(loss).and_then(|(p, l)| divide(p, l)),
        average_win: profit.and_then(|p| divide(p, count(wins))),
        average_loss: loss.and_then(|l| divide(l, count(losses))),
        expectancy: net.and_then(|v| divide(v, count(n))),
        largest_win: norm(largest_win),
        largest_loss: norm(largest_loss),
        max_drawdown: norm(drawdown),
        max_consecutive_wins: best_w,
        max_consecutive_losses: best_l,
        average_holding_seconds: mean_half_even(holding, i128::from(n)),
    }
}

/// `sum / n` rounded half-even to an integer, in integers (rounding a
/// rounded decimal again could turn 3.4999999996 into 4).
fn mean_half_even(sum: i128, n: i128) -> Option<i64> {
    let (q, r) = (sum.div_euclid(n), sum.rem_euclid(n));
    let up = match (2 * r).cmp(&n) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 != 0,
        std::cmp::Ordering::Less => false,
    };
    i64::try_from(if up { q + 1 } else { q }).ok()
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`), exactly as the tz
/// database spells it.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| "must be an IANA time zone such as `Europe/Berlin`".to_owned())
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BreakdownBy {
    /// The instrument.
    Symbol,
    /// Each tag (a round trip with several counts in each).
    Tag,
    /// `monday` ... `sunday` of `closed_at` in the zone.
    Weekday,
    /// `"00"` ... `"23"` of `closed_at` in the zone.
    Hour,
}

impl std::str::FromStr for BreakdownBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "symbol" => Ok(Self::Symbol),
            "tag" => Ok(Self::Tag),
            "weekday" => Ok(Self::Weekday),
            "hour" => Ok(Self::Hour),
            _ => Err("must be one of `symbol`, `tag`, `weekday`, `hour`".to_owned()),
        }
    }
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BreakdownGroup {
    /// The symbol, tag, weekday or hour.
    pub key: String,
    /// The group's statistics.
    #[serde(flatten)]
    pub summary: Summary,
}

/// The groups of `trips` (closed, in `(closed_at, id)` order) by `by`,
/// ordered by key (weekdays from monday), each group's trips in order.
pub fn breakdown(trips: &[ClosedTrip], by: BreakdownBy, tz: Tz) -> Vec<BreakdownGroup> {
    // The sort key beside the shown key: weekdays sort by their number.
    let mut groups: BTreeMap<(u32, String), Vec<&ClosedTrip>> = BTreeMap::new();
    for trip in trips {
        let local = trip.closed_at.with_timezone(&tz);
        let keys: Vec<(u32, String)> = match by {
            BreakdownBy::Symbol => vec![(0, trip.symbol.as_str().to_owned())],
            BreakdownBy::Tag => trip
                .tags
                .iter()
                .map(|t| (0, t.as_str().to_owned()))
                .collect(),
            BreakdownBy::Weekday => {
                let day = local.weekday().num_days_from_monday();
                vec![(day, WEEKDAYS[day as usize].to_owned())]
            }
            BreakdownBy::Hour => vec![(0, format!("{:02}", local.hour()))],
        };
        for key in keys {
            groups.entry(key).or_default().push(trip);
        }
    }
    groups
        .into_iter()
        .map(|((_, key), trips)| BreakdownGroup {
            key,
            summary: summarize(trips),
        })
        .collect()
}

/// One day of the equity curve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EquityPoint {
    /// `YYYY-MM-DD` of `closed_at` in the zone.
    #[schema(value_type = String, example = "2026-03-02")]
    pub date: NaiveDate,
    /// The day's realized P&L.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub pnl: Decimal,
    /// The running total through that day.
    #[serde(serialize_with = "serialize_decimal")]
    #[schema(value_type = String)]
    pub cumulative: Decimal,
}

/// One point per local date with a close; `None` if a sum leaves the range.
pub fn equity_curve(trips: &[ClosedTrip], tz: Tz) -> Option<Vec<EquityPoint>> {
    let mut days: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    for trip in trips {
        let day = days
            .entry(trip.closed_at.with_timezone(&tz).date_naive())
            .or_default();
        *day = day.checked_add(trip.realized_pnl)?;
    }
    let mut cumulative = Decimal::ZERO;
    days.into_iter()
        .map(|(date, pnl)| {
            cumulative = cumulative.checked_add(pnl)?;
            Some(EquityPoint {
                date,
                pnl: pnl.normalize(),
                cumulative: cumulative.normalize(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mean_half_even;

    #[test]
    fn holding_means_round_half_even_once() {
        assert_eq!(mean_half_even(5, 2), Some(2));
        assert_eq!(mean_half_even(7, 2), Some(4));
        assert_eq!(mean_half_even(7, 3), Some(2));
        // 3.4999999996 must not round to 4 (a rounded 3.5 would).
        assert_eq!(mean_half_even(34_999_999_996, 10_000_000_000), Some(3));
    }
}
