//! Keyset pagination shared by every listing (trades, round trips,
//! imports, security events): a cursor naming a place in a `(time, id)`
//! order, the page cut from a fetch of one row more than asked, and the
//! query-string reader that names every bad parameter.

use crate::error::{ApiError, FieldError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// A place in a listing ordered by `(time, id)`. Opaque to clients
/// (URL-safe base64); stable under inserts because it names a place in a
/// total order, not an offset.
///
/// ```
/// use tradesense_core::http::PageCursor;
/// let cursor = PageCursor::new(chrono::Utc::now(), uuid::Uuid::now_v7());
/// assert_eq!(PageCursor::decode(&cursor.encode()).map(|c| c.id), Some(cursor.id));
/// assert_eq!(PageCursor::decode("not a cursor"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// The last listed item's time (to the microsecond).
    pub at: DateTime<Utc>,
    /// The last listed item's id.
    pub id: Uuid,
}

impl PageCursor {
    /// The place just after the item listed at `at` with `id`.
    pub fn new(at: DateTime<Utc>, id: Uuid) -> Self {
        Self { at, id }
    }

    /// The opaque text sent as `next_cursor`.
    pub fn encode(&self) -> String {
        let micros = self.at.timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{micros}|{}", self.id.simple()))
    }

    /// Reads a cursor this API produced.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (micros, id) = text.split_once('|')?;
        Some(Self {
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// The first `limit` of `items`, fetched as `limit + 1` rows: the extra row
/// tells whether another page exists without a count query. With the
/// page comes the `next_cursor` after its last item, if there is more.
///
/// ```
/// use tradesense_core::http::{PageCursor, page};
/// let now = chrono::Utc::now();
/// let rows: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
/// let (items, next) = page(rows.clone(), 2, |id| PageCursor::new(now, *id));
/// assert_eq!(items, rows[..2]);
/// assert_eq!(next, Some(PageCursor::new(now, rows[1]).encode()));
/// assert_eq!(page(rows[..2].to_vec(), 2, |id| PageCursor::new(now, *id)).1, None);
/// ```
pub fn page<T>(
    mut items: Vec<T>,
    limit: usize,
    place: impl Fn(&T) -> PageCursor,
) -> (Vec<T>, Option<String>) {
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let next = items.last().map(|last| place(last).encode());
    (items, next)
}

/// The page size when the client names none.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The largest page size accepted.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A query string read parameter by parameter, so a `422` names every bad
/// one (one `errors` entry each) instead of stopping at the first.
///
/// ```
/// use std::collections::HashMap;
/// use tradesense_core::http::{QueryParams, page_limit};
///
/// let map = HashMap::from([("limit".to_owned(), "0".to_owned())]);
/// let mut params = QueryParams::new(map);
/// assert_eq!(params.get("limit", page_limit), None);
/// assert_eq!(params.finish().unwrap_err().status(), 422);
/// ```
#[derive(Debug)]
pub struct QueryParams {
    map: HashMap<String, String>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    /// The parameters of one query string.
    pub fn new(map: HashMap<String, String>) -> Self {
        Self {
            map,
            errors: Vec::new(),
        }
    }

    /// The parameter `name` parsed, `None` when absent, empty or bad (the
    /// error is kept for [`finish`](Self::finish)).
    pub fn get<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.map.get(name).filter(|v| !v.is_empty())?;
        match parse(value) {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(name, message));
                None
            }
        }
    }

    /// `Ok` if every parameter read was valid, else the `422`.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// A `limit` parameter: 1 to [`MAX_PAGE_LIMIT`].
pub fn page_limit(v: &str) -> Result<u32, String> {
    let bad = || format!("must be an integer from 1 to {MAX_PAGE_LIMIT}");
    let n: u32 = v.parse().map_err(|_| bad())?;
    if (1..=MAX_PAGE_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(bad())
    }
}

/// A `cursor` parameter: a `next_cursor` this API issued.
pub fn page_cursor(v: &str) -> Result<PageCursor, String> {
    PageCursor::decode(v).ok_or_else(|| "is not a cursor this API issued".to_owned())
}
