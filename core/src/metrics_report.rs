//! The metrics report: the collection metrics of [`crate::metrics`] over a period, per
//! currency (and per customer or collector), with the figures they are computed from.
//! Every figure carries its published definition ([`Figure::definition`]).
//!
//! Figures come from the ledger by effective date, as in the aging report
//! ([`crate::aging_report`]): a receivable balance as of a day is the sum of the
//! entries effective on or before it on invoices issued on or before it, plus
//! unapplied cash (negative). The period is `[from, to]`, `days` long.
//!
//! - Count-back DSO uses twelve one-month periods going back from `to` (the newest
//!   runs from the day after `to` one month earlier through `to`), whatever `from` is.
//! - Paid invoices (for the days-to-pay figures) are those whose balance a payment
//!   application brought to zero on a day in the period, still zero at the end of it;
//!   the paid date is the effective date of that entry (entries taken in effective
//!   date order, then posting order). Invoices ever written off or
//!   voided are left out. Days to pay run from the invoice (issue) date, days late from
//!   the due date, both to the paid date (IBM's sample measures `DaysToSettle` and
//!   `DaysLate` the same way).
//! - Disputes opened in the period count by `created_at` (UTC day), per reason code,
//!   in the dispute's currency.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Days, Months, NaiveDate};
use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::access::{Context, Permission, Visibility};
use crate::collector_activity::PeriodQuery;
use crate::error::{Error, Result};
use crate::metrics::{self, Metric, PaidInvoice, Period};

text_enum! {
    /// What one group of the metrics report is about.
    pub enum MetricsGroupBy {
        None = "none",
        Customer = "customer",
        Collector = "collector",
        Currency = "currency",
    }
}

/// The query string of `GET /v1/reports/metrics`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period, inclusive.
    pub to: NaiveDate,
    /// `none` (default: one group per currency), `customer`, `collector` or `currency`.
    #[param(example = "none", value_type = Option<MetricsGroupBy>, inline)]
    pub group_by: Option<String>,
}

/// A figure of the metrics report. Its schema lists every figure with its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    CreditSales,
    BeginningAr,
    EndingAr,
    CurrentAr,
    Dso,
    DsoCountBack,
    BestPossibleDso,
    AverageDaysDelinquent,
    CollectionEffectivenessIndex,
    PaidInvoices,
    AverageDaysToPay,
    AverageDaysToPayWeighted,
    AverageDaysLate,
    PercentPaidLate,
    WriteOffsNetOfRecoveries,
    BadDebtRatio,
    DisputesOpened,
    DisputedAmountOpened,
}

