//! Write-offs: uncollectible balances taken off the books. Below the approval threshold
//! a request posts at once; above it, it waits for a manager. Money recovered later is
//! recorded against the write-off.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::credit_memo::{check_amount, lock_invoice};
use crate::customer;
use crate::error::check_reason;
use crate::error::{Error, Result};
use crate::invoice::{self, Invoice};
use crate::journal::{self, Journal};
use crate::ledger::{self, EntryKind};
use crate::money;
use crate::page::{Listing, Page, PageRequest};
use crate::schema::write_offs;

text_enum! {
    pub enum WriteOffStatus {
        PendingApproval = "pending_approval",
        Posted = "posted",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = write_offs)]
pub struct WriteOff {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "340.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(example = "customer out of business; no assets")]
    pub reason: String,
    pub status: WriteOffStatus,
    pub requested_by: Option<Uuid>,
    pub approved_by: Option<Uuid>,
    pub posted_at: Option<DateTime<Utc>>,
    /// Money recovered after the write-off.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub recovered_amount: Decimal,
    pub created_at: DateTime<Utc>,
}

impl WriteOff {
    fn shown(mut self) -> Self {
        self.amount = money::in_minor_units(self.amount, &self.currency);
        self.recovered_amount = money::in_minor_units(self.recovered_amount, &self.currency);
        self
    }
}

/// `POST /v1/write-offs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWriteOff {
    pub invoice_id: Uuid,
    /// Default: the invoice's whole open balance.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "340.00")]
    pub amount: Option<Decimal>,
    #[schema(example = "customer out of business; no assets")]
    pub reason: String,
}

/// `POST /v1/write-offs/{id}/recoveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecovery {
    /// The payment that brought the money; its unapplied cash is used.
    pub payment_id: Uuid,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "100.00")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WriteOffChange {
    pub write_off: WriteOff,
    pub invoice: Invoice,
}

