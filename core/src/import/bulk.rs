//! The bulk path for the common case of an invoices import: rows with a new external id
//! naming a customer the importer sees, which pass the invoice's own checks, are
//! written together, one statement for the batch (invoices, their `invoice_issued`
//! entries and their audit events), instead of one savepoint and several statements
//! per row. Every other row (an external id already imported, a row that would be
//! refused, one whose number or external id an earlier row of the batch also uses)
//! goes the per-row path afterwards, in line order, so what it does and the errors it
//! gets are the per-row path's own.
//!
//! Why the two orders agree: a bulk row shares no external id or number with any
//! earlier row of its batch, so no per-row write before it could have changed its
//! outcome; a later row that clashes with it finds it written, as it would have.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{Array, Date, Nullable, Numeric, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::rows::{InvoiceRow, Row};
use super::write::{KnownCustomer, Tally};
use crate::access::{Context, Permission, Visibility};
use crate::error::Result;
use crate::invoice::{self, Invoice, InvoiceKind, NewInvoice};
use crate::schema::customers;

/// Invoices, entries and audit events of the rows written in bulk, in one statement
/// whatever the batch's size (arrays bound, `unnest`ed).
/// `ON CONFLICT DO NOTHING`: a row whose number or external id another writer took
/// meanwhile is not inserted (nor its entry and event) and goes the per-row path,
/// which reports the conflict on its line. Entries and events follow line order.
const INSERT_INVOICES: &str = "\
WITH new AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::date[],
                         $6::date[], $7::numeric[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::numeric[], $13::numeric[], $14::uuid[],
                         $15::text[], $16::numeric[], $17::uuid[], $18::text[])
        WITH ORDINALITY AS n(id, number, external_id, customer_id, issue_date,
                             due_date, amount, currency, po_number, project,
                             status, open_balance, charged, entry_id,
                             entry_kind, entry_amount, event_id, after, ord)
), inserted AS (
    INSERT INTO invoices (id, number, external_id, customer_id, kind, issue_date,
                          due_date, amount, currency, po_number, project, status,
                          open_balance, charged, written_off, created_at, updated_at)
    SELECT id, number, external_id, customer_id, $19, issue_date, due_date, amount,
           currency, po_number, project, status, open_balance, charged, FALSE, $20, $20
      FROM new ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING id
), entries AS (
    INSERT INTO ledger_entries (id, customer_id, invoice_id, kind, amount, currency,
                                effective_on, posted_at, actor_kind, actor_id)
    SELECT n.entry_id, n.customer_id, n.id, n.entry_kind, n.entry_amount, n.currency,
           n.issue_date, $20, $21, $22
      FROM new n JOIN inserted i ON i.id = n.id ORDER BY n.ord
), events AS (
    INSERT INTO audit_events (id, occurred_at, actor_kind, actor_id, action,
                              entity_type, entity_id, after, request_id)
    SELECT n.event_id, $20, $21, $22, 'invoice.create', 'invoice', n.id,
           n.after::jsonb, $23
      FROM new n JOIN inserted i ON i.id = n.id ORDER BY n.ord
)
SELECT id FROM inserted";

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// The columns of the rows to insert, one array each.
#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    number: Vec<String>,
    external_id: Vec<Option<String>>,
    customer_id: Vec<Uuid>,
    issue_date: Vec<chrono::NaiveDate>,
    due_date: Vec<chrono::NaiveDate>,
    amount: Vec<rust_decimal::Decimal>,
    currency: Vec<String>,
    po_number: Vec<Option<String>>,
    project: Vec<Option<String>>,
    status: Vec<&'static str>,
    open_balance: Vec<rust_decimal::Decimal>,
    charged: Vec<rust_decimal::Decimal>,
    entry_id: Vec<Uuid>,
    entry_kind: Vec<&'static str>,
    entry_amount: Vec<rust_decimal::Decimal>,
    event_id: Vec<Uuid>,
    after: Vec<String>,
}

impl Columns {
    fn push(&mut self, invoice: Invoice, issue: &crate::ledger::Posting) -> Result<()> {
        // The audit event carries the invoice as `invoice.create` shows it.
        let shown = invoice.clone().shown();
        self.after.push(
            serde_json::to_string(&shown)
                .map_err(|e| crate::Error::Internal(format!("audit event: {e}")))?,
        );
        self.event_id.push(Uuid::now_v7());
        self.entry_id.push(Uuid::now_v7());
        self.entry_kind.push(issue.kind.as_str());
        self.entry_amount.push(issue.amount);
        self.id.push(invoice.id);
        self.number.push(invoice.number);
        self.external_id.push(invoice.external_id);
        self.customer_id.push(invoice.customer_id);
        self.issue_date.push(invoice.issue_date);
        self.due_date.push(invoice.due_date);
        self.amount.push(invoice.amount);
        self.currency.push(invoice.currency);
        self.po_number.push(invoice.po_number);
        self.project.push(invoice.project);
        self.status.push(invoice.status.as_str());
        self.open_balance.push(invoice.open_balance);
        self.charged.push(invoice.charged);
        Ok(())
    }
}

