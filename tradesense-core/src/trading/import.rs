//! Imports as the store keeps them, and the in-memory plan of one: which
//! candidate rows become trades, which are duplicates and which the fold
//! refuses, decided in `executed_at` order (file order among equal times)
//! before anything is written.

use super::fold::Book;
use super::imports::{Candidate, ImportFormat, RowError};
use super::{FoldError, Rules, TradeLeg};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// An import as recorded and sent (`user_id` is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportRecord {
    /// Id (also each created trade's `import_id`).
    pub id: Uuid,
    /// Owner.
    #[serde(skip)]
    pub user_id: Uuid,
    /// The file's layout.
    pub format: ImportFormat,
    /// The portfolio the trades went to, if any.
    pub portfolio_id: Option<Uuid>,
    /// Data rows read.
    pub rows: u64,
    /// Trades created.
    pub created: u64,
    /// Rows an earlier import into the same portfolio, from a file of the
    /// same layout, already created.
    pub duplicates: u64,
    /// Rows that are not fills (dividends, transfers, cancelled orders).
    pub skipped: u64,
    /// Rows refused: line in the file, column, why.
    pub errors: Vec<RowError>,
    /// Whether nothing was written (`dry_run=true`).
    pub dry_run: bool,
    /// When it ran.
    pub created_at: DateTime<Utc>,
}

/// What to import.
#[derive(Debug)]
pub struct NewImport {
    /// Owner.
    pub user_id: Uuid,
    /// The file's layout.
    pub format: ImportFormat,
    /// Where the trades go (must be the owner's).
    pub portfolio_id: Option<Uuid>,
    /// Data rows read.
    pub rows: u64,
    /// Rows that are not fills.
    pub skipped: u64,
    /// The rows that read into trades.
    pub candidates: Vec<Candidate>,
    /// The rows that did not.
    pub errors: Vec<RowError>,
    /// Answer the counts, write nothing.
    pub dry_run: bool,
}

/// One group's trades in fold order (time, id, leg) and the fold's state
/// after the last of them.
pub(super) struct Group {
    rules: Rules,
    trades: Vec<(DateTime<Utc>, Uuid, TradeLeg)>,
    book: Book,
}

impl Group {
    /// A group holding `trades` (already in fold order), or the fold's
    /// refusal of them.
    pub(super) fn new(
        symbol: super::Symbol,
        rules: Rules,
        trades: Vec<(DateTime<Utc>, Uuid, TradeLeg)>,
    ) -> Result<Self, FoldError> {
        let book = Self::fold(&symbol, rules, &trades)?;
        Ok(Self {
            rules,
            trades,
            book,
        })
    }

    /// Adds a trade where it falls in the order, or refuses it (leaving
    /// the group as it was) if the fold would. Appending is one step of
    /// the fold; a back-dated trade refolds the group.
    pub(super) fn try_add(
        &mut self,
        at: DateTime<Utc>,
        id: Uuid,
        leg: TradeLeg,
    ) -> Result<(), FoldError> {
        let appends = self
            .trades
            .last()
            .is_none_or(|(last_at, last_id, _)| (at, id) > (*last_at, *last_id));
        if appends {
            // No clone of the book per row: under fifo/lifo it carries every
            // open lot, and a 50 000-row file would copy them 50 000 times.
            // A refusal leaves the book as it was; only an overflow spoils
            // it, and then it is rebuilt from the trades it held.
            return match self.book.apply(&leg) {
                Ok(_) => {
                    self.trades.push((at, id, leg));
                    Ok(())
                }
                Err(err @ FoldError::Overflow { .. }) => {
                    self.book = Self::fold(&self.book.position.symbol, self.rules, &self.trades)?;
                    Err(err)
                }
                Err(err) => Err(err),
            };
        }
        let place = self.trades.partition_point(|(t, i, _)| (*t, *i) < (at, id));
        self.trades.insert(place, (at, id, leg));
        match Self::fold(&self.book.position.symbol, self.rules, &self.trades) {
            Ok(book) => {
                self.book = book;
                Ok(())
            }
            Err(err) => {
                self.trades.remove(place);
                Err(err)
            }
        }
    }

    /// The fold's state after `trades` (in fold order), or its refusal.
    fn fold(
        symbol: &super::Symbol,
        rules: Rules,
        trades: &[(DateTime<Utc>, Uuid, TradeLeg)],
    ) -> Result<Book, FoldError> {
        let mut book = Book::new(symbol.clone(), rules);
        for (_, _, leg) in trades {
            book.apply(leg)?;
        }
        Ok(book)
    }
}

/// The decision on one candidate.
pub(super) enum Decision {
    /// Create it with this id.
    Create(Uuid),
    /// An earlier import created it.
    Duplicate,
    /// The fold refuses it here.
    Refused(RowError),
}

/// Decides every candidate in `executed_at` order (file order among equal
/// times): duplicate by `keys` (against `existing` and earlier rows of the
/// file), else added to its group if the fold allows. `groups` holds each
/// symbol's current trades. Returns one decision per candidate, in file
/// order.
pub(super) fn plan(
    candidates: &[Candidate],
    keys: &[String],
    existing: &std::collections::HashSet<String>,
    groups: &mut HashMap<super::Symbol, Group>,
) -> Vec<Decision> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (candidates[i].executed_at, i));
    let mut decisions: Vec<Option<Decision>> = (0..candidates.len()).map(|_| None).collect();
    let mut in_file = std::collections::HashSet::new();
    for i in order {
        let c = &candidates[i];
        if existing.contains(&keys[i]) || !in_file.insert(keys[i].as_str()) {
            decisions[i] = Some(Decision::Duplicate);
            continue;
        }
        // UUID v7 ids grow in the order they are made: equal times keep
        // this (file) order in the fold.
        let id = Uuid::now_v7();
        let leg = TradeLeg {
            id,
            symbol: c.symbol.clone(),
            side: c.side,
            quantity: c.quantity,
            price: c.price,
            fees: c.fees,
            multiplier: c.multiplier,
        };
        let decision = match groups.get_mut(&c.symbol) {
            Some(group) => match group.try_add(c.executed_at, id, leg) {
                Ok(()) => Decision::Create(id),
                Err(err) => Decision::Refused(RowError {
                    row: c.row,
                    field: match err {
                        FoldError::MultiplierMismatch { .. } => "multiplier",
                        _ => "quantity",
                    }
                    .to_owned(),
                    message: err.to_string(),
                }),
            },
            None => Decision::Refused(RowError {
                row: c.row,
                field: "symbol".to_owned(),
                message: "its group was not loaded".to_owned(),
            }),
        };
        decisions[i] = Some(decision);
    }
    decisions
        .into_iter()
        .map(|d| d.unwrap_or(Decision::Duplicate))
        .collect()
}
