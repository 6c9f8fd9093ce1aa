//! The weekly hit list for sales: customers with past-due money, by sales rep, with
//! their aging buckets, last collection activity, open promises and open disputes, so
//! a rep can raise it on their next call or visit.
//!
//! Definitions: the list is as of the last day of the ISO week asked for (or today, if
//! that is earlier). Amounts come from ledger entries effective on or before that day,
//! so an earlier week shows what was owed then; days past due run from the due date
//! to that day. A customer is on the list when something is past due. Promises are
//! those open on that day; disputes those active (opened, not yet resolved) on it.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, Context, Permission};
use crate::aging::Buckets;
use crate::error::{Error, Result};
use crate::money;
use crate::user::Role;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HitListQuery {
    /// ISO week, `2026-W10` (default: this week).
    pub week: Option<String>,
    /// Only this sales rep's customers (managers and admins).
    pub sales_rep_id: Option<Uuid>,
}

/// Parses `2026-W10` into the week's Monday.
pub fn parse_week(text: &str) -> Option<NaiveDate> {
    let (year, week) = text.trim().split_once("-W")?;
    let year: i32 = year.parse().ok()?;
    let week: u32 = week.parse().ok()?;
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
}

/// The ISO week of a day, `2026-W10`.
pub fn week_of(day: NaiveDate) -> String {
    let w = day.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BucketAmount {
    #[schema(example = "31-60")]
    pub bucket: String,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1200.00")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HitListCustomer {
    pub customer_id: Uuid,
    #[schema(example = "Acme Industrial")]
    pub customer_name: String,
    pub collector_id: Option<Uuid>,
    pub collector_name: Option<String>,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "4200.00")]
    pub past_due: Decimal,
    /// Open and not yet due.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "800.00")]
    pub current: Decimal,
    /// Past-due amounts by aging bucket (buckets with money only).
    pub buckets: Vec<BucketAmount>,
    pub oldest_days_past_due: i64,
    /// The last collection activity: when, what, how it went.
    pub last_activity_on: Option<NaiveDate>,
    #[schema(example = "call")]
    pub last_activity_kind: Option<String>,
    #[schema(example = "promised")]
    pub last_activity_outcome: Option<String>,
    pub open_promises: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "2000.00")]
    pub promised_amount: Decimal,
    pub next_promise_on: Option<NaiveDate>,
    pub open_disputes: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "350.00")]
    pub disputed_amount: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepTotal {
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "4200.00")]
    pub past_due: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepGroup {
    /// `null` for customers with no sales rep.
    pub sales_rep_id: Option<Uuid>,
    pub sales_rep_name: Option<String>,
    /// Past due per currency (never summed across currencies).
    pub totals: Vec<RepTotal>,
    /// Most past due first.
    pub customers: Vec<HitListCustomer>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HitList {
    #[schema(example = "2026-W10")]
    pub week: String,
    pub as_of: NaiveDate,
    /// One group per sales rep, by name.
    pub reps: Vec<RepGroup>,
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    customer_id: Uuid,
    #[diesel(sql_type = Text)]
    customer_name: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    collector_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    collector_name: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    sales_rep_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    sales_rep_name: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Array<Numeric>)]
    buckets: Vec<Decimal>,
    #[diesel(sql_type = Integer)]
    oldest_days: i32,
    #[diesel(sql_type = Nullable<Date>)]
    last_activity_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    last_activity_kind: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_activity_outcome: Option<String>,
    #[diesel(sql_type = BigInt)]
    open_promises: i64,
    #[diesel(sql_type = Numeric)]
    promised_amount: Decimal,
    #[diesel(sql_type = Nullable<Date>)]
    next_promise_on: Option<NaiveDate>,
    #[diesel(sql_type = BigInt)]
    open_disputes: i64,
    #[diesel(sql_type = Numeric)]
    disputed_amount: Decimal,
}

