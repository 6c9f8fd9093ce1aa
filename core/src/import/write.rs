//! Writing checked rows through the domain's own upserts by external id (customer,
//! invoice, payment), each row in a savepoint of the batch's transaction: a refused row
//! becomes row errors and rolls back alone, a re-imported row finds what it wrote and
//! changes nothing, and an upsert that would change posted money is refused by the
//! upsert itself (`posted_money_changed`), never rewritten. New invoices of an
//! invoices import go the bulk path first ([`super::bulk`]); the rest come here.

use crate::error::ProblemCode;
use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::ImportReport;
use super::layout::ImportKind;
use super::rows::Checker;
use super::rows::{CustomerRow, IbmRow, InvoiceRow, PaymentRow, Row, RowError};
use crate::access::{Context, Visibility};
use crate::customer::{self, CustomerKind, CustomerUpsert};
use crate::error::{Error, Result};
use crate::invoice::{self, Invoice, InvoiceUpsert, NewInvoice};
use crate::payment::{self, NewApplication, NewPayment, PaymentMethod};
use crate::schema::{customers, invoices};

/// What a batch did, added to the import's running totals when it commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The batch's own counts and row errors.
    pub counts: ImportReport,
    /// Rows written through the per-row path (a savepoint each); sizes the next batch.
    pub per_row: u64,
}

impl Tally {
    pub fn reject(&mut self, errors: Vec<RowError>) {
        self.counts.rejected += 1;
        self.counts.errors.extend(errors);
    }
}

/// How one row ended.
enum Written {
    Created {
        /// The customer the row created, for the rows after it that name it.
        customer: Option<(String, Uuid)>,
        customers: u64,
        invoices: u64,
        payments: u64,
    },
    Updated,
    Unchanged,
}

/// Writes a batch of checked rows (inside the caller's transaction), as `ctx` (the
/// system, for the job) on the customers the importer may see.
pub async fn write_rows(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    checker: &Checker,
    rows: Vec<Row>,
    tally: &mut Tally,
) -> Result<()> {
    let mut customers_by_external = known_customers(conn, &rows).await?;
    let invoices_by_external = known_invoices(conn, &rows).await?;
    let rows = if checker.kind() == ImportKind::Invoices {
        super::bulk::write_new_invoices(
            conn,
            ctx,
            visibility,
            &customers_by_external,
            &invoices_by_external,
            rows,
            tally,
        )
        .await?
    } else {
        rows
    };
    tally.per_row += u64::try_from(rows.len()).unwrap_or(u64::MAX);
    for row in rows {
        let line = row.line();
        let write = async |conn: &mut AsyncPgConnection| {
            write_row(
                conn,
                ctx,
                visibility,
                checker,
                &customers_by_external,
                &invoices_by_external,
                &row,
            )
            .await
        };
        // An IBM row is several upserts that stand or fall together: a savepoint of its
        // own. Every other row is one upsert, which is its own savepoint already.
        let outcome = if matches!(row, Row::Ibm(_)) {
            conn.transaction(write).await
        } else {
            write(conn).await
        };
        match outcome {
            Ok(Written::Created {
                customer,
                customers,
                invoices,
                payments,
            }) => {
                if let Some((external_id, id)) = customer {
                    customers_by_external.insert(
                        external_id.clone(),
                        KnownCustomer {
                            external_id: Some(external_id),
                            id,
                            assigned_collector_id: None,
                            sales_rep_id: None,
                        },
                    );
                }
                tally.counts.customers_created += customers;
                tally.counts.invoices_created += invoices;
                tally.counts.payments_created += payments;
            }
            Ok(Written::Updated) => tally.counts.updated += 1,
            Ok(Written::Unchanged) => tally.counts.unchanged += 1,
            Err(e) => tally.reject(row_errors(line, checker, e)?),
        }
    }
    Ok(())
}

