//! Deductions: a customer paid an invoice short on purpose (pricing, damage, promotion…).
//! Resolved valid, the short amount is credited; resolved invalid, it stays open for
//! collection, marked to rebill or to chase.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::credit_memo::{self, CreditMemo};
use crate::customer;
use crate::error::{Error, Result};
use crate::invoice::{self, Invoice};
use crate::money;
use crate::page::{Listing, Page, PageRequest};
use crate::schema::deductions;

text_enum! {
    pub enum DeductionReason {
        Pricing = "pricing",
        Quantity = "quantity",
        Damaged = "damaged",
        NotReceived = "not_received",
        Promotion = "promotion",
        Freight = "freight",
        Tax = "tax",
        Other = "other",
    }
}

text_enum! {
    pub enum DeductionStatus {
        Open = "open",
        ResolvedValid = "resolved_valid",
        ResolvedInvalid = "resolved_invalid",
    }
}

text_enum! {
    /// What collection does with an invalid deduction.
    pub enum FollowUp {
        /// Bill the short amount again.
        Rebill = "rebill",
        /// Collect the open amount on the original invoice.
        Chase = "chase",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = deductions)]
pub struct Deduction {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    /// What the customer left unpaid.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "80.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    pub reason_code: DeductionReason,
    pub status: DeductionStatus,
    pub follow_up: Option<FollowUp>,
    pub note: Option<String>,
    pub credit_memo_id: Option<Uuid>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Deduction {
    fn shown(mut self) -> Self {
        self.amount = money::in_minor_units(self.amount, &self.currency);
        self
    }
}

/// Opens a deduction inside the payment's transaction.
pub(crate) async fn open(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    payment_id: Uuid,
    invoice: &Invoice,
    amount: Decimal,
    reason: DeductionReason,
) -> Result<Deduction> {
    let deduction: Deduction = diesel::insert_into(deductions::table)
        .values((
            deductions::id.eq(Uuid::now_v7()),
            deductions::payment_id.eq(payment_id),
            deductions::invoice_id.eq(invoice.id),
            deductions::customer_id.eq(invoice.customer_id),
            deductions::amount.eq(amount),
            deductions::currency.eq(&invoice.currency),
            deductions::reason_code.eq(reason),
            deductions::status.eq(DeductionStatus::Open),
            deductions::created_at.eq(ctx.now),
        ))
        .returning(Deduction::as_returning())
        .get_result(conn)
        .await?;
    let deduction = deduction.shown();
    audit::record(
        conn,
        ctx,
        "deduction.open",
        "deduction",
        deduction.id,
        None::<&()>,
        Some(&deduction),
    )
    .await?;
    Ok(deduction)
}

/// `POST /v1/deductions/{id}/resolve`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `resolved_valid` credits the invoice; `resolved_invalid` keeps it in collection.
    pub status: DeductionStatus,
    /// For a valid deduction: the amount to credit (default the whole deduction).
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "80.00")]
    pub credit_amount: Option<Decimal>,
    /// For an invalid deduction: rebill or chase (required).
    pub follow_up: Option<FollowUp>,
    #[schema(example = "proof of delivery signed by the customer's dock")]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub deduction: Deduction,
    pub credit_memo: Option<CreditMemo>,
    pub invoice: Invoice,
}