/// `GET /v1/reports/hit-list`: sales reps get their own customers; managers, admins
/// and auditors everyone's (or one rep's), grouped by rep.
pub async fn hit_list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &HitListQuery,
) -> Result<HitList> {
    ctx.actor.require(Permission::HitListRead)?;
    let today = ctx.now.date_naive();
    let monday = match &query.week {
        Some(w) => parse_week(w).ok_or_else(|| {
            Error::invalid_query("week", "invalid_week", "an ISO week such as 2026-W10")
        })?,
        None => today
            .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
            .unwrap_or(today),
    };
    let sunday = monday.checked_add_days(Days::new(6)).unwrap_or(monday);
    let as_of = sunday.min(today);
    if monday > today {
        return Err(Error::invalid_query(
            "week",
            "future_week",
            "that week has not started",
        ));
    }
    let rep = match &ctx.actor {
        Actor::User {
            id,
            role: Role::Sales,
        } => match query.sales_rep_id {
            Some(other) if other != *id => {
                return Err(Error::forbidden("sales reps see their own hit list"));
            }
            _ => Some(*id),
        },
        _ => query.sales_rep_id,
    };
    let buckets = Buckets::default();
    let labels = buckets.labels();
    let mut bounds: Vec<i32> = vec![1];
    for b in buckets.bounds() {
        bounds.push(i32::try_from(*b).unwrap_or(i32::MAX).saturating_add(1));
    }
    let slots = i32::try_from(labels.len()).unwrap_or(6);
    let rows: Vec<Row> = diesel::sql_query(
        "WITH open AS (
            SELECT i.customer_id, i.id, ($2::date - i.due_date) AS days, sum(e.amount) AS amount
              FROM invoices i JOIN ledger_entries e ON e.invoice_id = i.id AND e.effective_on <= $2
             WHERE i.issue_date <= $2
               AND i.customer_id IN (SELECT id FROM customers WHERE $1::uuid IS NULL OR sales_rep_id = $1)
             GROUP BY i.customer_id, i.id, i.due_date
            HAVING sum(e.amount) > 0),
         -- One pass over the open items: bucket sums, then one zero-filled array per
         -- customer with something past due (a lateral scan of `open` per customer and
         -- bucket grew with the square of the portfolio).
         per_bucket AS (
            SELECT customer_id, width_bucket(days, $3::int[]) AS slot, sum(amount) AS amount
              FROM open GROUP BY 1, 2),
         past_due AS (
            SELECT customer_id, max(days) AS oldest FROM open
             GROUP BY customer_id HAVING max(days) > 0),
         per_customer AS (
            SELECT c.customer_id,
                   array_agg(coalesce(b.amount, 0) ORDER BY s.slot) AS buckets,
                   max(c.oldest) AS oldest_days
              FROM past_due c
              CROSS JOIN generate_series(0, $4 - 1) AS s(slot)
              LEFT JOIN per_bucket b ON b.customer_id = c.customer_id AND b.slot = s.slot
             GROUP BY c.customer_id)
         SELECT c.id AS customer_id, c.name AS customer_name, c.assigned_collector_id AS collector_id,
                col.name AS collector_name, c.sales_rep_id, rep.name AS sales_rep_name,
                c.currency::text AS currency, pc.buckets, pc.oldest_days::int AS oldest_days,
                la.on_day AS last_activity_on, la.kind AS last_activity_kind, la.outcome AS last_activity_outcome,
                coalesce(pr.n, 0) AS open_promises, coalesce(pr.amount, 0) AS promised_amount, pr.next_on AS next_promise_on,
                coalesce(di.n, 0) AS open_disputes, coalesce(di.amount, 0) AS disputed_amount
           FROM per_customer pc
           JOIN customers c ON c.id = pc.customer_id
           LEFT JOIN users col ON col.id = c.assigned_collector_id
           LEFT JOIN users rep ON rep.id = c.sales_rep_id
           LEFT JOIN LATERAL (SELECT (a.occurred_at AT TIME ZONE 'UTC')::date AS on_day, a.kind, a.outcome
                                FROM activities a
                               WHERE a.customer_id = c.id AND (a.occurred_at AT TIME ZONE 'UTC')::date <= $2
                               ORDER BY a.occurred_at DESC LIMIT 1) la ON true
           LEFT JOIN LATERAL (SELECT count(*) AS n, sum(p.amount - p.paid) AS amount, min(p.promised_on) AS next_on
                                FROM promises p
                               WHERE p.customer_id = c.id AND p.made_on <= $2
                                 AND (p.status = 'open' OR (p.decided_at AT TIME ZONE 'UTC')::date > $2)
                                 AND p.status <> 'cancelled') pr ON true
           LEFT JOIN LATERAL (SELECT count(*) AS n, sum(d.amount) AS amount
                                FROM disputes d
                               WHERE d.customer_id = c.id AND (d.created_at AT TIME ZONE 'UTC')::date <= $2
                                 AND (d.resolved_at IS NULL OR (d.resolved_at AT TIME ZONE 'UTC')::date > $2)) di ON true
          ORDER BY rep.name NULLS LAST, c.sales_rep_id, c.id",
    )
    .bind::<Nullable<SqlUuid>, _>(rep)
    .bind::<Date, _>(as_of)
    .bind::<Array<Integer>, _>(bounds)
    .bind::<Integer, _>(slots)
    .load(conn)
    .await?;
    let visibility = ctx.actor.customer_visibility();
    let mut reps: Vec<RepGroup> = Vec::new();
    for r in rows {
        if !visibility.admits(r.collector_id, r.sales_rep_id) {
            continue;
        }
        let shown = |d: Decimal| money::in_minor_units(d, &r.currency);
        let current = r.buckets.as_slice().first().copied().unwrap_or_default();
        let past_due: Decimal = r.buckets.iter().skip(1).sum();
        let customer = HitListCustomer {
            customer_id: r.customer_id,
            customer_name: r.customer_name.clone(),
            collector_id: r.collector_id,
            collector_name: r.collector_name.clone(),
            currency: r.currency.clone(),
            past_due: shown(past_due),
            current: shown(current),
            buckets: labels
                .iter()
                .zip(r.buckets.iter())
                .skip(1)
                .filter(|(_, a)| !a.is_zero())
                .map(|(l, a)| BucketAmount {
                    bucket: l.clone(),
                    amount: shown(*a),
                })
                .collect(),
            oldest_days_past_due: i64::from(r.oldest_days),
            last_activity_on: r.last_activity_on,
            last_activity_kind: r.last_activity_kind.clone(),
            last_activity_outcome: r.last_activity_outcome.clone(),
            open_promises: r.open_promises,
            promised_amount: shown(r.promised_amount),
            next_promise_on: r.next_promise_on,
            open_disputes: r.open_disputes,
            disputed_amount: shown(r.disputed_amount),
        };
        let group = match reps.last_mut() {
            Some(g) if g.sales_rep_id == r.sales_rep_id => g,
            _ => {
                reps.push(RepGroup {
                    sales_rep_id: r.sales_rep_id,
                    sales_rep_name: r.sales_rep_name.clone(),
                    totals: Vec::new(),
                    customers: Vec::new(),
                });
                match reps.last_mut() {
                    Some(g) => g,
                    None => continue,
                }
            }
        };
        match group
            .totals
            .iter_mut()
            .find(|t| t.currency == customer.currency)
        {
            Some(t) => t.past_due += customer.past_due,
            None => group.totals.push(RepTotal {
                currency: customer.currency.clone(),
                past_due: customer.past_due,
            }),
        }
        group.customers.push(customer);
    }
    for g in &mut reps {
        g.customers.sort_by(|a, b| {
            b.past_due
                .cmp(&a.past_due)
                .then(a.customer_id.cmp(&b.customer_id))
        });
        g.totals.sort_by(|a, b| a.currency.cmp(&b.currency));
    }
    Ok(HitList {
        week: week_of(monday),
        as_of,
        reps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_iso_weeks() {
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2);
        assert_eq!(parse_week("2026-W10"), monday);
        assert_eq!(monday.map(week_of).as_deref(), Some("2026-W10"));
        // 1 January 2027 is a Friday of 2026's week 53.
        assert_eq!(
            NaiveDate::from_ymd_opt(2027, 1, 1).map(week_of).as_deref(),
            Some("2026-W53")
        );
        assert_eq!(parse_week("2026-W54"), None);
        assert_eq!(parse_week("2026-10"), None);
        assert_eq!(parse_week("20x6-W10"), None);
    }
}
