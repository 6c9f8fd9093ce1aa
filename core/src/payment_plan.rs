//! Payment plans: the policy a plan is judged against (admin setting
//! `payment_plan_policy`) and the preview a collector negotiates with, built on the
//! pure schedule rules of `schedule.rs`. A plan inside the policy may start at once;
//! outside it, it waits for a manager with its breaches listed.
//!
//! Saved plans keep their installments; `track_one` allocates the cash received on the
//! plan's invoices to them (the pure rules are in `installment.rs`), daily and after
//! each payment applied or returned, and defaults the plan after too many misses.

use crate::error::ProblemCode;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::activity::{self, ActivityKind, NewActivity, Outcome};
use crate::audit;
use crate::customer;
use crate::error::{Error, Problems, Result};
use crate::installment::{self, Due, InstallmentStatus, PlanStatus, Receipt, Standing};
use crate::invoice::{self, InvoiceKind, NewInvoice};
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schedule::{self, BusinessDayRule, Frequency, Schedule, Split, Terms};
use crate::schema::{
    dispute_invoices, disputes, payment_applications, payment_plan_invoices, payment_plans,
    payments, plan_installments,
};
use crate::setting::{self, Setting};
use crate::task::{self, NewTask};

/// What a plan may be without a manager's approval, and how installments are tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Longest plan, first due date to last installment, in days.
    #[schema(example = 365)]
    pub max_term_days: u32,
    /// Smallest regular installment (in the plan's currency).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "50.00")]
    pub min_installment: Decimal,
    /// Most installments (down payment not counted).
    #[schema(example = 12)]
    pub max_installments: u32,
    /// Smallest down payment, percent of the total.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "10")]
    pub min_down_payment_percent: Decimal,
    /// Days after its due date an installment may still be paid on time.
    #[schema(example = 5)]
    pub grace_days: u32,
    /// Missed installments after which a plan defaults.
    #[schema(example = 2)]
    pub default_after_missed: u32,
    /// What happens to a due date on a weekend or holiday.
    pub business_day_rule: BusinessDayRule,
    /// Non-business days besides weekends.
    pub holidays: Vec<NaiveDate>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_term_days: 365,
            min_installment: Decimal::new(5000, 2),
            max_installments: 12,
            min_down_payment_percent: Decimal::from(10),
            grace_days: 5,
            default_after_missed: 2,
            business_day_rule: BusinessDayRule::Next,
            holidays: Vec::new(),
        }
    }
}

impl Setting for Policy {
    const KEY: &'static str = "payment_plan_policy";

    fn validate(&self) -> Result<()> {
        let mut p = Problems::new();
        if !(1..=3650).contains(&self.max_term_days) {
            p.add("max_term_days", "out_of_range", "1 to 3650 days");
        }
        if self.min_installment < Decimal::ZERO || self.min_installment.normalize().scale() > 4 {
            p.add(
                "min_installment",
                "out_of_range",
                "zero or more, at most 4 decimals",
            );
        }
        if !(1..=schedule::MAX_INSTALLMENTS).contains(&self.max_installments) {
            p.add("max_installments", "out_of_range", "1 to 360");
        }
        if self.min_down_payment_percent < Decimal::ZERO
            || self.min_down_payment_percent >= Decimal::from(100)
        {
            p.add(
                "min_down_payment_percent",
                "out_of_range",
                "0 up to (not including) 100",
            );
        }
        if self.grace_days > 60 {
            p.add("grace_days", "out_of_range", "0 to 60 days");
        }
        if !(1..=12).contains(&self.default_after_missed) {
            p.add("default_after_missed", "out_of_range", "1 to 12");
        }
        if self.holidays.len() > 500 {
            p.add("holidays", "too_many", "at most 500 dates");
        }
        p.into_result()
    }
}

/// One way a plan falls outside the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breach {
    #[schema(example = "too_many_installments")]
    pub code: String,
    #[schema(example = "18 installments; the policy allows 12")]
    pub message: String,
}

fn breach(code: &str, message: String) -> Breach {
    Breach {
        code: code.to_owned(),
        message,
    }
}

