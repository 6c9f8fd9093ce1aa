//! Disputes: a customer contests part or all of some invoices. While a dispute is
//! active (`open`, `investigating`) its amounts leave the collectible balance the
//! worklist chases and are reported separately. Resolving it valid posts a credit memo
//! through the ledger; invalid returns the amount to collection; a customer may also
//! withdraw it. An active dispute past its due date tasks its owner (daily job).

use crate::error::ProblemCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::credit_memo::{self, CreditMemo};
use crate::customer;
use crate::error::{Error, Problems, Result};
use crate::invoice;
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{credit_memos, dispute_invoices, disputes, invoices, tasks, users};
use crate::task::{self, NewTask};

text_enum! {
    pub enum DisputeReason {
        Pricing = "pricing",
        Quantity = "quantity",
        Damaged = "damaged",
        NotReceived = "not_received",
        Service = "service",
        Tax = "tax",
        DuplicateBilling = "duplicate_billing",
        Other = "other",
    }
}

text_enum! {
    pub enum DisputeStatus {
        Open = "open",
        Investigating = "investigating",
        /// The customer was right: a credit memo was posted.
        ResolvedValid = "resolved_valid",
        /// The customer owes it: the amount is back in collection.
        ResolvedInvalid = "resolved_invalid",
        Withdrawn = "withdrawn",
    }
}

impl DisputeStatus {
    /// Whether the dispute still holds its amount out of collection.
    pub fn is_active(self) -> bool {
        matches!(self, DisputeStatus::Open | DisputeStatus::Investigating)
    }
}

/// Days to resolve a dispute when no due date is given.
pub const DEFAULT_DAYS_TO_RESOLVE: u64 = 14;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = disputes)]
struct Row {
    id: Uuid,
    customer_id: Uuid,
    amount: Decimal,
    currency: String,
    reason_code: DisputeReason,
    status: DisputeStatus,
    description: String,
    owner_id: Option<Uuid>,
    due_on: NaiveDate,
    root_cause: Option<String>,
    resolution_note: Option<String>,
    credited: Option<Decimal>,
    resolved_by: Option<Uuid>,
    resolved_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// One disputed invoice and how much of it is contested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputedInvoice {
    pub invoice_id: Uuid,
    #[serde(
        deserialize_with = "money::decimal_string::required",
        serialize_with = "rust_decimal::serde::str::serialize"
    )]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "350.00")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Dispute {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub invoices: Vec<DisputedInvoice>,
    /// The total contested.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "350.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    pub reason_code: DisputeReason,
    pub status: DisputeStatus,
    #[schema(example = "Billed 12 units, received 10")]
    pub description: String,
    /// Who works it (default: the customer's collector).
    pub owner_id: Option<Uuid>,
    pub due_on: NaiveDate,
    /// Why it happened, for the dispute report (pricing error, shipping damage, …).
    pub root_cause: Option<String>,
    pub resolution_note: Option<String>,
    /// The credit granted when resolved valid.
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "350.00")]
    pub credited: Option<Decimal>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn present(row: Row, lines: Vec<DisputedInvoice>) -> Dispute {
    let shown = |d: Decimal| money::in_minor_units(d, &row.currency);
    Dispute {
        id: row.id,
        customer_id: row.customer_id,
        invoices: lines
            .into_iter()
            .map(|l| DisputedInvoice {
                invoice_id: l.invoice_id,
                amount: shown(l.amount),
            })
            .collect(),
        amount: shown(row.amount),
        currency: row.currency.clone(),
        reason_code: row.reason_code,
        status: row.status,
        description: row.description.clone(),
        owner_id: row.owner_id,
        due_on: row.due_on,
        root_cause: row.root_cause.clone(),
        resolution_note: row.resolution_note.clone(),
        credited: row.credited.map(shown),
        resolved_by: row.resolved_by,
        resolved_at: row.resolved_at,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn assemble(conn: &mut AsyncPgConnection, rows: Vec<Row>) -> Result<Vec<Dispute>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines: Vec<(Uuid, Uuid, Decimal)> = dispute_invoices::table
        .filter(dispute_invoices::dispute_id.eq_any(&ids))
        .order((dispute_invoices::dispute_id, dispute_invoices::invoice_id))
        .select((
            dispute_invoices::dispute_id,
            dispute_invoices::invoice_id,
            dispute_invoices::amount,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = lines
                .iter()
                .filter(|(d, _, _)| *d == r.id)
                .map(|(_, invoice_id, amount)| DisputedInvoice {
                    invoice_id: *invoice_id,
                    amount: *amount,
                })
                .collect();
            present(r, mine)
        })
        .collect())
}

