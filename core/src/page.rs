//! Cursor pagination. A cursor is the sort key of the last row served, opaque to
//! clients (base64url JSON), so pages never skip or repeat rows while data changes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: i64,
    /// The sort key after which this page starts.
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self> {
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
            Some(text) => Some(decode(text)?),
        };
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

fn decode<K: DeserializeOwned>(text: &str) -> Result<K> {
    let bad = || {
        Error::invalid_query(
            "cursor",
            "invalid_cursor",
            "cursor is not one this API issued",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

pub fn encode<K: Serialize>(key: &K) -> String {
    // Serialising plain keys (strings, ids, instants) cannot fail; an empty cursor
    // would only restart the list.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// A page of rows and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts the over-fetched rows to the page and derives the next cursor from the last.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| encode(&key(r)))
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

    #[test]
    fn limit_is_bounded() {
        assert!(PageRequest::<String>::parse(Some(0), None).is_err());
        assert!(PageRequest::<String>::parse(Some(201), None).is_err());
        assert_eq!(
            PageRequest::<String>::parse(None, None)
                .map(|p| p.limit)
                .ok(),
            Some(50)
        );
    }

    #[test]
    fn foreign_cursors_are_refused() {
        assert!(matches!(
            PageRequest::<(String, u32)>::parse(None, Some("not a cursor!")),
            Err(Error::InvalidQuery(_))
        ));
        let other_shape = encode(&42_u32);
        assert!(PageRequest::<(String, u32)>::parse(None, Some(&other_shape)).is_err());
    }

    proptest! {
        #[test]
        fn paging_visits_every_row_once(n in 0_usize..60, limit in 1_i64..12) {
            let rows: Vec<u32> = (0..u32::try_from(n).unwrap_or(0)).collect();
            let mut seen = Vec::new();
            let mut after: Option<u32> = None;
            loop {
                let fetch = usize::try_from(limit + 1).unwrap_or(1);
                let batch: Vec<u32> =
                    rows.iter().copied().filter(|r| after.is_none_or(|a| *r > a)).take(fetch).collect();
                let page = Page::from_rows(batch, limit, |r| *r);
                seen.extend(page.data.iter().copied());
                match page.next_cursor {
                    Some(c) => after = PageRequest::<u32>::parse(Some(limit), Some(&c)).ok().and_then(|p| p.after),
                    None => break,
                }
            }
            prop_assert_eq!(seen, rows);
        }
    }
}
