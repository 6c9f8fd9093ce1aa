//! Payments: cash received from a customer, applied to invoices (explicitly or oldest
//! due first), with the remainder kept on account; returned (NSF / ACH return) or
//! refunded. Every money movement is a set of ledger postings planned by `ledger`.

use crate::error::ProblemCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer;
use crate::db::is_unique_violation;
use crate::deduction::{self, DeductionReason};
use crate::error::{Error, Problems, Result};
use crate::idempotency;
use crate::invoice::{self, InvoiceKind, NewInvoice};
use crate::journal::{self, Journal};
use crate::ledger::{self, Application, InvoiceState, PaymentState, PaymentStatus, Posting};
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{customers, payment_applications, payments};
use crate::task::{self, NewTask};

text_enum! {
    pub enum PaymentMethod {
        Check = "check",
        Ach = "ach",
        Wire = "wire",
        Card = "card",
        Cash = "cash",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = payment_applications)]
pub struct PaymentApplication {
    pub id: Uuid,
    pub invoice_id: Uuid,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "400.00")]
    pub amount: Decimal,
    pub applied_at: DateTime<Utc>,
    /// Set when the payment was returned and this application reversed.
    pub reversed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = payments)]
struct Row {
    id: Uuid,
    external_id: Option<String>,
    customer_id: Uuid,
    received_on: NaiveDate,
    amount: Decimal,
    currency: String,
    method: PaymentMethod,
    reference: Option<String>,
    status: PaymentStatus,
    unapplied: Decimal,
    refunded: Decimal,
    returned_at: Option<DateTime<Utc>>,
    return_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub customer_id: Uuid,
    pub received_on: NaiveDate,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1200.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    pub method: PaymentMethod,
    /// Check number, ACH trace, wire reference.
    pub reference: Option<String>,
    pub status: PaymentStatus,
    /// Cash on account, not applied to any invoice.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub unapplied: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub refunded: Decimal,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_reason: Option<String>,
    pub applications: Vec<PaymentApplication>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One application of cash to an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub invoice_id: Uuid,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "400.00")]
    pub amount: Decimal,
    /// The customer paid short on purpose: opens a deduction for what stays open.
    pub short_pay_reason: Option<DeductionReason>,
}

/// `POST /v1/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub customer_id: Uuid,
    pub received_on: NaiveDate,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1200.00")]
    pub amount: Decimal,
    /// Must be the customer's currency; defaults to it.
    #[schema(example = "USD")]
    pub currency: Option<String>,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub external_id: Option<String>,
    /// Where the cash goes. Absent: oldest due first, remainder on account. Empty: all
    /// on account.
    pub applications: Option<Vec<NewApplication>>,
}

/// `POST /v1/payments/{id}/applications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// Absent or empty: apply unapplied cash oldest due first.
    #[serde(default)]
    pub applications: Vec<NewApplication>,
}

/// `POST /v1/payments/{id}/return`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    #[schema(example = "NSF: insufficient funds (R01)")]
    pub reason: String,
    /// Bill this returned-payment fee as a new invoice.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "35.00")]
    pub fee: Option<Decimal>,
    /// Due date of the fee invoice; default today.
    pub fee_due_date: Option<NaiveDate>,
}

/// `POST /v1/payments/{id}/refund`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "50.00")]
    pub amount: Decimal,
    #[schema(example = "overpayment returned by check 1042")]
    pub reason: String,
}

impl Row {
    fn state(&self) -> PaymentState {
        PaymentState {
            id: self.id,
            customer_id: self.customer_id,
            currency: self.currency.clone(),
            amount: self.amount,
            unapplied: self.unapplied,
            refunded: self.refunded,
            status: self.status,
        }
    }
}