/// `POST /v1/disputes`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDispute {
    pub customer_id: Uuid,
    /// The contested invoices and amounts (1–100); each at most what is open and not
    /// already disputed on that invoice.
    pub invoices: Vec<DisputedInvoice>,
    pub reason_code: DisputeReason,
    #[serde(default)]
    #[schema(example = "Billed 12 units, received 10")]
    pub description: String,
    /// Default: the customer's collector, else the caller.
    pub owner_id: Option<Uuid>,
    /// Default: 14 days from today.
    pub due_on: Option<NaiveDate>,
}

/// `PATCH /v1/disputes/{id}`: absent fields keep their value. Only active disputes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputePatch {
    /// `open` or `investigating`; resolving goes through `/resolve`.
    pub status: Option<DisputeStatus>,
    pub owner_id: Option<Uuid>,
    pub due_on: Option<NaiveDate>,
    pub description: Option<String>,
    pub reason_code: Option<DisputeReason>,
    pub root_cause: Option<String>,
}

/// `POST /v1/disputes/{id}/resolve`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeResolution {
    /// `resolved_valid`, `resolved_invalid` or `withdrawn`.
    pub status: DisputeStatus,
    /// For `resolved_valid`: the credit agreed (default: the whole disputed amount).
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "200.00")]
    pub credit_amount: Option<Decimal>,
    /// Why it happened (required unless withdrawn).
    #[schema(example = "Price list not updated after the March change")]
    pub root_cause: Option<String>,
    #[schema(example = "Agreed with the customer's AP on the call of 12 March")]
    pub note: String,
}

/// What resolving did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DisputeResolved {
    pub dispute: Dispute,
    /// The credit memos posted (one per invoice credited) when resolved valid.
    pub credit_memos: Vec<CreditMemo>,
}

fn check_text(field: &str, text: &str, max: usize, p: &mut Problems) {
    if text.chars().count() > max {
        p.add(field, "too_long", format!("at most {max} characters"));
    }
}

/// An owner must be an active user who may work disputes.
async fn check_owner(conn: &mut AsyncPgConnection, owner: Uuid) -> Result<()> {
    let found: Option<(crate::user::Role, bool)> = users::table
        .find(owner)
        .select((users::role, users::active))
        .first(conn)
        .await
        .optional()?;
    match found {
        Some((role, true))
            if role.allows(Permission::DisputesWrite)
                || role.allows(Permission::DisputesResolve) =>
        {
            Ok(())
        }
        _ => Err(Error::validation(
            "owner_id",
            "invalid_owner",
            "not an active user who works disputes",
        )),
    }
}

