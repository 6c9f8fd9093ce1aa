//! Aging, pure: open items put in buckets by days past due as of a date, and totalled
//! per group and currency (never summing two currencies). The nightly snapshot and the
//! aging report both use these rules.
//!
//! Buckets are given by their upper bounds in days: `[30, 60, 90, 120]` (the default)
//! makes `current` (not yet due), `1-30`, `31-60`, `61-90`, `91-120` and `120+` (more
//! than 120 days).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::FieldError;

const MAX_BOUNDS: usize = 12;
const MAX_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    bounds: Vec<u32>,
}

impl Default for Buckets {
    fn default() -> Self {
        Self {
            bounds: vec![30, 60, 90, 120],
        }
    }
}

impl Buckets {
    /// Parses `"30,60,90,120"`: 1 to 12 strictly increasing day counts, 1 to 3650.
    pub fn parse(text: &str) -> Result<Buckets, FieldError> {
        let bad = |message: &str| FieldError::new("buckets", "invalid_buckets", message);
        let mut bounds = Vec::new();
        for part in text.split(',') {
            let days: u32 = part
                .trim()
                .parse()
                .map_err(|_| bad("comma-separated whole numbers of days, e.g. 30,60,90,120"))?;
            if days == 0 || days > MAX_DAYS {
                return Err(bad("each bound must be 1 to 3650 days"));
            }
            if bounds.last().is_some_and(|last| *last >= days) {
                return Err(bad("bounds must increase strictly"));
            }
            bounds.push(days);
        }
        if bounds.len() > MAX_BOUNDS {
            return Err(bad("at most 12 bounds"));
        }
        Ok(Buckets { bounds })
    }

    /// `current`, the closed ranges, then the open-ended last bucket.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = vec!["current".to_owned()];
        let mut low = 1;
        for high in &self.bounds {
            labels.push(format!("{low}-{high}"));
            low = high + 1;
        }
        labels.push(format!("{}+", self.bounds.last().copied().unwrap_or(0)));
        labels
    }

    /// The upper bounds in days, increasing.
    pub fn bounds(&self) -> &[u32] {
        &self.bounds
    }

    pub fn len(&self) -> usize {
        self.bounds.len() + 2
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The bucket of an item this many days past due (≤ 0: current).
    pub fn index_for(&self, days_past_due: i64) -> usize {
        if days_past_due <= 0 {
            return 0;
        }
        let beyond = self
            .bounds
            .iter()
            .take_while(|b| i64::from(**b) < days_past_due)
            .count();
        beyond + 1
    }

    pub fn label_for(&self, days_past_due: i64) -> String {
        self.labels().swap_remove(self.index_for(days_past_due))
    }
}

/// Days from the due date to `as_of`; negative while not yet due.
pub fn days_past_due(due_date: NaiveDate, as_of: NaiveDate) -> i64 {
    (as_of - due_date).num_days()
}

/// An open amount to age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    /// The group: a customer, collector, sales rep or currency.
    pub key: String,
    pub currency: String,
    pub due_date: NaiveDate,
    pub open_balance: Decimal,
}

/// One group's aging in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgingRow {
    pub key: String,
    #[schema(example = "USD")]
    pub currency: String,
    /// Amounts per bucket, in the order of the labels.
    #[schema(value_type = Vec<String>)]
    pub buckets: Vec<Decimal>,
    /// Items per bucket.
    pub counts: Vec<u64>,
    /// Σ of the buckets.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub total: Decimal,
}

