//! The aging report: open receivables as the ledger stood at the end of a day, grouped
//! by customer, collector, sales rep or currency and put in the buckets of
//! [`aging::Buckets`].
//!
//! Definitions, so the figures can be checked by hand:
//! - An invoice's open amount as of `as_of` is the sum of its ledger entries effective
//!   on or before `as_of`; only invoices issued on or before `as_of` count, and a zero
//!   sum is skipped. So a past `as_of` gives what the ledger said that day, whatever
//!   was posted later with a later effective date.
//! - Days past due are `as_of − due_date`; the bucket follows [`aging::Buckets`].
//! - Unapplied cash (entries with no invoice, summed per payment) is negative, money
//!   on account, and counts as current, as does any negative invoice amount
//!   ([`aging::age`]'s rule).
//! - Disputed is the sum of the disputed amounts of disputes active on `as_of`
//!   (opened on or before it, not resolved by its end) on the group's invoices, per
//!   currency; it is part of the buckets, shown beside them, never added to them.
//! - Groups are the customers' assignments today (collector, sales rep), not as of the
//!   date. Amounts are never summed across currencies: one row per group and currency.
//!
//! The grouping and bucketing run in SQL (`width_bucket` over the bounds); [`open_items`]
//! loads the same items unaggregated so that [`aging::age`], the reference, can be
//! compared with the SQL. Payments applied in full by `as_of` (and unchanged since)
//! are skipped without reading their entries (see `ITEMS_SQL`), so the report costs
//! about one aggregate of the invoice entries (`reports-bench` measures it against one).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission, Visibility};
use crate::aging::{Buckets, OpenItem};
use crate::error::{Error, Result};
use crate::money;

text_enum! {
    /// What one row of the aging report is about.
    pub enum GroupBy {
        Customer = "customer",
        Collector = "collector",
        SalesRep = "sales_rep",
        Currency = "currency",
    }
}

/// The query string of `GET /v1/reports/aging`, as sent; [`AgingQuery::parse`] checks it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgingQuery {
    /// The day to age as of, `YYYY-MM-DD` (end of day); today (UTC) when absent.
    #[param(example = "2026-06-30")]
    pub as_of: Option<String>,
    /// `customer` (default), `collector`, `sales_rep` or `currency`.
    #[param(example = "customer", value_type = Option<GroupBy>, inline)]
    pub group_by: Option<String>,
    /// Upper bounds of the buckets in days, strictly increasing, 1 to 12 of them
    /// (default `30,60,90,120`: current, 1-30, 31-60, 61-90, 91-120, 120+).
    #[param(example = "30,60,90,120")]
    pub buckets: Option<String>,
}

/// A checked aging query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingParams {
    pub as_of: NaiveDate,
    pub group_by: GroupBy,
    pub buckets: Buckets,
}

impl AgingQuery {
    pub fn parse(&self, today: NaiveDate) -> Result<AgingParams> {
        let as_of = match self.as_of.as_deref() {
            None => today,
            Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                Error::invalid_query("as_of", "invalid_date", "a date as YYYY-MM-DD")
            })?,
        };
        let group_by = match self.group_by.as_deref() {
            None => GroupBy::Customer,
            Some(text) => text.parse().map_err(|_| {
                Error::invalid_query(
                    "group_by",
                    "invalid_group_by",
                    "one of customer, collector, sales_rep, currency",
                )
            })?,
        };
        let buckets = match self.buckets.as_deref() {
            None => Buckets::default(),
            Some(text) => Buckets::parse(text).map_err(|e| Error::InvalidQuery(vec![e]))?,
        };
        Ok(AgingParams {
            as_of,
            group_by,
            buckets,
        })
    }
}

