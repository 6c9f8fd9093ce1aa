//! Nightly aging snapshots and the trend read from them. A snapshot is the aging
//! report of one day (`aging_report::aggregate`, default buckets) for each grouping,
//! stored so trends need not recompute history. Taking a day again replaces it, so
//! the job is idempotent.

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::access::{Context, Permission, Visibility};
use crate::aging::Buckets;
use crate::aging_report::{self, AgingParams, GroupBy};
use crate::error::{Error, Result};
use crate::schema::aging_snapshots;

/// Takes (or retakes) the snapshots of `as_of` for every grouping, in one transaction.
/// Returns how many rows it stored.
pub async fn take(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    as_of: NaiveDate,
) -> Result<usize> {
    conn.transaction(async |conn| {
        diesel::delete(aging_snapshots::table.filter(aging_snapshots::as_of.eq(as_of)))
            .execute(conn)
            .await?;
        let mut stored = 0;
        for group_by in GroupBy::ALL {
            let params = AgingParams {
                as_of,
                group_by: *group_by,
                buckets: Buckets::default(),
            };
            let report = aging_report::aggregate(conn, Visibility::All, &params).await?;
            let rows: Vec<_> = report
                .rows
                .iter()
                .map(|r| {
                    (
                        aging_snapshots::as_of.eq(as_of),
                        aging_snapshots::group_by.eq(group_by.as_str()),
                        aging_snapshots::key.eq(r.key.clone()),
                        aging_snapshots::name.eq(r.name.clone()),
                        aging_snapshots::currency.eq(r.currency.clone()),
                        aging_snapshots::labels.eq(report.buckets.clone()),
                        aging_snapshots::amounts.eq(r.amounts.clone()),
                        aging_snapshots::counts.eq(r
                            .counts
                            .iter()
                            .map(|c| i64::try_from(*c).unwrap_or(i64::MAX))
                            .collect::<Vec<i64>>()),
                        aging_snapshots::total.eq(r.total),
                        aging_snapshots::disputed.eq(r.disputed),
                        aging_snapshots::taken_at.eq(now),
                    )
                })
                .collect();
            for chunk in rows.chunks(1000) {
                stored += diesel::insert_into(aging_snapshots::table)
                    .values(chunk)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(stored)
    })
    .await
}

/// The nightly job: the snapshot of yesterday (the last whole day).
pub async fn take_nightly(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
) -> Result<serde_json::Value> {
    let today = ctx.now.date_naive();
    let as_of = today.checked_sub_days(Days::new(1)).unwrap_or(today);
    let rows = take(conn, ctx.now, as_of).await?;
    Ok(serde_json::json!({ "as_of": as_of, "rows": rows }))
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive); at most 3 years after `from`.
    pub to: NaiveDate,
    /// `currency` (default), `customer`, `collector` or `sales_rep`.
    pub group_by: Option<GroupBy>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrendRow {
    /// Customer or user id, or the currency code; `null` for no collector / sales rep.
    pub key: Option<String>,
    pub name: String,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(value_type = Vec<String>)]
    pub amounts: Vec<Decimal>,
    pub counts: Vec<i64>,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12500.00")]
    pub total: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub disputed: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub as_of: NaiveDate,
    pub rows: Vec<TrendRow>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgingTrend {
    #[schema(example = "currency")]
    pub group_by: GroupBy,
    /// The bucket labels of the snapshots.
    pub buckets: Vec<String>,
    /// One point per day with a snapshot, oldest first (days without one are absent).
    pub points: Vec<TrendPoint>,
}

#[derive(Queryable)]
struct Stored {
    as_of: NaiveDate,
    key: Option<String>,
    name: String,
    currency: String,
    labels: Vec<String>,
    amounts: Vec<Decimal>,
    counts: Vec<i64>,
    total: Decimal,
    disputed: Decimal,
}

/// `GET /v1/reports/aging-trend`.
pub async fn trend(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &TrendQuery,
) -> Result<AgingTrend> {
    ctx.actor.require(Permission::ReportsRead)?;
    if query.to < query.from {
        return Err(Error::invalid_query(
            "to",
            "before_from",
            "`to` must be on or after `from`",
        ));
    }
    if (query.to - query.from).num_days() > 3 * 366 {
        return Err(Error::invalid_query(
            "to",
            "period_too_long",
            "a trend covers at most three years",
        ));
    }
    let group_by = query.group_by.unwrap_or(GroupBy::Currency);
    let stored: Vec<Stored> = aging_snapshots::table
        .filter(aging_snapshots::group_by.eq(group_by.as_str()))
        .filter(aging_snapshots::as_of.between(query.from, query.to))
        .order((
            aging_snapshots::as_of,
            aging_snapshots::name,
            aging_snapshots::key,
            aging_snapshots::currency,
        ))
        .select((
            aging_snapshots::as_of,
            aging_snapshots::key,
            aging_snapshots::name,
            aging_snapshots::currency,
            aging_snapshots::labels,
            aging_snapshots::amounts,
            aging_snapshots::counts,
            aging_snapshots::total,
            aging_snapshots::disputed,
        ))
        .load(conn)
        .await?;
    // Reports are read by roles that see every account (managers, accountants,
    // auditors, admins), so snapshots need no visibility filter.
    let mut buckets = Buckets::default().labels();
    let mut points: Vec<TrendPoint> = Vec::new();
    for s in stored {
        buckets.clone_from(&s.labels);
        let shown = |d: Decimal| crate::money::in_minor_units(d, &s.currency);
        let row = TrendRow {
            key: s.key.clone(),
            name: s.name.clone(),
            currency: s.currency.clone(),
            amounts: s.amounts.iter().map(|a| shown(*a)).collect(),
            counts: s.counts.clone(),
            total: shown(s.total),
            disputed: shown(s.disputed),
        };
        match points.last_mut() {
            Some(p) if p.as_of == s.as_of => p.rows.push(row),
            _ => points.push(TrendPoint {
                as_of: s.as_of,
                rows: vec![row],
            }),
        }
    }
    Ok(AgingTrend {
        group_by,
        buckets,
        points,
    })
}
