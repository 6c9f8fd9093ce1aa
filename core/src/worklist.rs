//! The worklist: which accounts a collector should work today, in order, and why.
//!
//! The score is transparent: a sum of points, one component per factor, each
//! `weight × measure` with a cap, so a collector (and a manager tuning the weights)
//! can see exactly what put an account where it is. Amounts are in the account's
//! currency (a customer has one), so a weight per 1,000 means 1,000 units of it.
//!
//! | factor | measure | default weight | cap |
//! |---|---|---|---|
//! | `overdue_amount` | collectible past-due amount (net of disputes) ÷ 1,000 | 2 per 1,000 | 40 |
//! | `days_past_due` | days the oldest past-due invoice is late | 0.25 per day | 30 |
//! | `broken_promises` | promises broken or partly kept in the last 30 days | 25 each | 50 |
//! | `promise_due_today` | an open promise falls due today | 20 | 20 |
//! | `missed_installments` | missed installments of running payment plans | 20 each | 40 |
//! | `days_since_contact` | days since the last call, e-mail, letter, sms, visit or meeting (never: 30) | 0.5 per day | 15 |
//! | `risk` | risk rating: low 0, medium 1, high 2, critical 3 | 5 per step | 15 |
//! | `account_size` | open balance ÷ 10,000 | 1 per 10,000 | 10 |
//! | `tasks_due` | open tasks due today or earlier | 10 each | 30 |
//!
//! Left out (with the reason, on request): accounts on hold, in bankruptcy, with
//! cease-communication, whose whole balance is disputed, whose collectible balance is
//! all promised and not yet due, whose past-due balance is all on a payment plan being
//! kept (`on_plan`, with the next installment), and accounts with nothing due at all.
//! A missed plan installment puts the account back on the list.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::deserialize::QueryableByName;
use diesel::sql_types::{
    Array, BigInt, Bool, Date, Integer, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, Context, Permission};
use crate::aging::Buckets;
use crate::customer::RiskRating;
use crate::error::{Error, FieldError, Result};
use crate::money;
use crate::setting::{self, Setting};
use crate::user::Role;

/// One factor's weight and cap (both in points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    /// Points per unit of the factor's measure.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "2")]
    pub weight: Decimal,
    /// The most points the factor can give.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "40")]
    pub cap: Decimal,
}

fn w(weight: i64, scale: u32, cap: i64) -> Weight {
    Weight {
        weight: Decimal::new(weight, scale),
        cap: Decimal::from(cap),
    }
}

/// The worklist's weights (admin setting `worklist_weights`); see the module table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub overdue_amount: Weight,
    pub days_past_due: Weight,
    pub broken_promises: Weight,
    pub promise_due_today: Weight,
    pub missed_installments: Weight,
    pub days_since_contact: Weight,
    pub risk: Weight,
    pub account_size: Weight,
    pub tasks_due: Weight,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            overdue_amount: w(2, 0, 40),
            days_past_due: w(25, 2, 30),
            broken_promises: w(25, 0, 50),
            promise_due_today: w(20, 0, 20),
            missed_installments: w(20, 0, 40),
            days_since_contact: w(5, 1, 15),
            risk: w(5, 0, 15),
            account_size: w(1, 0, 10),
            tasks_due: w(10, 0, 30),
        }
    }
}

impl Weights {
    fn all(&self) -> [(&'static str, &Weight); 9] {
        [
            ("overdue_amount", &self.overdue_amount),
            ("days_past_due", &self.days_past_due),
            ("broken_promises", &self.broken_promises),
            ("promise_due_today", &self.promise_due_today),
            ("missed_installments", &self.missed_installments),
            ("days_since_contact", &self.days_since_contact),
            ("risk", &self.risk),
            ("account_size", &self.account_size),
            ("tasks_due", &self.tasks_due),
        ]
    }
}

impl Setting for Weights {
    const KEY: &'static str = "worklist_weights";

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let limit = Decimal::from(1000);
        for (name, weight) in self.all() {
            for (part, value) in [("weight", weight.weight), ("cap", weight.cap)] {
                if value < Decimal::ZERO || value > limit {
                    errors.push(FieldError::new(
                        format!("{name}.{part}"),
                        "out_of_range",
                        "between 0 and 1000",
                    ));
                } else if value.normalize().scale() > 4 {
                    errors.push(FieldError::new(
                        format!("{name}.{part}"),
                        "too_many_decimals",
                        "at most 4 decimal places",
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }
}

/// Past-due invoices of an account in one aging bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BucketFigure {
    #[schema(example = "61-90")]
    pub bucket: String,
    pub invoices: i64,
    /// Collectible (open minus disputed) in the bucket.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12400.00")]
    pub collectible: Decimal,
}

/// A promise broken (or partly kept) recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenPromise {
    pub amount: Decimal,
    pub paid: Decimal,
    pub decided_on: NaiveDate,
}

/// An installment of a running payment plan, and what is still owed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanInstallment {
    pub due_date: NaiveDate,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "300.00")]
    pub owed: Decimal,
}

/// What the worklist knows about an account, gathered for one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub customer_id: Uuid,
    pub name: String,
    pub currency: String,
    pub collector_id: Option<Uuid>,
    /// Everything open, due or not.
    pub open_balance: Decimal,
    /// Disputed by active disputes.
    pub disputed: Decimal,
    /// Past-due, net of disputes, by bucket (oldest last).
    pub overdue: Vec<BucketFigure>,
    pub oldest_days_past_due: i64,
    /// Open promises not yet past their deadline, and the amount falling due today.
    pub promised_pending: Decimal,
    pub promised_today: Decimal,
    pub broken_promises: Vec<BrokenPromise>,
    /// Missed installments of running plans, oldest first.
    pub missed_installments: Vec<PlanInstallment>,
    /// Open balance of invoices on a running plan with nothing missed: not chased
    /// while the plan is kept (not in `overdue`).
    pub on_plan: Decimal,
    /// The next installment of a running plan that is not yet missed.
    pub next_installment: Option<PlanInstallment>,
    pub last_contact_on: Option<NaiveDate>,
    pub risk: Option<RiskRating>,
    pub tasks_due: i64,
    /// The active collection hold's reason, if any.
    pub hold: Option<String>,
    pub bankrupt: bool,
    pub cease_communication: bool,
}

impl Account {
    /// A customer's account with nothing gathered: no balance, no figures, no flags.
    pub fn blank(customer_id: Uuid, name: String, currency: String) -> Self {
        Self {
            customer_id,
            name,
            currency,
            collector_id: None,
            open_balance: Decimal::ZERO,
            disputed: Decimal::ZERO,
            overdue: Vec::new(),
            oldest_days_past_due: 0,
            promised_pending: Decimal::ZERO,
            promised_today: Decimal::ZERO,
            broken_promises: Vec::new(),
            missed_installments: Vec::new(),
            on_plan: Decimal::ZERO,
            next_installment: None,
            last_contact_on: None,
            risk: None,
            tasks_due: 0,
            hold: None,
            bankrupt: false,
            cease_communication: false,
        }
    }

    pub fn collectible_overdue(&self) -> Decimal {
        self.overdue.iter().map(|b| b.collectible).sum()
    }

    fn past_due_invoices(&self) -> i64 {
        self.overdue.iter().map(|b| b.invoices).sum()
    }

    /// What ranking needs of the account.
    pub fn figures(&self) -> Figures {
        Figures {
            customer_id: self.customer_id,
            currency: self.currency.clone(),
            open_balance: self.open_balance,
            disputed: self.disputed,
            collectible_overdue: self.collectible_overdue(),
            overdue_buckets: self
                .overdue
                .iter()
                .filter(|b| b.invoices > 0)
                .map(|b| b.bucket.clone())
                .collect(),
            oldest_days_past_due: self.oldest_days_past_due,
            promised_pending: self.promised_pending,
            promised_today: self.promised_today,
            broken_promises: i64::try_from(self.broken_promises.len()).unwrap_or(i64::MAX),
            missed_installments: i64::try_from(self.missed_installments.len()).unwrap_or(i64::MAX),
            on_plan: self.on_plan,
            last_contact_on: self.last_contact_on,
            risk: self.risk,
            tasks_due: self.tasks_due,
            held: self.hold.is_some(),
            bankrupt: self.bankrupt,
            cease_communication: self.cease_communication,
        }
    }
}