/// A refusal as row errors, each on the file's column; failures that say nothing about
/// the row (the database gone, a bug) abort the batch instead.
fn row_errors(line: u64, checker: &Checker, error: Error) -> Result<Vec<RowError>> {
    let column = |field: &str| {
        checker
            .column_of(field)
            .or_else(|| checker.column_of(field.trim_end_matches("_id")))
            .or_else(|| {
                // Fields of the domain named differently from the file's fields.
                let alias = match field {
                    "customer_id" => "customer_external_id",
                    "received_on" | "issue_date" | "amount" | "currency" => field,
                    _ => return None,
                };
                checker.column_of(alias)
            })
    };
    match error {
        Error::Validation(errors) | Error::Rejected { errors, .. } => Ok(errors
            .into_iter()
            .map(|e| RowError {
                line,
                column: column(&e.field).or(Some(e.field)),
                code: e.code,
                message: e.message,
            })
            .collect()),
        Error::Conflict { code, detail } | Error::Unprocessable { code, detail } => {
            Ok(vec![RowError::new(line, None, code.as_str(), detail)])
        }
        Error::NotFound { entity } => Ok(vec![RowError::new(
            line,
            None,
            &format!("unknown_{entity}"),
            format!("no such {entity}"),
        )]),
        Error::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation
            | diesel::result::DatabaseErrorKind::CheckViolation
            | diesel::result::DatabaseErrorKind::ForeignKeyViolation
            | diesel::result::DatabaseErrorKind::NotNullViolation,
            info,
        )) => Ok(vec![RowError::new(
            line,
            None,
            "refused_by_database",
            format!(
                "the database refused the row ({})",
                info.constraint_name().unwrap_or("a constraint")
            ),
        )]),
        other => Err(other),
    }
}

/// A customer as rows refer to it: by external id.
#[derive(Debug, Clone, Queryable)]
pub(super) struct KnownCustomer {
    pub(super) external_id: Option<String>,
    pub(super) id: Uuid,
    pub(super) assigned_collector_id: Option<Uuid>,
    pub(super) sales_rep_id: Option<Uuid>,
}

async fn known_customers(
    conn: &mut AsyncPgConnection,
    rows: &[Row],
) -> Result<HashMap<String, KnownCustomer>> {
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| match r {
            Row::Customer(r) => r.external_id.as_str(),
            Row::Invoice(r) => r.customer_external_id.as_str(),
            Row::Payment(r) => r.customer_external_id.as_str(),
            Row::Ibm(r) => r.customer_id.as_str(),
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<KnownCustomer> = customers::table
        .filter(customers::external_id.eq_any(&ids))
        .select((
            customers::external_id,
            customers::id,
            customers::assigned_collector_id,
            customers::sales_rep_id,
        ))
        .load(conn)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|c| c.external_id.clone().map(|e| (e, c)))
        .collect())
}

async fn known_invoices(
    conn: &mut AsyncPgConnection,
    rows: &[Row],
) -> Result<HashMap<String, Invoice>> {
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| match r {
            Row::Invoice(r) => Some(r.external_id.as_str()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<Invoice> = invoices::table
        .filter(invoices::external_id.eq_any(&ids))
        .select(Invoice::as_select())
        .load(conn)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|i| i.external_id.clone().map(|e| (e, i)))
        .collect())
}

/// The customer a row names, if the importer may see it; a hidden one is refused like
/// a missing one, as a body naming a hidden customer is (`unknown_customer`).
fn named_customer(
    known: &HashMap<String, KnownCustomer>,
    visibility: Visibility,
    external_id: &str,
    checker: &Checker,
    line: u64,
) -> Result<Uuid> {
    match known.get(external_id) {
        Some(c) if visibility.admits(c.assigned_collector_id, c.sales_rep_id) => Ok(c.id),
        _ => {
            let column = checker.column_of("customer_external_id");
            Err(Error::Rejected {
                code: ProblemCode::UnknownCustomer,
                detail: String::new(),
                errors: vec![crate::FieldError::new(
                    column.unwrap_or_else(|| "customer_external_id".into()),
                    "unknown_customer",
                    format!("no customer has the external id {external_id:?} (line {line})"),
                )],
            })
        }
    }
}

