//! Payment plans: the policy a plan is judged against (admin setting
//! `payment_plan_policy`) and the preview a collector negotiates with, built on the
//! pure schedule rules of `schedule.rs`. A plan inside the policy may start at once;
//! outside it, it waits for a manager with its breaches listed.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::customer;
use crate::error::{Error, Problems, Result};
use crate::money::{self, Currency};
use crate::schedule::{self, BusinessDayRule, Frequency, Schedule, Split, Terms};
use crate::schema::{dispute_invoices, disputes, invoices};
use crate::setting::{self, Setting};

/// What a plan may be without a manager's approval, and how installments are tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Longest plan, first due date to last installment, in days.
    #[schema(example = 365)]
    pub max_term_days: u32,
    /// Smallest regular installment (in the plan's currency).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "50.00")]
    pub min_installment: Decimal,
    /// Most installments (down payment not counted).
    #[schema(example = 12)]
    pub max_installments: u32,
    /// Smallest down payment, percent of the total.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "10")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// `POST /v1/payment-plans/preview`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTerms {
    pub customer_id: Uuid,
    /// The customer's open invoices the plan covers (1–100).
    pub invoice_ids: Vec<Uuid>,
    /// Default: the invoices' collectible balance (open minus disputed).
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub total: Option<Decimal>,
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, example = "100.00")]
    pub down_payment: Option<Decimal>,
    /// Either a count of equal installments…
    #[schema(example = 3)]
    pub installment_count: Option<u32>,
    /// …or an amount per installment.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>)]
    pub installment_amount: Option<Decimal>,
    pub frequency: Frequency,
    pub first_due_date: NaiveDate,
    /// A one-off fee added to what is financed.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, example = "0.00")]
    pub fee: Option<Decimal>,
    /// Flat add-on interest, percent a year.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, example = "0")]
    pub annual_interest_percent: Option<Decimal>,
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
    let found: Vec<(Uuid, Uuid, String, Decimal)> = invoices::table
        .filter(invoices::id.eq_any(ids))
        .select((
            invoices::id,
            invoices::customer_id,
            invoices::currency,
            invoices::open_balance,
        ))
        .load(conn)
        .await?;
    let disputed: Vec<(Uuid, Decimal)> = dispute_invoices::table
        .inner_join(disputes::table)
        .filter(dispute_invoices::invoice_id.eq_any(ids))
        .filter(disputes::status.eq_any(["open", "investigating"]))
        .select((dispute_invoices::invoice_id, dispute_invoices::amount))
        .load(conn)
        .await?;
    let mut currency: Option<String> = None;
    let mut collectible = Decimal::ZERO;
    for (i, id) in ids.iter().enumerate() {
        let field = format!("invoice_ids[{i}]");
        let Some(inv) = found.iter().find(|f| f.0 == *id && f.1 == customer_id) else {
            return Err(Error::validation(
                &field,
                "unknown_invoice",
                "not an invoice of this customer",
            ));
        };
        if inv.3 <= Decimal::ZERO {
            return Err(Error::validation(
                &field,
                "invoice_not_open",
                "the invoice has no open balance",
            ));
        }
        if currency.as_ref().is_some_and(|c| *c != inv.2) {
            return Err(Error::validation(
                &field,
                "currency_mismatch",
                "all invoices of a plan share one currency",
            ));
        }
        currency = Some(inv.2.clone());
        let held: Decimal = disputed
            .iter()
            .filter(|(d, _)| d == id)
            .map(|(_, a)| *a)
            .sum();
        collectible += (inv.3 - held).max(Decimal::ZERO);
    }
    let currency = currency.ok_or_else(|| Error::Internal("no invoice".into()))?;
    Ok((currency, collectible))
}

/// Checks the terms and builds the schedule against the policy (nothing is saved).
pub async fn preview(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: &PlanTerms,
) -> Result<Preview> {
    ctx.actor.require(Permission::PlansRead)?;
    let customer = customer::load_named(conn, ctx, input.customer_id, false).await?;
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
    let policy_breaches = breaches(&policy, &schedule, c);
    Ok(Preview {
        currency,
        needs_approval: !policy_breaches.is_empty(),
        schedule,
        policy_breaches,
    })
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