impl Figure {
    pub const ALL: &'static [Figure] = &[
        Figure::CreditSales,
        Figure::BeginningAr,
        Figure::EndingAr,
        Figure::CurrentAr,
        Figure::Dso,
        Figure::DsoCountBack,
        Figure::BestPossibleDso,
        Figure::AverageDaysDelinquent,
        Figure::CollectionEffectivenessIndex,
        Figure::PaidInvoices,
        Figure::AverageDaysToPay,
        Figure::AverageDaysToPayWeighted,
        Figure::AverageDaysLate,
        Figure::PercentPaidLate,
        Figure::WriteOffsNetOfRecoveries,
        Figure::BadDebtRatio,
        Figure::DisputesOpened,
        Figure::DisputedAmountOpened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Figure::CreditSales => "credit_sales",
            Figure::BeginningAr => "beginning_ar",
            Figure::EndingAr => "ending_ar",
            Figure::CurrentAr => "current_ar",
            Figure::Dso => Metric::Dso.as_str(),
            Figure::DsoCountBack => Metric::DsoCountBack.as_str(),
            Figure::BestPossibleDso => Metric::BestPossibleDso.as_str(),
            Figure::AverageDaysDelinquent => Metric::AverageDaysDelinquent.as_str(),
            Figure::CollectionEffectivenessIndex => Metric::CollectionEffectivenessIndex.as_str(),
            Figure::PaidInvoices => "paid_invoices",
            Figure::AverageDaysToPay => Metric::AverageDaysToPay.as_str(),
            Figure::AverageDaysToPayWeighted => Metric::AverageDaysToPayWeighted.as_str(),
            Figure::AverageDaysLate => Metric::AverageDaysLate.as_str(),
            Figure::PercentPaidLate => Metric::PercentPaidLate.as_str(),
            Figure::WriteOffsNetOfRecoveries => "write_offs_net_of_recoveries",
            Figure::BadDebtRatio => Metric::BadDebtRatio.as_str(),
            Figure::DisputesOpened => "disputes_opened",
            Figure::DisputedAmountOpened => "disputed_amount_opened",
        }
    }

    /// The published definition: [`metrics::definition`] for the metrics, and the
    /// report's own for the figures they are computed from.
    pub fn definition(self) -> &'static str {
        let metric = |m| metrics::definition(m);
        match self {
            Figure::CreditSales => {
                "Credit sales: the amounts of the invoices issued in the period (ledger entries \
                 of kind invoice_issued effective from `from` through `to`)."
            }
            Figure::BeginningAr => {
                "Beginning accounts receivable: the ledger balance at the end of the day before \
                 `from`: open amounts of the invoices issued before `from` (their entries \
                 effective before it), less unapplied cash."
            }
            Figure::EndingAr => {
                "Ending accounts receivable: the ledger balance at the end of `to`: open amounts \
                 of the invoices issued on or before `to` (their entries effective on or before \
                 it), less unapplied cash. Equals the aging report's total as of `to`."
            }
            Figure::CurrentAr => {
                "Current accounts receivable: the part of ending receivables not yet due at the \
                 end of `to` (due on or after it), unapplied cash counting as current; the \
                 aging report's current bucket as of `to`."
            }
            Figure::Dso => metric(Metric::Dso),
            Figure::DsoCountBack => {
                "Days sales outstanding (count-back method) over the twelve one-month periods \
                 going back from `to` (the newest from the day after `to` one month earlier \
                 through `to`): starting from the newest month, subtract each month's credit \
                 sales from ending accounts receivable and add that month's days while the \
                 receivable covers the month's sales in full; for the first month it does not \
                 cover, add the remaining receivable ÷ that month's credit sales × that month's \
                 days. A month with credit sales below zero counts as zero. If the twelve months \
                 run out before the receivable does, the result is their days, a lower bound."
            }
            Figure::BestPossibleDso => metric(Metric::BestPossibleDso),
            Figure::AverageDaysDelinquent => metric(Metric::AverageDaysDelinquent),
            Figure::CollectionEffectivenessIndex => metric(Metric::CollectionEffectivenessIndex),
            Figure::PaidInvoices => {
                "Paid invoices: invoices whose balance a payment application brought to zero on \
                 a day in the period and that were still paid at its end; the paid date is the \
                 effective date of the application that brought the balance to zero (entries \
                 in effective-date order, then posting order). Invoices ever written off or voided are not \
                 counted. The days-to-pay figures are over these invoices."
            }
            Figure::AverageDaysToPay => metric(Metric::AverageDaysToPay),
            Figure::AverageDaysToPayWeighted => metric(Metric::AverageDaysToPayWeighted),
            Figure::AverageDaysLate => metric(Metric::AverageDaysLate),
            Figure::PercentPaidLate => metric(Metric::PercentPaidLate),
            Figure::WriteOffsNetOfRecoveries => {
                "Write-offs net of recoveries: amounts written off in the period less amounts \
                 recovered on written-off invoices in the period (entries write_off and \
                 write_off_recovery by effective date)."
            }
            Figure::BadDebtRatio => metric(Metric::BadDebtRatio),
            Figure::DisputesOpened => {
                "Disputes opened: the number of disputes created in the period (UTC days), all \
                 reason codes; `disputes` has them by reason."
            }
            Figure::DisputedAmountOpened => {
                "Disputed amount opened: the total amount of the disputes created in the period."
            }
        }
    }
}

impl utoipa::PartialSchema for Figure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let mut description = String::from("The figure; each is defined as follows.\n");
        for figure in Figure::ALL {
            let _ = write!(
                description,
                "\n- `{}`: {}",
                figure.as_str(),
                figure.definition()
            );
        }
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(Figure::ALL.iter().map(|f| f.as_str())))
            .description(Some(description))
            .into()
    }
}