/// Where a schedule breaks the policy (empty: within it). Pure.
pub fn breaches(policy: &Policy, schedule: &Schedule, currency: Currency) -> Vec<Breach> {
    let mut out = Vec::new();
    let regular: Vec<_> = schedule
        .installments
        .iter()
        .filter(|i| i.number > 0)
        .collect();
    let count = u32::try_from(regular.len()).unwrap_or(u32::MAX);
    if count > policy.max_installments {
        out.push(breach(
            "too_many_installments",
            format!(
                "{count} installments; the policy allows {}",
                policy.max_installments
            ),
        ));
    }
    if let (Some(first), Some(last)) = (regular.as_slice().first(), regular.as_slice().last()) {
        let term = (last.due_date - first.due_date).num_days();
        if term > i64::from(policy.max_term_days) {
            out.push(breach(
                "term_too_long",
                format!(
                    "{term} days from first to last installment; the policy allows {}",
                    policy.max_term_days
                ),
            ));
        }
    }
    // The last installment only takes what is left; the regular ones must reach the minimum.
    let smallest = regular
        .iter()
        .take(regular.len().saturating_sub(1).max(1))
        .map(|i| i.amount)
        .min();
    if let Some(smallest) = smallest
        && smallest < policy.min_installment
    {
        out.push(breach(
            "installment_too_small",
            format!(
                "installments of {} {}; the policy's minimum is {}",
                money::in_minor_units(smallest, currency.code()),
                currency.code(),
                money::in_minor_units(policy.min_installment, currency.code())
            ),
        ));
    }
    let down = schedule
        .installments
        .iter()
        .find(|i| i.number == 0)
        .map_or(Decimal::ZERO, |i| i.amount);
    let needed = schedule.total * policy.min_down_payment_percent / Decimal::from(100);
    if down < needed {
        out.push(breach(
            "down_payment_too_small",
            format!(
                "down payment of {} {}; the policy asks for at least {}% ({})",
                money::in_minor_units(down, currency.code()),
                currency.code(),
                policy.min_down_payment_percent.normalize(),
                money::in_minor_units(needed.round_dp(currency.minor_units()), currency.code())
            ),
        ));
    }
    out
}

/// `POST /v1/payment-plans/preview` and `POST /v1/payment-plans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTerms {
    pub customer_id: Uuid,
    /// The customer's open invoices the plan covers (1–100).
    pub invoice_ids: Vec<Uuid>,
    /// Default: the invoices' collectible balance (open minus disputed).
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1000.00")]
    pub total: Option<Decimal>,
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "100.00")]
    pub down_payment: Option<Decimal>,
    /// Either a count of equal installments…
    #[schema(example = 3)]
    pub installment_count: Option<u32>,
    /// …or an amount per installment.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub installment_amount: Option<Decimal>,
    pub frequency: Frequency,
    pub first_due_date: NaiveDate,
    /// A one-off fee added to what is financed.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub fee: Option<Decimal>,
    /// Flat add-on interest, percent a year.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0")]
    pub annual_interest_percent: Option<Decimal>,
    /// Kept with a saved plan (a preview ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Agreed with the controller on the phone")]
    pub note: Option<String>,
}

/// A schedule and how it stands against the policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    #[schema(example = "USD")]
    pub currency: String,
    pub schedule: Schedule,
    /// Empty when the plan is within policy.
    pub policy_breaches: Vec<Breach>,
    /// Whether a manager must approve it (outside policy).
    pub needs_approval: bool,
}

/// The customer's invoices named in the terms, checked: theirs, open, one currency;
/// returns the currency and their collectible balance.
async fn covered(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
    ids: &[Uuid],
) -> Result<(String, Decimal)> {
    let mut p = Problems::new();
    if ids.is_empty() || ids.len() > 100 {
        p.add("invoice_ids", "invalid_length", "name 1 to 100 invoices");
    }
    let mut seen = std::collections::HashSet::new();
    if ids.iter().any(|id| !seen.insert(*id)) {
        p.add("invoice_ids", "duplicate", "an invoice is named twice");
    }
    p.into_result()?;
    let (currency, balances) = invoice::named_open(conn, customer_id, ids, "plan").await?;
    let disputed: Vec<(Uuid, Decimal)> = dispute_invoices::table
        .inner_join(disputes::table)
        .filter(dispute_invoices::invoice_id.eq_any(ids))
        .filter(disputes::status.eq_any(["open", "investigating"]))
        .select((dispute_invoices::invoice_id, dispute_invoices::amount))
        .load(conn)
        .await?;
    let mut collectible = Decimal::ZERO;
    for (id, open) in ids.iter().zip(balances) {
        let held: Decimal = disputed
            .iter()
            .filter(|(d, _)| d == id)
            .map(|(_, a)| *a)
            .sum();
        collectible += (open - held).max(Decimal::ZERO);
    }
    Ok((currency, collectible))
}

/// Terms checked and scheduled against today's policy.
struct Scheduled {
    customer_id: Uuid,
    currency: String,
    schedule: Schedule,
    breaches: Vec<Breach>,
    policy: Policy,
}