async fn write_row(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    checker: &Checker,
    customers_by_external: &HashMap<String, KnownCustomer>,
    invoices_by_external: &HashMap<String, Invoice>,
    row: &Row,
) -> Result<Written> {
    match row {
        Row::Customer(r) => write_customer(conn, ctx, visibility, customers_by_external, r).await,
        Row::Invoice(r) => {
            let customer_id = named_customer(
                customers_by_external,
                visibility,
                &r.customer_external_id,
                checker,
                r.line,
            )?;
            write_invoice(
                conn,
                ctx,
                customer_id,
                invoices_by_external.get(&r.external_id),
                r,
            )
            .await
        }
        Row::Payment(r) => {
            let customer_id = named_customer(
                customers_by_external,
                visibility,
                &r.customer_external_id,
                checker,
                r.line,
            )?;
            write_payment(conn, ctx, visibility, customer_id, r).await
        }
        Row::Ibm(r) => write_ibm(conn, ctx, visibility, customers_by_external, r).await,
    }
}

async fn write_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    known: &HashMap<String, KnownCustomer>,
    r: &CustomerRow,
) -> Result<Written> {
    let existing = match known.get(&r.external_id) {
        Some(c) if !visibility.admits(c.assigned_collector_id, c.sales_rep_id) => {
            // What creating it would answer: the id belongs to a customer not shown.
            return Err(Error::conflict(
                ProblemCode::ExternalIdTaken,
                "another customer has this external id",
            ));
        }
        Some(c) => Some(customer::get(conn, ctx, c.id).await?),
        None => None,
    };
    // Columns the file does not carry (empty cells included) are left out of the
    // upsert, which keeps the customer's values; a new customer gets the defaults.
    let input = CustomerUpsert {
        external_id: None,
        name: Some(r.name.clone()),
        kind: r
            .kind
            .or(existing.is_none().then_some(CustomerKind::Commercial)),
        currency: Some(r.currency.clone()),
        timezone: r.timezone.clone(),
        payment_terms_days: r.payment_terms_days,
        credit_limit: r.credit_limit.map(Some),
        risk_rating: r.risk_rating.map(Some),
        assigned_collector_id: None,
        sales_rep_id: None,
        do_not_contact: r.do_not_contact,
        cease_communication: r.cease_communication,
        attorney_represented: r.attorney_represented,
        bankrupt: r.bankrupt,
        deceased: r.deceased,
    };
    let (after, created) = customer::upsert_external(conn, ctx, &r.external_id, input).await?;
    Ok(if created {
        Written::Created {
            customer: Some((r.external_id.clone(), after.id)),
            customers: 1,
            invoices: 0,
            payments: 0,
        }
    } else if existing.is_some_and(|before| before == after) {
        Written::Unchanged
    } else {
        Written::Updated
    })
}

async fn write_invoice(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    existing: Option<&Invoice>,
    r: &InvoiceRow,
) -> Result<Written> {
    // Columns the file does not carry are left out of the upsert, which keeps the
    // invoice's values; a new invoice without a number is numbered by its external id.
    let input = InvoiceUpsert {
        number: r
            .number
            .clone()
            .or_else(|| existing.is_none().then(|| r.external_id.clone())),
        customer_id: Some(customer_id),
        issue_date: Some(r.issue_date),
        due_date: r.due_date,
        amount: Some(r.amount),
        currency: r.currency.clone(),
        po_number: r.po_number.clone().map(Some),
        project: r.project.clone().map(Some),
        external_id: None,
    };
    let (after, created) = invoice::upsert_external(conn, ctx, &r.external_id, input).await?;
    Ok(if created {
        Written::Created {
            customer: None,
            customers: 0,
            invoices: 1,
            payments: 0,
        }
    } else if existing.is_some_and(|before| before.updated_at == after.updated_at) {
        Written::Unchanged
    } else {
        Written::Updated
    })
}

