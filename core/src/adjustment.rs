//! Adjustments: signed corrections of an invoice's balance (a positive one raises it,
//! e.g. freight billed late; a negative one lowers it). The balance never goes below 0.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::credit_memo::{check_amount, lock_invoice};
use crate::error::Result;
use crate::error::check_reason;
use crate::invoice::{self, Invoice};
use crate::journal::{self, Journal};
use crate::ledger;
use crate::money;
use crate::schema::adjustments;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = adjustments)]
pub struct Adjustment {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    /// Signed: positive raises the balance.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "-15.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(example = "rounding difference agreed with customer")]
    pub reason: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/adjustments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdjustment {
    pub invoice_id: Uuid,
    /// Signed, non-zero.
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "-15.00")]
    pub amount: Decimal,
    #[schema(example = "rounding difference agreed with customer")]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdjustmentPosted {
    pub adjustment: Adjustment,
    pub invoice: Invoice,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewAdjustment,
) -> Result<AdjustmentPosted> {
    ctx.actor.require(Permission::CreditsPost)?;
    let reason = check_reason("reason", &input.reason)?;
    conn.transaction(async |conn| {
        let (before, state) = lock_invoice(conn, ctx, input.invoice_id, "invoice_id").await?;
        check_amount(input.amount, &before.currency, true)?;
        let posting = ledger::adjust(&state, input.amount)?;
        let adjustment = Adjustment {
            id: Uuid::now_v7(),
            invoice_id: before.id,
            customer_id: before.customer_id,
            amount: money::in_minor_units(input.amount, &before.currency),
            currency: before.currency.clone(),
            reason: reason.clone(),
            created_by: ctx.actor.id(),
            created_at: ctx.now,
        };
        diesel::insert_into(adjustments::table)
            .values((
                adjustments::id.eq(adjustment.id),
                adjustments::invoice_id.eq(adjustment.invoice_id),
                adjustments::customer_id.eq(adjustment.customer_id),
                adjustments::amount.eq(input.amount),
                adjustments::currency.eq(&adjustment.currency),
                adjustments::reason.eq(&reason),
                adjustments::created_by.eq(adjustment.created_by),
                adjustments::created_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        let journal = Journal {
            customer_id: before.customer_id,
            currency: &before.currency,
            effective_on: ctx.now.date_naive(),
            document_id: Some(adjustment.id),
            memo: Some(&reason),
        };
        journal::post(
            conn,
            ctx,
            &journal,
            &[posting],
            &mut [state.clone()],
            &mut [],
        )
        .await?;
        let (after, _) = invoice::load(conn, ctx, before.id, false).await?;
        audit::record(
            conn,
            ctx,
            "adjustment.create",
            "adjustment",
            adjustment.id,
            None::<&()>,
            Some(&adjustment),
        )
        .await?;
        audit::record(
            conn,
            ctx,
            "invoice.adjust",
            "invoice",
            before.id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(AdjustmentPosted {
            adjustment,
            invoice: after,
        })
    })
    .await
}
