//! Cursor pagination. A cursor is the sort key of the last row served, opaque to
//! clients (base64url JSON), so pages never skip or repeat rows while data changes.
//!
//! A cursor also names the list and the sort it was cut from ([`Listing`]), and is
//! refused anywhere else: a key of one list means nothing in another (an invoice's due
//! date read as a payment's received date would silently serve a wrong page).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The list and the sort order a cursor belongs to; every list has its own (a list with
/// several orders, one per order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// The list, e.g. `invoices`.
    pub list: &'static str,
    /// The order of the list, e.g. `due_date` or `-created_at`.
    pub sort: &'static str,
}

impl Listing {
    pub const fn new(list: &'static str, sort: &'static str) -> Self {
        Self { list, sort }
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: i64,
    /// The sort key after which this page starts.
    pub after: Option<K>,
    listing: Listing,
}

impl<K: DeserializeOwned> PageRequest<K> {
    /// Checks `limit` and decodes `cursor`, which must come from `listing`.
    pub fn parse(listing: Listing, limit: Option<i64>, cursor: Option<&str>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid_query(
                "limit",
                "out_of_range",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(text) => Some(decode(listing, text)?),
        };
        Ok(Self {
            limit,
            after,
            listing,
        })
    }
}

impl<K> PageRequest<K> {
    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn listing(&self) -> Listing {
        self.listing
    }
}

/// What a cursor carries: the list, the sort and the key of the last row served.
#[derive(Serialize)]
struct Envelope<'a, K> {
    l: &'a str,
    s: &'a str,
    k: &'a K,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Received {
    l: String,
    s: String,
    k: serde_json::Value,
}

fn invalid(message: &str) -> Error {
    Error::invalid_query("cursor", "invalid_cursor", message)
}

fn decode<K: DeserializeOwned>(listing: Listing, text: &str) -> Result<K> {
    let foreign = || invalid("cursor is not one this API issued");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| foreign())?;
    let received: Received = serde_json::from_slice(&bytes).map_err(|_| foreign())?;
    if received.l != listing.list {
        return Err(invalid(
            "the cursor belongs to another list; use it only on the list it came from",
        ));
    }
    if received.s != listing.sort {
        return Err(invalid(
            "the cursor belongs to another sort order; use the sort it came from",
        ));
    }
    serde_json::from_value(received.k).map_err(|_| foreign())
}

/// The cursor of `key` in `listing`.
pub fn encode<K: Serialize>(listing: Listing, key: &K) -> String {
    let envelope = Envelope {
        l: listing.list,
        s: listing.sort,
        k: key,
    };
    // Serialising plain keys (strings, ids, instants) cannot fail; an empty cursor
    // would only restart the list.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// A page of rows and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts the over-fetched rows to the page of `request` and derives the next cursor
    /// (of the request's list and sort) from the last row.
    pub fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        request: &PageRequest<K>,
        key: impl Fn(&T) -> K,
    ) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| encode(request.listing, &key(r)))
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROWS: Listing = Listing::new("rows", "id");

    fn code(result: Result<PageRequest<u32>>) -> Option<String> {
        match result {
            Err(Error::InvalidQuery(errors)) => errors.first().map(|e| e.code.clone()),
            _ => None,
        }
    }

    #[test]
    fn limit_is_bounded() {
        assert!(PageRequest::<String>::parse(ROWS, Some(0), None).is_err());
        assert!(PageRequest::<String>::parse(ROWS, Some(201), None).is_err());
        assert_eq!(
            PageRequest::<String>::parse(ROWS, None, None)
                .map(|p| p.limit)
                .ok(),
            Some(50)
        );
    }

    #[test]
    fn foreign_cursors_are_refused() {
        assert!(matches!(
            PageRequest::<(String, u32)>::parse(ROWS, None, Some("not a cursor!")),
            Err(Error::InvalidQuery(_))
        ));
        let other_shape = encode(ROWS, &42_u32);
        assert!(PageRequest::<(String, u32)>::parse(ROWS, None, Some(&other_shape)).is_err());
        // A bare key, as cursors were before they named their list, is refused too.
        let bare = URL_SAFE_NO_PAD.encode(b"42");
        assert_eq!(
            code(PageRequest::parse(ROWS, None, Some(&bare))).as_deref(),
            Some("invalid_cursor")
        );
    }

    const LISTS: [&str; 4] = ["invoices", "payments", "customers", "tasks"];
    const SORTS: [&str; 4] = ["name", "-name", "created_at", "-created_at"];

    proptest! {
        #[test]
        fn a_cursor_round_trips_only_for_its_own_list_and_sort(
            key in any::<u32>(),
            list in 0_usize..4,
            sort in 0_usize..4,
            other_list in 0_usize..4,
            other_sort in 0_usize..4,
        ) {
            let own = Listing::new(LISTS[list], SORTS[sort]);
            let other = Listing::new(LISTS[other_list], SORTS[other_sort]);
            let cursor = encode(own, &key);
            let back = PageRequest::<u32>::parse(own, Some(10), Some(&cursor))
                .ok()
                .and_then(|p| p.after);
            prop_assert_eq!(back, Some(key));
            let elsewhere = PageRequest::<u32>::parse(other, Some(10), Some(&cursor));
            if other == own {
                prop_assert_eq!(elsewhere.ok().and_then(|p| p.after), Some(key));
            } else {
                let refused = code(elsewhere);
                prop_assert_eq!(refused.as_deref(), Some("invalid_cursor"));
            }
        }

        #[test]
        fn paging_visits_every_row_once(n in 0_usize..60, limit in 1_i64..12) {
            let rows: Vec<u32> = (0..u32::try_from(n).unwrap_or(0)).collect();
            let mut seen = Vec::new();
            let mut request = PageRequest::<u32>::parse(ROWS, Some(limit), None);
            loop {
                let Ok(page) = request else {
                    prop_assert!(false, "a cursor of the list was refused");
                    break;
                };
                let fetch = usize::try_from(page.fetch()).unwrap_or(1);
                let batch: Vec<u32> = rows
                    .iter()
                    .copied()
                    .filter(|r| page.after.is_none_or(|a| *r > a))
                    .take(fetch)
                    .collect();
                let served = Page::from_rows(batch, &page, |r| *r);
                seen.extend(served.data.iter().copied());
                match served.next_cursor {
                    Some(c) => request = PageRequest::parse(ROWS, Some(limit), Some(&c)),
                    None => break,
                }
            }
            prop_assert_eq!(seen, rows);
        }
    }
}