async fn write_payment(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    customer_id: Uuid,
    r: &PaymentRow,
) -> Result<Written> {
    let applications = match &r.invoice_external_id {
        None => None,
        Some(number) => {
            let found: Option<(Uuid, Uuid, Decimal)> = invoices::table
                .filter(invoices::external_id.eq(number))
                .select((invoices::id, invoices::customer_id, invoices::open_balance))
                .first(conn)
                .await
                .optional()?;
            let owner_visible = match found {
                Some((_, owner, _)) => {
                    let (collector, rep): (Option<Uuid>, Option<Uuid>) = customers::table
                        .find(owner)
                        .select((customers::assigned_collector_id, customers::sales_rep_id))
                        .first(conn)
                        .await?;
                    visibility.admits(collector, rep)
                }
                None => false,
            };
            match found {
                Some((id, owner, open)) if owner_visible && owner == customer_id => {
                    // What the invoice still owes is applied; the rest stays on account.
                    let applied = open.min(r.amount);
                    Some(if applied > Decimal::ZERO {
                        vec![NewApplication {
                            invoice_id: id,
                            amount: applied,
                            short_pay_reason: None,
                        }]
                    } else {
                        Vec::new()
                    })
                }
                Some(_) if owner_visible => {
                    return Err(Error::validation(
                        "invoice_external_id",
                        "other_customer",
                        "the invoice belongs to another customer",
                    ));
                }
                _ => {
                    return Err(Error::validation(
                        "invoice_external_id",
                        "unknown_invoice",
                        format!("no invoice has the external id {number:?}"),
                    ));
                }
            }
        }
    };
    let input = NewPayment {
        customer_id,
        received_on: r.received_on,
        amount: r.amount,
        currency: r.currency.clone(),
        method: r.method,
        reference: r.reference.clone(),
        external_id: None,
        applications,
    };
    let (_, created) = payment::upsert_external(conn, ctx, &r.external_id, input).await?;
    Ok(if created {
        Written::Created {
            customer: None,
            customers: 0,
            invoices: 0,
            payments: 1,
        }
    } else {
        Written::Unchanged
    })
}

/// One IBM row: the customer (created once, named after its id, never rewritten by
/// later rows), its invoice, a dispute when flagged, and the settlement payment.
async fn write_ibm(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    visibility: Visibility,
    known: &HashMap<String, KnownCustomer>,
    row: &IbmRow,
) -> Result<Written> {
    let (customer_id, customer_created) = match known.get(&row.customer_id) {
        Some(c) if visibility.admits(c.assigned_collector_id, c.sales_rep_id) => (c.id, false),
        Some(_) => {
            return Err(Error::conflict(
                ProblemCode::ExternalIdTaken,
                "another customer has this external id",
            ));
        }
        None => {
            let terms = i32::try_from((row.due_date - row.invoice_date).num_days())
                .unwrap_or(30)
                .clamp(0, 365);
            let (c, created) = customer::upsert_external(
                conn,
                ctx,
                &row.customer_id,
                CustomerUpsert {
                    name: Some(format!("Customer {}", row.customer_id)),
                    kind: Some(CustomerKind::Commercial),
                    currency: Some("USD".into()),
                    payment_terms_days: Some(terms),
                    ..CustomerUpsert::default()
                },
            )
            .await?;
            (c.id, created)
        }
    };
    let (inv, invoice_created) = invoice::upsert_external(
        conn,
        ctx,
        &row.invoice_number,
        InvoiceUpsert::from(NewInvoice {
            number: row.invoice_number.clone(),
            customer_id,
            issue_date: row.invoice_date,
            due_date: Some(row.due_date),
            amount: row.amount,
            currency: None,
            po_number: None,
            project: None,
            external_id: None,
        }),
    )
    .await?;
    if row.disputed && invoice_created {
        crate::dispute::record_imported(conn, ctx, &inv, row.settled_date).await?;
    }
    let mut payment_created = false;
    if let Some(settled) = row.settled_date {
        let (_, created) = payment::upsert_external(
            conn,
            ctx,
            &format!("settle-{}", row.invoice_number),
            NewPayment {
                customer_id,
                received_on: settled,
                amount: row.amount,
                currency: None,
                method: PaymentMethod::Ach,
                reference: Some(format!("settlement of {}", row.invoice_number)),
                external_id: None,
                applications: Some(vec![NewApplication {
                    invoice_id: inv.id,
                    amount: row.amount,
                    short_pay_reason: None,
                }]),
            },
        )
        .await?;
        payment_created = created;
    }
    Ok(if customer_created || invoice_created || payment_created {
        Written::Created {
            customer: customer_created.then(|| (row.customer_id.clone(), customer_id)),
            customers: u64::from(customer_created),
            invoices: u64::from(invoice_created),
            payments: u64::from(payment_created),
        }
    } else {
        Written::Unchanged
    })
}