/// The figures of an account that decide whether it is listed, where, and whether a
/// filter keeps it: an [`Account`] without the words and lists that only a shown row
/// needs. A read ranks thousands of these (kept as columns of their standings) and
/// reads whole accounts for one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub customer_id: Uuid,
    pub currency: String,
    pub open_balance: Decimal,
    pub disputed: Decimal,
    /// [`Account::collectible_overdue`].
    pub collectible_overdue: Decimal,
    /// The buckets holding past-due invoices.
    pub overdue_buckets: Vec<String>,
    pub oldest_days_past_due: i64,
    pub promised_pending: Decimal,
    pub promised_today: Decimal,
    pub broken_promises: i64,
    pub missed_installments: i64,
    pub on_plan: Decimal,
    pub last_contact_on: Option<NaiveDate>,
    pub risk: Option<RiskRating>,
    pub tasks_due: i64,
    pub held: bool,
    pub bankrupt: bool,
    pub cease_communication: bool,
}

/// One factor's share of a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Component {
    #[schema(example = "overdue_amount")]
    pub factor: String,
    /// The measure the weight was applied to.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12.4")]
    pub measure: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "24.80")]
    pub points: Decimal,
}

text_enum! {
    /// What to do next on the account.
    pub enum NextAction {
        /// A promise falls due today: check the payment arrived, call if not.
        ConfirmPromise = "confirm_promise",
        /// A promise was broken: call about it.
        CallAboutBrokenPromise = "call_about_broken_promise",
        /// A plan installment was missed: call about it.
        CallAboutMissedInstallment = "call_about_missed_installment",
        /// A task is due: do it.
        DoDueTask = "do_due_task",
        /// Long past due and no recent contact: call.
        Call = "call",
        /// Past due, contacted recently: send a reminder.
        SendReminder = "send_reminder",
    }
}

text_enum! {
    /// Why an account is left off today's list.
    pub enum Exclusion {
        OnHold = "on_hold",
        Bankrupt = "bankrupt",
        CeaseCommunication = "cease_communication",
        AllDisputed = "all_disputed",
        PromisedNotDue = "promised_not_due",
        /// Nothing due outside a payment plan that is being kept.
        OnPlan = "on_plan",
        NothingDue = "nothing_due",
    }
}

/// An account's place on the list: its score, the components that made it, the
/// reasons in words and the suggested next action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    pub score: Decimal,
    pub components: Vec<Component>,
    pub reasons: Vec<String>,
    pub next_action: NextAction,
}

fn points(weight: &Weight, measure: Decimal) -> Decimal {
    (weight.weight * measure)
        .min(weight.cap)
        .max(Decimal::ZERO)
        .round_dp(2)
}

fn shown(amount: Decimal, currency: &str) -> String {
    format!("{} {currency}", money::in_minor_units(amount, currency))
}

fn when(day: NaiveDate, today: NaiveDate) -> String {
    match (today - day).num_days() {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        n => format!("{n} days ago"),
    }
}

/// "on plan: next installment … due …", for an account with a plan being kept.
fn on_plan_note(a: &Account) -> Option<String> {
    if a.on_plan <= Decimal::ZERO {
        return None;
    }
    Some(match a.next_installment {
        Some(n) => format!(
            "on plan: next installment {} due {}",
            shown(n.owed, &a.currency),
            n.due_date
        ),
        None => format!("{} on plan", shown(a.on_plan, &a.currency)),
    })
}

/// Why the account is not on today's list, if it is not.
pub fn exclusion(a: &Figures) -> Option<Exclusion> {
    if a.held {
        return Some(Exclusion::OnHold);
    }
    if a.bankrupt {
        return Some(Exclusion::Bankrupt);
    }
    if a.cease_communication {
        return Some(Exclusion::CeaseCommunication);
    }
    let collectible = a.open_balance - a.disputed;
    if a.open_balance > Decimal::ZERO && collectible <= Decimal::ZERO {
        return Some(Exclusion::AllDisputed);
    }
    let urgent = a.tasks_due > 0
        || a.promised_today > Decimal::ZERO
        || a.broken_promises > 0
        || a.missed_installments > 0;
    // What is chased: the collectible balance less what a plan being kept covers.
    let chased = collectible - a.on_plan;
    if chased > Decimal::ZERO && a.promised_pending >= chased && !urgent {
        return Some(Exclusion::PromisedNotDue);
    }
    if a.on_plan > Decimal::ZERO && a.collectible_overdue <= Decimal::ZERO && !urgent {
        return Some(Exclusion::OnPlan);
    }
    if a.collectible_overdue <= Decimal::ZERO && !urgent {
        return Some(Exclusion::NothingDue);
    }
    None
}

/// The measures the weights apply to, by factor.
fn measures<'w>(
    a: &Figures,
    weights: &'w Weights,
    today: NaiveDate,
) -> [(&'static str, &'w Weight, Decimal); 9] {
    let thousand = Decimal::from(1000);
    let risk_steps = match a.risk {
        None | Some(RiskRating::Low) => 0,
        Some(RiskRating::Medium) => 1,
        Some(RiskRating::High) => 2,
        Some(RiskRating::Critical) => 3,
    };
    [
        (
            "overdue_amount",
            &weights.overdue_amount,
            a.collectible_overdue / thousand,
        ),
        (
            "days_past_due",
            &weights.days_past_due,
            Decimal::from(a.oldest_days_past_due.max(0)),
        ),
        (
            "broken_promises",
            &weights.broken_promises,
            Decimal::from(a.broken_promises),
        ),
        (
            "promise_due_today",
            &weights.promise_due_today,
            if a.promised_today > Decimal::ZERO {
                Decimal::ONE
            } else {
                Decimal::ZERO
            },
        ),
        (
            "missed_installments",
            &weights.missed_installments,
            Decimal::from(a.missed_installments),
        ),
        (
            "days_since_contact",
            &weights.days_since_contact,
            Decimal::from(contact_days(a.last_contact_on, today)),
        ),
        ("risk", &weights.risk, Decimal::from(risk_steps)),
        (
            "account_size",
            &weights.account_size,
            a.open_balance / Decimal::from(10_000),
        ),
        ("tasks_due", &weights.tasks_due, Decimal::from(a.tasks_due)),
    ]
}

fn contact_days(last_contact_on: Option<NaiveDate>, today: NaiveDate) -> i64 {
    last_contact_on.map_or(30, |d| (today - d).num_days().clamp(0, 30))
}

/// The score alone: what ranking needs, without the words.
pub fn points_of(a: &Figures, weights: &Weights, today: NaiveDate) -> Decimal {
    measures(a, weights, today)
        .iter()
        .map(|(_, weight, measure)| points(weight, *measure))
        .sum()
}

/// Scores an account with the weights, as of `today`: the score, its components, the
/// reasons in words and the next action.
pub fn score(a: &Account, weights: &Weights, today: NaiveDate) -> Scored {
    let components: Vec<Component> = measures(&a.figures(), weights, today)
        .iter()
        .map(|(factor, weight, measure)| Component {
            factor: (*factor).to_owned(),
            measure: measure.round_dp(4).normalize(),
            points: points(weight, *measure),
        })
        .filter(|c| !c.points.is_zero())
        .collect();
    let score = components.iter().map(|c| c.points).sum();
    Scored {
        score,
        components,
        reasons: reasons(a, today),
        next_action: next_action(a, today),
    }
}

