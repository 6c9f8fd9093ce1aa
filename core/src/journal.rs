//! Writing ledger entries. Every balance change goes through [`post`], which appends the
//! entries and, in the same transaction, recomputes the cached balance and status of
//! every invoice and payment they touch from the entries themselves.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Numeric, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::access::Context;
use crate::error::{Error, Result};
use crate::ledger::{EntryKind, InvoiceStatus, Posting, effects, invoice_status};
use crate::money;
use crate::schema::{invoices, ledger_entries, payments};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: Uuid,
    /// Posting order.
    pub seq: i64,
    pub customer_id: Uuid,
    /// Absent for the customer's unapplied cash.
    pub invoice_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    pub kind: EntryKind,
    /// Signed: positive raises what the customer owes.
    #[schema(value_type = String, example = "-250.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    /// The business date the entry counts from (as-of reports).
    pub effective_on: NaiveDate,
    pub posted_at: DateTime<Utc>,
    /// The credit memo, adjustment, write-off or deduction it belongs to.
    pub document_id: Option<Uuid>,
    pub memo: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
}

impl LedgerEntry {
    pub(crate) fn shown(mut self) -> Self {
        self.amount = money::in_minor_units(self.amount, &self.currency);
        self
    }
}

/// The circumstances shared by every posting of one operation.
pub struct Journal<'a> {
    pub customer_id: Uuid,
    pub currency: &'a str,
    pub effective_on: NaiveDate,
    pub document_id: Option<Uuid>,
    pub memo: Option<&'a str>,
}

pub async fn post(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    journal: &Journal<'_>,
    postings: &[Posting],
) -> Result<Vec<LedgerEntry>> {
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = postings
        .iter()
        .map(|p| {
            (
                ledger_entries::id.eq(Uuid::now_v7()),
                ledger_entries::customer_id.eq(journal.customer_id),
                ledger_entries::invoice_id.eq(p.invoice_id),
                ledger_entries::payment_id.eq(p.payment_id),
                ledger_entries::kind.eq(p.kind),
                ledger_entries::amount.eq(p.amount),
                ledger_entries::currency.eq(journal.currency),
                ledger_entries::effective_on.eq(journal.effective_on),
                ledger_entries::posted_at.eq(ctx.now),
                ledger_entries::document_id.eq(journal.document_id),
                ledger_entries::memo.eq(journal.memo),
                ledger_entries::actor_kind.eq(ctx.actor.kind()),
                ledger_entries::actor_id.eq(ctx.actor.id()),
            )
        })
        .collect();
    let entries: Vec<LedgerEntry> = diesel::insert_into(ledger_entries::table)
        .values(rows)
        .returning(LedgerEntry::as_returning())
        .get_results(conn)
        .await?;
    let (touched_invoices, touched_payments) = effects(postings);
    let mut invoice_ids: Vec<Uuid> = touched_invoices.into_keys().collect();
    invoice_ids.sort();
    for id in invoice_ids {
        refresh_invoice(conn, id, ctx.now).await?;
    }
    let mut payment_ids: Vec<Uuid> = touched_payments.into_keys().collect();
    payment_ids.sort();
    for id in payment_ids {
        refresh_payment(conn, id, ctx.now).await?;
    }
    Ok(entries.into_iter().map(LedgerEntry::shown).collect())
}

#[derive(QueryableByName)]
struct InvoiceTotals {
    #[diesel(sql_type = Numeric)]
    balance: Decimal,
    #[diesel(sql_type = Numeric)]
    charged: Decimal,
    #[diesel(sql_type = Bool)]
    voided: bool,
    #[diesel(sql_type = Bool)]
    written_off: bool,
}

/// Recomputes an invoice's open balance and status from its entries.
async fn refresh_invoice(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    let totals: InvoiceTotals = diesel::sql_query(format!(
        "SELECT coalesce(sum(amount), 0) AS balance, \
                coalesce(sum(amount) FILTER (WHERE {}), 0) AS charged, \
                coalesce(bool_or(kind = 'invoice_voided'), false) AS voided, \
                coalesce(bool_or(kind = 'write_off'), false) AS written_off \
         FROM ledger_entries WHERE invoice_id = $1",
        crate::ledger::CHARGE_FILTER_SQL
    ))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?;
    if totals.balance < Decimal::ZERO {
        // The planners refuse this; reaching it means a rule is missing. Roll back.
        return Err(Error::Internal(format!("invoice {id} would go negative")));
    }
    let current: InvoiceStatus = invoices::table
        .find(id)
        .select(invoices::status)
        .first(conn)
        .await?;
    let mut status = invoice_status(
        totals.balance,
        totals.charged,
        totals.voided,
        totals.written_off,
    );
    // A dispute keeps the invoice disputed while money is still open on it.
    if current == InvoiceStatus::Disputed && totals.balance > Decimal::ZERO {
        status = InvoiceStatus::Disputed;
    }
    diesel::update(invoices::table.find(id))
        .set((
            invoices::open_balance.eq(totals.balance),
            invoices::status.eq(status),
            invoices::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct PaymentTotals {
    #[diesel(sql_type = Numeric)]
    on_account: Decimal,
    #[diesel(sql_type = Numeric)]
    refunded: Decimal,
}

/// Recomputes a payment's unapplied and refunded amounts from its entries.
async fn refresh_payment(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    let totals: PaymentTotals = diesel::sql_query(
        "SELECT coalesce(sum(amount) FILTER (WHERE invoice_id IS NULL), 0) AS on_account, \
                coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded \
         FROM ledger_entries WHERE payment_id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?;
    let unapplied = -totals.on_account;
    if unapplied < Decimal::ZERO {
        return Err(Error::Internal(format!(
            "payment {id} would have negative unapplied cash"
        )));
    }
    diesel::update(payments::table.find(id))
        .set((
            payments::unapplied.eq(unapplied),
            payments::refunded.eq(totals.refunded),
            payments::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The entries of an invoice in posting order.
pub async fn for_invoice(
    conn: &mut AsyncPgConnection,
    invoice_id: Uuid,
) -> Result<Vec<LedgerEntry>> {
    Ok(ledger_entries::table
        .filter(ledger_entries::invoice_id.eq(invoice_id))
        .order(ledger_entries::seq.asc())
        .select(LedgerEntry::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(LedgerEntry::shown)
        .collect())
}

/// Whether this kind of entry counts as "touching" an invoice for voiding purposes.
pub fn is_issue(kind: EntryKind) -> bool {
    matches!(kind, EntryKind::InvoiceIssued | EntryKind::NsfFee)
}