impl utoipa::ToSchema for Figure {}

/// One figure: its name, value (rounded half away from zero to 2 decimals; `null` when
/// undefined, e.g. no credit sales) and definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FigureValue {
    pub metric: Figure,
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "63.00")]
    pub value: Option<Decimal>,
    /// The definition of the figure, as in the schema of `metric`.
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DisputeTally {
    #[schema(example = "pricing")]
    pub reason_code: String,
    pub count: i64,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1200.00")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MetricsGroup {
    /// The customer or collector id, or the currency; `null` for `group_by=none` and
    /// for customers with no collector.
    pub key: Option<String>,
    /// Customer or collector name, the currency, `all` or `(unassigned)`.
    #[schema(example = "all")]
    pub name: String,
    #[schema(example = "USD")]
    pub currency: String,
    pub figures: Vec<FigureValue>,
    /// Disputes opened in the period by reason code.
    pub disputes: Vec<DisputeTally>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricsReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Days in the period, `to − from + 1`.
    pub days: u32,
    #[schema(example = "none", value_type = MetricsGroupBy)]
    pub group_by: String,
    /// One group per key and currency, by name, key and currency.
    pub groups: Vec<MetricsGroup>,
}

#[derive(diesel::QueryableByName)]
struct BalanceRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    credit_sales: Decimal,
    #[diesel(sql_type = Numeric)]
    beginning_ar: Decimal,
    #[diesel(sql_type = Numeric)]
    ending_ar: Decimal,
    #[diesel(sql_type = Numeric)]
    current_ar: Decimal,
    #[diesel(sql_type = Numeric)]
    write_offs: Decimal,
}

#[derive(diesel::QueryableByName)]
struct MonthRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Integer)]
    month: i32,
    #[diesel(sql_type = Numeric)]
    sales: Decimal,
}

#[derive(diesel::QueryableByName)]
struct PaidRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Date)]
    issue_date: NaiveDate,
    #[diesel(sql_type = Date)]
    due_date: NaiveDate,
    #[diesel(sql_type = Date)]
    paid_on: NaiveDate,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

#[derive(diesel::QueryableByName)]
struct DisputeRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    reason_code: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

/// `(key, name, join)` SQL for a grouping, over `it` (with `currency`) joined to `c`
/// (customers).
fn group_sql(group_by: MetricsGroupBy) -> (&'static str, &'static str, &'static str) {
    match group_by {
        MetricsGroupBy::None => ("NULL::text", "'all'", ""),
        MetricsGroupBy::Customer => ("c.id::text", "c.name", ""),
        MetricsGroupBy::Collector => (
            "c.assigned_collector_id::text",
            "coalesce(u.name, '(unassigned)')",
            "LEFT JOIN users u ON u.id = c.assigned_collector_id",
        ),
        MetricsGroupBy::Currency => ("it.currency", "it.currency", ""),
    }
}

const VISIBLE_SQL: &str = "($3::uuid IS NULL OR c.assigned_collector_id = $3) \
     AND ($4::uuid IS NULL OR c.sales_rep_id = $4)";

/// Rounds a figure for display: 2 decimals, half away from zero, always 2 places.
pub fn shown(value: Decimal) -> Decimal {
    let mut v = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(2);
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    v
}

#[derive(Default)]
struct Gathered {
    credit_sales: Decimal,
    beginning_ar: Decimal,
    ending_ar: Decimal,
    current_ar: Decimal,
    write_offs: Decimal,
    months: Vec<Decimal>,
    paid: Vec<PaidInvoice>,
    disputes: Vec<DisputeTally>,
}

const MONTHS: u32 = 12;

