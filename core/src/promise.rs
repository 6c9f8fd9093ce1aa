//! Promises to pay: a customer's word to pay an amount by a date against named
//! invoices. The worker decides them after date + grace from the payments actually
//! applied to those invoices (`decide`, pure), and again whenever cash on a promised
//! invoice moves: a returned payment can turn a kept promise into a broken one.
//!
//! What counts toward a promise: live (not reversed) applications to its invoices of
//! payments received from the day it was made through its deadline (date + grace).

use crate::error::ProblemCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
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
use crate::invoice;
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{contacts, payment_applications, payments, promise_invoices, promises};
use crate::task::{self, NewTask};

text_enum! {
    pub enum PromiseStatus {
        /// Waiting for its date (+ grace).
        Open = "open",
        /// Payments counted reached the amount.
        Kept = "kept",
        /// Some, not all, was paid by the deadline.
        PartiallyKept = "partially_kept",
        /// Nothing was paid by the deadline.
        Broken = "broken",
        Cancelled = "cancelled",
    }
}

/// Grace days when the promise names none.
pub const DEFAULT_GRACE_DAYS: u32 = 2;
/// The furthest a promise may be made ahead.
pub const MAX_DAYS_AHEAD: u64 = 365;

/// A promise's terms, as the rule sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub amount: Decimal,
    pub made_on: NaiveDate,
    pub promised_on: NaiveDate,
    pub grace_days: u32,
}

/// A payment's live application to one of the promised invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paid {
    pub received_on: NaiveDate,
    pub amount: Decimal,
}

/// The last day a payment counts: the promised date plus grace.
pub fn deadline(terms: &Terms) -> NaiveDate {
    terms
        .promised_on
        .checked_add_days(Days::new(u64::from(terms.grace_days)))
        .unwrap_or(NaiveDate::MAX)
}

/// What counts toward the promise: payments received from the day it was made through
/// its deadline.
pub fn counted(terms: &Terms, paid: &[Paid]) -> Decimal {
    let last = deadline(terms);
    paid.iter()
        .filter(|p| p.received_on >= terms.made_on && p.received_on <= last)
        .map(|p| p.amount)
        .sum()
}

/// The rule: kept as soon as the counted payments reach the amount; otherwise open
/// until the deadline has passed, then partially kept (something paid) or broken.
pub fn decide(terms: &Terms, counted: Decimal, today: NaiveDate) -> PromiseStatus {
    if counted >= terms.amount {
        PromiseStatus::Kept
    } else if today <= deadline(terms) {
        PromiseStatus::Open
    } else if counted > Decimal::ZERO {
        PromiseStatus::PartiallyKept
    } else {
        PromiseStatus::Broken
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = promises)]
struct Row {
    id: Uuid,
    customer_id: Uuid,
    amount: Decimal,
    currency: String,
    made_on: NaiveDate,
    promised_on: NaiveDate,
    grace_days: i32,
    status: PromiseStatus,
    paid: Decimal,
    decided_at: Option<DateTime<Utc>>,
    contact_id: Option<Uuid>,
    note: Option<String>,
    cancel_reason: Option<String>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn terms(&self) -> Terms {
        Terms {
            amount: self.amount,
            made_on: self.made_on,
            promised_on: self.promised_on,
            grace_days: u32::try_from(self.grace_days).unwrap_or(0),
        }
    }
}