/// What is already disputed on each invoice by active disputes.
async fn disputed_on(
    conn: &mut AsyncPgConnection,
    invoice_ids: &[Uuid],
) -> Result<Vec<(Uuid, Decimal)>> {
    let rows: Vec<(Uuid, Decimal)> = dispute_invoices::table
        .inner_join(disputes::table)
        .filter(dispute_invoices::invoice_id.eq_any(invoice_ids))
        .filter(disputes::status.eq_any([DisputeStatus::Open, DisputeStatus::Investigating]))
        .select((dispute_invoices::invoice_id, dispute_invoices::amount))
        .load(conn)
        .await?;
    Ok(rows)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewDispute,
) -> Result<Dispute> {
    ctx.actor.require(Permission::DisputesWrite)?;
    let today = ctx.now.date_naive();
    let mut p = Problems::new();
    if input.invoices.is_empty() || input.invoices.len() > 100 {
        p.add("invoices", "invalid_length", "name 1 to 100 invoices");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, line) in input.invoices.iter().enumerate() {
        if !seen.insert(line.invoice_id) {
            p.add(
                format!("invoices[{i}].invoice_id"),
                "duplicate",
                "an invoice is named twice",
            );
        }
        if line.amount <= Decimal::ZERO {
            p.add(
                format!("invoices[{i}].amount"),
                "not_positive",
                "must be greater than zero",
            );
        }
    }
    check_text("description", &input.description, 5000, &mut p);
    if input.due_on.is_some_and(|d| d < today) {
        p.add("due_on", "in_past", "a dispute cannot be due before today");
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let customer = customer::load_named(conn, ctx, input.customer_id, true).await?;
        if let Some(owner) = input.owner_id {
            check_owner(conn, owner).await?;
        }
        let ids: Vec<Uuid> = input.invoices.iter().map(|l| l.invoice_id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        // Invoices locked in id order, the ledger's lock order, so a payment racing the
        // dispute sees one or the other.
        let found: Vec<(Uuid, Uuid, String, Decimal, bool, String)> = invoices::table
            .filter(invoices::id.eq_any(&sorted))
            .order(invoices::id)
            .select((
                invoices::id,
                invoices::customer_id,
                invoices::currency,
                invoices::open_balance,
                invoices::written_off,
                invoices::status,
            ))
            .for_update()
            .load(conn)
            .await?;
        let already = disputed_on(conn, &ids).await?;
        let mut currency: Option<String> = None;
        let mut total = Decimal::ZERO;
        let mut p = Problems::new();
        for (i, line) in input.invoices.iter().enumerate() {
            let field = format!("invoices[{i}]");
            let Some(inv) = found
                .iter()
                .find(|f| f.0 == line.invoice_id && f.1 == customer.id)
            else {
                p.add(
                    format!("{field}.invoice_id"),
                    "unknown_invoice",
                    "not an invoice of this customer",
                );
                continue;
            };
            if currency.as_ref().is_some_and(|c| *c != inv.2) {
                p.add(
                    format!("{field}.invoice_id"),
                    "currency_mismatch",
                    "all invoices of a dispute share one currency",
                );
                continue;
            }
            currency = Some(inv.2.clone());
            if let Some(c) = Currency::parse(&inv.2)
                && p.check(money::non_negative_amount(
                    &format!("{field}.amount"),
                    line.amount,
                    c,
                ))
                .is_none()
            {
                continue;
            }
            let held: Decimal = already
                .iter()
                .filter(|(id, _)| *id == inv.0)
                .map(|(_, a)| *a)
                .sum();
            let room = inv.3 - held;
            if inv.4 || inv.5 == "void" || room <= Decimal::ZERO {
                p.add(
                    format!("{field}.invoice_id"),
                    "invoice_not_open",
                    "nothing open left to dispute on this invoice",
                );
            } else if line.amount > room {
                p.add(
                    format!("{field}.amount"),
                    "exceeds_open_balance",
                    format!(
                        "at most {} can be disputed",
                        money::in_minor_units(room, &inv.2)
                    ),
                );
            }
            total += line.amount;
        }
        p.into_result()?;
        let currency = currency.ok_or_else(|| Error::Internal("no invoice".into()))?;
        let due_on = input.due_on.unwrap_or_else(|| {
            today
                .checked_add_days(Days::new(DEFAULT_DAYS_TO_RESOLVE))
                .unwrap_or(today)
        });
        let row: Row = diesel::insert_into(disputes::table)
            .values((
                disputes::id.eq(Uuid::now_v7()),
                disputes::customer_id.eq(customer.id),
                disputes::amount.eq(total),
                disputes::currency.eq(&currency),
                disputes::reason_code.eq(input.reason_code),
                disputes::status.eq(DisputeStatus::Open),
                disputes::description.eq(input.description.trim()),
                disputes::owner_id.eq(input
                    .owner_id
                    .or(customer.assigned_collector_id)
                    .or(ctx.actor.id())),
                disputes::due_on.eq(due_on),
                disputes::created_by.eq(ctx.actor.id()),
                disputes::created_at.eq(ctx.now),
                disputes::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let lines: Vec<_> = input
            .invoices
            .iter()
            .map(|l| {
                (
                    dispute_invoices::dispute_id.eq(row.id),
                    dispute_invoices::invoice_id.eq(l.invoice_id),
                    dispute_invoices::amount.eq(l.amount),
                )
            })
            .collect();
        diesel::insert_into(dispute_invoices::table)
            .values(lines)
            .execute(conn)
            .await?;
        let shown = assemble(conn, vec![row]).await?;
        audit::record(
            conn,
            ctx,
            "dispute.create",
            "dispute",
            shown.as_slice().first().map_or(Uuid::nil(), |d| d.id),
            None::<&()>,
            shown.as_slice().first(),
        )
        .await?;
        shown
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "dispute" })
    })
    .await
}