async fn assemble(conn: &mut AsyncPgConnection, row: Row) -> Result<Payment> {
    let applications: Vec<PaymentApplication> = payment_applications::table
        .filter(payment_applications::payment_id.eq(row.id))
        .order((
            payment_applications::applied_at.asc(),
            payment_applications::id.asc(),
        ))
        .select(PaymentApplication::as_select())
        .load(conn)
        .await?;
    Ok(present(row, applications))
}

/// The payment as the API shows it, amounts in the currency's places.
fn present(row: Row, applications: Vec<PaymentApplication>) -> Payment {
    let c = row.currency.clone();
    let shown = |d: Decimal| money::in_minor_units(d, &c);
    Payment {
        id: row.id,
        external_id: row.external_id,
        customer_id: row.customer_id,
        received_on: row.received_on,
        amount: shown(row.amount),
        currency: row.currency.clone(),
        method: row.method,
        reference: row.reference,
        status: row.status,
        unapplied: shown(row.unapplied),
        refunded: shown(row.refunded),
        returned_at: row.returned_at,
        return_reason: row.return_reason,
        applications: applications
            .into_iter()
            .map(|a| PaymentApplication {
                amount: shown(a.amount),
                ..a
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn load_row(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    lock: bool,
) -> Result<Row> {
    let query = payments::table.find(id).select(Row::as_select());
    let row = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let Some(row) = row else {
        return Err(Error::NotFound { entity: "payment" });
    };
    customer::check_visible_for(conn, ctx, row.customer_id, false, "payment").await?;
    Ok(row)
}

/// Locks the payment's customer, then the payment: the lock order of every money operation.
async fn lock_for_change(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Row> {
    let customer_id: Uuid = payments::table
        .find(id)
        .select(payments::customer_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound { entity: "payment" })?;
    customer::check_visible_for(conn, ctx, customer_id, true, "payment").await?;
    load_row(conn, ctx, id, true).await
}

async fn fetch(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Payment> {
    let row = load_row(conn, ctx, id, false).await?;
    assemble(conn, row).await
}

/// A payment's state, locked, for operations of other modules (write-off recoveries).
/// The caller holds the customer's lock already.
pub(crate) async fn state_for_update(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
) -> Result<PaymentState> {
    let row = load_row(conn, ctx, id, true).await.map_err(|e| match e {
        Error::NotFound { .. } => {
            Error::validation("payment_id", "unknown_payment", "no such payment")
        }
        other => other,
    })?;
    Ok(row.state())
}

/// Records an application row for postings planned elsewhere.
pub(crate) async fn record_application(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    payment_id: Uuid,
    invoice_id: Uuid,
    amount: Decimal,
) -> Result<()> {
    let applications = new_applications(&[(invoice_id, amount)], ctx.now);
    write_applications(conn, payment_id, &applications, ctx.now).await?;
    Ok(())
}

/// The application rows of (invoice, amount) pairs applied at `now`.
fn new_applications(applied: &[(Uuid, Decimal)], now: DateTime<Utc>) -> Vec<PaymentApplication> {
    applied
        .iter()
        .map(|(invoice_id, amount)| PaymentApplication {
            id: Uuid::now_v7(),
            invoice_id: *invoice_id,
            amount: *amount,
            applied_at: now,
            reversed_at: None,
        })
        .collect()
}

/// The insert of a payment's applications (applied at `now`), to send alone or
/// pipelined: one prepared statement whatever their number.
fn write_applications<'a>(
    conn: &'a AsyncPgConnection,
    payment_id: Uuid,
    applications: &[PaymentApplication],
    now: DateTime<Utc>,
) -> impl std::future::Future<Output = QueryResult<usize>> + Send + 'a {
    use diesel::sql_types::{Array, Numeric, Timestamptz, Uuid as SqlUuid};
    let mut c = conn;
    crate::db::prepared(
        "INSERT INTO payment_applications (id, payment_id, invoice_id, amount, applied_at)
         SELECT a.id, $4, a.invoice_id, a.amount, $5
           FROM unnest($1::uuid[], $2::uuid[], $3::numeric[]) AS a(id, invoice_id, amount)",
    )
    .bind::<Array<SqlUuid>, _>(applications.iter().map(|a| a.id).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(
        applications
            .iter()
            .map(|a| a.invoice_id)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Numeric>, _>(applications.iter().map(|a| a.amount).collect::<Vec<_>>())
    .bind::<SqlUuid, _>(payment_id)
    .bind::<Timestamptz, _>(now)
    .execute(&mut c)
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Payment> {
    ctx.actor.require(Permission::PaymentsRead)?;
    let row = load_row(conn, ctx, id, false).await?;
    assemble(conn, row).await
}

fn map_unique(error: Error) -> Error {
    match error {
        Error::Database(e) if is_unique_violation(&e, "payments_external_id_key") => {
            Error::conflict(
                ProblemCode::ExternalIdTaken,
                "another payment has this external id",
            )
        }
        other => other,
    }
}

/// Posts a payment and its applications in one transaction.
pub async fn post(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewPayment,
) -> Result<Payment> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    conn.transaction(async |conn| insert(conn, ctx, &input, None).await)
        .await
        .map_err(map_unique)
}

/// Posts a payment inside a transaction the caller holds (the idempotent executor's),
/// sparing a savepoint, and stores the key's response (the payment) with the
/// payment's own writes.
pub(crate) async fn post_within(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewPayment,
    receipt: &idempotency::Receipt<'_>,
) -> Result<Payment> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    insert(conn, ctx, &input, Some(receipt))
        .await
        .map_err(map_unique)
}

/// Writes the payment; with a receipt, also the idempotency key and its response.
async fn insert(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: &NewPayment,
    remember: Option<&idempotency::Receipt<'_>>,
) -> Result<Payment> {
    // The customer and the invoices named go out in one round trip, both locked, the
    // customer first as everywhere; a refusal of either rolls both back.
    let named: Option<Vec<Uuid>> = input
        .applications
        .as_ref()
        .map(|apps| apps.iter().map(|a| a.invoice_id).collect());
    let (customer, locked) = {
        let c: &AsyncPgConnection = conn;
        let invoices = async {
            match &named {
                Some(ids) => invoice::lock(c, ids).await.map(Some),
                None => Ok(None),
            }
        };
        futures_util::try_join!(customer::find_row(c, input.customer_id, true), invoices)?
    };
    let customer = customer::visible(ctx, customer)
        .map_err(customer::named)?
        .at(ctx.now);
    let mut p = Problems::new();
    let currency = money::customer_currency(
        input.currency.as_deref(),
        &customer.currency,
        &mut p,
        || format!("the customer pays in {}", customer.currency),
    );
    if input.amount <= Decimal::ZERO {
        p.add("amount", "not_positive", "must be greater than zero");
    } else if let Some(c) = currency {
        p.check(money::non_negative_amount("amount", input.amount, c));
    }
    if let Some(apps) = &input.applications {
        check_applications(apps, currency, &mut p);
    }
    p.into_result()?;
    let Some(currency) = currency else {
        return Err(Error::Internal("currency missing".into()));
    };

    // Everything is planned in memory first; then each row is written once, final.
    let mut state = PaymentState {
        id: Uuid::now_v7(),
        customer_id: customer.id,
        currency: currency.code().to_owned(),
        amount: input.amount,
        unapplied: Decimal::ZERO,
        refunded: Decimal::ZERO,
        status: PaymentStatus::Posted,
    };
    let receipt = ledger::receive(state.id, input.amount);
    ledger::post_to(
        &mut [],
        std::slice::from_mut(&mut state),
        std::slice::from_ref(&receipt),
    )?;
    let requested = input.applications.as_deref().zip(locked);
    let planned = plan(conn, ctx, &mut state, requested).await?;
    let row = Row {
        id: state.id,
        external_id: input
            .external_id
            .as_deref()
            .map(str::trim)
            .map(str::to_owned),
        customer_id: customer.id,
        received_on: input.received_on,
        amount: input.amount,
        currency: state.currency.clone(),
        method: input.method,
        reference: input.reference.clone(),
        status: PaymentStatus::Posted,
        unapplied: state.unapplied,
        refunded: Decimal::ZERO,
        returned_at: None,
        return_reason: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    // The writes go out pipelined: one round trip instead of one per statement. Their
    // foreign keys are checked at commit, so their order does not matter.
    let applications = new_applications(&planned.applied, ctx.now);
    let payment = present(row.clone(), applications.clone());
    let response = remember.map(|_| idempotency::json(&payment)).transpose()?;
    let mut postings = vec![receipt];
    postings.extend(planned.postings.iter().cloned());
    let journal = Journal {
        customer_id: customer.id,
        currency: &row.currency,
        effective_on: input.received_on,
        document_id: None,
        memo: None,
    };
    {
        let mut c: &AsyncPgConnection = conn;
        let mut writes: Vec<crate::db::Write<'_>> = vec![
            diesel::insert_into(payments::table)
                .values((
                    payments::id.eq(row.id),
                    payments::external_id.eq(row.external_id.clone()),
                    payments::customer_id.eq(row.customer_id),
                    payments::received_on.eq(row.received_on),
                    payments::amount.eq(row.amount),
                    payments::currency.eq(row.currency.clone()),
                    payments::method.eq(row.method),
                    payments::reference.eq(row.reference.clone()),
                    payments::status.eq(row.status),
                    payments::unapplied.eq(row.unapplied),
                    // Every entry of the payment's creation is effective on its receipt.
                    payments::unapplied_changed_on.eq(journal.effective_on),
                    payments::created_at.eq(ctx.now),
                    payments::updated_at.eq(ctx.now),
                ))
                .execute(&mut c),
        ];
        // The payment row is written final; only the invoices need their new balances.
        writes.extend(journal::writes(
            c,
            ctx,
            &journal,
            &postings,
            &planned.invoices,
            &[],
        ));
        if !applications.is_empty() {
            writes.push(Box::pin(write_applications(
                c,
                row.id,
                &applications,
                ctx.now,
            )));
            let touched: Vec<Uuid> = applications.iter().map(|a| a.invoice_id).collect();
            writes.push(Box::pin(crate::job::enqueue_after_cash(
                c,
                ctx,
                customer.id,
                &touched,
            )));
        }
        let event = audit::event(
            ctx,
            "payment.post",
            "payment",
            payment.id,
            None::<&()>,
            Some(&payment),
        );
        writes.push(Box::pin(event.write(c)));
        if let (Some(remember), Some(response)) = (remember, &response) {
            writes.push(remember.write(c, response));
        }
        futures_util::future::try_join_all(writes).await?;
    }
    open_deductions(conn, ctx, payment.id, &planned).await?;
    Ok(payment)
}

/// Opens the deductions of a plan's short pays.
async fn open_deductions(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    payment_id: Uuid,
    planned: &Planned,
) -> Result<()> {
    for (inv, remaining, reason) in &planned.deductions {
        deduction::open(conn, ctx, payment_id, inv, *remaining, *reason).await?;
    }
    Ok(())
}

fn check_applications(apps: &[NewApplication], currency: Option<Currency>, p: &mut Problems) {
    let mut seen = std::collections::HashSet::new();
    for (i, a) in apps.iter().enumerate() {
        if !seen.insert(a.invoice_id) {
            p.add(
                format!("applications[{i}].invoice_id"),
                "duplicate_invoice",
                "each invoice once per request",
            );
        }
        if a.amount <= Decimal::ZERO {
            p.add(
                format!("applications[{i}].amount"),
                "not_positive",
                "must be greater than zero",
            );
        } else if let Some(c) = currency {
            p.check(money::non_negative_amount(
                &format!("applications[{i}].amount"),
                a.amount,
                c,
            ));
        }
    }
}

/// Applications planned in memory, to be written.
struct Planned {
    postings: Vec<Posting>,
    /// States of the invoices applied to, moved by the postings.
    invoices: Vec<InvoiceState>,
    /// (invoice, amount) per application, in order.
    applied: Vec<(Uuid, Decimal)>,
    /// Short pays: the invoice, what stays open, and the customer's reason.
    deductions: Vec<(invoice::Invoice, Decimal, DeductionReason)>,
}

/// Plans each application with the ledger rules and moves the payment's and invoices'
/// states: as asked, on the invoices they name, locked by the caller
/// ([`invoice::lock`]); or oldest due first when `None`, locking the open invoices.
async fn plan(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    payment: &mut PaymentState,
    requested: Option<(&[NewApplication], Vec<invoice::Invoice>)>,
) -> Result<Planned> {
    let (requests, rows): (Vec<NewApplication>, Vec<invoice::Invoice>) = match requested {
        Some((apps, locked)) => {
            let ids: Vec<Uuid> = apps.iter().map(|a| a.invoice_id).collect();
            match invoice::of_customer(conn, ctx, payment.customer_id, &ids, locked).await? {
                Ok(rows) => (apps.to_vec(), rows),
                Err((i, visible)) => {
                    let field = format!("applications[{i}].invoice_id");
                    return Err(if visible {
                        Error::validation(
                            &field,
                            "other_customer",
                            "the invoice belongs to another customer",
                        )
                    } else {
                        Error::validation(&field, "unknown_invoice", "no such invoice")
                    });
                }
            }
        }
        None => {
            let open =
                invoice::open_for_customer(conn, payment.customer_id, &payment.currency).await?;
            let states: Vec<InvoiceState> = open.iter().map(invoice::Invoice::state).collect();
            let (allocations, _) = ledger::allocate_oldest_first(payment.unapplied, &states);
            let requests: Vec<NewApplication> = allocations
                .into_iter()
                .map(|(invoice_id, amount)| NewApplication {
                    invoice_id,
                    amount,
                    short_pay_reason: None,
                })
                .collect();
            let rows = requests
                .iter()
                .filter_map(|r| open.iter().find(|o| o.id == r.invoice_id).cloned())
                .collect();
            (requests, rows)
        }
    };
    let mut invoices: Vec<InvoiceState> = rows.iter().map(invoice::Invoice::state).collect();
    let mut planned = Planned {
        postings: Vec::new(),
        invoices: Vec::new(),
        applied: Vec::new(),
        deductions: Vec::new(),
    };
    for (i, app) in requests.iter().enumerate() {
        let name = format!("applications[{i}]");
        let postings = ledger::apply(payment, &invoices[i], app.amount, &name)?;
        ledger::post_to(
            std::slice::from_mut(&mut invoices[i]),
            std::slice::from_mut(payment),
            &postings,
        )?;
        if let Some(reason) = app.short_pay_reason {
            let remaining = invoices[i].balance;
            if remaining <= Decimal::ZERO {
                return Err(Error::validation(
                    &format!("{name}.short_pay_reason"),
                    "not_short",
                    "the application settles the invoice; nothing is short",
                ));
            }
            planned
                .deductions
                .push((rows[i].clone(), remaining, reason));
        }
        planned.postings.extend(postings);
        planned.applied.push((app.invoice_id, app.amount));
    }
    planned.invoices = invoices;
    Ok(planned)
}

/// Writes the application rows (and deductions) of a plan whose entries are posted.
async fn record(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    payment_id: Uuid,
    planned: &Planned,
) -> Result<Vec<PaymentApplication>> {
    let applications = new_applications(&planned.applied, ctx.now);
    if !applications.is_empty() {
        write_applications(conn, payment_id, &applications, ctx.now).await?;
    }
    open_deductions(conn, ctx, payment_id, planned).await?;
    Ok(applications)
}

/// Applies a payment's unapplied cash later.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    request: ApplyRequest,
) -> Result<Payment> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    conn.transaction(async |conn| {
        let row = lock_for_change(conn, ctx, id).await?;
        let mut p = Problems::new();
        check_applications(
            &request.applications,
            Currency::parse(&row.currency),
            &mut p,
        );
        p.into_result()?;
        if row.unapplied.is_zero() {
            return Err(Error::conflict(
                ProblemCode::NothingUnapplied,
                "the payment has no unapplied cash",
            ));
        }
        let before = assemble(conn, row.clone()).await?;
        let explicit = match request.applications.as_slice() {
            [] => None,
            apps => {
                let ids: Vec<Uuid> = apps.iter().map(|a| a.invoice_id).collect();
                Some((apps, invoice::lock(conn, &ids).await?))
            }
        };
        let mut state = row.state();
        let planned = plan(conn, ctx, &mut state, explicit).await?;
        let journal = Journal {
            customer_id: row.customer_id,
            currency: &row.currency,
            effective_on: ctx.now.date_naive(),
            document_id: None,
            memo: None,
        };
        journal::write(
            conn,
            ctx,
            &journal,
            &planned.postings,
            &planned.invoices,
            std::slice::from_ref(&state),
        )
        .await?;
        let applied = record(conn, ctx, id, &planned).await?;
        let touched: Vec<Uuid> = applied.iter().map(|a| a.invoice_id).collect();
        crate::job::enqueue_after_cash(conn, ctx, row.customer_id, &touched).await?;
        let after = fetch(conn, ctx, id).await?;
        audit::record(
            conn,
            ctx,
            "payment.apply",
            "payment",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// What a return did besides reversing the payment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnOutcome {
    pub payment: Payment,
    /// The fee invoice, when a fee was billed.
    pub fee_invoice: Option<invoice::Invoice>,
    /// The follow-up task for the assigned collector.
    pub task: task::Task,
}

/// Returns a payment (NSF / ACH return): reverses every application, optionally bills
/// a fee, flags the customer and gives the collector a task.
pub async fn return_payment(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    request: ReturnRequest,
) -> Result<ReturnOutcome> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    let reason = request.reason.trim().to_owned();
    let mut p = Problems::new();
    if reason.is_empty() || reason.chars().count() > 500 {
        p.add("reason", "invalid_length", "must be 1 to 500 characters");
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let row = lock_for_change(conn, ctx, id).await?;
        let before = assemble(conn, row.clone()).await?;
        let live: Vec<Application> = before
            .applications
            .iter()
            .filter(|a| a.reversed_at.is_none())
            .map(|a| Application {
                invoice_id: a.invoice_id,
                amount: a.amount,
            })
            .collect();
        let mut invoice_ids: Vec<Uuid> = live.iter().map(|a| a.invoice_id).collect();
        invoice_ids.sort();
        invoice_ids.dedup();
        let rows = invoice::lock_for_customer(conn, ctx, row.customer_id, &invoice_ids)
            .await?
            .map_err(|_| {
                Error::Internal("a payment was applied to another customer's invoice".into())
            })?;
        let mut states: Vec<InvoiceState> = rows.iter().map(invoice::Invoice::state).collect();
        let mut payment_state = row.state();
        let postings = ledger::return_payment(&payment_state, &live)?;
        let today = ctx.now.date_naive();
        let journal = Journal {
            customer_id: row.customer_id,
            currency: &row.currency,
            effective_on: today,
            document_id: None,
            memo: Some(&reason),
        };
        journal::post(
            conn,
            ctx,
            &journal,
            &postings,
            &mut states,
            std::slice::from_mut(&mut payment_state),
        )
        .await?;
        diesel::update(
            payment_applications::table
                .filter(payment_applications::payment_id.eq(id))
                .filter(payment_applications::reversed_at.is_null()),
        )
        .set(payment_applications::reversed_at.eq(ctx.now))
        .execute(conn)
        .await?;
        // What the payment paid toward a promise or a plan's installments no longer counts.
        crate::job::enqueue_after_cash(conn, ctx, row.customer_id, &invoice_ids).await?;
        diesel::update(payments::table.find(id))
            .set((
                payments::status.eq(PaymentStatus::Returned),
                payments::returned_at.eq(ctx.now),
                payments::return_reason.eq(&reason),
            ))
            .execute(conn)
            .await?;
        let fee_invoice = match request.fee {
            None => None,
            Some(fee) => {
                let currency = Currency::parse(&row.currency)
                    .ok_or_else(|| Error::Internal("stored currency".into()))?;
                if fee <= Decimal::ZERO {
                    return Err(Error::validation(
                        "fee",
                        "not_positive",
                        "must be greater than zero",
                    ));
                }
                money::non_negative_amount("fee", fee, currency)
                    .map_err(|e| Error::Validation(vec![e]))?;
                let due = request.fee_due_date.unwrap_or(today);
                let fee_input = NewInvoice {
                    number: format!("NSF-{}", id.simple()),
                    customer_id: row.customer_id,
                    issue_date: today,
                    due_date: Some(due.max(today)),
                    amount: fee,
                    currency: Some(row.currency.clone()),
                    po_number: None,
                    project: None,
                    external_id: None,
                };
                Some(invoice::insert(conn, ctx, &fee_input, InvoiceKind::NsfFee).await?)
            }
        };
        let customer_before = customer::load_visible(conn, ctx, row.customer_id, false).await?;
        diesel::update(customers::table.find(row.customer_id))
            .set((
                customers::returned_payments.eq(customers::returned_payments + 1),
                customers::last_payment_returned_at.eq(ctx.now),
                customers::updated_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        let customer_after = customer::load_visible(conn, ctx, row.customer_id, false).await?;
        audit::record(
            conn,
            ctx,
            "customer.payment_returned",
            "customer",
            row.customer_id,
            Some(&customer_before.clone().at(ctx.now)),
            Some(&customer_after.clone().at(ctx.now)),
        )
        .await?;
        let amount = money::in_minor_units(row.amount, &row.currency);
        let task = task::create(
            conn,
            ctx,
            NewTask {
                customer_id: row.customer_id,
                assignee_id: customer_after.assigned_collector_id,
                kind: "payment_returned",
                title: format!("Payment of {amount} {} returned: {reason}", row.currency),
                due_on: today.checked_add_days(Days::new(1)).unwrap_or(today),
                source: Some(("payment", id)),
            },
        )
        .await?;
        let payment = fetch(conn, ctx, id).await?;
        audit::record(
            conn,
            ctx,
            "payment.return",
            "payment",
            id,
            Some(&before),
            Some(&payment),
        )
        .await?;
        Ok(ReturnOutcome {
            payment,
            fee_invoice,
            task,
        })
    })
    .await
}

/// Refunds unapplied cash to the customer.
pub async fn refund(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    request: RefundRequest,
) -> Result<Payment> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    let reason = crate::error::check_reason("reason", &request.reason)?;
    conn.transaction(async |conn| {
        let row = lock_for_change(conn, ctx, id).await?;
        let currency = Currency::parse(&row.currency)
            .ok_or_else(|| Error::Internal("stored currency".into()))?;
        if request.amount > Decimal::ZERO {
            money::non_negative_amount("amount", request.amount, currency)
                .map_err(|e| Error::Validation(vec![e]))?;
        }
        let before = assemble(conn, row.clone()).await?;
        let mut payment_state = row.state();
        let posting = ledger::refund(&payment_state, request.amount)?;
        let journal = Journal {
            customer_id: row.customer_id,
            currency: &row.currency,
            effective_on: ctx.now.date_naive(),
            document_id: None,
            memo: Some(&reason),
        };
        journal::post(
            conn,
            ctx,
            &journal,
            &[posting],
            &mut [],
            std::slice::from_mut(&mut payment_state),
        )
        .await?;
        let refreshed = load_row(conn, ctx, id, false).await?;
        if refreshed.refunded == refreshed.amount {
            diesel::update(payments::table.find(id))
                .set(payments::status.eq(PaymentStatus::Refunded))
                .execute(conn)
                .await?;
        }
        let after = fetch(conn, ctx, id).await?;
        audit::record(
            conn,
            ctx,
            "payment.refund",
            "payment",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PaymentFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<PaymentStatus>,
    pub method: Option<PaymentMethod>,
    /// Only payments with (true) or without (false) unapplied cash.
    pub unapplied: Option<bool>,
    /// Received on or after.
    pub received_from: Option<NaiveDate>,
    /// Received on or before.
    pub received_to: Option<NaiveDate>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("payments", "-received_on");

/// Payments the caller may see, newest received first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &PaymentFilter,
) -> Result<Page<Payment>> {
    ctx.actor.require(Permission::PaymentsRead)?;
    let page =
        PageRequest::<(NaiveDate, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = payments::table.select(Row::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(payments::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(payments::customer_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(payments::status.eq(s));
    }
    if let Some(m) = filter.method {
        q = q.filter(payments::method.eq(m));
    }
    match filter.unapplied {
        Some(true) => q = q.filter(payments::unapplied.gt(Decimal::ZERO)),
        Some(false) => q = q.filter(payments::unapplied.eq(Decimal::ZERO)),
        None => {}
    }
    if let Some(d) = filter.received_from {
        q = q.filter(payments::received_on.ge(d));
    }
    if let Some(d) = filter.received_to {
        q = q.filter(payments::received_on.le(d));
    }
    if let Some((d, id)) = page.after {
        q = q.filter(
            payments::received_on
                .lt(d)
                .or(payments::received_on.eq(d).and(payments::id.lt(id))),
        );
    }
    let rows = q
        .order((payments::received_on.desc(), payments::id.desc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    let page = Page::from_rows(rows, &page, |r: &Row| (r.received_on, r.id));
    let mut data = Vec::with_capacity(page.data.len());
    for row in page.data {
        data.push(assemble(conn, row).await?);
    }
    Ok(Page {
        data,
        next_cursor: page.next_cursor,
    })
}

/// `PUT /v1/payments/external/{external_id}`: posts the payment once; a repeat with the
/// same money answers the existing payment, different money is a conflict.
pub async fn upsert_external(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    external_id: &str,
    mut input: NewPayment,
) -> Result<(Payment, bool)> {
    ctx.actor.require(Permission::PaymentsWrite)?;
    if input
        .external_id
        .as_deref()
        .is_some_and(|e| e != external_id)
    {
        return Err(Error::validation(
            "external_id",
            "external_id_mismatch",
            "differs from the path",
        ));
    }
    input.external_id = Some(external_id.to_owned());
    conn.transaction(async |conn| {
        let existing: Option<Row> = payments::table
            .filter(payments::external_id.eq(external_id))
            .select(Row::as_select())
            .first(conn)
            .await
            .optional()?;
        let Some(existing) = existing else {
            return Ok((insert(conn, ctx, &input, None).await?, true));
        };
        let row = load_row(conn, ctx, existing.id, false).await?;
        let same = row.customer_id == input.customer_id
            && row.amount == input.amount
            && row.received_on == input.received_on
            && input.currency.as_deref().is_none_or(|c| c == row.currency);
        if !same {
            return Err(Error::conflict(
                ProblemCode::PostedMoneyChanged,
                "the payment was posted with other money; return or refund it instead",
            ));
        }
        Ok((assemble(conn, row).await?, false))
    })
    .await
    .map_err(map_unique)
}