/// Why the account is on the list, in words, most pressing first.
pub fn reasons(a: &Account, today: NaiveDate) -> Vec<String> {
    let overdue = a.collectible_overdue();
    let contact_days = contact_days(a.last_contact_on, today);
    let mut reasons = Vec::new();
    if a.promised_today > Decimal::ZERO {
        reasons.push(format!(
            "promise of {} due today",
            shown(a.promised_today, &a.currency)
        ));
    }
    for b in &a.broken_promises {
        let what = if b.paid > Decimal::ZERO {
            format!(
                "promise of {} partly kept ({} paid) {}",
                shown(b.amount, &a.currency),
                shown(b.paid, &a.currency),
                when(b.decided_on, today)
            )
        } else {
            format!(
                "promise of {} broken {}",
                shown(b.amount, &a.currency),
                when(b.decided_on, today)
            )
        };
        reasons.push(what);
    }
    match a.missed_installments.as_slice() {
        [] => {}
        [one] => reasons.push(format!(
            "plan installment of {} missed (due {})",
            shown(one.owed, &a.currency),
            one.due_date
        )),
        [oldest, ..] => reasons.push(format!(
            "{} plan installments missed, {} owed (oldest due {})",
            a.missed_installments.len(),
            shown(
                a.missed_installments.iter().map(|m| m.owed).sum(),
                &a.currency
            ),
            oldest.due_date
        )),
    }
    if let Some(oldest) = a.overdue.iter().rev().find(|b| b.invoices > 0) {
        let n = a.past_due_invoices();
        let plural = if n == 1 { "invoice" } else { "invoices" };
        if oldest.invoices == n {
            reasons.push(format!(
                "{n} {plural} {} days past due, {} collectible",
                oldest.bucket,
                shown(overdue, &a.currency)
            ));
        } else {
            reasons.push(format!(
                "{n} {plural} past due ({} in {} days), {} collectible",
                oldest.invoices,
                oldest.bucket,
                shown(overdue, &a.currency)
            ));
        }
    }
    if a.disputed > Decimal::ZERO {
        reasons.push(format!(
            "{} in dispute, not chased",
            shown(a.disputed, &a.currency)
        ));
    }
    if a.tasks_due > 0 {
        reasons.push(format!("{} task(s) due", a.tasks_due));
    }
    if let Some(next) = on_plan_note(a) {
        reasons.push(next);
    }
    match a.last_contact_on {
        None => reasons.push("never contacted".to_owned()),
        Some(d) if contact_days >= 14 => reasons.push(format!("last contact {}", when(d, today))),
        Some(_) => {}
    }
    reasons
}

/// What to do next on the account.
pub fn next_action(a: &Account, today: NaiveDate) -> NextAction {
    if a.promised_today > Decimal::ZERO {
        NextAction::ConfirmPromise
    } else if !a.broken_promises.is_empty() {
        NextAction::CallAboutBrokenPromise
    } else if !a.missed_installments.is_empty() {
        NextAction::CallAboutMissedInstallment
    } else if a.tasks_due > 0 {
        NextAction::DoDueTask
    } else if contact_days(a.last_contact_on, today) >= 7 {
        NextAction::Call
    } else {
        NextAction::SendReminder
    }
}

/// Accounts with their scores, highest first, and the accounts left out with why.
pub type Ranked = (Vec<(Figures, Decimal)>, Vec<(Figures, Exclusion)>);

/// The list: accounts by score, highest first (ties by customer id), and the excluded.
/// Only the score is computed; `score` gives the components and words of the rows
/// shown (a collector has thousands of accounts and sees a page of them).
pub fn rank(accounts: Vec<Figures>, weights: &Weights, today: NaiveDate) -> Ranked {
    let mut listed = Vec::new();
    let mut excluded = Vec::new();
    for a in accounts {
        match exclusion(&a) {
            Some(why) => excluded.push((a, why)),
            None => {
                let s = points_of(&a, weights, today);
                listed.push((a, s));
            }
        }
    }
    listed.sort_unstable_by(|(x, s), (y, t)| t.cmp(s).then(x.customer_id.cmp(&y.customer_id)));
    excluded.sort_unstable_by_key(|(a, _)| a.customer_id);
    (listed, excluded)
}

// ---- the API's view ----

text_enum! {
    /// A past-due bucket of the default aging buckets (the worklist's `bucket` filter).
    pub enum PastDueBucket {
        Days1To30 = "1-30",
        Days31To60 = "31-60",
        Days61To90 = "61-90",
        Days91To120 = "91-120",
        Over120 = "120+",
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// Whose list (managers and admins; collectors get their own).
    pub collector_id: Option<Uuid>,
    /// Only accounts with past-due amounts in this bucket (`1-30`, `31-60`, `61-90`, `91-120`, `120+`).
    #[param(value_type = Option<PastDueBucket>, inline)]
    pub bucket: Option<String>,
    /// Only accounts with at least this collectible past-due amount.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[param(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub min_amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Only accounts with (or without) a task due.
    pub has_task_due: Option<bool>,
    /// Also list the accounts left out, with why.
    pub include_excluded: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorklistRow {
    pub rank: i64,
    pub customer_id: Uuid,
    #[schema(example = "Acme Industrial")]
    pub customer_name: String,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "87.50")]
    pub score: Decimal,
    /// The factors that made the score.
    pub components: Vec<Component>,
    pub next_action: NextAction,
    /// The reasons in words, most pressing first.
    #[schema(example = json!(["promise of 2000.00 USD broken yesterday", "3 invoices 61-90 days past due, 12400.00 USD collectible"]))]
    pub reasons: Vec<String>,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "12400.00")]
    pub collectible_overdue: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "15000.00")]
    pub open_balance: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub disputed: Decimal,
    pub overdue_by_bucket: Vec<BucketFigure>,
    pub oldest_days_past_due: i64,
    pub last_contact_on: Option<NaiveDate>,
    pub tasks_due: i64,
    /// Open balance on a payment plan being kept (not chased, not in the overdue figures).
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub on_plan: Decimal,
    /// The next installment of a running plan.
    pub next_installment: Option<PlanInstallment>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExcludedRow {
    pub customer_id: Uuid,
    pub customer_name: String,
    pub reason: Exclusion,
    /// The reason in words, when there is more to say (`on plan: next installment …`).
    #[schema(example = "on plan: next installment 300.00 USD due 2026-05-01")]
    pub detail: Option<String>,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "500.00")]
    pub open_balance: Decimal,
    /// The next installment of a running plan.
    pub next_installment: Option<PlanInstallment>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Worklist {
    /// The day the list is for (UTC).
    pub as_of: NaiveDate,
    pub collector_id: Option<Uuid>,
    pub data: Vec<WorklistRow>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// Accounts left out and why (with `include_excluded=true`, first page only).
    pub excluded: Option<Vec<ExcludedRow>>,
}

/// The customer's own fields, read live by every worklist read (a standing never
/// keeps them): [`LIVE_COLUMNS`] of `customers c`, with `$2` the instant.
#[derive(diesel::QueryableByName)]
struct LiveRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    collector: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    risk: Option<RiskRating>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    bankrupt: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    cease: bool,
    #[diesel(sql_type = Nullable<Text>)]
    hold: Option<String>,
}

/// Whether the customer's collection hold is in force at `$2`.
macro_rules! hold_in_force {
    () => {
        "c.collection_hold_reason IS NOT NULL
          AND (c.collection_hold_expires_at IS NULL OR c.collection_hold_expires_at > $2)"
    };
}

const LIVE_COLUMNS: &str = concat!(
    "c.id, c.name, c.currency::text AS currency,
    c.assigned_collector_id AS collector, c.risk_rating AS risk, c.bankrupt,
    c.cease_communication AS cease,
    CASE WHEN ",
    hold_in_force!(),
    " THEN c.collection_hold_reason END AS hold"
);

impl LiveRow {
    /// The account with the customer's own fields and nothing gathered yet.
    fn account(self) -> Account {
        Account {
            collector_id: self.collector,
            risk: self.risk,
            hold: self.hold,
            bankrupt: self.bankrupt,
            cease_communication: self.cease,
            ..Account::blank(self.id, self.name, self.currency)
        }
    }
}

#[derive(diesel::QueryableByName)]
struct CustomerRow {
    #[diesel(embed)]
    live: LiveRow,
    #[diesel(sql_type = Nullable<Date>)]
    last_contact: Option<NaiveDate>,
    #[diesel(sql_type = BigInt)]
    tasks_due: i64,
    #[diesel(sql_type = Nullable<Date>)]
    next_task_on: Option<NaiveDate>,
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(diesel::QueryableByName)]
struct InvoiceAggregate {
    #[diesel(sql_type = SqlUuid)]
    customer_id: Uuid,
    /// 0: not yet due; 1..: the aging bucket.
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    planned: bool,
    #[diesel(sql_type = BigInt)]
    invoices: i64,
    #[diesel(sql_type = Numeric)]
    open: Decimal,
    #[diesel(sql_type = Numeric)]
    disputed: Decimal,
    #[diesel(sql_type = Integer)]
    oldest_days: i32,
}