/// One group's aging in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgingReportRow {
    /// The group's id: a customer or user id, or the currency code; `null` for
    /// customers with no collector (or sales rep).
    #[schema(example = "0b8c5a1e-2f4d-4c1a-9d55-6b0e8a9f1c11")]
    pub key: Option<String>,
    /// Customer name, user name, or the currency code; `(unassigned)` for no one.
    #[schema(example = "Acme Ltd")]
    pub name: String,
    #[schema(example = "USD")]
    pub currency: String,
    /// Open amounts per bucket, in the order of the report's `buckets` labels.
    #[schema(value_type = Vec<String>)]
    pub amounts: Vec<Decimal>,
    /// Open items per bucket (invoices, and payments with cash on account).
    pub counts: Vec<u64>,
    /// Σ of the buckets.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12500.00")]
    pub total: Decimal,
    /// Amount in active disputes on the group's invoices; included in the buckets,
    /// not added to them.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub disputed: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    #[schema(example = "customer", value_type = GroupBy)]
    pub group_by: String,
    /// The bucket labels, e.g. `["current", "1-30", "31-60", "61-90", "91-120", "120+"]`.
    pub buckets: Vec<String>,
    /// One row per group and currency, by name, key and currency.
    pub rows: Vec<AgingReportRow>,
    /// One row per currency over all groups (`key` is the currency).
    pub totals: Vec<AgingReportRow>,
}

#[derive(diesel::QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct DisputedRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

#[derive(diesel::QueryableByName)]
struct ItemRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Date)]
    due_date: NaiveDate,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

/// The open items as of `$1`: one per invoice with a non-zero sum, one per payment with
/// cash on account (its due date is `as_of`: current).
///
/// Invoice entries are summed per invoice before the join to `invoices` (one pass over
/// the entries, a hash join, no sort). Of the payments, only those that may have cash
/// on account on `$1` are read: a payment with `unapplied = 0` whose
/// `unapplied_changed_on` (the latest effective date of its entries with no invoice)
/// is on or before `$1` had all its entries by then, summing to zero, so it has none
/// on `$1` and its entries are not read. Every entry with no invoice has a payment (a
/// CHECK says so), so none is missed.
const ITEMS_SQL: &str = "\
    SELECT i.customer_id, i.currency::text AS currency, i.due_date, x.amount \
    FROM (SELECT invoice_id, sum(amount) AS amount FROM ledger_entries \
          WHERE invoice_id IS NOT NULL AND effective_on <= $1 \
          GROUP BY invoice_id HAVING sum(amount) <> 0) x \
    JOIN invoices i ON i.id = x.invoice_id \
    WHERE i.issue_date <= $1 \
    UNION ALL \
    SELECT e.customer_id, e.currency::text, $1, sum(e.amount) \
    FROM payments p JOIN ledger_entries e ON e.payment_id = p.id \
    WHERE (p.unapplied <> 0 OR p.unapplied_changed_on > $1) \
      AND e.invoice_id IS NULL AND e.effective_on <= $1 \
    GROUP BY e.customer_id, e.currency, e.payment_id HAVING sum(e.amount) <> 0";

const VISIBLE_SQL: &str = "($2::uuid IS NULL OR c.assigned_collector_id = $2) \
     AND ($3::uuid IS NULL OR c.sales_rep_id = $3)";

/// `(key, name, join)` SQL for a grouping, over `it` (items, with `currency`) joined
/// to `c` (customers).
fn group_sql(group_by: GroupBy) -> (&'static str, &'static str, &'static str) {
    match group_by {
        GroupBy::Customer => ("c.id::text", "c.name", ""),
        GroupBy::Collector => (
            "c.assigned_collector_id::text",
            "coalesce(u.name, '(unassigned)')",
            "LEFT JOIN users u ON u.id = c.assigned_collector_id",
        ),
        GroupBy::SalesRep => (
            "c.sales_rep_id::text",
            "coalesce(u.name, '(unassigned)')",
            "LEFT JOIN users u ON u.id = c.sales_rep_id",
        ),
        GroupBy::Currency => ("it.currency", "it.currency", ""),
    }
}

fn visibility_binds(visibility: Visibility) -> (Option<Uuid>, Option<Uuid>) {
    match visibility {
        Visibility::All => (None, None),
        Visibility::AssignedTo(user) => (Some(user), None),
        Visibility::SalesRep(user) => (None, Some(user)),
    }
}

pub async fn report(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &AgingQuery,
) -> Result<AgingReport> {
    ctx.actor.require(Permission::ReportsRead)?;
    let params = query.parse(ctx.now.date_naive())?;
    aggregate(conn, ctx.actor.customer_visibility(), &params).await
}