pub async fn report(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &MetricsQuery,
) -> Result<MetricsReport> {
    ctx.actor.require(Permission::ReportsRead)?;
    let (start, end) = PeriodQuery {
        from: query.from,
        to: query.to,
    }
    .bounds()?;
    let group_by = match query.group_by.as_deref() {
        None => MetricsGroupBy::None,
        Some(text) => text.parse().map_err(|_| {
            Error::invalid_query(
                "group_by",
                "invalid_group_by",
                "one of none, customer, collector, currency",
            )
        })?,
    };
    let out_of_range = || Error::invalid_query("to", "out_of_range", "date out of range");
    let days = u32::try_from((query.to - query.from).num_days() + 1).map_err(|_| out_of_range())?;
    // Month k (0 = newest) runs from month_starts[k] through month_ends[k].
    let mut month_starts = Vec::new();
    let mut month_days = Vec::new();
    let mut month_end = query.to;
    for k in 1..=MONTHS {
        let start = query
            .to
            .checked_sub_months(Months::new(k))
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .ok_or_else(out_of_range)?;
        month_days
            .push(u32::try_from((month_end - start).num_days() + 1).map_err(|_| out_of_range())?);
        month_starts.push(start);
        month_end = start.pred_opt().ok_or_else(out_of_range)?;
    }
    let ascending: Vec<NaiveDate> = month_starts.iter().rev().copied().collect();
    let (collector, sales_rep) = match ctx.actor.customer_visibility() {
        Visibility::All => (None, None),
        Visibility::AssignedTo(user) => (Some(user), None),
        Visibility::SalesRep(user) => (None, Some(user)),
    };
    let (key, name, join) = group_sql(group_by);

    let balances: Vec<BalanceRow> = diesel::sql_query(format!(
        "WITH it AS ( \
             SELECT i.customer_id, i.currency::text AS currency, i.due_date, \
                    sum(e.amount) FILTER (WHERE i.issue_date <= $2) AS end_amount, \
                    sum(e.amount) FILTER (WHERE e.effective_on < $1 AND i.issue_date < $1) AS begin_amount, \
                    sum(e.amount) FILTER (WHERE e.kind = 'invoice_issued' AND e.effective_on >= $1) AS sales, \
                    -sum(e.amount) FILTER (WHERE e.kind IN ('write_off', 'write_off_recovery') \
                                             AND e.effective_on >= $1) AS write_offs \
             FROM ledger_entries e JOIN invoices i ON i.id = e.invoice_id \
             WHERE e.effective_on <= $2 \
             GROUP BY i.id \
             UNION ALL \
             SELECT e.customer_id, e.currency::text, $2, sum(e.amount), \
                    sum(e.amount) FILTER (WHERE e.effective_on < $1), 0, 0 \
             FROM ledger_entries e \
             WHERE e.invoice_id IS NULL AND e.effective_on <= $2 \
             GROUP BY e.customer_id, e.currency, e.payment_id) \
         SELECT {key} AS key, {name} AS name, it.currency, \
                coalesce(sum(it.sales), 0) AS credit_sales, \
                coalesce(sum(it.begin_amount), 0) AS beginning_ar, \
                coalesce(sum(it.end_amount), 0) AS ending_ar, \
                coalesce(sum(it.end_amount) FILTER (WHERE it.end_amount < 0 OR it.due_date >= $2), 0) \
                    AS current_ar, \
                coalesce(sum(it.write_offs), 0) AS write_offs \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL} \
         GROUP BY 1, 2, 3"
    ))
    .bind::<Date, _>(query.from)
    .bind::<Date, _>(query.to)
    .bind::<Nullable<SqlUuid>, _>(collector)
    .bind::<Nullable<SqlUuid>, _>(sales_rep)
    .load(conn)
    .await?;

    let months: Vec<MonthRow> = diesel::sql_query(format!(
        "WITH it AS ( \
             SELECT e.customer_id, e.currency::text AS currency, \
                    width_bucket(e.effective_on, $5::date[]) AS month_from_oldest, e.amount \
             FROM ledger_entries e \
             WHERE e.kind = 'invoice_issued' AND e.effective_on >= ($5::date[])[1] \
               AND e.effective_on <= $2 AND $1 <= $2) \
         SELECT {key} AS key, {name} AS name, it.currency, \
                {MONTHS} - it.month_from_oldest AS month, sum(it.amount) AS sales \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL} \
         GROUP BY 1, 2, 3, 4"
    ))
    .bind::<Date, _>(query.from)
    .bind::<Date, _>(query.to)
    .bind::<Nullable<SqlUuid>, _>(collector)
    .bind::<Nullable<SqlUuid>, _>(sales_rep)
    .bind::<Array<Date>, _>(ascending)
    .load(conn)
    .await?;

    let paid: Vec<PaidRow> = diesel::sql_query(format!(
        "WITH entries AS ( \
             SELECT e.invoice_id, e.effective_on, e.seq, e.kind, \
                    sum(e.amount) OVER (PARTITION BY e.invoice_id ORDER BY e.effective_on, e.seq) \
                        AS balance, \
                    sum(e.amount) OVER (PARTITION BY e.invoice_id) AS final_balance, \
                    bool_or(e.kind IN ('write_off', 'invoice_voided')) \
                        OVER (PARTITION BY e.invoice_id) AS closed_otherwise \
             FROM ledger_entries e \
             WHERE e.effective_on <= $2 AND e.invoice_id IN ( \
                 SELECT p.invoice_id FROM ledger_entries p \
                 WHERE p.kind = 'payment_applied' AND p.invoice_id IS NOT NULL \
                   AND p.effective_on >= $1 AND p.effective_on <= $2)), \
         closing AS ( \
             SELECT DISTINCT ON (invoice_id) * FROM entries WHERE balance = 0 \
             ORDER BY invoice_id, effective_on DESC, seq DESC), \
         it AS ( \
             SELECT i.customer_id, i.currency::text AS currency, i.issue_date, i.due_date, \
                    l.effective_on AS paid_on, i.amount \
             FROM closing l JOIN invoices i ON i.id = l.invoice_id \
             WHERE l.final_balance = 0 AND l.kind = 'payment_applied' AND NOT l.closed_otherwise \
               AND l.effective_on >= $1) \
         SELECT {key} AS key, {name} AS name, it.currency, it.issue_date, it.due_date, \
                it.paid_on, it.amount \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL}"
    ))
    .bind::<Date, _>(query.from)
    .bind::<Date, _>(query.to)
    .bind::<Nullable<SqlUuid>, _>(collector)
    .bind::<Nullable<SqlUuid>, _>(sales_rep)
    .load(conn)
    .await?;

    let disputes: Vec<DisputeRow> = diesel::sql_query(format!(
        "WITH it AS ( \
             SELECT d.customer_id, d.currency::text AS currency, d.reason_code, d.amount \
             FROM disputes d \
             WHERE d.created_at >= $5 AND d.created_at < $6 AND $1 <= $2) \
         SELECT {key} AS key, {name} AS name, it.currency, it.reason_code, \
                count(*) AS count, sum(it.amount) AS amount \
         FROM it JOIN customers c ON c.id = it.customer_id {join} \
         WHERE {VISIBLE_SQL} \
         GROUP BY 1, 2, 3, 4 ORDER BY 4"
    ))
    .bind::<Date, _>(query.from)
    .bind::<Date, _>(query.to)
    .bind::<Nullable<SqlUuid>, _>(collector)
    .bind::<Nullable<SqlUuid>, _>(sales_rep)
    .bind::<diesel::sql_types::Timestamptz, _>(start)
    .bind::<diesel::sql_types::Timestamptz, _>(end)
    .load(conn)
    .await?;

    type GroupKey = (String, Option<String>, String);
    let mut groups: BTreeMap<GroupKey, Gathered> = BTreeMap::new();
    let blank_months = || vec![Decimal::ZERO; month_days.len()];
    for b in balances {
        let g = groups.entry((b.name, b.key, b.currency)).or_default();
        g.credit_sales += b.credit_sales;
        g.beginning_ar += b.beginning_ar;
        g.ending_ar += b.ending_ar;
        g.current_ar += b.current_ar;
        g.write_offs += b.write_offs;
    }
    for m in months {
        let g = groups.entry((m.name, m.key, m.currency)).or_default();
        if g.months.is_empty() {
            g.months = blank_months();
        }
        if let Some(slot) = usize::try_from(m.month)
            .ok()
            .and_then(|k| g.months.get_mut(k))
        {
            *slot += m.sales;
        }
    }
    for p in paid {
        groups
            .entry((p.name, p.key, p.currency))
            .or_default()
            .paid
            .push(PaidInvoice {
                invoice_date: p.issue_date,
                due_date: p.due_date,
                paid_date: p.paid_on,
                amount: p.amount,
            });
    }
    for d in disputes {
        groups
            .entry((d.name, d.key, d.currency))
            .or_default()
            .disputes
            .push(DisputeTally {
                reason_code: d.reason_code,
                count: d.count,
                amount: shown(d.amount),
            });
    }

    let groups = groups
        .into_iter()
        .map(|((name, key, currency), g)| {
            let periods: Vec<Period> = month_days
                .iter()
                .enumerate()
                .map(|(k, days)| Period {
                    days: *days,
                    credit_sales: g.months.get(k).copied().unwrap_or_default(),
                })
                .collect();
            let dso = metrics::dso_simple(g.ending_ar, g.credit_sales, days);
            let bpdso = metrics::best_possible_dso(g.current_ar, g.credit_sales, days);
            let add = match (dso, bpdso) {
                (Some(d), Some(b)) => Some(metrics::average_days_delinquent(d, b)),
                _ => None,
            };
            let disputes_opened: i64 = g.disputes.iter().map(|d| d.count).sum();
            let disputed: Decimal = g.disputes.iter().map(|d| d.amount).sum();
            let values = [
                (Figure::CreditSales, Some(g.credit_sales)),
                (Figure::BeginningAr, Some(g.beginning_ar)),
                (Figure::EndingAr, Some(g.ending_ar)),
                (Figure::CurrentAr, Some(g.current_ar)),
                (Figure::Dso, dso),
                (
                    Figure::DsoCountBack,
                    Some(metrics::dso_count_back(g.ending_ar, &periods)),
                ),
                (Figure::BestPossibleDso, bpdso),
                (Figure::AverageDaysDelinquent, add),
                (
                    Figure::CollectionEffectivenessIndex,
                    metrics::collection_effectiveness_index(
                        g.beginning_ar,
                        g.credit_sales,
                        g.ending_ar,
                        g.current_ar,
                    ),
                ),
                (Figure::PaidInvoices, Some(Decimal::from(g.paid.len()))),
                (
                    Figure::AverageDaysToPay,
                    metrics::average_days_to_pay(&g.paid),
                ),
                (
                    Figure::AverageDaysToPayWeighted,
                    metrics::average_days_to_pay_weighted(&g.paid),
                ),
                (Figure::AverageDaysLate, metrics::average_days_late(&g.paid)),
                (Figure::PercentPaidLate, metrics::percent_paid_late(&g.paid)),
                (Figure::WriteOffsNetOfRecoveries, Some(g.write_offs)),
                (
                    Figure::BadDebtRatio,
                    metrics::bad_debt_ratio(g.write_offs, g.credit_sales),
                ),
                (Figure::DisputesOpened, Some(Decimal::from(disputes_opened))),
                (Figure::DisputedAmountOpened, Some(disputed)),
            ];
            MetricsGroup {
                key,
                name,
                currency,
                figures: values
                    .into_iter()
                    .map(|(metric, value)| FigureValue {
                        metric,
                        value: value.map(shown),
                        definition: metric.definition().to_owned(),
                    })
                    .collect(),
                disputes: g.disputes,
            }
        })
        .collect();
    Ok(MetricsReport {
        from: query.from,
        to: query.to,
        days,
        group_by: group_by.as_str().to_owned(),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_named_as_in_json_and_defined() {
        for figure in Figure::ALL {
            let json = serde_json::to_value(figure).unwrap_or_default();
            assert_eq!(json, serde_json::Value::from(figure.as_str()));
            assert!(figure.definition().len() > 40, "{}", figure.as_str());
        }
        assert_eq!(Figure::Dso.definition(), metrics::definition(Metric::Dso));
    }

    #[test]
    fn display_rounding_is_half_away_from_zero_to_two_places() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(shown(d("63")).to_string(), "63.00");
        assert_eq!(shown(d("2.345")).to_string(), "2.35");
        assert_eq!(shown(d("2.335")).to_string(), "2.34");
        assert_eq!(shown(d("-2.345")).to_string(), "-2.35");
        assert_eq!(
            shown(d("8.3333333333333333333333333333")).to_string(),
            "8.33"
        );
        assert_eq!(shown(d("-0.001")).to_string(), "0.00");
    }
}