/// Ages the items as of a date, one row per (key, currency), sorted. Zero balances are
/// skipped; a negative one (cash on account) counts as current, since money held for
/// the customer is never past due.
pub fn age(
    items: impl IntoIterator<Item = OpenItem>,
    as_of: NaiveDate,
    buckets: &Buckets,
) -> Vec<AgingRow> {
    let mut rows: std::collections::BTreeMap<(String, String), AgingRow> =
        std::collections::BTreeMap::new();
    for item in items {
        if item.open_balance.is_zero() {
            continue;
        }
        let index = if item.open_balance < Decimal::ZERO {
            0
        } else {
            buckets.index_for(days_past_due(item.due_date, as_of))
        };
        let row = rows
            .entry((item.key.clone(), item.currency.clone()))
            .or_insert_with(|| AgingRow {
                key: item.key,
                currency: item.currency,
                buckets: vec![Decimal::ZERO; buckets.len()],
                counts: vec![0; buckets.len()],
                total: Decimal::ZERO,
            });
        if let (Some(amount), Some(count)) = (row.buckets.get_mut(index), row.counts.get_mut(index))
        {
            *amount += item.open_balance;
            *count += 1;
        }
        row.total += item.open_balance;
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn default_buckets_follow_the_definitions() {
        let b = Buckets::default();
        assert_eq!(
            b.labels(),
            ["current", "1-30", "31-60", "61-90", "91-120", "120+"]
        );
        let as_of = day("2026-06-30");
        let label = |due: &str| b.label_for(days_past_due(day(due), as_of));
        assert_eq!(label("2026-07-15"), "current", "not yet due");
        assert_eq!(label("2026-06-30"), "current", "due today");
        assert_eq!(label("2026-06-29"), "1-30");
        assert_eq!(label("2026-05-31"), "1-30", "exactly 30 days");
        assert_eq!(label("2026-05-30"), "31-60");
        assert_eq!(label("2026-03-02"), "91-120", "120 days");
        assert_eq!(label("2026-03-01"), "120+", "121 days");
    }

    #[test]
    fn custom_buckets_parse_strictly() {
        let b = Buckets::parse("15, 45").unwrap_or_default();
        assert_eq!(b.labels(), ["current", "1-15", "16-45", "45+"]);
        for bad in [
            "0,30",
            "30,30",
            "60,30",
            "abc",
            "",
            "5000",
            "1,2,3,4,5,6,7,8,9,10,11,12,13",
        ] {
            assert!(Buckets::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn currencies_stay_apart_and_zero_balances_vanish() {
        let item = |key: &str, currency: &str, due: &str, amount: i64| OpenItem {
            key: key.into(),
            currency: currency.into(),
            due_date: day(due),
            open_balance: Decimal::new(amount, 2),
        };
        let rows = age(
            [
                item("acme", "USD", "2026-06-01", 10_000),
                item("acme", "EUR", "2026-06-01", 5_000),
                item("acme", "USD", "2026-01-01", 2_550),
                item("acme", "USD", "2026-01-01", 0),
                item("beta", "USD", "2026-07-31", -1_000),
            ],
            day("2026-06-30"),
            &Buckets::default(),
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].key.as_str(), rows[0].currency.as_str()),
            ("acme", "EUR")
        );
        let usd = &rows[1];
        assert_eq!(usd.buckets[1], Decimal::new(10_000, 2));
        assert_eq!(usd.buckets[5], Decimal::new(2_550, 2));
        assert_eq!(usd.counts, [0, 1, 0, 0, 0, 1]);
        assert_eq!(usd.total, Decimal::new(12_550, 2));
        assert_eq!(
            rows[2].buckets[0],
            Decimal::new(-1_000, 2),
            "cash on account is current"
        );
    }

    proptest! {
        #[test]
        fn aging_creates_and_loses_nothing(
            raw_bounds in proptest::collection::btree_set(1_u32..400, 1..8),
            items in proptest::collection::vec((0_usize..4, 0_usize..2, -200_i64..400, -50_000_i64..500_000), 0..60),
        ) {
            let text = raw_bounds.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let buckets = Buckets::parse(&text).map_err(|e| TestCaseError::fail(e.message))?;
            let as_of = day("2026-06-30");
            let items: Vec<OpenItem> = items.into_iter().map(|(k, c, d, a)| OpenItem {
                key: format!("k{k}"),
                currency: ["USD", "EUR"][c].to_owned(),
                due_date: as_of - chrono::Duration::days(d),
                open_balance: Decimal::new(a, 2),
            }).collect();
            let rows = age(items.clone(), as_of, &buckets);
            for currency in ["USD", "EUR"] {
                let given: Decimal = items.iter().filter(|i| i.currency == currency).map(|i| i.open_balance).sum();
                let aged: Decimal = rows.iter().filter(|r| r.currency == currency).map(|r| r.total).sum();
                prop_assert_eq!(given, aged);
            }
            for row in &rows {
                prop_assert_eq!(row.buckets.iter().copied().sum::<Decimal>(), row.total);
            }
            let counted: u64 = rows.iter().flat_map(|r| r.counts.iter()).sum();
            prop_assert_eq!(counted, u64::try_from(items.iter().filter(|i| !i.open_balance.is_zero()).count()).unwrap_or(0));
            let mut previous = 0;
            for days in -5_i64..500 {
                let index = buckets.index_for(days);
                prop_assert!(index >= previous && index < buckets.len());
                previous = index;
            }
        }
    }
}