/// Writes the batch's new invoices in bulk (inside the caller's transaction) and
/// returns the rows left for the per-row path, in line order.
pub(super) async fn write_new_invoices(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    customers_by_external: &HashMap<String, KnownCustomer>,
    invoices_by_external: &HashMap<String, Invoice>,
    rows: Vec<Row>,
    tally: &mut Tally,
) -> Result<Vec<Row>> {
    // Without the permission every row is refused, on its line, by the per-row path.
    if ctx.actor.require(Permission::InvoicesWrite).is_err() {
        return Ok(rows);
    }
    let candidates = candidates(
        visibility,
        customers_by_external,
        invoices_by_external,
        &rows,
    );
    if candidates.is_empty() {
        return Ok(rows);
    }
    // Locked as `invoice::insert` locks the customer it bills, in id order (the order
    // every other writer of several customers takes).
    let mut ids: Vec<Uuid> = candidates.iter().map(|(_, c)| *c).collect();
    ids.sort_unstable();
    ids.dedup();
    let terms: HashMap<Uuid, (String, i32)> = customers::table
        .filter(customers::id.eq_any(&ids))
        .order(customers::id.asc())
        .select((
            customers::id,
            customers::currency,
            customers::payment_terms_days,
        ))
        .for_update()
        .load::<(Uuid, String, i32)>(conn)
        .await?
        .into_iter()
        .map(|(id, currency, terms)| (id, (currency, terms)))
        .collect();

    let mut columns = Columns::default();
    let mut line_of: HashMap<Uuid, usize> = HashMap::with_capacity(candidates.len());
    for (index, customer_id) in candidates {
        let (Some(Row::Invoice(r)), Some((currency, terms))) =
            (rows.get(index), terms.get(&customer_id))
        else {
            continue;
        };
        let input = new_invoice(r, customer_id);
        // A row the checks refuse goes the per-row path, which refuses it the same way.
        let Ok(checked) = invoice::check_for(&input, currency, *terms) else {
            continue;
        };
        let (invoice, issue) =
            invoice::issued(&input, checked, customer_id, InvoiceKind::Invoice, ctx.now)?;
        line_of.insert(invoice.id, index);
        columns.push(invoice, &issue)?;
    }
    if columns.id.is_empty() {
        return Ok(rows);
    }

    let c = columns;
    // Parsed and planned on each run (`sql_query` is never kept prepared): once per
    // batch of thousands of rows, that is noise.
    let inserted: Vec<Inserted> = diesel::sql_query(INSERT_INVOICES)
        .bind::<Array<diesel::sql_types::Uuid>, _>(c.id)
        .bind::<Array<Text>, _>(c.number)
        .bind::<Array<Nullable<Text>>, _>(c.external_id)
        .bind::<Array<diesel::sql_types::Uuid>, _>(c.customer_id)
        .bind::<Array<Date>, _>(c.issue_date)
        .bind::<Array<Date>, _>(c.due_date)
        .bind::<Array<Numeric>, _>(c.amount)
        .bind::<Array<Text>, _>(c.currency)
        .bind::<Array<Nullable<Text>>, _>(c.po_number)
        .bind::<Array<Nullable<Text>>, _>(c.project)
        .bind::<Array<Text>, _>(c.status)
        .bind::<Array<Numeric>, _>(c.open_balance)
        .bind::<Array<Numeric>, _>(c.charged)
        .bind::<Array<diesel::sql_types::Uuid>, _>(c.entry_id)
        .bind::<Array<Text>, _>(c.entry_kind)
        .bind::<Array<Numeric>, _>(c.entry_amount)
        .bind::<Array<diesel::sql_types::Uuid>, _>(c.event_id)
        .bind::<Array<Text>, _>(c.after)
        .bind::<Text, _>(InvoiceKind::Invoice.as_str())
        .bind::<Timestamptz, _>(ctx.now)
        .bind::<Text, _>(ctx.actor.kind())
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(ctx.actor.id())
        .bind::<Nullable<Text>, _>(ctx.request_id.clone())
        .load(conn)
        .await?;

    let mut written = vec![false; rows.len()];
    for i in &inserted {
        if let Some(index) = line_of.get(&i.id)
            && let Some(w) = written.get_mut(*index)
        {
            *w = true;
        }
    }
    tally.counts.invoices_created += u64::try_from(inserted.len()).unwrap_or(0);
    Ok(rows
        .into_iter()
        .zip(written)
        .filter_map(|(row, written)| (!written).then_some(row))
        .collect())
}

/// The rows that may go the bulk path, by index, with their customer: a new external
/// id seen first here, a customer the importer sees, and a number (given, or the
/// external id) no earlier row of the batch uses, given or kept.
fn candidates(
    visibility: Visibility,
    customers_by_external: &HashMap<String, KnownCustomer>,
    invoices_by_external: &HashMap<String, Invoice>,
    rows: &[Row],
) -> Vec<(usize, Uuid)> {
    let mut external_ids: HashSet<&str> = HashSet::with_capacity(rows.len());
    let mut numbers: HashSet<&str> = HashSet::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let Row::Invoice(r) = row else {
            continue;
        };
        let existing = invoices_by_external.get(&r.external_id);
        let number = r
            .number
            .as_deref()
            .or(existing.map(|i| i.number.as_str()))
            .unwrap_or(&r.external_id)
            .trim();
        let first_external = external_ids.insert(r.external_id.trim());
        let first_number = numbers.insert(number);
        if existing.is_some() || !first_external || !first_number {
            continue;
        }
        if let Some(c) = customers_by_external.get(&r.customer_external_id)
            && visibility.admits(c.assigned_collector_id, c.sales_rep_id)
        {
            out.push((index, c.id));
        }
    }
    out
}

/// The invoice a new row asks for, as the per-row path builds it (`write_invoice` with
/// nothing found, `upsert_external` setting the external id).
fn new_invoice(r: &InvoiceRow, customer_id: Uuid) -> NewInvoice {
    NewInvoice {
        number: r.number.clone().unwrap_or_else(|| r.external_id.clone()),
        customer_id,
        issue_date: r.issue_date,
        due_date: r.due_date,
        amount: r.amount,
        currency: r.currency.clone(),
        po_number: r.po_number.clone(),
        project: r.project.clone(),
        external_id: Some(r.external_id.clone()),
    }
}