async fn schedule_terms(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: &PlanTerms,
    lock: bool,
) -> Result<Scheduled> {
    let customer = customer::load_named(conn, ctx, input.customer_id, lock).await?;
    let (currency, collectible) = covered(conn, customer.id, &input.invoice_ids).await?;
    let c = Currency::parse(&currency).ok_or_else(|| Error::Internal("stored currency".into()))?;
    let total = input.total.unwrap_or(collectible);
    if total > collectible {
        return Err(Error::validation(
            "total",
            "exceeds_collectible",
            format!(
                "the invoices' collectible balance is {} {currency}",
                money::in_minor_units(collectible, &currency)
            ),
        ));
    }
    let split = match (input.installment_count, input.installment_amount) {
        (Some(n), None) => Split::Count(n),
        (None, Some(a)) => Split::Amount(a),
        _ => {
            return Err(Error::validation(
                "installment_count",
                "one_of",
                "give installment_count or installment_amount, not both",
            ));
        }
    };
    if let Some(note) = &input.note
        && note.chars().count() > 2000
    {
        return Err(Error::validation(
            "note",
            "too_long",
            "at most 2000 characters",
        ));
    }
    let policy: Policy = setting::load(conn).await?;
    let terms = Terms {
        currency: c,
        total,
        down_payment: input.down_payment.unwrap_or(Decimal::ZERO),
        split,
        frequency: input.frequency,
        start_date: ctx.now.date_naive(),
        first_due_date: input.first_due_date,
        fee: input.fee.unwrap_or(Decimal::ZERO),
        annual_interest_percent: input.annual_interest_percent.unwrap_or(Decimal::ZERO),
        business_day_rule: policy.business_day_rule,
        holidays: policy.holidays.clone(),
    };
    if input.first_due_date < ctx.now.date_naive() {
        return Err(Error::validation(
            "first_due_date",
            "in_past",
            "the first installment cannot be due before today",
        ));
    }
    let schedule = schedule::build(&terms).map_err(Error::Validation)?;
    let breaches = breaches(&policy, &schedule, c);
    Ok(Scheduled {
        customer_id: customer.id,
        currency,
        schedule,
        breaches,
        policy,
    })
}

/// Checks the terms and builds the schedule against the policy (nothing is saved).
pub async fn preview(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: &PlanTerms,
) -> Result<Preview> {
    ctx.actor.require(Permission::PlansRead)?;
    let s = schedule_terms(conn, ctx, input, false).await?;
    Ok(Preview {
        currency: s.currency,
        needs_approval: !s.breaches.is_empty(),
        schedule: s.schedule,
        policy_breaches: s.breaches,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payment_plans)]
struct Row {
    id: Uuid,
    customer_id: Uuid,
    currency: String,
    status: PlanStatus,
    total: Decimal,
    fee: Decimal,
    interest: Decimal,
    total_payable: Decimal,
    terms: serde_json::Value,
    policy_breaches: serde_json::Value,
    grace_days: i32,
    default_after_missed: i32,
    made_on: NaiveDate,
    paid: Decimal,
    fee_invoice_id: Option<Uuid>,
    referral_candidate_at: Option<DateTime<Utc>>,
    note: Option<String>,
    cancel_reason: Option<String>,
    created_by: Option<Uuid>,
    approved_by: Option<Uuid>,
    approved_at: Option<DateTime<Utc>>,
    activated_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plan_installments)]
struct InstallmentRow {
    id: Uuid,
    plan_id: Uuid,
    number: i32,
    due_date: NaiveDate,
    amount: Decimal,
    paid: Decimal,
    paid_on: Option<NaiveDate>,
    status: InstallmentStatus,
}

impl InstallmentRow {
    fn due(&self) -> Due {
        Due {
            number: u32::try_from(self.number).unwrap_or(0),
            due_date: self.due_date,
            amount: self.amount,
        }
    }
}

/// One installment of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Installment {
    pub id: Uuid,
    /// 0 for the down payment, then 1, 2, …
    pub number: i32,
    pub due_date: NaiveDate,
    /// The last day it counts as paid on time (due date + the plan's grace days).
    pub pay_by: NaiveDate,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "333.33")]
    pub amount: Decimal,
    /// Allocated to it from payments on the plan's invoices, oldest installment first.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub paid: Decimal,
    /// The day the payment that completed it was received.
    pub paid_on: Option<NaiveDate>,
    pub status: InstallmentStatus,
}