async fn load(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid, lock: bool) -> Result<Row> {
    let q = disputes::table.find(id).select(Row::as_select());
    let row: Option<Row> = if lock {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    let row = row.ok_or(Error::NotFound { entity: "dispute" })?;
    customer::check_visible_for(conn, ctx, row.customer_id, false, "dispute").await?;
    Ok(row)
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Dispute> {
    ctx.actor.require(Permission::DisputesRead)?;
    let row = load(conn, ctx, id, false).await?;
    assemble(conn, vec![row])
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound { entity: "dispute" })
}

/// Changes an active dispute's working fields if `precondition` holds for the current
/// dispute (the API's If-Match).
pub async fn update(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    patch: DisputePatch,
    precondition: impl FnOnce(&Dispute) -> bool + Send,
) -> Result<Dispute> {
    ctx.actor.require(Permission::DisputesWrite)?;
    let mut p = Problems::new();
    if patch.status.is_some_and(|s| !s.is_active()) {
        p.add(
            "status",
            "invalid_value",
            "open or investigating; resolve through /resolve",
        );
    }
    if let Some(d) = &patch.description {
        check_text("description", d, 5000, &mut p);
    }
    if let Some(r) = &patch.root_cause {
        check_text("root_cause", r, 500, &mut p);
    }
    if patch.due_on.is_some_and(|d| d < ctx.now.date_naive()) {
        p.add("due_on", "in_past", "a dispute cannot be due before today");
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let row = load(conn, ctx, id, true).await?;
        let before = assemble(conn, vec![row.clone()])
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "dispute" })?;
        if !precondition(&before) {
            return Err(Error::PreconditionFailed);
        }
        if !row.status.is_active() {
            return Err(Error::conflict(
                ProblemCode::DisputeClosed,
                format!("the dispute is {}", row.status),
            ));
        }
        if let Some(owner) = patch.owner_id {
            check_owner(conn, owner).await?;
        }
        let updated: Row = diesel::update(disputes::table.find(id))
            .set((
                disputes::status.eq(patch.status.unwrap_or(row.status)),
                disputes::owner_id.eq(patch.owner_id.or(row.owner_id)),
                disputes::due_on.eq(patch.due_on.unwrap_or(row.due_on)),
                disputes::description.eq(patch
                    .description
                    .as_deref()
                    .map_or(row.description.as_str(), str::trim)),
                disputes::reason_code.eq(patch.reason_code.unwrap_or(row.reason_code)),
                disputes::root_cause.eq(patch
                    .root_cause
                    .as_deref()
                    .map(str::trim)
                    .or(row.root_cause.as_deref())),
                disputes::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let after = assemble(conn, vec![updated])
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "dispute" })?;
        audit::record(
            conn,
            ctx,
            "dispute.update",
            "dispute",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Splits a credit over the disputed lines in order, each line capped by what it
/// disputed and by what is still open on its invoice. Returns (invoice, amount) pairs
/// and what could not be placed.
pub fn allocate_credit(
    credit: Decimal,
    lines: &[(Uuid, Decimal, Decimal)],
) -> (Vec<(Uuid, Decimal)>, Decimal) {
    let mut left = credit;
    let mut out = Vec::new();
    for (invoice, disputed, open) in lines {
        if left <= Decimal::ZERO {
            break;
        }
        let take = left.min(*disputed).min(*open);
        if take > Decimal::ZERO {
            out.push((*invoice, take));
            left -= take;
        }
    }
    (out, left)
}

/// Resolves an active dispute (accountants, managers): valid → credit memos for the
/// agreed amount; invalid → back to collection; withdrawn by the customer.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    input: DisputeResolution,
) -> Result<DisputeResolved> {
    ctx.actor.require(Permission::DisputesResolve)?;
    let mut p = Problems::new();
    if input.status.is_active() {
        p.add(
            "status",
            "invalid_value",
            "resolved_valid, resolved_invalid or withdrawn",
        );
    }
    let note = input.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 2000 {
        p.add("note", "invalid_length", "must be 1 to 2000 characters");
    }
    let root_cause = input
        .root_cause
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(r) = root_cause {
        check_text("root_cause", r, 500, &mut p);
    } else if matches!(
        input.status,
        DisputeStatus::ResolvedValid | DisputeStatus::ResolvedInvalid
    ) {
        p.add("root_cause", "required", "say why the dispute happened");
    }
    if input.credit_amount.is_some() && input.status != DisputeStatus::ResolvedValid {
        p.add(
            "credit_amount",
            "not_allowed",
            "only for a dispute resolved valid",
        );
    }
    if input.credit_amount.is_some_and(|c| c <= Decimal::ZERO) {
        p.add("credit_amount", "not_positive", "must be greater than zero");
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        // Lock order: customer, invoices, then the dispute.
        let peek = load(conn, ctx, id, false).await?;
        customer::load_visible(conn, ctx, peek.customer_id, true).await?;
        let row = load(conn, ctx, id, true).await?;
        let before = assemble(conn, vec![row.clone()])
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "dispute" })?;
        if !row.status.is_active() {
            return Err(Error::conflict(
                ProblemCode::DisputeClosed,
                format!("the dispute is already {}", row.status),
            ));
        }
        let mut memos = Vec::new();
        let mut credited = None;
        if input.status == DisputeStatus::ResolvedValid {
            let credit = input.credit_amount.unwrap_or(row.amount);
            let c = Currency::parse(&row.currency)
                .ok_or_else(|| Error::Internal("stored currency".into()))?;
            money::non_negative_amount("credit_amount", credit, c)
                .map_err(|e| Error::Validation(vec![e]))?;
            if credit > row.amount {
                return Err(Error::validation(
                    "credit_amount",
                    "exceeds_dispute",
                    format!(
                        "the dispute is for {}",
                        money::in_minor_units(row.amount, &row.currency)
                    ),
                ));
            }
            let mut lines = Vec::new();
            for line in &before.invoices {
                let (inv, _) = invoice::load(conn, ctx, line.invoice_id, true).await?;
                lines.push((inv.id, line.amount, inv.open_balance));
            }
            let (parts, unplaced) = allocate_credit(credit, &lines);
            if unplaced > Decimal::ZERO {
                return Err(Error::conflict(
                    ProblemCode::CreditExceedsOpenBalance,
                    "the invoices were paid or credited since; less is open than the credit",
                ));
            }
            let reason = format!("dispute ({}): {note}", row.reason_code);
            for (invoice_id, amount) in parts {
                let (inv, _) = invoice::load(conn, ctx, invoice_id, false).await?;
                let posted = credit_memo::post(conn, ctx, &inv, amount, &reason, None).await?;
                diesel::update(credit_memos::table.find(posted.credit_memo.id))
                    .set(credit_memos::dispute_id.eq(id))
                    .execute(conn)
                    .await?;
                memos.push(posted.credit_memo);
            }
            credited = Some(credit);
        }
        let updated: Row = diesel::update(disputes::table.find(id))
            .set((
                disputes::status.eq(input.status),
                disputes::root_cause.eq(root_cause.or(row.root_cause.as_deref())),
                disputes::resolution_note.eq(&note),
                disputes::credited.eq(credited),
                disputes::resolved_by.eq(ctx.actor.id()),
                disputes::resolved_at.eq(ctx.now),
                disputes::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        // Its follow-up tasks are moot now.
        diesel::update(
            tasks::table
                .filter(tasks::source_type.eq("dispute"))
                .filter(tasks::source_id.eq(id))
                .filter(tasks::status.eq(task::TaskStatus::Open)),
        )
        .set((
            tasks::status.eq(task::TaskStatus::Done),
            tasks::updated_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
        let after = assemble(conn, vec![updated])
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound { entity: "dispute" })?;
        audit::record(
            conn,
            ctx,
            "dispute.resolve",
            "dispute",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(DisputeResolved {
            dispute: after,
            credit_memos: memos,
        })
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DisputeFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<DisputeStatus>,
    pub reason_code: Option<DisputeReason>,
    pub owner_id: Option<Uuid>,
    /// Disputes naming this invoice.
    pub invoice_id: Option<Uuid>,
    /// Only active disputes due before today.
    pub overdue: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("disputes", "-created_at");

/// Disputes on customers the caller may see, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &DisputeFilter,
) -> Result<Page<Dispute>> {
    ctx.actor.require(Permission::DisputesRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut q = disputes::table.select(Row::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(disputes::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(disputes::customer_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(disputes::status.eq(s));
    }
    if let Some(r) = filter.reason_code {
        q = q.filter(disputes::reason_code.eq(r));
    }
    if let Some(o) = filter.owner_id {
        q = q.filter(disputes::owner_id.eq(o));
    }
    if let Some(inv) = filter.invoice_id {
        q = q.filter(
            disputes::id.eq_any(
                dispute_invoices::table
                    .filter(dispute_invoices::invoice_id.eq(inv))
                    .select(dispute_invoices::dispute_id),
            ),
        );
    }
    if filter.overdue == Some(true) {
        q = q
            .filter(disputes::status.eq_any([DisputeStatus::Open, DisputeStatus::Investigating]))
            .filter(disputes::due_on.lt(ctx.now.date_naive()));
    }
    if let Some((t, id)) = page.after {
        q = q.filter(
            disputes::created_at
                .lt(t)
                .or(disputes::created_at.eq(t).and(disputes::id.lt(id))),
        );
    }
    let rows: Vec<Row> = q
        .order((disputes::created_at.desc(), disputes::id.desc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    let page = Page::from_rows(rows, &page, |r: &Row| (r.created_at, r.id));
    let items = assemble(conn, page.data).await?;
    Ok(Page {
        data: items,
        next_cursor: page.next_cursor,
    })
}

/// Records a dispute that imported data flags on a new invoice (IBM's `Disputed`
/// column): opened on the invoice date over the whole amount, and resolved invalid on
/// the day it was settled in full, or still open if it was not.
pub(crate) async fn record_imported(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    invoice: &invoice::Invoice,
    settled_on: Option<NaiveDate>,
) -> Result<()> {
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let opened = midnight(invoice.issue_date).unwrap_or(ctx.now);
    let resolved = settled_on.and_then(midnight);
    let id = Uuid::now_v7();
    diesel::insert_into(disputes::table)
        .values((
            disputes::id.eq(id),
            disputes::customer_id.eq(invoice.customer_id),
            disputes::amount.eq(invoice.amount),
            disputes::currency.eq(&invoice.currency),
            disputes::reason_code.eq(DisputeReason::Other),
            disputes::status.eq(if resolved.is_some() {
                DisputeStatus::ResolvedInvalid
            } else {
                DisputeStatus::Open
            }),
            disputes::description.eq("Flagged as disputed in the imported data"),
            disputes::due_on.eq(invoice.due_date),
            disputes::resolution_note.eq(resolved.map(|_| "Settled in full (imported)")),
            disputes::resolved_at.eq(resolved),
            disputes::created_by.eq(ctx.actor.id()),
            disputes::created_at.eq(opened),
            disputes::updated_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
    diesel::insert_into(dispute_invoices::table)
        .values((
            dispute_invoices::dispute_id.eq(id),
            dispute_invoices::invoice_id.eq(invoice.id),
            dispute_invoices::amount.eq(invoice.amount),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The daily run: each active dispute past its due date gets one open task for its
/// owner (none while an earlier one is still open). Returns how many were made.
pub async fn follow_up_overdue(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<usize> {
    let today = ctx.now.date_naive();
    let overdue: Vec<Row> = disputes::table
        .filter(disputes::status.eq_any([DisputeStatus::Open, DisputeStatus::Investigating]))
        .filter(disputes::due_on.lt(today))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            tasks::table
                .filter(tasks::source_type.eq("dispute"))
                .filter(tasks::source_id.eq(disputes::id.nullable()))
                .filter(tasks::status.eq(task::TaskStatus::Open)),
        )))
        .select(Row::as_select())
        .order(disputes::id)
        .load(conn)
        .await?;
    let mut made = 0;
    for row in overdue {
        conn.transaction(async |conn| {
            let amount = money::in_minor_units(row.amount, &row.currency);
            task::create(
                conn,
                ctx,
                NewTask {
                    customer_id: row.customer_id,
                    assignee_id: row.owner_id,
                    kind: "dispute_overdue",
                    title: format!(
                        "Dispute of {amount} {} ({}) was due {}",
                        row.currency, row.reason_code, row.due_on
                    ),
                    due_on: today,
                    source: Some(("dispute", row.id)),
                },
            )
            .await?;
            Ok::<_, Error>(())
        })
        .await?;
        made += 1;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn credit_goes_to_the_lines_in_order_within_their_caps() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let lines = [
            (a, Decimal::new(30000, 2), Decimal::new(1000000, 2)),
            (b, Decimal::new(20000, 2), Decimal::new(5000, 2)),
        ];
        let (parts, left) = allocate_credit(Decimal::new(40000, 2), &lines);
        assert_eq!(
            parts,
            vec![(a, Decimal::new(30000, 2)), (b, Decimal::new(5000, 2))]
        );
        assert_eq!(left, Decimal::new(5000, 2));
    }

    proptest! {
        #[test]
        fn allocation_neither_creates_nor_loses_a_cent(
            credit in 1i64..10_000_000,
            lines in proptest::collection::vec((1i64..5_000_000, 0i64..5_000_000), 1..6),
        ) {
            let lines: Vec<(Uuid, Decimal, Decimal)> = lines
                .iter()
                .enumerate()
                .map(|(i, (d, o))| (Uuid::from_u128(u128::try_from(i).unwrap_or(0)), Decimal::new(*d, 2), Decimal::new(*o, 2)))
                .collect();
            let credit = Decimal::new(credit, 2);
            let (parts, left) = allocate_credit(credit, &lines);
            let placed: Decimal = parts.iter().map(|p| p.1).sum();
            prop_assert_eq!(placed + left, credit);
            prop_assert!(left >= Decimal::ZERO);
            for (inv, amount) in parts {
                let line = lines.iter().find(|l| l.0 == inv);
                prop_assert!(line.is_some_and(|l| amount > Decimal::ZERO && amount <= l.1 && amount <= l.2));
            }
        }
    }
}
