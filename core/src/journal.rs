//! Writing ledger entries. [`post`] moves the loaded (and locked) states of the invoices
//! and payments the postings touch with `ledger::post_to` — the one definition of an
//! entry's effect — appends the entries, and saves the moved balances, all inside the
//! caller's transaction. Entries are the record; the cached balances follow them, and
//! the tests check on the whole database that they always agree.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::access::Context;
use crate::db;
use crate::error::Result;
use crate::ledger::{self, EntryKind, InvoiceState, PaymentState, Posting};
use crate::money;
use crate::schema::{ledger_entries, payments};

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
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "-250.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    /// The business date the entry counts from (as-of reports).
    pub effective_on: NaiveDate,
    pub posted_at: DateTime<Utc>,
    /// The credit memo, adjustment, write-off or deduction it belongs to.
    pub document_id: Option<Uuid>,
    pub memo: Option<String>,
    #[schema(value_type = crate::access::ActorKind)]
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
}

impl LedgerEntry {
    pub(crate) fn shown(mut self) -> Self {
        self.amount = money::in_minor_units(self.amount, &self.currency);
        self
    }
}

diesel::define_sql_function!(fn greatest(a: diesel::sql_types::Date, b: diesel::sql_types::Date) -> diesel::sql_types::Date);

/// The circumstances shared by every posting of one operation.
pub struct Journal<'a> {
    pub customer_id: Uuid,
    pub currency: &'a str,
    pub effective_on: NaiveDate,
    pub document_id: Option<Uuid>,
    pub memo: Option<&'a str>,
}

/// Moves the states, appends the entries and saves the touched balances.
pub async fn post(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    journal: &Journal<'_>,
    postings: &[Posting],
    invoices: &mut [InvoiceState],
    payments: &mut [PaymentState],
) -> Result<()> {
    ledger::post_to(invoices, payments, postings)?;
    write(conn, ctx, journal, postings, invoices, payments).await
}

/// Appends the entries and saves the balances of the given (already moved) states that
/// the postings touch. Rows a caller wrote with their final balances are left out.
pub async fn write(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    journal: &Journal<'_>,
    postings: &[Posting],
    invoices: &[InvoiceState],
    payments: &[PaymentState],
) -> Result<()> {
    futures_util::future::try_join_all(writes(conn, ctx, journal, postings, invoices, payments))
        .await?;
    Ok(())
}

/// The statements of [`append`] and [`save`], to be sent pipelined with others: the
/// server still runs them one after the other, in order, within the transaction.
pub fn writes<'a>(
    conn: &'a AsyncPgConnection,
    ctx: &Context,
    journal: &Journal<'_>,
    postings: &[Posting],
    invoices: &[InvoiceState],
    payments: &[PaymentState],
) -> Vec<db::Write<'a>> {
    use diesel::sql_types::Uuid as SqlUuid;
    use diesel::sql_types::{Array, Bool, Date, Nullable, Numeric, Text, Timestamptz};
    let mut c = conn;
    let mut out: Vec<db::Write<'a>> = Vec::new();
    if !postings.is_empty() {
        // One prepared statement whatever the number of entries (arrays, not a
        // multi-row VALUES whose text, and so whose plan, varies with the count).
        let ids: Vec<Uuid> = postings.iter().map(|_| Uuid::now_v7()).collect();
        let invoice_ids: Vec<Option<Uuid>> = postings.iter().map(|p| p.invoice_id).collect();
        let payment_ids: Vec<Option<Uuid>> = postings.iter().map(|p| p.payment_id).collect();
        let kinds: Vec<&'static str> = postings.iter().map(|p| p.kind.as_str()).collect();
        let amounts: Vec<Decimal> = postings.iter().map(|p| p.amount).collect();
        out.push(
            crate::db::prepared(
                "INSERT INTO ledger_entries (id, customer_id, invoice_id, payment_id, kind, amount,
                     currency, effective_on, posted_at, document_id, memo, actor_kind, actor_id)
                 SELECT e.id, $6, e.invoice_id, e.payment_id, e.kind, e.amount,
                        $7, $8, $9, $10, $11, $12, $13
                   FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::numeric[])
                        AS e(id, invoice_id, payment_id, kind, amount)",
            )
            .bind::<Array<SqlUuid>, _>(ids)
            .bind::<Array<Nullable<SqlUuid>>, _>(invoice_ids)
            .bind::<Array<Nullable<SqlUuid>>, _>(payment_ids)
            .bind::<Array<Text>, _>(kinds)
            .bind::<Array<Numeric>, _>(amounts)
            .bind::<SqlUuid, _>(journal.customer_id)
            .bind::<Text, _>(journal.currency.to_owned())
            .bind::<Date, _>(journal.effective_on)
            .bind::<Timestamptz, _>(ctx.now)
            .bind::<Nullable<SqlUuid>, _>(journal.document_id)
            .bind::<Nullable<Text>, _>(journal.memo.map(str::to_owned))
            .bind::<Text, _>(ctx.actor.kind())
            .bind::<Nullable<SqlUuid>, _>(ctx.actor.id())
            .execute(&mut c),
        );
    }
    let moved: Vec<&InvoiceState> = invoices
        .iter()
        .filter(|i| postings.iter().any(|p| p.invoice_id == Some(i.id)))
        .collect();
    if !moved.is_empty() {
        // One prepared statement for every invoice the operation moved.
        out.push(
            crate::db::prepared(
                "UPDATE invoices i SET open_balance = v.balance, charged = v.charged,
                        written_off = v.written_off, status = v.status, updated_at = $6
                   FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::bool[], $5::text[])
                        AS v(id, balance, charged, written_off, status)
                  WHERE i.id = v.id",
            )
            .bind::<Array<SqlUuid>, _>(moved.iter().map(|i| i.id).collect::<Vec<_>>())
            .bind::<Array<Numeric>, _>(moved.iter().map(|i| i.balance).collect::<Vec<_>>())
            .bind::<Array<Numeric>, _>(moved.iter().map(|i| i.charged).collect::<Vec<_>>())
            .bind::<Array<Bool>, _>(moved.iter().map(|i| i.written_off).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(moved.iter().map(|i| i.status.as_str()).collect::<Vec<_>>())
            .bind::<Timestamptz, _>(ctx.now)
            .execute(&mut c),
        );
    }
    for payment in payments.iter().filter(|x| {
        postings
            .iter()
            .any(|p| p.invoice_id.is_none() && p.payment_id == Some(x.id))
    }) {
        out.push(
            diesel::update(payments::table.find(payment.id))
                .set((
                    payments::unapplied.eq(payment.unapplied),
                    payments::refunded.eq(payment.refunded),
                    // The latest effective date of its entries with no invoice, which
                    // the aging report relies on (see the migration that added it).
                    payments::unapplied_changed_on.eq(greatest(
                        payments::unapplied_changed_on,
                        journal.effective_on,
                    )),
                    payments::updated_at.eq(ctx.now),
                ))
                .execute(&mut c),
        );
    }
    out
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
