//! The collector activity report: per collector, over a period, what they did (activities
//! by kind and outcome), what they obtained (promises made, kept and broken) and what
//! came in on their accounts (cash applied, net of returns).
//!
//! Definitions, so the figures can be checked by hand:
//! - The period is `[from, to]` in whole UTC days: instants from `from` 00:00 to the
//!   end of `to`.
//! - Activities count those the user logged themselves (`actor_id`), by `occurred_at`.
//! - Promises count those the collector recorded: made (recorded in the period), and
//!   kept, partially kept and broken (decided in the period), with their amounts per
//!   currency; a promise re-decided later (a returned payment) counts where it ended.
//! - Recovered is, per currency, cash applied in the period to invoices of customers
//!   assigned to the collector today, minus applications reversed (returned payments)
//!   in the period; so periods add up.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::sql_types::{BigInt, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::error::{Error, Result};
use crate::money;

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day of the period (UTC).
    pub from: NaiveDate,
    /// Last day of the period, inclusive (UTC).
    pub to: NaiveDate,
}

/// Longest period one report covers, so a typo in a year cannot scan everything.
const MAX_DAYS: i64 = 3 * 366;

impl PeriodQuery {
    /// The period as instants `[start, end)`.
    pub fn bounds(&self) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        if self.to < self.from {
            return Err(Error::invalid_query(
                "to",
                "before_from",
                "`to` must be on or after `from`",
            ));
        }
        if (self.to - self.from).num_days() > MAX_DAYS {
            return Err(Error::invalid_query(
                "to",
                "period_too_long",
                "a period covers at most three years",
            ));
        }
        let end = self
            .to
            .checked_add_days(Days::new(1))
            .ok_or_else(|| Error::invalid_query("to", "out_of_range", "date out of range"))?;
        let start = self.from.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        let end = end.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        match (start, end) {
            (Some(s), Some(e)) => Ok((s, e)),
            _ => Err(Error::invalid_query(
                "from",
                "out_of_range",
                "date out of range",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActivityTally {
    #[schema(example = "call")]
    pub kind: String,
    /// Absent when the activity recorded no outcome.
    #[schema(example = "promised")]
    pub outcome: Option<String>,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recovered {
    #[schema(example = "USD")]
    pub currency: String,
    /// Applied minus reversed in the period.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12400.00")]
    pub amount: Decimal,
}

/// Promises a collector recorded, per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PromiseFigures {
    #[schema(example = "USD")]
    pub currency: String,
    pub made: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "6000.00")]
    pub made_amount: Decimal,
    pub kept: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "4000.00")]
    pub kept_amount: Decimal,
    pub partially_kept: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "500.00")]
    pub partially_kept_amount: Decimal,
    pub broken: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1500.00")]
    pub broken_amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CollectorActivity {
    pub user_id: Uuid,
    #[schema(example = "Casey Collector")]
    pub name: String,
    #[schema(example = "collector")]
    pub role: String,
    /// Activities the collector logged, by kind and outcome.
    pub activities: Vec<ActivityTally>,
    pub activity_count: i64,
    /// Promises they recorded: made in the period, and decided in it.
    pub promises: Vec<PromiseFigures>,
    /// Cash applied on their accounts in the period, net of returns, per currency.
    pub recovered: Vec<Recovered>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CollectorActivityReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One row per collector and field collector (active or not, when they did
    /// something in the period), by name.
    pub collectors: Vec<CollectorActivity>,
}

#[derive(diesel::QueryableByName)]
struct CollectorRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(diesel::QueryableByName)]
struct TallyRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<String>,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct PromiseRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    figure: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

#[derive(diesel::QueryableByName)]
struct RecoveredRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