/// A saved payment plan with its installments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaymentPlan {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The invoices whose payments count toward it (with the fee invoice, once billed).
    pub invoice_ids: Vec<Uuid>,
    #[schema(example = "USD")]
    pub currency: String,
    pub status: PlanStatus,
    /// The balance covered.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1000.00")]
    pub total: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub fee: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub interest: Decimal,
    /// total + fee + interest = Σ installments.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1000.00")]
    pub total_payable: Decimal,
    /// Paid toward the installments at the last tracking.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "333.33")]
    pub paid: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "666.67")]
    pub remaining: Decimal,
    /// The terms as negotiated.
    pub terms: PlanTerms,
    /// Where the plan stood outside the policy when made (why it needed approval).
    pub policy_breaches: Vec<Breach>,
    /// Copied from the policy when the plan was made.
    #[schema(example = 5)]
    pub grace_days: i32,
    #[schema(example = 2)]
    pub default_after_missed: i32,
    /// The day it was made: payments received from then on count.
    pub made_on: NaiveDate,
    /// The first installment not yet paid in full and not missed.
    pub next_installment: Option<Installment>,
    #[schema(example = 0)]
    pub missed_installments: i32,
    pub installments: Vec<Installment>,
    /// The invoice billing the fee and interest (billed when the plan is approved).
    pub fee_invoice_id: Option<Uuid>,
    /// When the plan defaulted and the account became a referral candidate.
    pub referral_candidate_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    /// When it completed, defaulted or was cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn present(row: Row, invoice_ids: Vec<Uuid>, rows: Vec<InstallmentRow>) -> Result<PaymentPlan> {
    let shown = |d: Decimal| money::in_minor_units(d, &row.currency);
    let grace = u32::try_from(row.grace_days).unwrap_or(0);
    let installments: Vec<Installment> = rows
        .into_iter()
        .map(|i| Installment {
            id: i.id,
            number: i.number,
            due_date: i.due_date,
            pay_by: installment::deadline(i.due_date, grace),
            amount: shown(i.amount),
            paid: shown(i.paid),
            paid_on: i.paid_on,
            status: i.status,
        })
        .collect();
    let next_installment = installments
        .iter()
        .find(|i| !i.status.settled() && i.status != InstallmentStatus::Missed)
        .cloned();
    let missed = installments
        .iter()
        .filter(|i| i.status == InstallmentStatus::Missed)
        .count();
    let terms: PlanTerms = serde_json::from_value(row.terms)
        .map_err(|e| Error::Internal(format!("stored plan terms: {e}")))?;
    let policy_breaches: Vec<Breach> = serde_json::from_value(row.policy_breaches)
        .map_err(|e| Error::Internal(format!("stored plan breaches: {e}")))?;
    Ok(PaymentPlan {
        id: row.id,
        customer_id: row.customer_id,
        invoice_ids,
        currency: row.currency.clone(),
        status: row.status,
        total: shown(row.total),
        fee: shown(row.fee),
        interest: shown(row.interest),
        total_payable: shown(row.total_payable),
        paid: shown(row.paid),
        remaining: shown(row.total_payable - row.paid),
        terms,
        policy_breaches,
        grace_days: row.grace_days,
        default_after_missed: row.default_after_missed,
        made_on: row.made_on,
        next_installment,
        missed_installments: i32::try_from(missed).unwrap_or(i32::MAX),
        installments,
        fee_invoice_id: row.fee_invoice_id,
        referral_candidate_at: row.referral_candidate_at,
        note: row.note,
        cancel_reason: row.cancel_reason,
        created_by: row.created_by,
        approved_by: row.approved_by,
        approved_at: row.approved_at,
        activated_at: row.activated_at,
        closed_at: row.closed_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn assemble(conn: &mut AsyncPgConnection, rows: Vec<Row>) -> Result<Vec<PaymentPlan>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let links: Vec<(Uuid, Uuid)> = payment_plan_invoices::table
        .filter(payment_plan_invoices::plan_id.eq_any(&ids))
        .order((
            payment_plan_invoices::plan_id,
            payment_plan_invoices::invoice_id,
        ))
        .select((
            payment_plan_invoices::plan_id,
            payment_plan_invoices::invoice_id,
        ))
        .load(conn)
        .await?;
    let mut installments: Vec<InstallmentRow> = plan_installments::table
        .filter(plan_installments::plan_id.eq_any(&ids))
        .order((plan_installments::plan_id, plan_installments::number))
        .select(InstallmentRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let mine = links
                .iter()
                .filter(|(p, _)| *p == r.id)
                .map(|(_, i)| *i)
                .collect();
            let (its, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut installments)
                .into_iter()
                .partition(|i| i.plan_id == r.id);
            installments = rest;
            present(r, mine, its)
        })
        .collect()
}