/// A promise to pay as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Promise {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The invoices whose payments count.
    pub invoice_ids: Vec<Uuid>,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "2000.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    /// The day it was made; payments received from then on count.
    pub made_on: NaiveDate,
    pub promised_on: NaiveDate,
    #[schema(example = 2)]
    pub grace_days: i32,
    /// The last day a payment counts (promised date + grace).
    pub deadline: NaiveDate,
    pub status: PromiseStatus,
    /// Counted toward the promise at the last evaluation.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub paid: Decimal,
    /// When the worker last changed its status.
    pub decided_at: Option<DateTime<Utc>>,
    /// The contact who made it.
    pub contact_id: Option<Uuid>,
    pub note: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn present(row: Row, invoice_ids: Vec<Uuid>) -> Promise {
    let deadline = deadline(&row.terms());
    Promise {
        id: row.id,
        customer_id: row.customer_id,
        invoice_ids,
        amount: money::in_minor_units(row.amount, &row.currency),
        currency: row.currency.clone(),
        made_on: row.made_on,
        promised_on: row.promised_on,
        grace_days: row.grace_days,
        deadline,
        status: row.status,
        paid: money::in_minor_units(row.paid, &row.currency),
        decided_at: row.decided_at,
        contact_id: row.contact_id,
        note: row.note,
        cancel_reason: row.cancel_reason,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn invoices_of(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    Ok(promise_invoices::table
        .filter(promise_invoices::promise_id.eq_any(ids))
        .order((promise_invoices::promise_id, promise_invoices::invoice_id))
        .select((promise_invoices::promise_id, promise_invoices::invoice_id))
        .load(conn)
        .await?)
}

async fn assemble(conn: &mut AsyncPgConnection, rows: Vec<Row>) -> Result<Vec<Promise>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let links = invoices_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = links
                .iter()
                .filter(|(p, _)| *p == r.id)
                .map(|(_, i)| *i)
                .collect();
            present(r, mine)
        })
        .collect())
}

/// `POST /v1/promises`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromise {
    pub customer_id: Uuid,
    /// The customer's open invoices the payment is for (1–100).
    pub invoice_ids: Vec<Uuid>,
    /// At most the open balance of those invoices.
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "2000.00")]
    pub amount: Decimal,
    /// Today or later, within a year.
    pub promised_on: NaiveDate,
    /// Days after the date a payment still counts (0–30, default 2).
    pub grace_days: Option<u32>,
    /// The contact who made it.
    pub contact_id: Option<Uuid>,
    #[schema(example = "Controller promised a wire on Friday")]
    pub note: Option<String>,
}

fn check(input: &NewPromise, today: NaiveDate, p: &mut Problems) {
    if input.invoice_ids.is_empty() || input.invoice_ids.len() > 100 {
        p.add("invoice_ids", "invalid_length", "name 1 to 100 invoices");
    }
    let mut seen = std::collections::HashSet::new();
    if input.invoice_ids.iter().any(|id| !seen.insert(*id)) {
        p.add("invoice_ids", "duplicate", "an invoice is named twice");
    }
    if input.amount <= Decimal::ZERO {
        p.add("amount", "not_positive", "must be greater than zero");
    }
    if input.promised_on < today {
        p.add(
            "promised_on",
            "in_past",
            "a promise cannot be for a day that has passed",
        );
    } else if today
        .checked_add_days(Days::new(MAX_DAYS_AHEAD))
        .is_some_and(|limit| input.promised_on > limit)
    {
        p.add("promised_on", "too_far", "at most a year ahead");
    }
    if input.grace_days.is_some_and(|g| g > 30) {
        p.add("grace_days", "out_of_range", "between 0 and 30");
    }
    if let Some(note) = &input.note
        && note.chars().count() > 2000
    {
        p.add("note", "too_long", "at most 2000 characters");
    }
}