pub async fn report(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &PeriodQuery,
) -> Result<CollectorActivityReport> {
    ctx.actor.require(Permission::ReportsRead)?;
    let (start, end) = query.bounds()?;
    let collectors: Vec<CollectorRow> = diesel::sql_query(
        "SELECT u.id, u.name, u.role FROM users u \
         WHERE u.role IN ('collector', 'field_collector') AND (u.active OR EXISTS ( \
             SELECT 1 FROM activities a WHERE a.actor_id = u.id \
             AND a.occurred_at >= $1 AND a.occurred_at < $2)) \
         ORDER BY u.name, u.id",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?;
    let tallies: Vec<TallyRow> = diesel::sql_query(
        "SELECT a.actor_id AS user_id, a.kind, a.outcome, count(*) AS count \
         FROM activities a JOIN users u ON u.id = a.actor_id \
         WHERE a.actor_kind = 'user' AND u.role IN ('collector', 'field_collector') \
           AND a.occurred_at >= $1 AND a.occurred_at < $2 \
         GROUP BY a.actor_id, a.kind, a.outcome \
         ORDER BY a.actor_id, a.kind, a.outcome NULLS FIRST",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?;
    let recovered: Vec<RecoveredRow> = diesel::sql_query(
        "SELECT c.assigned_collector_id AS user_id, i.currency, \
                sum(CASE WHEN pa.applied_at >= $1 AND pa.applied_at < $2 THEN pa.amount ELSE 0 END) \
              - sum(CASE WHEN pa.reversed_at >= $1 AND pa.reversed_at < $2 THEN pa.amount ELSE 0 END) \
                AS amount \
         FROM payment_applications pa \
         JOIN invoices i ON i.id = pa.invoice_id \
         JOIN customers c ON c.id = i.customer_id \
         WHERE c.assigned_collector_id IS NOT NULL \
           AND ((pa.applied_at >= $1 AND pa.applied_at < $2) \
             OR (pa.reversed_at >= $1 AND pa.reversed_at < $2)) \
         GROUP BY c.assigned_collector_id, i.currency \
         ORDER BY c.assigned_collector_id, i.currency",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?;

    let promises: Vec<PromiseRow> = diesel::sql_query(
        "SELECT created_by AS user_id, currency::text AS currency, 'made' AS figure, \
                count(*) AS count, sum(amount) AS amount \
           FROM promises WHERE created_by IS NOT NULL AND created_at >= $1 AND created_at < $2 \
          GROUP BY 1, 2 \
         UNION ALL \
         SELECT created_by, currency::text, status, count(*), sum(amount) \
           FROM promises WHERE created_by IS NOT NULL AND decided_at >= $1 AND decided_at < $2 \
            AND status IN ('kept', 'partially_kept', 'broken') \
          GROUP BY 1, 2, 3",
    )
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?;

    let mut by_user: BTreeMap<Uuid, (Vec<ActivityTally>, i64, Vec<Recovered>)> = BTreeMap::new();
    let mut promised: BTreeMap<(Uuid, String), PromiseFigures> = BTreeMap::new();
    for p in promises {
        let f = promised
            .entry((p.user_id, p.currency.clone()))
            .or_insert_with(|| PromiseFigures {
                currency: p.currency.clone(),
                ..PromiseFigures::default()
            });
        let amount = money::in_minor_units(p.amount, &p.currency);
        match p.figure.as_str() {
            "made" => (f.made, f.made_amount) = (p.count, amount),
            "kept" => (f.kept, f.kept_amount) = (p.count, amount),
            "partially_kept" => (f.partially_kept, f.partially_kept_amount) = (p.count, amount),
            _ => (f.broken, f.broken_amount) = (p.count, amount),
        }
    }
    for f in promised.values_mut() {
        for a in [
            &mut f.made_amount,
            &mut f.kept_amount,
            &mut f.partially_kept_amount,
            &mut f.broken_amount,
        ] {
            *a = money::in_minor_units(*a, &f.currency);
        }
    }
    for t in tallies {
        let entry = by_user.entry(t.user_id).or_default();
        entry.1 += t.count;
        entry.0.push(ActivityTally {
            kind: t.kind,
            outcome: t.outcome,
            count: t.count,
        });
    }
    for r in recovered {
        by_user.entry(r.user_id).or_default().2.push(Recovered {
            amount: money::in_minor_units(r.amount, &r.currency),
            currency: r.currency,
        });
    }
    let collectors = collectors
        .into_iter()
        .map(|c| {
            let (activities, activity_count, recovered) = by_user.remove(&c.id).unwrap_or_default();
            let promises = promised
                .iter()
                .filter(|((user, _), _)| *user == c.id)
                .map(|(_, f)| f.clone())
                .collect();
            CollectorActivity {
                user_id: c.id,
                name: c.name,
                role: c.role,
                activities,
                activity_count,
                promises,
                recovered,
            }
        })
        .collect();
    Ok(CollectorActivityReport {
        from: query.from,
        to: query.to,
        collectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(from: (i32, u32, u32), to: (i32, u32, u32)) -> Option<PeriodQuery> {
        Some(PeriodQuery {
            from: NaiveDate::from_ymd_opt(from.0, from.1, from.2)?,
            to: NaiveDate::from_ymd_opt(to.0, to.1, to.2)?,
        })
    }

    #[test]
    fn a_period_covers_whole_days_inclusive() {
        let q = period((2026, 3, 1), (2026, 3, 31));
        let bounds = q.map(|q| q.bounds());
        let Some(Ok((start, end))) = bounds else {
            panic!("valid period refused: {bounds:?}");
        };
        assert_eq!(start.to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-04-01T00:00:00+00:00");
    }

    #[test]
    fn a_backwards_or_overlong_period_is_refused() {
        for (q, code) in [
            (period((2026, 3, 2), (2026, 3, 1)), "before_from"),
            (period((2020, 1, 1), (2026, 3, 1)), "period_too_long"),
        ] {
            match q.map(|q| q.bounds()) {
                Some(Err(Error::InvalidQuery(errors))) => assert_eq!(errors[0].code, code),
                other => panic!("expected {code}, got {other:?}"),
            }
        }
    }
}