/// The report for customers passing `visibility`, grouped and bucketed in SQL. No
/// permission check: [`report`] is the entry point for callers.
pub async fn aggregate(
    conn: &mut AsyncPgConnection,
    visibility: Visibility,
    params: &AgingParams,
) -> Result<AgingReport> {
    let (key, name, join) = group_sql(params.group_by);
    let (collector, sales_rep) = visibility_binds(visibility);
    let bounds = params
        .buckets
        .bounds()
        .iter()
        .map(|b| i32::try_from(*b))
        .collect::<std::result::Result<Vec<i32>, _>>()
        .map_err(|_| Error::invalid_query("buckets", "invalid_buckets", "bound out of range"))?;
    // Bucket 0 is current (not yet due, or money on account); then one past the count
    // of bounds below the days past due: `width_bucket(d - 1, bounds)` counts the
    // bounds ≤ d − 1.
    let sql = format!(
        "WITH it AS ({ITEMS_SQL}) \
         SELECT {key} AS key, {name} AS name, it.currency, \
                CASE WHEN it.amount < 0 OR $1 - it.due_date <= 0 THEN 0 \
                     ELSE 1 + width_bucket($1 - it.due_date - 1, $4::int[]) END AS bucket, \
                sum(it.amount) AS amount, count(*) AS count \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL} \
         GROUP BY 1, 2, 3, 4"
    );
    let buckets: Vec<BucketRow> = diesel::sql_query(sql)
        .bind::<Date, _>(params.as_of)
        .bind::<Nullable<SqlUuid>, _>(collector)
        .bind::<Nullable<SqlUuid>, _>(sales_rep)
        .bind::<Array<Integer>, _>(bounds)
        .load(conn)
        .await?;
    let disputed_sql = format!(
        "WITH it AS ( \
             SELECT i.customer_id, i.currency::text AS currency, di.amount \
             FROM dispute_invoices di \
             JOIN disputes d ON d.id = di.dispute_id \
             JOIN invoices i ON i.id = di.invoice_id \
             WHERE i.issue_date <= $1 AND (d.created_at AT TIME ZONE 'UTC')::date <= $1 \
               AND (d.status IN ('open', 'investigating') \
                    OR (d.resolved_at AT TIME ZONE 'UTC')::date > $1)) \
         SELECT {key} AS key, {name} AS name, it.currency, sum(it.amount) AS amount \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL} \
         GROUP BY 1, 2, 3"
    );
    let disputed: Vec<DisputedRow> = diesel::sql_query(disputed_sql)
        .bind::<Date, _>(params.as_of)
        .bind::<Nullable<SqlUuid>, _>(collector)
        .bind::<Nullable<SqlUuid>, _>(sales_rep)
        .load(conn)
        .await?;

    let width = params.buckets.len();
    let blank = |key: Option<String>, name: String, currency: String| AgingReportRow {
        key,
        name,
        currency,
        amounts: vec![Decimal::ZERO; width],
        counts: vec![0; width],
        total: Decimal::ZERO,
        disputed: Decimal::ZERO,
    };
    type RowKey = (String, Option<String>, String);
    let mut rows: BTreeMap<RowKey, AgingReportRow> = BTreeMap::new();
    for b in buckets {
        let row = rows
            .entry((b.name.clone(), b.key.clone(), b.currency.clone()))
            .or_insert_with(|| blank(b.key, b.name, b.currency));
        let index = usize::try_from(b.bucket)
            .ok()
            .filter(|i| *i < width)
            .ok_or_else(|| Error::Internal(format!("bucket {} out of range", b.bucket)))?;
        if let (Some(amount), Some(count)) = (row.amounts.get_mut(index), row.counts.get_mut(index))
        {
            *amount += b.amount;
            *count += u64::try_from(b.count).unwrap_or(0);
        }
        row.total += b.amount;
    }
    for d in disputed {
        rows.entry((d.name.clone(), d.key.clone(), d.currency.clone()))
            .or_insert_with(|| blank(d.key, d.name, d.currency))
            .disputed += d.amount;
    }
    let mut totals: BTreeMap<String, AgingReportRow> = BTreeMap::new();
    for row in rows.values() {
        let total = totals.entry(row.currency.clone()).or_insert_with(|| {
            blank(
                Some(row.currency.clone()),
                row.currency.clone(),
                row.currency.clone(),
            )
        });
        for (sum, amount) in total.amounts.iter_mut().zip(&row.amounts) {
            *sum += *amount;
        }
        for (sum, count) in total.counts.iter_mut().zip(&row.counts) {
            *sum += *count;
        }
        total.total += row.total;
        total.disputed += row.disputed;
    }
    let shown = |mut row: AgingReportRow| {
        for amount in &mut row.amounts {
            *amount = money::in_minor_units(*amount, &row.currency);
        }
        row.total = money::in_minor_units(row.total, &row.currency);
        row.disputed = money::in_minor_units(row.disputed, &row.currency);
        row
    };
    Ok(AgingReport {
        as_of: params.as_of,
        group_by: params.group_by.as_str().to_owned(),
        buckets: params.buckets.labels(),
        rows: rows.into_values().map(shown).collect(),
        totals: totals.into_values().map(shown).collect(),
    })
}