pub async fn resolve(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    resolution: Resolution,
) -> Result<Resolved> {
    ctx.actor.require(Permission::DeductionsResolve)?;
    let note = crate::error::check_reason("note", &resolution.note)?;
    conn.transaction(async |conn| {
        let found: Option<Deduction> = deductions::table
            .find(id)
            .select(Deduction::as_select())
            .first(conn)
            .await
            .optional()?;
        let found = found.ok_or(Error::NotFound {
            entity: "deduction",
        })?;
        let (invoice, _) = credit_memo::lock_invoice(conn, ctx, found.invoice_id, "invoice_id")
            .await
            .map_err(|_| Error::NotFound {
                entity: "deduction",
            })?;
        let before: Deduction = deductions::table
            .find(id)
            .select(Deduction::as_select())
            .for_update()
            .first(conn)
            .await?;
        let before = before.shown();
        if before.status != DeductionStatus::Open {
            return Err(Error::conflict(
                ProblemCode::DeductionResolved,
                "the deduction is already resolved",
            ));
        }
        let (credit, follow_up) = match resolution.status {
            DeductionStatus::Open => {
                return Err(Error::validation(
                    "status",
                    "invalid_value",
                    "resolve as resolved_valid or resolved_invalid",
                ));
            }
            DeductionStatus::ResolvedValid => {
                if resolution.follow_up.is_some() {
                    return Err(Error::validation(
                        "follow_up",
                        "not_allowed",
                        "only for invalid deductions",
                    ));
                }
                let amount = resolution.credit_amount.unwrap_or(before.amount);
                if amount > before.amount {
                    return Err(Error::validation(
                        "credit_amount",
                        "exceeds_deduction",
                        format!("the deduction is {}", before.amount),
                    ));
                }
                credit_memo::check_amount(amount, &before.currency, false).map_err(
                    |e| match e {
                        Error::Validation(mut errors) => {
                            errors
                                .iter_mut()
                                .for_each(|f| f.field = "credit_amount".into());
                            Error::Validation(errors)
                        }
                        other => other,
                    },
                )?;
                let reason = format!("deduction ({}): {note}", before.reason_code);
                let posted =
                    credit_memo::post(conn, ctx, &invoice, amount, &reason, Some(id)).await?;
                (Some(posted.credit_memo), None)
            }
            DeductionStatus::ResolvedInvalid => {
                if resolution.credit_amount.is_some() {
                    return Err(Error::validation(
                        "credit_amount",
                        "not_allowed",
                        "only for valid deductions",
                    ));
                }
                let follow_up = resolution
                    .follow_up
                    .ok_or_else(|| Error::validation("follow_up", "required", "rebill or chase"))?;
                (None, Some(follow_up))
            }
        };
        let after: Deduction = diesel::update(deductions::table.find(id))
            .set((
                deductions::status.eq(resolution.status),
                deductions::follow_up.eq(follow_up),
                deductions::note.eq(&note),
                deductions::credit_memo_id.eq(credit.as_ref().map(|c| c.id)),
                deductions::resolved_by.eq(ctx.actor.id()),
                deductions::resolved_at.eq(ctx.now),
            ))
            .returning(Deduction::as_returning())
            .get_result(conn)
            .await?;
        let after = after.shown();
        audit::record(
            conn,
            ctx,
            "deduction.resolve",
            "deduction",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        let (invoice, _) = invoice::load(conn, ctx, invoice.id, false).await?;
        Ok(Resolved {
            deduction: after,
            credit_memo: credit,
            invoice,
        })
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeductionFilter {
    pub customer_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub status: Option<DeductionStatus>,
    pub reason_code: Option<DeductionReason>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("deductions", "created_at");

pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &DeductionFilter,
) -> Result<Page<Deduction>> {
    ctx.actor.require(Permission::PaymentsRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut q = deductions::table
        .select(Deduction::as_select())
        .into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(deductions::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(deductions::customer_id.eq(id));
    }
    if let Some(id) = filter.invoice_id {
        q = q.filter(deductions::invoice_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(deductions::status.eq(s));
    }
    if let Some(r) = filter.reason_code {
        q = q.filter(deductions::reason_code.eq(r));
    }
    if let Some((t, id)) = page.after {
        q = q.filter(
            deductions::created_at
                .gt(t)
                .or(deductions::created_at.eq(t).and(deductions::id.gt(id))),
        );
    }
    let rows = q
        .order((deductions::created_at.asc(), deductions::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |d: &Deduction| (d.created_at, d.id)).map(Deduction::shown))
}