async fn load(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid, lock: bool) -> Result<Row> {
    let q = payment_plans::table.find(id).select(Row::as_select());
    let row: Option<Row> = if lock {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    let row = row.ok_or(Error::NotFound {
        entity: "payment plan",
    })?;
    customer::check_visible_for(conn, ctx, row.customer_id, false, "payment plan").await?;
    Ok(row)
}

async fn shown_one(conn: &mut AsyncPgConnection, row: Row) -> Result<PaymentPlan> {
    assemble(conn, vec![row])
        .await?
        .pop()
        .ok_or(Error::NotFound {
            entity: "payment plan",
        })
}

/// Saves a plan. Within the policy (or made by someone who may approve plans) it is
/// approved at once; otherwise it is `proposed` until a manager approves it. Its
/// invoices may be in no other plan that is proposed or running.
pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: PlanTerms,
) -> Result<PaymentPlan> {
    ctx.actor.require(Permission::PlansWrite)?;
    conn.transaction(async |conn| {
        // The customer lock serialises plans on the same invoices.
        let s = schedule_terms(conn, ctx, &input, true).await?;
        let planned: Option<Uuid> = payment_plan_invoices::table
            .inner_join(payment_plans::table)
            .filter(payment_plan_invoices::invoice_id.eq_any(&input.invoice_ids))
            .filter(payment_plans::status.eq_any([
                PlanStatus::Proposed,
                PlanStatus::Approved,
                PlanStatus::Active,
            ]))
            .select(payment_plan_invoices::invoice_id)
            .first(conn)
            .await
            .optional()?;
        if let Some(invoice) = planned {
            return Err(Error::conflict(
                ProblemCode::InvoiceAlreadyOnPlan,
                format!("invoice {invoice} is already in a proposed or running payment plan"),
            ));
        }
        let id = Uuid::now_v7();
        let terms = serde_json::to_value(&input).map_err(|e| Error::Internal(e.to_string()))?;
        let breaches =
            serde_json::to_value(&s.breaches).map_err(|e| Error::Internal(e.to_string()))?;
        diesel::insert_into(payment_plans::table)
            .values((
                payment_plans::id.eq(id),
                payment_plans::customer_id.eq(s.customer_id),
                payment_plans::currency.eq(&s.currency),
                payment_plans::status.eq(PlanStatus::Proposed),
                payment_plans::total.eq(s.schedule.total),
                payment_plans::fee.eq(s.schedule.fee),
                payment_plans::interest.eq(s.schedule.interest),
                payment_plans::total_payable.eq(s.schedule.total_payable),
                payment_plans::terms.eq(terms),
                payment_plans::policy_breaches.eq(breaches),
                payment_plans::grace_days.eq(i32::try_from(s.policy.grace_days).unwrap_or(0)),
                payment_plans::default_after_missed
                    .eq(i32::try_from(s.policy.default_after_missed).unwrap_or(1)),
                payment_plans::made_on.eq(ctx.now.date_naive()),
                payment_plans::note.eq(input.note.as_deref().map(str::trim)),
                payment_plans::created_by.eq(ctx.actor.id()),
                payment_plans::created_at.eq(ctx.now),
                payment_plans::updated_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        let links: Vec<_> = input
            .invoice_ids
            .iter()
            .map(|i| {
                (
                    payment_plan_invoices::plan_id.eq(id),
                    payment_plan_invoices::invoice_id.eq(*i),
                )
            })
            .collect();
        diesel::insert_into(payment_plan_invoices::table)
            .values(links)
            .execute(conn)
            .await?;
        let installments: Vec<_> = s
            .schedule
            .installments
            .iter()
            .map(|i| {
                (
                    plan_installments::id.eq(Uuid::now_v7()),
                    plan_installments::plan_id.eq(id),
                    plan_installments::number.eq(i32::try_from(i.number).unwrap_or(i32::MAX)),
                    plan_installments::due_date.eq(i.due_date),
                    plan_installments::amount.eq(i.amount),
                    plan_installments::status.eq(InstallmentStatus::Scheduled),
                )
            })
            .collect();
        diesel::insert_into(plan_installments::table)
            .values(installments)
            .execute(conn)
            .await?;
        if s.breaches.is_empty() || ctx.actor.may(Permission::PlansApprove) {
            start(conn, ctx, id).await?;
        }
        let row = load(conn, ctx, id, false).await?;
        let plan = shown_one(conn, row).await?;
        audit::record(
            conn,
            ctx,
            "payment_plan.create",
            "payment_plan",
            id,
            None::<&()>,
            Some(&plan),
        )
        .await?;
        Ok(plan)
    })
    .await
}

/// Approves a plan (in the caller's transaction): bills its fee and interest, if any,
/// and tracks it at once (cash already received today counts; with no down payment
/// it is active straight away).
async fn start(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<()> {
    let row: Row = payment_plans::table
        .find(id)
        .select(Row::as_select())
        .for_update()
        .first(conn)
        .await?;
    let charge = row.fee + row.interest;
    let mut fee_invoice_id = None;
    if charge > Decimal::ZERO {
        let last_due = plan_installments::table
            .filter(plan_installments::plan_id.eq(id))
            .select(diesel::dsl::max(plan_installments::due_date))
            .first::<Option<NaiveDate>>(conn)
            .await?
            .unwrap_or(row.made_on);
        let today = ctx.now.date_naive();
        let fee = invoice::insert(
            conn,
            ctx,
            &NewInvoice {
                number: format!("PLAN-{}", id.simple()),
                customer_id: row.customer_id,
                issue_date: today,
                due_date: Some(last_due.max(today)),
                amount: charge,
                currency: Some(row.currency.clone()),
                po_number: None,
                project: None,
                external_id: None,
            },
            InvoiceKind::PlanFee,
        )
        .await?;
        diesel::insert_into(payment_plan_invoices::table)
            .values((
                payment_plan_invoices::plan_id.eq(id),
                payment_plan_invoices::invoice_id.eq(fee.id),
            ))
            .execute(conn)
            .await?;
        fee_invoice_id = Some(fee.id);
    }
    diesel::update(payment_plans::table.find(id))
        .set((
            payment_plans::status.eq(PlanStatus::Approved),
            payment_plans::approved_by.eq(ctx.actor.id()),
            payment_plans::approved_at.eq(ctx.now),
            payment_plans::fee_invoice_id.eq(fee_invoice_id),
            payment_plans::updated_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
    track_one(conn, ctx, id, &mut Tracking::default()).await
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<PaymentPlan> {
    ctx.actor.require(Permission::PlansRead)?;
    let row = load(conn, ctx, id, false).await?;
    shown_one(conn, row).await
}

/// A manager approves a proposed plan.
pub async fn approve(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<PaymentPlan> {
    ctx.actor.require(Permission::PlansApprove)?;
    conn.transaction(async |conn| {
        let row = load(conn, ctx, id, true).await?;
        if row.status != PlanStatus::Proposed {
            return Err(Error::conflict(
                ProblemCode::PlanNotProposed,
                format!(
                    "the plan is {}; only proposed plans are approved",
                    row.status
                ),
            ));
        }
        let before = shown_one(conn, row).await?;
        start(conn, ctx, id).await?;
        let row = load(conn, ctx, id, false).await?;
        let after = shown_one(conn, row).await?;
        audit::record(
            conn,
            ctx,
            "payment_plan.approve",
            "payment_plan",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// `POST /v1/payment-plans/{id}/cancel`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPlan {
    #[schema(example = "Customer paid the balance in full instead")]
    pub reason: String,
}

/// Cancels a plan that is proposed or running; completed and defaulted plans are
/// history. A billed fee invoice stays on the ledger (credit it if it was waived).
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    input: CancelPlan,
) -> Result<PaymentPlan> {
    ctx.actor.require(Permission::PlansWrite)?;
    let reason = crate::error::check_reason("reason", &input.reason)?;
    conn.transaction(async |conn| {
        let row = load(conn, ctx, id, true).await?;
        if !matches!(row.status, PlanStatus::Proposed) && !row.status.live() {
            return Err(Error::conflict(
                ProblemCode::PlanClosed,
                format!("the plan is {}; it can no longer be cancelled", row.status),
            ));
        }
        let before = shown_one(conn, row).await?;
        let row: Row = diesel::update(payment_plans::table.find(id))
            .set((
                payment_plans::status.eq(PlanStatus::Cancelled),
                payment_plans::cancel_reason.eq(&reason),
                payment_plans::closed_at.eq(ctx.now),
                payment_plans::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let after = shown_one(conn, row).await?;
        audit::record(
            conn,
            ctx,
            "payment_plan.cancel",
            "payment_plan",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<PlanStatus>,
    /// Plans covering this invoice.
    pub invoice_id: Option<Uuid>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("payment_plans", "-id");

/// Plans on customers the caller may see, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &PlanFilter,
) -> Result<Page<PaymentPlan>> {
    ctx.actor.require(Permission::PlansRead)?;
    let page = PageRequest::<Uuid>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = payment_plans::table.select(Row::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(payment_plans::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(payment_plans::customer_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(payment_plans::status.eq(s));
    }
    if let Some(inv) = filter.invoice_id {
        q = q.filter(
            payment_plans::id.eq_any(
                payment_plan_invoices::table
                    .filter(payment_plan_invoices::invoice_id.eq(inv))
                    .select(payment_plan_invoices::plan_id),
            ),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(payment_plans::id.lt(after));
    }
    let rows: Vec<Row> = q
        .order(payment_plans::id.desc())
        .limit(page.fetch())
        .load(conn)
        .await?;
    let page = Page::from_rows(rows, &page, |r: &Row| r.id);
    let items = assemble(conn, page.data).await?;
    Ok(Page {
        data: items,
        next_cursor: page.next_cursor,
    })
}

/// Running plans covering any of the invoices `$5`: cash moving on those invoices
/// queues the tracking of the customer's plans (`job::enqueue_after_cash`).
pub(crate) const LIVE_ON_INVOICES: &str =
    "SELECT 1 FROM payment_plan_invoices ppi JOIN payment_plans pp ON pp.id = ppi.plan_id
      WHERE ppi.invoice_id = ANY($5) AND pp.status IN ('approved', 'active', 'completed')";

/// What a tracking run changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tracking {
    pub tracked: usize,
    pub installments_changed: usize,
    pub missed: usize,
    pub activated: usize,
    pub completed: usize,
    pub defaulted: usize,
    pub reopened: usize,
}

/// Tracks every plan of a customer that cash can still move (after a payment on its
/// invoices, or a return).
pub async fn track_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
) -> Result<Tracking> {
    let ids: Vec<Uuid> = payment_plans::table
        .filter(payment_plans::customer_id.eq(customer_id))
        .filter(payment_plans::status.eq_any([
            PlanStatus::Approved,
            PlanStatus::Active,
            PlanStatus::Completed,
        ]))
        .select(payment_plans::id)
        .order(payment_plans::id)
        .load(conn)
        .await?;
    track_each(conn, ctx, ids).await
}

/// The daily run: every approved or active plan, as of today.
pub async fn track_live(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<Tracking> {
    let ids: Vec<Uuid> = payment_plans::table
        .filter(payment_plans::status.eq_any([PlanStatus::Approved, PlanStatus::Active]))
        .select(payment_plans::id)
        .order(payment_plans::id)
        .load(conn)
        .await?;
    track_each(conn, ctx, ids).await
}

/// Each plan in its own transaction: what was tracked before a failure stays, and
/// the retry finds it unchanged.
async fn track_each(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    ids: Vec<Uuid>,
) -> Result<Tracking> {
    let mut out = Tracking::default();
    for id in ids {
        track_one(conn, ctx, id, &mut out).await?;
    }
    Ok(out)
}

/// Re-tracks one plan from the cash received on its invoices, in one transaction.
/// Running it again on the same day changes nothing: statuses are recomputed from the
/// ledger, and activities and tasks are once per installment, plan and outcome.
async fn track_one(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    out: &mut Tracking,
) -> Result<()> {
    let today = ctx.now.date_naive();
    conn.transaction(async |conn| {
        let row: Row = payment_plans::table
            .find(id)
            .select(Row::as_select())
            .for_update()
            .first(conn)
            .await?;
        if !matches!(
            row.status,
            PlanStatus::Approved | PlanStatus::Active | PlanStatus::Completed
        ) {
            return Ok(());
        }
        out.tracked += 1;
        let rows: Vec<InstallmentRow> = plan_installments::table
            .filter(plan_installments::plan_id.eq(id))
            .order(plan_installments::number)
            .select(InstallmentRow::as_select())
            .load(conn)
            .await?;
        let received: Vec<(NaiveDate, Decimal)> = payment_applications::table
            .inner_join(payments::table)
            .filter(
                payment_applications::invoice_id.eq_any(
                    payment_plan_invoices::table
                        .filter(payment_plan_invoices::plan_id.eq(id))
                        .select(payment_plan_invoices::invoice_id),
                ),
            )
            .filter(payment_applications::reversed_at.is_null())
            .filter(payments::received_on.ge(row.made_on))
            .order((payments::received_on, payments::id))
            .select((payments::received_on, payment_applications::amount))
            .load(conn)
            .await?;
        let receipts: Vec<Receipt> = received
            .into_iter()
            .map(|(received_on, amount)| Receipt {
                received_on,
                amount,
            })
            .collect();
        let dues: Vec<Due> = rows.iter().map(InstallmentRow::due).collect();
        let grace = u32::try_from(row.grace_days).unwrap_or(0);
        let standings = installment::track(&dues, &receipts, today, grace);
        let status = installment::plan_status(
            row.status,
            &dues,
            &standings,
            u32::try_from(row.default_after_missed).unwrap_or(1),
        );
        let paid: Decimal = standings.iter().map(|s| s.paid).sum();
        let changed: Vec<(&InstallmentRow, &Standing)> = rows
            .iter()
            .zip(&standings)
            .filter(|(r, s)| r.status != s.status || r.paid != s.paid || r.paid_on != s.paid_on)
            .collect();
        if changed.is_empty() && status == row.status && paid == row.paid {
            return Ok(());
        }
        let before = shown_one(conn, row.clone()).await?;
        for (r, s) in &changed {
            diesel::update(plan_installments::table.find(r.id))
                .set((
                    plan_installments::status.eq(s.status),
                    plan_installments::paid.eq(s.paid),
                    plan_installments::paid_on.eq(s.paid_on),
                ))
                .execute(conn)
                .await?;
        }
        out.installments_changed += changed.len();
        let activated_at = match (row.activated_at, status) {
            (None, PlanStatus::Active | PlanStatus::Completed) => Some(ctx.now),
            (at, _) => at,
        };
        let closed_at = match status {
            PlanStatus::Completed | PlanStatus::Defaulted if status != row.status => Some(ctx.now),
            PlanStatus::Completed | PlanStatus::Defaulted => row.closed_at,
            _ => None,
        };
        let referral_candidate_at = if status == PlanStatus::Defaulted {
            row.referral_candidate_at.or(Some(ctx.now))
        } else {
            row.referral_candidate_at
        };
        let updated: Row = diesel::update(payment_plans::table.find(id))
            .set((
                payment_plans::status.eq(status),
                payment_plans::paid.eq(paid),
                payment_plans::activated_at.eq(activated_at),
                payment_plans::closed_at.eq(closed_at),
                payment_plans::referral_candidate_at.eq(referral_candidate_at),
                payment_plans::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let after = shown_one(conn, updated).await?;
        audit::record(
            conn,
            ctx,
            "payment_plan.track",
            "payment_plan",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        let shown = |d: Decimal| {
            format!(
                "{} {}",
                money::in_minor_units(d, &row.currency),
                row.currency
            )
        };
        for (r, s) in &changed {
            if s.status == InstallmentStatus::Missed && r.status != InstallmentStatus::Missed {
                out.missed += 1;
                activity::record(
                    conn,
                    ctx,
                    NewActivity {
                        customer_id: row.customer_id,
                        kind: ActivityKind::Note,
                        outcome: Some(Outcome::InstallmentMissed),
                        subject: Some(format!(
                            "Installment {} of {} missed (due {})",
                            r.number,
                            shown(r.amount),
                            r.due_date
                        )),
                        notes: format!(
                            "{} paid by {}; {} still owed on it.",
                            shown(s.paid),
                            installment::deadline(r.due_date, grace),
                            shown(r.amount - s.paid)
                        ),
                        task_id: None,
                        source: Some(("plan_installment", r.id)),
                    },
                )
                .await?;
            }
        }
        if status == row.status {
            return Ok(());
        }
        match status {
            PlanStatus::Active if row.status == PlanStatus::Completed => out.reopened += 1,
            PlanStatus::Active => out.activated += 1,
            PlanStatus::Completed => {
                out.completed += 1;
                activity::record(
                    conn,
                    ctx,
                    NewActivity {
                        customer_id: row.customer_id,
                        kind: ActivityKind::Note,
                        outcome: Some(Outcome::Paid),
                        subject: Some(format!(
                            "Payment plan of {} completed",
                            shown(row.total_payable)
                        )),
                        notes: String::new(),
                        task_id: None,
                        source: Some(("payment_plan", id)),
                    },
                )
                .await?;
            }
            PlanStatus::Defaulted => {
                out.defaulted += 1;
                let missed = standings
                    .iter()
                    .filter(|s| s.status == InstallmentStatus::Missed)
                    .count();
                let subject = format!(
                    "Payment plan of {} defaulted: {missed} installments missed",
                    shown(row.total_payable)
                );
                let task_id = task::follow_up_once(
                    conn,
                    ctx,
                    NewTask {
                        customer_id: row.customer_id,
                        assignee_id: row.created_by,
                        kind: "plan_default",
                        title: subject.clone(),
                        due_on: today,
                        source: Some(("payment_plan", id)),
                    },
                )
                .await?;
                activity::record(
                    conn,
                    ctx,
                    NewActivity {
                        customer_id: row.customer_id,
                        kind: ActivityKind::Note,
                        outcome: Some(Outcome::PlanDefaulted),
                        subject: Some(subject),
                        notes: format!(
                            "{} of {} paid; the account is a referral candidate.",
                            shown(paid),
                            shown(row.total_payable)
                        ),
                        task_id: Some(task_id),
                        source: Some(("payment_plan", id)),
                    },
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    })
    .await
}

/// `GET /v1/payment-plans/policy`.
pub async fn policy(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<Policy> {
    ctx.actor.require(Permission::PlansRead)?;
    setting::load(conn).await
}

/// `PUT /v1/payment-plans/policy` (admins).
pub async fn save_policy(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    policy: Policy,
) -> Result<Policy> {
    setting::save(conn, ctx, policy).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap_or_else(|| panic!("USD"))
    }

    fn terms(total: i64, down: i64, split: Split) -> Terms {
        Terms {
            currency: usd(),
            total: Decimal::new(total, 2),
            down_payment: Decimal::new(down, 2),
            split,
            frequency: Frequency::Monthly,
            start_date: day(2026, 3, 2),
            first_due_date: day(2026, 4, 1),
            fee: Decimal::ZERO,
            annual_interest_percent: Decimal::ZERO,
            business_day_rule: BusinessDayRule::Keep,
            holidays: vec![],
        }
    }

    #[test]
    fn a_plan_within_policy_has_no_breaches() {
        let s = schedule::build(&terms(100_000, 10_000, Split::Count(3)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(breaches(&Policy::default(), &s, usd()).is_empty());
    }

    #[test]
    fn each_breach_is_named() {
        // 18 monthly installments of 5.00 after no down payment.
        let s =
            schedule::build(&terms(9_000, 0, Split::Count(18))).unwrap_or_else(|e| panic!("{e:?}"));
        let codes: Vec<String> = breaches(&Policy::default(), &s, usd())
            .into_iter()
            .map(|b| b.code)
            .collect();
        assert_eq!(
            codes,
            vec![
                "too_many_installments",
                "term_too_long",
                "installment_too_small",
                "down_payment_too_small"
            ]
        );
    }

    #[test]
    fn the_policy_validates() {
        let mut p = Policy::default();
        assert!(p.validate().is_ok());
        p.max_installments = 0;
        p.min_down_payment_percent = Decimal::from(100);
        match p.validate() {
            Err(Error::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, vec!["max_installments", "min_down_payment_percent"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