#[derive(diesel::QueryableByName)]
struct PromiseRow {
    #[diesel(sql_type = SqlUuid)]
    customer_id: Uuid,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
    #[diesel(sql_type = Numeric)]
    paid: Decimal,
    #[diesel(sql_type = Date)]
    promised_on: NaiveDate,
    #[diesel(sql_type = Integer)]
    grace_days: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    decided_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct InstallmentRow {
    #[diesel(sql_type = SqlUuid)]
    customer_id: Uuid,
    #[diesel(sql_type = Date)]
    due_date: NaiveDate,
    #[diesel(sql_type = Numeric)]
    owed: Decimal,
    #[diesel(sql_type = Text)]
    status: String,
}

/// Whose accounts: a collector's own, or (managers, admins) any collector's or all.
fn scope(ctx: &Context, asked: Option<Uuid>) -> Result<Option<Uuid>> {
    match &ctx.actor {
        Actor::User {
            id,
            role: Role::Collector | Role::FieldCollector,
        } => match asked {
            Some(other) if other != *id => {
                Err(Error::forbidden("collectors see their own worklist"))
            }
            _ => Ok(Some(*id)),
        },
        _ => Ok(asked),
    }
}

/// Midnight (UTC) starting `day`: when a figure that depends on the day changes.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The day the oldest invoice of an aging group (`bucket` as `width_bucket` numbers
/// it over the lower `bounds`, `oldest_days` past due today) moves to the next bucket;
/// `None` from the last bucket.
pub fn next_bucket_day(
    today: NaiveDate,
    bounds: &[i32],
    bucket: i32,
    oldest_days: i32,
) -> Option<NaiveDate> {
    let next = *bounds.get(usize::try_from(bucket).ok()?)?;
    let days = u64::try_from(i64::from(next) - i64::from(oldest_days)).ok()?;
    today.checked_add_days(Days::new(days.max(1)))
}

/// The days on which an open promise's figures change: the day it falls due
/// (`promised_today` starts), the day after (it stops) and the day after its deadline
/// (`promised_pending` stops).
pub fn promise_change_days(
    promised_on: NaiveDate,
    deadline: NaiveDate,
    today: NaiveDate,
) -> impl Iterator<Item = NaiveDate> {
    [
        promised_on,
        promised_on.succ_opt().unwrap_or(promised_on),
        deadline.succ_opt().unwrap_or(deadline),
    ]
    .into_iter()
    .filter(move |d| *d > today)
}

fn sooner(at: &mut Option<DateTime<Utc>>, when: DateTime<Utc>) {
    if at.is_none_or(|a| when < a) {
        *at = Some(when);
    }
}

/// Gathers the accounts of a set of customers as of `now`, each with the instant its
/// figures stop being exact by the passing of time alone (`None`: never): the one
/// computation behind the worklist, its standings and the nightly refresh.
pub async fn accounts_of(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<(Account, Option<DateTime<Utc>>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let today = now.date_naive();
    let buckets = Buckets::default();
    let labels = buckets.labels();
    // Lower bounds in days past due of each past-due bucket: 1, 31, 61, 91, 121.
    let mut bounds: Vec<i32> = vec![1];
    for b in buckets.bounds() {
        bounds.push(i32::try_from(*b).unwrap_or(i32::MAX).saturating_add(1));
    }
    let of = |alias: &str| format!("{alias}.customer_id = ANY($1)");
    let (of_dispute, of_promise, of_plan) = (of("d"), of("p"), of("pp"));
    let of_customers = "SELECT c.id FROM customers c WHERE c.id = ANY($1)";
    let ids = ids.to_vec();
    let customers: Vec<CustomerRow> = diesel::sql_query(format!(
        "SELECT {LIVE_COLUMNS},
                (SELECT (a.occurred_at AT TIME ZONE 'UTC')::date FROM activities a
                  WHERE a.customer_id = c.id AND a.kind <> 'note' AND a.actor_kind <> 'system'
                  ORDER BY a.occurred_at DESC LIMIT 1) AS last_contact,
                (SELECT count(*) FROM tasks t WHERE t.customer_id = c.id AND t.status = 'open' AND t.due_on <= $3) AS tasks_due,
                (SELECT min(t.due_on) FROM tasks t WHERE t.customer_id = c.id AND t.status = 'open' AND t.due_on > $3) AS next_task_on
           FROM customers c
          WHERE c.id = ANY($1)"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Timestamptz, _>(now)
    .bind::<Date, _>(today)
    .load(conn)
    .await?;
    let aggregates: Vec<InvoiceAggregate> = diesel::sql_query(format!(
        "WITH held AS (
            SELECT di.invoice_id, sum(di.amount) AS amount
              FROM dispute_invoices di JOIN disputes d ON d.id = di.dispute_id
             WHERE d.status IN ('open', 'investigating') AND {of_dispute}
             GROUP BY di.invoice_id),
         -- Invoices on a running plan with no installment missed: not chased.
         planned AS (
            SELECT DISTINCT ppi.invoice_id
              FROM payment_plan_invoices ppi JOIN payment_plans pp ON pp.id = ppi.plan_id
             WHERE pp.status IN ('approved', 'active') AND {of_plan}
               AND NOT EXISTS (SELECT 1 FROM plan_installments x
                                WHERE x.plan_id = pp.id AND x.status = 'missed')),
         open AS (
            SELECT i.customer_id, i.open_balance, ($2::date - i.due_date) AS days,
                   coalesce(h.amount, 0) AS disputed, pl.invoice_id IS NOT NULL AS planned
              FROM ({of_customers}) c
              -- Per customer through the (customer_id, due_date) index: a join the
              -- planner may turn into a scan of every invoice.
              CROSS JOIN LATERAL (SELECT i.id, i.customer_id, i.open_balance, i.due_date
                                    FROM invoices i
                                   WHERE i.customer_id = c.id AND i.open_balance > 0) i
              LEFT JOIN held h ON h.invoice_id = i.id
              LEFT JOIN planned pl ON pl.invoice_id = i.id)
         SELECT customer_id, width_bucket(days, $3::int[]) AS bucket, planned, count(*) AS invoices,
                sum(open_balance) AS open, sum(least(disputed, open_balance)) AS disputed,
                max(days) AS oldest_days
           FROM open GROUP BY 1, 2, 3"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Date, _>(today)
    .bind::<Array<Integer>, _>(&bounds)
    .load(conn)
    .await?;
    let promises: Vec<PromiseRow> = diesel::sql_query(format!(
        "SELECT p.customer_id, p.status, p.amount, p.paid, p.promised_on, p.grace_days, p.decided_at
           FROM promises p
          WHERE {of_promise}
            AND (p.status = 'open' OR (p.status IN ('broken', 'partially_kept') AND p.decided_at >= $2))"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Timestamptz, _>(now - chrono::Duration::days(30))
    .load(conn)
    .await?;

    let installments: Vec<InstallmentRow> = diesel::sql_query(format!(
        "SELECT pp.customer_id, x.due_date, x.amount - x.paid AS owed, x.status
           FROM payment_plans pp JOIN plan_installments x ON x.plan_id = pp.id
          WHERE pp.status IN ('approved', 'active') AND {of_plan}
            AND x.status NOT IN ('paid', 'late')
          ORDER BY pp.customer_id, x.due_date"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;

    let mut by_id: HashMap<Uuid, Account> = HashMap::with_capacity(customers.len());
    let mut expiry: HashMap<Uuid, Option<DateTime<Utc>>> = HashMap::with_capacity(customers.len());
    for c in customers {
        expiry.insert(c.live.id, c.next_task_on.map(midnight));
        by_id.insert(
            c.live.id,
            Account {
                last_contact_on: c.last_contact,
                tasks_due: c.tasks_due,
                ..c.live.account()
            },
        );
    }
    for g in aggregates {
        let Some(a) = by_id.get_mut(&g.customer_id) else {
            continue;
        };
        a.open_balance += g.open;
        a.disputed += g.disputed;
        if !g.planned
            && let Some(day) = next_bucket_day(today, &bounds, g.bucket, g.oldest_days)
            && let Some(at) = expiry.get_mut(&g.customer_id)
        {
            sooner(at, midnight(day));
        }
        if g.planned {
            a.on_plan += g.open - g.disputed;
        } else if g.bucket >= 1 {
            let label = usize::try_from(g.bucket)
                .ok()
                .and_then(|i| labels.get(i))
                .cloned()
                .unwrap_or_default();
            a.overdue.push(BucketFigure {
                bucket: label,
                invoices: g.invoices,
                collectible: g.open - g.disputed,
            });
            a.oldest_days_past_due = a.oldest_days_past_due.max(i64::from(g.oldest_days));
        }
    }
    for p in promises {
        let Some(a) = by_id.get_mut(&p.customer_id) else {
            continue;
        };
        if p.status == "open" {
            let deadline = p
                .promised_on
                .checked_add_days(Days::new(u64::try_from(p.grace_days).unwrap_or(0)))
                .unwrap_or(p.promised_on);
            if deadline >= today {
                a.promised_pending += (p.amount - p.paid).max(Decimal::ZERO);
            }
            if p.promised_on == today {
                a.promised_today += (p.amount - p.paid).max(Decimal::ZERO);
            }
            if let Some(at) = expiry.get_mut(&p.customer_id) {
                for day in promise_change_days(p.promised_on, deadline, today) {
                    sooner(at, midnight(day));
                }
            }
        } else if let Some(at) = p.decided_at {
            // Counted while decided in the last 30 days.
            if let Some(e) = expiry.get_mut(&p.customer_id) {
                sooner(e, at + chrono::Duration::days(30));
            }
            a.broken_promises.push(BrokenPromise {
                amount: p.amount,
                paid: p.paid,
                decided_on: at.date_naive(),
            });
        }
    }
    for x in installments {
        let Some(a) = by_id.get_mut(&x.customer_id) else {
            continue;
        };
        let unpaid = PlanInstallment {
            due_date: x.due_date,
            owed: x.owed,
        };
        if x.status == "missed" {
            a.missed_installments.push(unpaid);
        } else if a.next_installment.is_none_or(|n| n.due_date > x.due_date) {
            a.next_installment = Some(unpaid);
        }
    }
    let mut out: Vec<(Account, Option<DateTime<Utc>>)> = by_id
        .into_values()
        .map(|a| {
            let e = expiry.get(&a.customer_id).copied().flatten();
            (a, e)
        })
        .collect();
    for (a, _) in &mut out {
        // Oldest bucket last, as the aging report orders them.
        a.overdue
            .sort_by_key(|b| labels.iter().position(|l| *l == b.bucket));
        a.broken_promises
            .sort_by_key(|b| std::cmp::Reverse(b.decided_on));
    }
    Ok(out)
}

// ---- standings: the accounts kept per customer (table `account_standings`) ----

/// What an account's standing keeps: the figures of `Account` that come from its
/// invoices, promises, plans, activities and tasks. The customer's own fields are read
/// live; the oldest days past due is kept as the due date, aged at read time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
// Empty figures are left out of the stored text: most accounts have no disputes,
// promises or plans, and every read parses 5,000 of these.
pub struct Standing {
    open_balance: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    disputed: Decimal,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    overdue: Vec<BucketFigure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oldest_due_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    promised_pending: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    promised_today: Decimal,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    broken_promises: Vec<BrokenPromise>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    missed_installments: Vec<PlanInstallment>,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    on_plan: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_installment: Option<PlanInstallment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_contact_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "is_zero")]
    tasks_due: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The oldest days past due on `today` of a standing kept with its oldest due date.
fn days_past_due(oldest_due_on: Option<NaiveDate>, today: NaiveDate) -> i64 {
    oldest_due_on.map_or(0, |d| (today - d).num_days().max(0))
}

impl Standing {
    /// The standing of an account gathered for `today`.
    pub fn of(a: &Account, today: NaiveDate) -> Self {
        Self {
            open_balance: a.open_balance,
            disputed: a.disputed,
            overdue: a.overdue.clone(),
            oldest_due_on: (a.oldest_days_past_due > 0)
                .then(|| {
                    u64::try_from(a.oldest_days_past_due)
                        .ok()
                        .and_then(|d| today.checked_sub_days(Days::new(d)))
                })
                .flatten(),
            promised_pending: a.promised_pending,
            promised_today: a.promised_today,
            broken_promises: a.broken_promises.clone(),
            missed_installments: a.missed_installments.clone(),
            on_plan: a.on_plan,
            next_installment: a.next_installment,
            last_contact_on: a.last_contact_on,
            tasks_due: a.tasks_due,
        }
    }

    /// The account on `today` (a day before the standing expires), with the
    /// customer's own fields from `live`.
    pub fn account(self, live: Account, today: NaiveDate) -> Account {
        Account {
            open_balance: self.open_balance,
            disputed: self.disputed,
            overdue: self.overdue,
            oldest_days_past_due: days_past_due(self.oldest_due_on, today),
            promised_pending: self.promised_pending,
            promised_today: self.promised_today,
            broken_promises: self.broken_promises,
            missed_installments: self.missed_installments,
            on_plan: self.on_plan,
            next_installment: self.next_installment,
            last_contact_on: self.last_contact_on,
            tasks_due: self.tasks_due,
            ..live
        }
    }
}

#[derive(diesel::QueryableByName)]
struct StandingRow {
    #[diesel(embed)]
    live: LiveRow,
    #[diesel(sql_type = Nullable<Text>)]
    standing: Option<String>,
}

/// A customer's live fields that ranking needs, and its standing's figures when the
/// standing is exact for now (`fresh`).
#[derive(diesel::QueryableByName)]
struct FiguresRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    risk: Option<RiskRating>,
    #[diesel(sql_type = Bool)]
    held: bool,
    #[diesel(sql_type = Bool)]
    bankrupt: bool,
    #[diesel(sql_type = Bool)]
    cease: bool,
    #[diesel(sql_type = Nullable<Bool>)]
    fresh: Option<bool>,
    #[diesel(sql_type = Nullable<Numeric>)]
    open_balance: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    disputed: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    collectible_overdue: Option<Decimal>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    overdue_buckets: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Date>)]
    oldest_due_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Numeric>)]
    promised_pending: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    promised_today: Option<Decimal>,
    #[diesel(sql_type = Nullable<Integer>)]
    broken_promises: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    missed_installments: Option<i32>,
    #[diesel(sql_type = Nullable<Numeric>)]
    on_plan: Option<Decimal>,
    #[diesel(sql_type = Nullable<Date>)]
    last_contact_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Integer>)]
    tasks_due: Option<i32>,
}

impl FiguresRow {
    /// The figures on `today`, if the standing is fresh and has them (one computed
    /// before they were kept has not).
    fn figures(self, today: NaiveDate) -> Option<Figures> {
        if self.fresh != Some(true) {
            return None;
        }
        Some(Figures {
            customer_id: self.id,
            currency: self.currency,
            open_balance: self.open_balance?,
            disputed: self.disputed?,
            collectible_overdue: self.collectible_overdue?,
            overdue_buckets: self.overdue_buckets?,
            oldest_days_past_due: days_past_due(self.oldest_due_on, today),
            promised_pending: self.promised_pending?,
            promised_today: self.promised_today?,
            broken_promises: i64::from(self.broken_promises?),
            missed_installments: i64::from(self.missed_installments?),
            on_plan: self.on_plan?,
            last_contact_on: self.last_contact_on,
            risk: self.risk,
            tasks_due: i64::from(self.tasks_due?),
            held: self.held,
            bankrupt: self.bankrupt,
            cease_communication: self.cease,
        })
    }
}

#[derive(diesel::QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = SqlUuid)]
    customer_id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// The figures of a collector's accounts (or all) as of `now`, from their standings;
/// those missing, dirty or expired are gathered afresh (`refresh`) and saved, and
/// their whole accounts are returned too.
async fn standing_figures(
    conn: &mut AsyncPgConnection,
    collector: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(Vec<Figures>, HashMap<Uuid, Account>)> {
    let today = now.date_naive();
    let (of_customer, of_standing) = match collector {
        Some(_) => (
            "c.assigned_collector_id = $1",
            // The collector's standings alone, by their copy of the collector (kept by
            // a trigger on customers; one that disagrees is recomputed below).
            "x.collector_id = $1",
        ),
        None => ("$1::uuid IS NULL", "TRUE"),
    };
    // Prepared: its planning cost as much as a tenth of a read.
    let rows: Vec<FiguresRow> = crate::db::prepared(format!(
        "SELECT c.id, c.currency::text AS currency, c.risk_rating AS risk,
                ({held}) AS held, c.bankrupt, c.cease_communication AS cease,
                NOT s.dirty AND s.computed_on <= $3
                    AND (s.expires_at IS NULL OR s.expires_at > $2) AS fresh,
                s.open_balance, s.disputed, s.collectible_overdue, s.overdue_buckets,
                s.oldest_due_on, s.promised_pending, s.promised_today, s.broken_promises,
                s.missed_installments, s.on_plan, s.last_contact_on, s.tasks_due
           FROM customers c
           LEFT JOIN (SELECT x.* FROM account_standings x WHERE {of_standing}) s
                  ON s.customer_id = c.id
          WHERE {of_customer}",
        held = hold_in_force!()
    ))
    .bind::<Nullable<SqlUuid>, _>(collector)
    .bind::<Timestamptz, _>(now)
    .bind::<Date, _>(today)
    .load(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut stale = Vec::new();
    for r in rows {
        let id = r.id;
        match r.figures(today) {
            Some(f) => out.push(f),
            None => stale.push(id),
        }
    }
    let fresh = refreshed(conn, stale, now).await?;
    out.extend(fresh.iter().map(Account::figures));
    Ok((out, fresh.into_iter().map(|a| (a.customer_id, a)).collect()))
}

/// The accounts of `ids`, recomputed and saved.
async fn refreshed(
    conn: &mut AsyncPgConnection,
    mut ids: Vec<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<Account>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // `refresh` takes them in id order, the order every writer locks standings in.
    ids.sort_unstable();
    match refresh(conn, &ids, now).await {
        Ok(fresh) => Ok(fresh),
        Err(e) => {
            // Saving is a cache fill: serve the figures even if it failed (a
            // deadlock with a concurrent refresh, say).
            tracing::warn!("worklist: standings not saved: {e}");
            Ok(accounts_of(conn, &ids, now)
                .await?
                .into_iter()
                .map(|(a, _)| a)
                .collect())
        }
    }
}

/// The whole accounts of `ids` (the rows a page shows) as of `now`: those in `known`
/// as they are, the others from their standings, as ranked a moment before (a
/// standing a write has since dirtied is still the one its rank came from; the next
/// read has the change).
async fn page_accounts(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    mut known: HashMap<Uuid, Account>,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Account>> {
    let wanted: Vec<Uuid> = ids
        .iter()
        .filter(|id| !known.contains_key(id))
        .copied()
        .collect();
    if wanted.is_empty() {
        return Ok(known);
    }
    let today = now.date_naive();
    let rows: Vec<StandingRow> = crate::db::prepared(format!(
        "SELECT {LIVE_COLUMNS}, s.standing::text AS standing
           FROM customers c
           LEFT JOIN account_standings s ON s.customer_id = c.id
          WHERE c.id = ANY($1)"
    ))
    .bind::<Array<SqlUuid>, _>(&wanted)
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await?;
    let mut stale = Vec::new();
    for r in rows {
        // A standing that does not parse (kept by another version) is recomputed.
        match r
            .standing
            .as_deref()
            .and_then(|t| serde_json::from_str::<Standing>(t).ok())
        {
            Some(standing) => {
                let a = standing.account(r.live.account(), today);
                known.insert(a.customer_id, a);
            }
            None => stale.push(r.live.id),
        }
    }
    for a in refreshed(conn, stale, now).await? {
        known.insert(a.customer_id, a);
    }
    Ok(known)
}

/// The standings of a refresh, a column each, to be saved in one statement.
#[derive(Default)]
struct Saved {
    keys: Vec<Uuid>,
    versions: Vec<i64>,
    expires: Vec<Option<DateTime<Utc>>>,
    standings: Vec<String>,
    figures: FigureColumns,
}

#[derive(Default)]
struct FigureColumns {
    open_balance: Vec<Decimal>,
    disputed: Vec<Decimal>,
    collectible_overdue: Vec<Decimal>,
    overdue_buckets: Vec<String>,
    oldest_due_on: Vec<Option<NaiveDate>>,
    promised_pending: Vec<Decimal>,
    promised_today: Vec<Decimal>,
    broken_promises: Vec<i32>,
    missed_installments: Vec<i32>,
    on_plan: Vec<Decimal>,
    last_contact_on: Vec<Option<NaiveDate>>,
    tasks_due: Vec<i32>,
}

/// A PostgreSQL array literal of bucket labels (digits, `-` and `+`: nothing to quote,
/// but quoted all the same).
fn text_array(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

impl Saved {
    fn push(
        &mut self,
        a: &Account,
        version: i64,
        expires: Option<DateTime<Utc>>,
        today: NaiveDate,
    ) -> Result<()> {
        let standing = Standing::of(a, today);
        let count = |n: i64| {
            i32::try_from(n).map_err(|_| Error::Internal("standing: count out of range".into()))
        };
        let f = a.figures();
        let c = &mut self.figures;
        c.open_balance.push(f.open_balance);
        c.disputed.push(f.disputed);
        c.collectible_overdue.push(f.collectible_overdue);
        c.overdue_buckets.push(text_array(&f.overdue_buckets));
        c.oldest_due_on.push(standing.oldest_due_on);
        c.promised_pending.push(f.promised_pending);
        c.promised_today.push(f.promised_today);
        c.broken_promises.push(count(f.broken_promises)?);
        c.missed_installments.push(count(f.missed_installments)?);
        c.on_plan.push(f.on_plan);
        c.last_contact_on.push(f.last_contact_on);
        c.tasks_due.push(count(f.tasks_due)?);
        self.standings.push(
            serde_json::to_string(&standing)
                .map_err(|e| Error::Internal(format!("standing: {e}")))?,
        );
        self.keys.push(a.customer_id);
        self.versions.push(version);
        self.expires.push(expires);
        Ok(())
    }
}

/// Recomputes and saves the standings of `ids` (sorted) as of `now`; returns their
/// accounts. Rows are made first so that every later write bumps their version; the
/// figures are then gathered from a later snapshot and saved only where the version
/// is still the one read, so a write the gathering did not see leaves it dirty.
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Account>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids.to_vec();
    diesel::sql_query(
        "INSERT INTO account_standings (customer_id, collector_id)
         SELECT c.id, c.assigned_collector_id FROM customers c
          WHERE c.id = ANY($1) ORDER BY c.id ON CONFLICT DO NOTHING",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)
    .await?;
    let versions: HashMap<Uuid, i64> = diesel::sql_query(
        "SELECT customer_id, version FROM account_standings WHERE customer_id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load::<VersionRow>(conn)
    .await?
    .into_iter()
    .map(|v| (v.customer_id, v.version))
    .collect();
    let mut computed = accounts_of(conn, &ids, now).await?;
    computed.sort_by_key(|(a, _)| a.customer_id);
    let today = now.date_naive();
    let mut saved = Saved::default();
    for (a, e) in &computed {
        let Some(v) = versions.get(&a.customer_id) else {
            continue;
        };
        saved.push(a, *v, *e, today)?;
    }
    let Saved {
        keys,
        versions,
        expires,
        standings,
        figures,
    } = saved;
    // Array columns are sent as one text each (`{…}`): unnest of a two-dimensional
    // array would flatten them.
    diesel::sql_query(
        "UPDATE account_standings s
            SET dirty = FALSE, computed_on = $2, expires_at = v.expires_at, standing = v.standing::json,
                collector_id = c.assigned_collector_id,
                open_balance = v.open_balance, disputed = v.disputed,
                collectible_overdue = v.collectible_overdue,
                overdue_buckets = v.overdue_buckets::text[], oldest_due_on = v.oldest_due_on,
                promised_pending = v.promised_pending, promised_today = v.promised_today,
                broken_promises = v.broken_promises, missed_installments = v.missed_installments,
                on_plan = v.on_plan, last_contact_on = v.last_contact_on, tasks_due = v.tasks_due
           FROM unnest($1::uuid[], $3::bigint[], $4::timestamptz[], $5::text[],
                       $6::numeric[], $7::numeric[], $8::numeric[], $9::text[], $10::date[],
                       $11::numeric[], $12::numeric[], $13::int[], $14::int[], $15::numeric[],
                       $16::date[], $17::int[])
                AS v(customer_id, version, expires_at, standing,
                     open_balance, disputed, collectible_overdue, overdue_buckets, oldest_due_on,
                     promised_pending, promised_today, broken_promises, missed_installments, on_plan,
                     last_contact_on, tasks_due)
           JOIN customers c ON c.id = v.customer_id
          WHERE s.customer_id = v.customer_id AND s.version = v.version",
    )
    .bind::<Array<SqlUuid>, _>(&keys)
    .bind::<Date, _>(today)
    .bind::<Array<BigInt>, _>(&versions)
    .bind::<Array<Nullable<Timestamptz>>, _>(&expires)
    .bind::<Array<Text>, _>(&standings)
    .bind::<Array<Numeric>, _>(&figures.open_balance)
    .bind::<Array<Numeric>, _>(&figures.disputed)
    .bind::<Array<Numeric>, _>(&figures.collectible_overdue)
    .bind::<Array<Text>, _>(&figures.overdue_buckets)
    .bind::<Array<Nullable<Date>>, _>(&figures.oldest_due_on)
    .bind::<Array<Numeric>, _>(&figures.promised_pending)
    .bind::<Array<Numeric>, _>(&figures.promised_today)
    .bind::<Array<Integer>, _>(&figures.broken_promises)
    .bind::<Array<Integer>, _>(&figures.missed_installments)
    .bind::<Array<Numeric>, _>(&figures.on_plan)
    .bind::<Array<Nullable<Date>>, _>(&figures.last_contact_on)
    .bind::<Array<Integer>, _>(&figures.tasks_due)
    .execute(conn)
    .await?;
    Ok(computed.into_iter().map(|(a, _)| a).collect())
}

/// The nightly job: every customer's standing recomputed as of `ctx.now`, 1,000 at a
/// time (so date-dependent figures roll over before the day's first read, and
/// anything a write failed to mark is corrected).
pub async fn refresh_all(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<serde_json::Value> {
    let mut after = Uuid::nil();
    let mut accounts = 0usize;
    loop {
        let ids: Vec<Uuid> =
            diesel::sql_query("SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind::<SqlUuid, _>(after)
                .load::<IdRow>(conn)
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect();
        let Some(last) = ids.as_slice().last().copied() else {
            break;
        };
        accounts += refresh(conn, &ids, ctx.now).await?.len();
        after = last;
    }
    Ok(serde_json::json!({ "as_of": ctx.now.date_naive(), "accounts": accounts }))
}

/// The cursors of this list.
const LISTING: crate::page::Listing = crate::page::Listing::new("worklist", "-score");

/// `GET /v1/worklist`.
pub async fn worklist(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    query: &WorklistQuery,
) -> Result<Worklist> {
    ctx.actor.require(Permission::WorklistRead)?;
    let page = crate::page::PageRequest::<(Decimal, Uuid)>::parse(
        LISTING,
        query.limit,
        query.cursor.as_deref(),
    )?;
    let collector = scope(ctx, query.collector_id)?;
    let labels = Buckets::default().labels();
    if let Some(b) = &query.bucket
        && (b == "current" || !labels.contains(b))
    {
        return Err(Error::invalid_query(
            "bucket",
            "unknown_bucket",
            format!("one of {}", labels.get(1..).unwrap_or_default().join(", ")),
        ));
    }
    if query.min_amount.is_some_and(|m| m < Decimal::ZERO) {
        return Err(Error::invalid_query(
            "min_amount",
            "negative_amount",
            "must not be negative",
        ));
    }
    let weights: Weights = setting::load(conn).await?;
    let today = ctx.now.date_naive();
    let (figures, known) = standing_figures(conn, collector, ctx.now).await?;
    let (listed, excluded) = rank(figures, &weights, today);
    let keep = |a: &Figures| {
        query
            .currency
            .as_deref()
            .is_none_or(|c| a.currency.eq_ignore_ascii_case(c))
            && query.min_amount.is_none_or(|m| a.collectible_overdue >= m)
            && query.has_task_due.is_none_or(|t| t == (a.tasks_due > 0))
            && query
                .bucket
                .as_deref()
                .is_none_or(|b| a.overdue_buckets.iter().any(|f| f == b))
    };
    let page_rows: Vec<(usize, Uuid)> = listed
        .iter()
        .filter(|(a, _)| keep(a))
        .enumerate()
        .filter(|(_, (a, points))| match &page.after {
            None => true,
            Some((after, id)) => *points < *after || (*points == *after && a.customer_id > *id),
        })
        .take(usize::try_from(page.fetch()).unwrap_or(usize::MAX))
        .map(|(i, (a, _))| (i, a.customer_id))
        .collect();
    // Excluded accounts are listed on request, on the first page only.
    let show_excluded = query.include_excluded == Some(true) && page.after.is_none();
    let excluded: Vec<(Uuid, Exclusion)> = if show_excluded {
        excluded
            .into_iter()
            .filter(|(a, _)| keep(a) || query.bucket.is_some() || query.min_amount.is_some())
            .map(|(a, why)| (a.customer_id, why))
            .collect()
    } else {
        Vec::new()
    };
    // Only the rows shown are read whole and scored in full (components, words).
    let wanted: Vec<Uuid> = page_rows
        .iter()
        .map(|(_, id)| *id)
        .chain(excluded.iter().map(|(id, _)| *id))
        .collect();
    let accounts = page_accounts(conn, &wanted, known, ctx.now).await?;
    let whole = |id: &Uuid| {
        accounts
            .get(id)
            .ok_or_else(|| Error::Internal(format!("worklist: account {id} not read")))
    };
    let mut rows = Vec::with_capacity(page_rows.len());
    for (i, id) in &page_rows {
        let a = whole(id)?;
        let s = score(a, &weights, today);
        rows.push(WorklistRow {
            rank: i64::try_from(*i).unwrap_or(i64::MAX).saturating_add(1),
            customer_id: a.customer_id,
            customer_name: a.name.clone(),
            currency: a.currency.clone(),
            score: s.score,
            components: s.components,
            next_action: s.next_action,
            reasons: s.reasons,
            collectible_overdue: money::in_minor_units(a.collectible_overdue(), &a.currency),
            open_balance: money::in_minor_units(a.open_balance, &a.currency),
            disputed: money::in_minor_units(a.disputed, &a.currency),
            overdue_by_bucket: a
                .overdue
                .iter()
                .map(|b| BucketFigure {
                    bucket: b.bucket.clone(),
                    invoices: b.invoices,
                    collectible: money::in_minor_units(b.collectible, &a.currency),
                })
                .collect(),
            oldest_days_past_due: a.oldest_days_past_due,
            last_contact_on: a.last_contact_on,
            tasks_due: a.tasks_due,
            on_plan: money::in_minor_units(a.on_plan, &a.currency),
            next_installment: a
                .next_installment
                .map(|n| shown_installment(n, &a.currency)),
        });
    }
    let page =
        crate::page::Page::from_rows(rows, &page, |r: &WorklistRow| (r.score, r.customer_id));
    let excluded = show_excluded
        .then(|| {
            excluded
                .iter()
                .map(|(id, why)| {
                    let a = whole(id)?;
                    Ok(ExcludedRow {
                        customer_id: a.customer_id,
                        customer_name: a.name.clone(),
                        reason: *why,
                        detail: (*why == Exclusion::OnPlan)
                            .then(|| on_plan_note(a))
                            .flatten(),
                        open_balance: money::in_minor_units(a.open_balance, &a.currency),
                        next_installment: a
                            .next_installment
                            .map(|n| shown_installment(n, &a.currency)),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    Ok(Worklist {
        as_of: today,
        collector_id: collector,
        data: page.data,
        next_cursor: page.next_cursor,
        excluded,
    })
}

fn shown_installment(n: PlanInstallment, currency: &str) -> PlanInstallment {
    PlanInstallment {
        due_date: n.due_date,
        owed: money::in_minor_units(n.owed, currency),
    }
}

/// `GET /v1/worklist/weights`.
pub async fn weights(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<Weights> {
    ctx.actor.require(Permission::WorklistRead)?;
    setting::load(conn).await
}

/// `PUT /v1/worklist/weights` (admins).
pub async fn save_weights(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    weights: Weights,
) -> Result<Weights> {
    setting::save(conn, ctx, weights).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or(NaiveDate::MIN)
    }

    fn account(id: u128) -> Account {
        Account {
            last_contact_on: Some(day(10)),
            ..Account::blank(Uuid::from_u128(id), format!("Customer {id}"), "USD".into())
        }
    }

    fn overdue(a: &mut Account, bucket: &str, invoices: i64, cents: i64, days: i64) {
        a.overdue.push(BucketFigure {
            bucket: bucket.into(),
            invoices,
            collectible: Decimal::new(cents, 2),
        });
        a.open_balance += Decimal::new(cents, 2);
        a.oldest_days_past_due = a.oldest_days_past_due.max(days);
    }

    #[test]
    fn the_score_is_the_sum_of_its_components_with_reasons() {
        let mut a = account(1);
        overdue(&mut a, "61-90", 3, 1_240_000, 75);
        a.broken_promises.push(BrokenPromise {
            amount: Decimal::new(200_000, 2),
            paid: Decimal::ZERO,
            decided_on: day(9),
        });
        let s = score(&a, &Weights::default(), day(10));
        // 12.4 × 2 = 24.8; 75 × 0.25 = 18.75; 1 broken × 25; contact today 0; size 1.24.
        let pts: Vec<(&str, Decimal)> = s
            .components
            .iter()
            .map(|c| (c.factor.as_str(), c.points))
            .collect();
        assert_eq!(
            pts,
            vec![
                ("overdue_amount", Decimal::new(2480, 2)),
                ("days_past_due", Decimal::new(1875, 2)),
                ("broken_promises", Decimal::new(25, 0)),
                ("account_size", Decimal::new(124, 2)),
            ]
        );
        assert_eq!(s.score, Decimal::new(6979, 2));
        assert_eq!(s.next_action, NextAction::CallAboutBrokenPromise);
        assert_eq!(
            s.reasons,
            vec![
                "promise of 2000.00 USD broken yesterday".to_owned(),
                "3 invoices 61-90 days past due, 12400.00 USD collectible".to_owned(),
            ]
        );
    }

    #[test]
    fn exclusions_say_why() {
        let mut held = account(1);
        overdue(&mut held, "1-30", 1, 10_000, 5);
        held.hold = Some("collection".into());
        assert_eq!(exclusion(&held.figures()), Some(Exclusion::OnHold));
        let mut disputed = account(2);
        overdue(&mut disputed, "1-30", 1, 10_000, 5);
        disputed.disputed = disputed.open_balance;
        assert_eq!(exclusion(&disputed.figures()), Some(Exclusion::AllDisputed));
        let mut promised = account(3);
        overdue(&mut promised, "1-30", 1, 10_000, 5);
        promised.promised_pending = promised.open_balance;
        assert_eq!(
            exclusion(&promised.figures()),
            Some(Exclusion::PromisedNotDue)
        );
        // A promise due today puts it back on the list.
        promised.promised_today = promised.open_balance;
        assert_eq!(exclusion(&promised.figures()), None);
        assert_eq!(
            exclusion(&account(4).figures()),
            Some(Exclusion::NothingDue)
        );
        let mut task = account(5);
        task.tasks_due = 1;
        assert_eq!(exclusion(&task.figures()), None);
    }

    #[test]
    fn a_plan_being_kept_keeps_the_account_off_until_an_installment_is_missed() {
        let installment = |d: u32, cents: i64| PlanInstallment {
            due_date: day(d),
            owed: Decimal::new(cents, 2),
        };
        // 900.00 on plan (past due, but not in `overdue`), next 300.00 due on the 20th.
        let mut a = account(1);
        a.open_balance = Decimal::new(90_000, 2);
        a.on_plan = a.open_balance;
        a.next_installment = Some(installment(20, 30_000));
        assert_eq!(exclusion(&a.figures()), Some(Exclusion::OnPlan));
        assert_eq!(
            on_plan_note(&a).as_deref(),
            Some("on plan: next installment 300.00 USD due 2026-03-20")
        );
        // Something else past due: on the list, with the plan mentioned.
        let mut other = a.clone();
        overdue(&mut other, "1-30", 1, 10_000, 5);
        assert_eq!(exclusion(&other.figures()), None);
        let s = score(&other, &Weights::default(), day(10));
        assert!(s.reasons.iter().any(|r| r.starts_with("on plan:")), "{s:?}");
        // A missed installment puts it back, first in the reasons after promises.
        a.missed_installments = vec![installment(1, 30_000)];
        assert_eq!(exclusion(&a.figures()), None);
        let s = score(&a, &Weights::default(), day(10));
        assert_eq!(s.next_action, NextAction::CallAboutMissedInstallment);
        assert_eq!(
            s.reasons.as_slice().first().map(String::as_str),
            Some("plan installment of 300.00 USD missed (due 2026-03-01)")
        );
        assert!(
            s.components
                .iter()
                .any(|c| c.factor == "missed_installments" && c.points == Decimal::from(20))
        );
        a.missed_installments.push(installment(8, 30_000));
        let s = score(&a, &Weights::default(), day(10));
        assert_eq!(
            s.reasons.as_slice().first().map(String::as_str),
            Some("2 plan installments missed, 600.00 USD owed (oldest due 2026-03-01)")
        );
    }

    #[test]
    fn caps_hold() {
        let mut a = account(1);
        overdue(&mut a, "120+", 40, 100_000_000, 400);
        let s = score(&a, &Weights::default(), day(10));
        assert!(s.components.iter().all(|c| c.points <= Decimal::from(40)));
    }

    #[test]
    fn a_group_moves_bucket_when_its_oldest_invoice_crosses_the_next_bound() {
        let bounds = [1, 31, 61, 91, 121];
        // Not yet due (bucket 0, due in 3 days: -3 days): past due on day 14.
        assert_eq!(next_bucket_day(day(10), &bounds, 0, -3), Some(day(14)));
        // 1-30 with the oldest 10 days past due: 31-60 in 21 days.
        assert_eq!(next_bucket_day(day(1), &bounds, 1, 10), Some(day(22)));
        // 120+ never moves again.
        assert_eq!(next_bucket_day(day(10), &bounds, 5, 400), None);
    }

    #[test]
    fn a_promise_changes_the_figures_on_its_day_the_next_and_after_its_deadline() {
        let days: Vec<NaiveDate> = promise_change_days(day(12), day(14), day(10)).collect();
        assert_eq!(days, vec![day(12), day(13), day(15)]);
        let days: Vec<NaiveDate> = promise_change_days(day(12), day(14), day(12)).collect();
        assert_eq!(days, vec![day(13), day(15)]);
        assert_eq!(promise_change_days(day(1), day(3), day(10)).count(), 0);
    }

    #[test]
    fn a_standing_gives_back_the_account_and_ages_its_days_past_due() {
        let mut a = account(1);
        overdue(&mut a, "1-30", 2, 50_000, 12);
        a.broken_promises.push(BrokenPromise {
            amount: Decimal::new(10_000, 2),
            paid: Decimal::new(1_000, 2),
            decided_on: day(9),
        });
        a.hold = Some("kept live".into());
        let standing = Standing::of(&a, day(10));
        let json = serde_json::to_string(&standing).unwrap_or_default();
        let back: Option<Standing> = serde_json::from_str(&json).ok();
        assert_eq!(back.as_ref(), Some(&standing));
        let live = Account {
            open_balance: Decimal::ONE,
            ..a.clone()
        };
        assert_eq!(standing.clone().account(live.clone(), day(10)), a);
        let later = standing.account(live, day(13));
        assert_eq!(later.oldest_days_past_due, 15);
        // Nothing past due: nothing to age.
        let none = Standing::of(&account(2), day(10)).account(account(2), day(20));
        assert_eq!(none.oldest_days_past_due, 0);
    }

    proptest! {
        #[test]
        fn more_overdue_never_ranks_lower(cents in 0i64..100_000_000, extra in 1i64..10_000_000, days in 1i64..400) {
            let mut a = account(1);
            overdue(&mut a, "1-30", 1, cents, days);
            let mut b = account(2);
            overdue(&mut b, "1-30", 1, cents + extra, days);
            let w = Weights::default();
            prop_assert!(score(&b, &w, day(10)).score >= score(&a, &w, day(10)).score);
            let total: Decimal = score(&a, &w, day(10)).components.iter().map(|c| c.points).sum();
            prop_assert_eq!(total, score(&a, &w, day(10)).score);
            // What ranking uses is the score the page shows.
            prop_assert_eq!(points_of(&a.figures(), &w, day(10)), score(&a, &w, day(10)).score);
        }
    }
}