/// Records a promise. Its invoices must be the customer's, open, in one currency and
/// in no other open promise; the amount may not exceed their open balance.
pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewPromise,
) -> Result<Promise> {
    ctx.actor.require(Permission::PromisesWrite)?;
    let today = ctx.now.date_naive();
    let mut p = Problems::new();
    check(&input, today, &mut p);
    p.into_result()?;
    conn.transaction(async |conn| {
        // The customer lock serialises promises on the same invoices.
        let customer = customer::load_named(conn, ctx, input.customer_id, true).await?;
        if let Some(contact) = input.contact_id {
            let owner: Option<Uuid> = contacts::table
                .find(contact)
                .select(contacts::customer_id)
                .first(conn)
                .await
                .optional()?;
            if owner != Some(customer.id) {
                return Err(Error::validation(
                    "contact_id",
                    "unknown_contact",
                    "not a contact of this customer",
                ));
            }
        }
        let (currency, balances) =
            invoice::named_open(conn, customer.id, &input.invoice_ids, "promise").await?;
        let open_total: Decimal = balances.iter().sum();
        let c =
            Currency::parse(&currency).ok_or_else(|| Error::Internal("stored currency".into()))?;
        money::non_negative_amount("amount", input.amount, c)
            .map_err(|e| Error::Validation(vec![e]))?;
        if input.amount > open_total {
            return Err(Error::validation(
                "amount",
                "exceeds_open_balance",
                format!(
                    "the invoices' open balance is {} {currency}",
                    money::in_minor_units(open_total, &currency)
                ),
            ));
        }
        let promised: Option<Uuid> = promise_invoices::table
            .inner_join(promises::table)
            .filter(promise_invoices::invoice_id.eq_any(&input.invoice_ids))
            .filter(promises::status.eq(PromiseStatus::Open))
            .select(promise_invoices::invoice_id)
            .first(conn)
            .await
            .optional()?;
        if let Some(invoice) = promised {
            return Err(Error::conflict(
                ProblemCode::InvoiceAlreadyPromised,
                format!("invoice {invoice} is already in an open promise"),
            ));
        }
        let row: Row = diesel::insert_into(promises::table)
            .values((
                promises::id.eq(Uuid::now_v7()),
                promises::customer_id.eq(customer.id),
                promises::amount.eq(input.amount),
                promises::currency.eq(&currency),
                promises::made_on.eq(today),
                promises::promised_on.eq(input.promised_on),
                promises::grace_days
                    .eq(i32::try_from(input.grace_days.unwrap_or(DEFAULT_GRACE_DAYS)).unwrap_or(0)),
                promises::status.eq(PromiseStatus::Open),
                promises::contact_id.eq(input.contact_id),
                promises::note.eq(input.note.as_deref().map(str::trim)),
                promises::created_by.eq(ctx.actor.id()),
                promises::created_at.eq(ctx.now),
                promises::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let links: Vec<_> = input
            .invoice_ids
            .iter()
            .map(|i| {
                (
                    promise_invoices::promise_id.eq(row.id),
                    promise_invoices::invoice_id.eq(*i),
                )
            })
            .collect();
        diesel::insert_into(promise_invoices::table)
            .values(links)
            .execute(conn)
            .await?;
        let mut ids = input.invoice_ids.clone();
        ids.sort();
        let promise = present(row, ids);
        audit::record(
            conn,
            ctx,
            "promise.create",
            "promise",
            promise.id,
            None::<&()>,
            Some(&promise),
        )
        .await?;
        Ok(promise)
    })
    .await
}

async fn load(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid, lock: bool) -> Result<Row> {
    let q = promises::table.find(id).select(Row::as_select());
    let row: Option<Row> = if lock {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    let row = row.ok_or(Error::NotFound { entity: "promise" })?;
    customer::check_visible_for(conn, ctx, row.customer_id, false, "promise").await?;
    Ok(row)
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Promise> {
    ctx.actor.require(Permission::PromisesRead)?;
    let row = load(conn, ctx, id, false).await?;
    let mut shown = assemble(conn, vec![row]).await?;
    shown.pop().ok_or(Error::NotFound { entity: "promise" })
}

/// `POST /v1/promises/{id}/cancel`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPromise {
    #[schema(example = "Customer agreed to a payment plan instead")]
    pub reason: String,
}

/// Cancels an open promise (a decided one is history and stays).
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    input: CancelPromise,
) -> Result<Promise> {
    ctx.actor.require(Permission::PromisesWrite)?;
    let reason = crate::error::check_reason("reason", &input.reason)?;
    conn.transaction(async |conn| {
        let row = load(conn, ctx, id, true).await?;
        if row.status != PromiseStatus::Open {
            return Err(Error::conflict(
                ProblemCode::PromiseDecided,
                format!(
                    "the promise is {}; only open promises can be cancelled",
                    row.status
                ),
            ));
        }
        let before = assemble(conn, vec![row]).await?;
        let row: Row = diesel::update(promises::table.find(id))
            .set((
                promises::status.eq(PromiseStatus::Cancelled),
                promises::cancel_reason.eq(&reason),
                promises::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let after = assemble(conn, vec![row]).await?;
        audit::record(
            conn,
            ctx,
            "promise.cancel",
            "promise",
            id,
            before.as_slice().first(),
            after.as_slice().first(),
        )
        .await?;
        after
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "promise" })
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PromiseFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<PromiseStatus>,
    /// Promises naming this invoice.
    pub invoice_id: Option<Uuid>,
    /// Promised on or after this day.
    pub promised_from: Option<NaiveDate>,
    /// Promised on or before this day.
    pub promised_to: Option<NaiveDate>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("promises", "promised_on");

/// Promises on customers the caller may see, by promised date then id.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &PromiseFilter,
) -> Result<Page<Promise>> {
    ctx.actor.require(Permission::PromisesRead)?;
    let page =
        PageRequest::<(NaiveDate, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = promises::table.select(Row::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(promises::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(promises::customer_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(promises::status.eq(s));
    }
    if let Some(inv) = filter.invoice_id {
        q = q.filter(
            promises::id.eq_any(
                promise_invoices::table
                    .filter(promise_invoices::invoice_id.eq(inv))
                    .select(promise_invoices::promise_id),
            ),
        );
    }
    if let Some(d) = filter.promised_from {
        q = q.filter(promises::promised_on.ge(d));
    }
    if let Some(d) = filter.promised_to {
        q = q.filter(promises::promised_on.le(d));
    }
    if let Some((d, id)) = page.after {
        q = q.filter(
            promises::promised_on
                .gt(d)
                .or(promises::promised_on.eq(d).and(promises::id.gt(id))),
        );
    }
    let rows: Vec<Row> = q
        .order((promises::promised_on.asc(), promises::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    let page = Page::from_rows(rows, &page, |r: &Row| (r.promised_on, r.id));
    let items = assemble(conn, page.data).await?;
    Ok(Page {
        data: items,
        next_cursor: page.next_cursor,
    })
}

/// Live promises naming any of the invoices `$5`: cash moving on those invoices queues
/// an evaluation of the customer's promises (`job::enqueue_after_cash`).
pub(crate) const LIVE_ON_INVOICES: &str =
    "SELECT 1 FROM promise_invoices pi JOIN promises p ON p.id = pi.promise_id
      WHERE pi.invoice_id = ANY($5) AND p.status IN ('open', 'kept', 'partially_kept')";

/// What an evaluation changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    pub evaluated: usize,
    pub kept: usize,
    pub partially_kept: usize,
    pub broken: usize,
    pub reopened: usize,
}

/// Re-decides every live promise of a customer against today's applications. Each
/// promise changes in its own transaction; running it twice changes nothing twice
/// (activities are once per promise and outcome, tasks once per promise).
pub async fn evaluate_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    out: &mut Evaluation,
) -> Result<()> {
    let ids: Vec<Uuid> = promises::table
        .filter(promises::customer_id.eq(customer_id))
        .filter(promises::status.ne(PromiseStatus::Cancelled))
        .select(promises::id)
        .order(promises::id)
        .load(conn)
        .await?;
    for id in ids {
        evaluate_one(conn, ctx, id, out).await?;
    }
    Ok(())
}

/// The daily run: every open promise whose deadline is before today.
pub async fn evaluate_due(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<Evaluation> {
    let today = ctx.now.date_naive();
    // Past the deadline: promised_on + grace_days (date + integer days) before today;
    // the partial index on open promises' dates narrows the scan.
    let due: Vec<Uuid> = promises::table
        .filter(promises::status.eq(PromiseStatus::Open))
        .filter(promises::promised_on.lt(today))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "promises.promised_on + promises.grace_days < ",
            )
            .bind::<diesel::sql_types::Date, _>(today),
        )
        .select(promises::id)
        .order(promises::id)
        .load(conn)
        .await?;
    let mut out = Evaluation::default();
    for id in due {
        evaluate_one(conn, ctx, id, &mut out).await?;
    }
    Ok(out)
}

async fn evaluate_one(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    out: &mut Evaluation,
) -> Result<()> {
    let today = ctx.now.date_naive();
    conn.transaction(async |conn| {
        let row: Row = promises::table
            .find(id)
            .select(Row::as_select())
            .for_update()
            .first(conn)
            .await?;
        if row.status == PromiseStatus::Cancelled {
            return Ok(());
        }
        out.evaluated += 1;
        let paid: Vec<(NaiveDate, Decimal)> = payment_applications::table
            .inner_join(payments::table)
            .filter(
                payment_applications::invoice_id.eq_any(
                    promise_invoices::table
                        .filter(promise_invoices::promise_id.eq(id))
                        .select(promise_invoices::invoice_id),
                ),
            )
            .filter(payment_applications::reversed_at.is_null())
            .select((payments::received_on, payment_applications::amount))
            .load(conn)
            .await?;
        let paid: Vec<Paid> = paid
            .into_iter()
            .map(|(received_on, amount)| Paid {
                received_on,
                amount,
            })
            .collect();
        let terms = row.terms();
        let counted = counted(&terms, &paid);
        let status = decide(&terms, counted, today);
        if status == row.status && counted == row.paid {
            return Ok(());
        }
        let before = assemble(conn, vec![row.clone()]).await?;
        let decided_at = if status == row.status {
            row.decided_at
        } else {
            Some(ctx.now)
        };
        let updated: Row = diesel::update(promises::table.find(id))
            .set((
                promises::status.eq(status),
                promises::paid.eq(counted),
                promises::decided_at.eq(decided_at),
                promises::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let after = assemble(conn, vec![updated]).await?;
        audit::record(
            conn,
            ctx,
            "promise.evaluate",
            "promise",
            id,
            before.as_slice().first(),
            after.as_slice().first(),
        )
        .await?;
        if status == row.status {
            return Ok(());
        }
        let shown_amount = money::in_minor_units(row.amount, &row.currency);
        let shown_paid = money::in_minor_units(counted, &row.currency);
        let (outcome, subject) = match status {
            PromiseStatus::Kept => {
                out.kept += 1;
                (
                    Outcome::PromiseKept,
                    format!("Promise of {shown_amount} {} kept", row.currency),
                )
            }
            PromiseStatus::PartiallyKept => {
                out.partially_kept += 1;
                (
                    Outcome::PromisePartiallyKept,
                    format!(
                        "Promise of {shown_amount} {} partially kept: {shown_paid} paid by {}",
                        row.currency,
                        deadline(&terms)
                    ),
                )
            }
            PromiseStatus::Broken => {
                out.broken += 1;
                (
                    Outcome::PromiseBroken,
                    format!(
                        "Promise of {shown_amount} {} broken: nothing paid by {}",
                        row.currency,
                        deadline(&terms)
                    ),
                )
            }
            PromiseStatus::Open => {
                // A returned payment took back what had kept it, before its deadline.
                out.reopened += 1;
                return Ok(());
            }
            PromiseStatus::Cancelled => return Ok(()),
        };
        let mut task_id = None;
        if matches!(status, PromiseStatus::Broken | PromiseStatus::PartiallyKept) {
            task_id = Some(
                task::follow_up_once(
                    conn,
                    ctx,
                    NewTask {
                        customer_id: row.customer_id,
                        assignee_id: row.created_by,
                        kind: "promise_follow_up",
                        title: subject.clone(),
                        due_on: today,
                        source: Some(("promise", id)),
                    },
                )
                .await?,
            );
        }
        activity::record(
            conn,
            ctx,
            NewActivity {
                customer_id: row.customer_id,
                kind: ActivityKind::Note,
                outcome: Some(outcome),
                subject: Some(subject),
                notes: format!(
                    "Promised {shown_amount} {} by {} (+{} grace days); {shown_paid} counted.",
                    row.currency, row.promised_on, row.grace_days
                ),
                task_id,
                source: Some(("promise", id)),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    fn terms() -> Terms {
        Terms {
            amount: Decimal::new(200_000, 2),
            made_on: day(2026, 3, 2),
            promised_on: day(2026, 3, 10),
            grace_days: 2,
        }
    }

    fn paid(on: NaiveDate, cents: i64) -> Paid {
        Paid {
            received_on: on,
            amount: Decimal::new(cents, 2),
        }
    }

    #[test]
    fn kept_exactly_on_the_grace_day() {
        let t = terms();
        assert_eq!(deadline(&t), day(2026, 3, 12));
        let c = counted(&t, &[paid(day(2026, 3, 12), 200_000)]);
        assert_eq!(decide(&t, c, day(2026, 3, 13)), PromiseStatus::Kept);
        // A day later does not count.
        let late = counted(&t, &[paid(day(2026, 3, 13), 200_000)]);
        assert_eq!(decide(&t, late, day(2026, 3, 13)), PromiseStatus::Broken);
    }

    #[test]
    fn kept_by_two_partial_payments() {
        let t = terms();
        let c = counted(
            &t,
            &[
                paid(day(2026, 3, 5), 120_000),
                paid(day(2026, 3, 11), 80_000),
            ],
        );
        assert_eq!(decide(&t, c, day(2026, 3, 20)), PromiseStatus::Kept);
    }

    #[test]
    fn partial_then_broken_and_open_until_the_deadline() {
        let t = terms();
        let some = counted(&t, &[paid(day(2026, 3, 5), 50_000)]);
        assert_eq!(decide(&t, some, day(2026, 3, 12)), PromiseStatus::Open);
        assert_eq!(
            decide(&t, some, day(2026, 3, 13)),
            PromiseStatus::PartiallyKept
        );
        assert_eq!(
            decide(&t, Decimal::ZERO, day(2026, 3, 13)),
            PromiseStatus::Broken
        );
        // Kept as soon as it is paid, before the date.
        let all = counted(&t, &[paid(day(2026, 3, 3), 200_000)]);
        assert_eq!(decide(&t, all, day(2026, 3, 3)), PromiseStatus::Kept);
    }

    #[test]
    fn payments_before_the_promise_do_not_count() {
        let t = terms();
        assert_eq!(
            counted(&t, &[paid(day(2026, 3, 1), 200_000)]),
            Decimal::ZERO
        );
    }

    proptest! {
        #[test]
        fn the_decision_follows_the_counted_sum(
            amount in 1i64..10_000_000,
            payments in proptest::collection::vec((0u64..60, 1i64..5_000_000), 0..8),
            grace in 0u32..31,
            offset in 0u64..90,
        ) {
            let made = day(2026, 1, 1);
            let t = Terms {
                amount: Decimal::new(amount, 2),
                made_on: made,
                promised_on: made.checked_add_days(Days::new(10)).unwrap_or(made),
                grace_days: grace,
            };
            let paid: Vec<Paid> = payments
                .iter()
                .map(|(d, c)| paid(made.checked_add_days(Days::new(*d)).unwrap_or(made), *c))
                .collect();
            let c = counted(&t, &paid);
            let today = made.checked_add_days(Days::new(offset)).unwrap_or(made);
            let status = decide(&t, c, today);
            // Counted never exceeds what was paid, and only in-window payments count.
            let total: Decimal = paid.iter().map(|p| p.amount).sum();
            prop_assert!(c <= total);
            match status {
                PromiseStatus::Kept => prop_assert!(c >= t.amount),
                PromiseStatus::Open => prop_assert!(today <= deadline(&t) && c < t.amount),
                PromiseStatus::PartiallyKept => prop_assert!(today > deadline(&t) && c > Decimal::ZERO && c < t.amount),
                PromiseStatus::Broken => prop_assert!(today > deadline(&t) && c.is_zero()),
                PromiseStatus::Cancelled => prop_assert!(false),
            }
            // More money never makes a promise worse.
            let more = decide(&t, c + Decimal::ONE, today);
            let rank = |s: PromiseStatus| match s {
                PromiseStatus::Broken => 0,
                PromiseStatus::PartiallyKept => 1,
                PromiseStatus::Open => 2,
                PromiseStatus::Kept => 3,
                PromiseStatus::Cancelled => -1,
            };
            prop_assert!(rank(more) >= rank(status));
        }
    }
}
