//! Credit memos: lower an invoice's balance for a reason (pricing error, returned goods,
//! a valid deduction or dispute). Adjustments (`adjustment.rs`) correct either way.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer;
use crate::error::{Error, Result};
use crate::invoice::{self, Invoice};
use crate::journal::{self, Journal};
use crate::ledger::{self, EntryKind};
use crate::money::{self, Currency};
use crate::schema::credit_memos;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = credit_memos)]
pub struct CreditMemo {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "120.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(example = "pricing error on line 3")]
    pub reason: String,
    /// The deduction this credit resolved, if any.
    pub deduction_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/credit-memos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCreditMemo {
    pub invoice_id: Uuid,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "120.00")]
    pub amount: Decimal,
    #[schema(example = "pricing error on line 3")]
    pub reason: String,
}

/// A credit memo and the invoice as it stands after it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreditMemoPosted {
    pub credit_memo: CreditMemo,
    pub invoice: Invoice,
}

pub(crate) fn check_amount(amount: Decimal, currency: &str, allow_negative: bool) -> Result<()> {
    let c = Currency::parse(currency).ok_or_else(|| Error::Internal("stored currency".into()))?;
    if amount.is_zero() || (!allow_negative && amount < Decimal::ZERO) {
        let code = if allow_negative {
            "zero_amount"
        } else {
            "not_positive"
        };
        return Err(Error::validation(
            "amount",
            code,
            if allow_negative {
                "must not be zero"
            } else {
                "must be greater than zero"
            },
        ));
    }
    money::non_negative_amount("amount", amount.abs(), c)
        .map_err(|e| Error::Validation(vec![e]))?;
    Ok(())
}

/// Locks the invoice's customer and the invoice (the lock order of money operations).
pub(crate) async fn lock_invoice(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    invoice_id: Uuid,
    field: &str,
) -> Result<(Invoice, ledger::InvoiceState)> {
    let customer_id: Option<Uuid> = crate::schema::invoices::table
        .find(invoice_id)
        .select(crate::schema::invoices::customer_id)
        .first(conn)
        .await
        .optional()?;
    let unknown = || Error::validation(field, "unknown_invoice", "no such invoice");
    let customer_id = customer_id.ok_or_else(unknown)?;
    customer::load_visible(conn, ctx, customer_id, true)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => unknown(),
            other => other,
        })?;
    invoice::load(conn, ctx, invoice_id, true).await
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewCreditMemo,
) -> Result<CreditMemoPosted> {
    ctx.actor.require(Permission::CreditsPost)?;
    let reason = crate::error::check_reason("reason", &input.reason)?;
    conn.transaction(async |conn| {
        let (invoice, _) = lock_invoice(conn, ctx, input.invoice_id, "invoice_id").await?;
        check_amount(input.amount, &invoice.currency, false)?;
        post(conn, ctx, &invoice, input.amount, &reason, None).await
    })
    .await
}

/// Posts a credit memo inside the caller's transaction (deductions and disputes use it).
pub(crate) async fn post(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    invoice: &Invoice,
    amount: Decimal,
    reason: &str,
    deduction_id: Option<Uuid>,
) -> Result<CreditMemoPosted> {
    let (before, state) = invoice::load(conn, ctx, invoice.id, true).await?;
    let posting = ledger::reduce(&state, amount, EntryKind::CreditMemo)?;
    let memo = CreditMemo {
        id: Uuid::now_v7(),
        invoice_id: before.id,
        customer_id: before.customer_id,
        amount: money::in_minor_units(amount, &before.currency),
        currency: before.currency.clone(),
        reason: reason.to_owned(),
        deduction_id,
        created_by: ctx.actor.id(),
        created_at: ctx.now,
    };
    diesel::insert_into(credit_memos::table)
        .values((
            credit_memos::id.eq(memo.id),
            credit_memos::invoice_id.eq(memo.invoice_id),
            credit_memos::customer_id.eq(memo.customer_id),
            credit_memos::amount.eq(amount),
            credit_memos::currency.eq(&memo.currency),
            credit_memos::reason.eq(&memo.reason),
            credit_memos::deduction_id.eq(deduction_id),
            credit_memos::created_by.eq(memo.created_by),
            credit_memos::created_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
    let journal = Journal {
        customer_id: before.customer_id,
        currency: &before.currency,
        effective_on: ctx.now.date_naive(),
        document_id: Some(memo.id),
        memo: Some(reason),
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
        "credit_memo.create",
        "credit_memo",
        memo.id,
        None::<&()>,
        Some(&memo),
    )
    .await?;
    audit::record(
        conn,
        ctx,
        "invoice.credit",
        "invoice",
        before.id,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(CreditMemoPosted {
        credit_memo: memo,
        invoice: after,
    })
}