/// The same open items as [`aggregate`] ages, one per invoice or payment with cash on
/// account, keyed by the group's id (`""` for unassigned), for [`crate::aging::age`].
/// Unaggregated: meant for checks and small portfolios, not a million invoices.
pub async fn open_items(
    conn: &mut AsyncPgConnection,
    visibility: Visibility,
    as_of: NaiveDate,
    group_by: GroupBy,
) -> Result<Vec<OpenItem>> {
    let (key, _, join) = group_sql(group_by);
    let (collector, sales_rep) = visibility_binds(visibility);
    let sql = format!(
        "WITH it AS ({ITEMS_SQL}) \
         SELECT {key} AS key, it.currency, it.due_date, it.amount \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL}"
    );
    let rows: Vec<ItemRow> = diesel::sql_query(sql)
        .bind::<Date, _>(as_of)
        .bind::<Nullable<SqlUuid>, _>(collector)
        .bind::<Nullable<SqlUuid>, _>(sales_rep)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| OpenItem {
            key: r.key.unwrap_or_default(),
            currency: r.currency,
            due_date: r.due_date,
            open_balance: r.amount,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(as_of: Option<&str>, group_by: Option<&str>, buckets: Option<&str>) -> AgingQuery {
        AgingQuery {
            as_of: as_of.map(str::to_owned),
            group_by: group_by.map(str::to_owned),
            buckets: buckets.map(str::to_owned),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
    }

    #[test]
    fn defaults_and_parsing() {
        let p = query(None, None, None).parse(today());
        assert_eq!(
            p.ok(),
            Some(AgingParams {
                as_of: today(),
                group_by: GroupBy::Customer,
                buckets: Buckets::default()
            })
        );
        let p = query(Some("2013-06-30"), Some("sales_rep"), Some("15,45")).parse(today());
        let Ok(p) = p else {
            panic!("refused: {p:?}");
        };
        assert_eq!(
            p.as_of,
            NaiveDate::from_ymd_opt(2013, 6, 30).unwrap_or_default()
        );
        assert_eq!(p.group_by, GroupBy::SalesRep);
        assert_eq!(p.buckets.labels(), ["current", "1-15", "16-45", "45+"]);
    }

    #[test]
    fn bad_parameters_are_refused_with_their_field_and_code() {
        for (q, field, code) in [
            (
                query(Some("2013-13-01"), None, None),
                "as_of",
                "invalid_date",
            ),
            (
                query(Some("yesterday"), None, None),
                "as_of",
                "invalid_date",
            ),
            (
                query(None, Some("region"), None),
                "group_by",
                "invalid_group_by",
            ),
            (
                query(None, None, Some("60,30")),
                "buckets",
                "invalid_buckets",
            ),
        ] {
            match q.parse(today()) {
                Err(Error::InvalidQuery(errors)) => {
                    assert_eq!(
                        (errors[0].field.as_str(), errors[0].code.as_str()),
                        (field, code)
                    );
                }
                other => panic!("expected {code}, got {other:?}"),
            }
        }
    }
}