async fn post_entry(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    write_off: &WriteOff,
) -> Result<()> {
    let (_, state) = invoice::load(conn, ctx, write_off.invoice_id, true).await?;
    let posting = ledger::reduce(&state, write_off.amount, EntryKind::WriteOff)?;
    let journal = Journal {
        customer_id: write_off.customer_id,
        currency: &write_off.currency,
        effective_on: ctx.now.date_naive(),
        document_id: Some(write_off.id),
        memo: Some(&write_off.reason),
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
    Ok(())
}

/// Requests a write-off; posts it at once when within the threshold (or when the
/// requester may approve).
pub async fn request(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewWriteOff,
    approval_threshold: Decimal,
) -> Result<WriteOffChange> {
    ctx.actor.require(Permission::WriteOffsRequest)?;
    let reason = check_reason("reason", &input.reason)?;
    conn.transaction(async |conn| {
        let (invoice, state) = lock_invoice(conn, ctx, input.invoice_id, "invoice_id").await?;
        let amount = input.amount.unwrap_or(state.balance);
        check_amount(amount, &invoice.currency, false)?;
        // Checked now too, so a pending request is never for more than is open.
        ledger::reduce(&state, amount, EntryKind::WriteOff)?;
        let pending: i64 = write_offs::table
            .filter(write_offs::invoice_id.eq(invoice.id))
            .filter(write_offs::status.eq(WriteOffStatus::PendingApproval))
            .count()
            .get_result(conn)
            .await?;
        if pending > 0 {
            return Err(Error::conflict(
                ProblemCode::WriteOffPending,
                "a write-off of this invoice already waits for approval",
            ));
        }
        let auto = amount <= approval_threshold || ctx.actor.may(Permission::WriteOffsApprove);
        let write_off: WriteOff = diesel::insert_into(write_offs::table)
            .values((
                write_offs::id.eq(Uuid::now_v7()),
                write_offs::invoice_id.eq(invoice.id),
                write_offs::customer_id.eq(invoice.customer_id),
                write_offs::amount.eq(amount),
                write_offs::currency.eq(&invoice.currency),
                write_offs::reason.eq(&reason),
                write_offs::status.eq(if auto {
                    WriteOffStatus::Posted
                } else {
                    WriteOffStatus::PendingApproval
                }),
                write_offs::requested_by.eq(ctx.actor.id()),
                write_offs::approved_by.eq(if auto { ctx.actor.id() } else { None }),
                write_offs::posted_at.eq(auto.then_some(ctx.now)),
                write_offs::created_at.eq(ctx.now),
            ))
            .returning(WriteOff::as_returning())
            .get_result(conn)
            .await?;
        let write_off = write_off.shown();
        if auto {
            post_entry(conn, ctx, &write_off).await?;
        }
        audit::record(
            conn,
            ctx,
            "write_off.request",
            "write_off",
            write_off.id,
            None::<&()>,
            Some(&write_off),
        )
        .await?;
        let (invoice, _) = invoice::load(conn, ctx, invoice.id, false).await?;
        Ok(WriteOffChange { write_off, invoice })
    })
    .await
}

async fn lock(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<WriteOff> {
    let found: Option<WriteOff> = write_offs::table
        .find(id)
        .select(WriteOff::as_select())
        .first(conn)
        .await
        .optional()?;
    let found = found.ok_or(Error::NotFound {
        entity: "write_off",
    })?;
    lock_invoice(conn, ctx, found.invoice_id, "invoice_id")
        .await
        .map_err(|_| Error::NotFound {
            entity: "write_off",
        })?;
    let row: WriteOff = write_offs::table
        .find(id)
        .select(WriteOff::as_select())
        .for_update()
        .first(conn)
        .await?;
    Ok(row.shown())
}

/// A manager approves a pending write-off; it posts now.
pub async fn approve(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
) -> Result<WriteOffChange> {
    ctx.actor.require(Permission::WriteOffsApprove)?;
    conn.transaction(async |conn| {
        let before = lock(conn, ctx, id).await?;
        if before.status != WriteOffStatus::PendingApproval {
            return Err(Error::conflict(
                ProblemCode::WriteOffPosted,
                "the write-off is already posted",
            ));
        }
        if before.requested_by.is_some() && before.requested_by == ctx.actor.id() {
            return Err(Error::conflict(
                ProblemCode::OwnRequest,
                "a write-off needs someone other than its requester to approve it",
            ));
        }
        post_entry(conn, ctx, &before).await?;
        let after: WriteOff = diesel::update(write_offs::table.find(id))
            .set((
                write_offs::status.eq(WriteOffStatus::Posted),
                write_offs::approved_by.eq(ctx.actor.id()),
                write_offs::posted_at.eq(ctx.now),
            ))
            .returning(WriteOff::as_returning())
            .get_result(conn)
            .await?;
        let after = after.shown();
        audit::record(
            conn,
            ctx,
            "write_off.approve",
            "write_off",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        let (invoice, _) = invoice::load(conn, ctx, after.invoice_id, false).await?;
        Ok(WriteOffChange {
            write_off: after,
            invoice,
        })
    })
    .await
}

/// Records money recovered on a posted write-off, using a payment's unapplied cash.
pub async fn recover(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    input: NewRecovery,
) -> Result<WriteOffChange> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    conn.transaction(async |conn| {
        let before = lock(conn, ctx, id).await?;
        if before.status != WriteOffStatus::Posted {
            return Err(Error::conflict(
                ProblemCode::WriteOffPending,
                "the write-off is not posted yet",
            ));
        }
        check_amount(input.amount, &before.currency, false)?;
        let (_, invoice_state) = invoice::load(conn, ctx, before.invoice_id, true).await?;
        let payment = crate::payment::state_for_update(conn, ctx, input.payment_id).await?;
        let postings = ledger::recover(
            &payment,
            &invoice_state,
            before.amount,
            before.recovered_amount,
            input.amount,
        )?;
        let journal = Journal {
            customer_id: before.customer_id,
            currency: &before.currency,
            effective_on: ctx.now.date_naive(),
            document_id: Some(id),
            memo: Some("write-off recovery"),
        };
        journal::post(
            conn,
            ctx,
            &journal,
            &postings,
            &mut [invoice_state.clone()],
            &mut [payment.clone()],
        )
        .await?;
        crate::payment::record_application(
            conn,
            ctx,
            input.payment_id,
            before.invoice_id,
            input.amount,
        )
        .await?;
        let after: WriteOff = diesel::update(write_offs::table.find(id))
            .set(write_offs::recovered_amount.eq(write_offs::recovered_amount + input.amount))
            .returning(WriteOff::as_returning())
            .get_result(conn)
            .await?;
        let after = after.shown();
        audit::record(
            conn,
            ctx,
            "write_off.recover",
            "write_off",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        let (invoice, _) = invoice::load(conn, ctx, after.invoice_id, false).await?;
        Ok(WriteOffChange {
            write_off: after,
            invoice,
        })
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WriteOffFilter {
    pub customer_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub status: Option<WriteOffStatus>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("write_offs", "created_at");

pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &WriteOffFilter,
) -> Result<Page<WriteOff>> {
    ctx.actor.require(Permission::InvoicesRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut q = write_offs::table.select(WriteOff::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(write_offs::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(write_offs::customer_id.eq(id));
    }
    if let Some(id) = filter.invoice_id {
        q = q.filter(write_offs::invoice_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(write_offs::status.eq(s));
    }
    if let Some((t, id)) = page.after {
        q = q.filter(
            write_offs::created_at
                .gt(t)
                .or(write_offs::created_at.eq(t).and(write_offs::id.gt(id))),
        );
    }
    let rows = q
        .order((write_offs::created_at.asc(), write_offs::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |w: &WriteOff| (w.created_at, w.id)).map(WriteOff::shown))
}
