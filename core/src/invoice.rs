//! Invoices: issued to a customer, settled through the ledger. The open balance and
//! status are derived from ledger entries (cached on the row in the same transaction).

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
use crate::error::{Error, Problems, Result};
use crate::journal::{self, Journal, LedgerEntry};
use crate::ledger::{self, EntryKind, InvoiceState, InvoiceStatus};
use crate::money;
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{invoices, ledger_entries};

text_enum! {
    pub enum InvoiceKind {
        Invoice = "invoice",
        /// A fee billed for a returned payment.
        NsfFee = "nsf_fee",
        /// The fee and interest of a payment plan, billed when the plan is approved.
        PlanFee = "plan_fee",
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Queryable, QueryableByName, Selectable, utoipa::ToSchema,
)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: Uuid,
    #[schema(example = "INV-2026-00042")]
    pub number: String,
    pub external_id: Option<String>,
    pub customer_id: Uuid,
    pub kind: InvoiceKind,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// The amount billed.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1250.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: String,
    pub po_number: Option<String>,
    /// Project or job, for liens.
    pub project: Option<String>,
    pub status: InvoiceStatus,
    /// What is still owed: the sum of the invoice's ledger entries.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "250.00")]
    pub open_balance: Decimal,
    #[serde(skip)]
    pub(crate) charged: Decimal,
    #[serde(skip)]
    pub(crate) written_off: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Invoice {
    pub(crate) fn shown(mut self) -> Self {
        self.amount = money::in_minor_units(self.amount, &self.currency);
        self.open_balance = money::in_minor_units(self.open_balance, &self.currency);
        self
    }

    /// The invoice as the ledger rules see it; `touched` is only looked up by `void`.
    pub(crate) fn state(&self) -> InvoiceState {
        InvoiceState {
            id: self.id,
            customer_id: self.customer_id,
            currency: self.currency.clone(),
            due_date: self.due_date,
            balance: self.open_balance,
            charged: self.charged,
            written_off: self.written_off,
            status: self.status,
            touched: false,
        }
    }
}

/// `POST /v1/invoices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvoice {
    /// Unique across all invoices.
    #[schema(example = "INV-2026-00042")]
    pub number: String,
    pub customer_id: Uuid,
    pub issue_date: NaiveDate,
    /// Defaults to the issue date plus the customer's payment terms.
    pub due_date: Option<NaiveDate>,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1250.00")]
    pub amount: Decimal,
    /// Must be the customer's currency; defaults to it.
    #[schema(example = "USD")]
    pub currency: Option<String>,
    pub po_number: Option<String>,
    pub project: Option<String>,
    /// The id in the ERP; unique.
    pub external_id: Option<String>,
}

pub(crate) struct Checked {
    pub(crate) number: String,
    pub(crate) due_date: NaiveDate,
    pub(crate) amount: Decimal,
    pub(crate) currency: String,
}

fn text(field: &str, value: &str, max: usize, p: &mut Problems) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        p.add(
            field,
            "invalid_length",
            format!("must be 1 to {max} characters"),
        );
    }
    value.to_owned()
}

fn check(input: &NewInvoice, customer: &customer::Customer) -> Result<Checked> {
    check_for(input, &customer.currency, customer.payment_terms_days)
}

/// [`check`] against the customer's currency and payment terms (the import's bulk path
/// reads only those).
pub(crate) fn check_for(
    input: &NewInvoice,
    customer_currency: &str,
    payment_terms_days: i32,
) -> Result<Checked> {
    let mut p = Problems::new();
    let number = text("number", &input.number, 64, &mut p);
    let currency =
        money::customer_currency(input.currency.as_deref(), customer_currency, &mut p, || {
            format!("the customer is billed in {customer_currency}")
        });
    let amount = match currency {
        Some(c) if input.amount <= Decimal::ZERO => {
            let _ = c;
            p.add("amount", "not_positive", "must be greater than zero");
            None
        }
        Some(c) => p.check(money::non_negative_amount("amount", input.amount, c)),
        None => None,
    };
    let terms = u64::try_from(payment_terms_days).unwrap_or(0);
    let due_date = input
        .due_date
        .or_else(|| input.issue_date.checked_add_days(Days::new(terms)))
        .unwrap_or(input.issue_date);
    if due_date < input.issue_date {
        p.add(
            "due_date",
            "before_issue_date",
            "must not be before the issue date",
        );
    }
    for (name, value) in [
        ("po_number", &input.po_number),
        ("project", &input.project),
        ("external_id", &input.external_id),
    ] {
        if let Some(v) = value {
            text(name, v, 100, &mut p);
        }
    }
    p.into_result()?;
    let (Some(amount), Some(currency)) = (amount, currency) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    Ok(Checked {
        number,
        due_date,
        amount,
        currency: currency.code().to_owned(),
    })
}

fn map_unique(error: Error) -> Error {
    match error {
        Error::Database(e) if is_unique_violation(&e, "invoices_number_key") => Error::conflict(
            ProblemCode::InvoiceNumberTaken,
            "another invoice has this number",
        ),
        Error::Database(e) if is_unique_violation(&e, "invoices_external_id_key") => {
            Error::conflict(
                ProblemCode::ExternalIdTaken,
                "another invoice has this external id",
            )
        }
        other => other,
    }
}

/// Issues an invoice: the row and its `invoice_issued` entry, in one transaction.
pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewInvoice,
) -> Result<Invoice> {
    ctx.actor.require(Permission::InvoicesWrite)?;
    conn.transaction(async |conn| insert(conn, ctx, &input, InvoiceKind::Invoice).await)
        .await
        .map_err(map_unique)
}

/// Writes an invoice inside the caller's transaction.
pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: &NewInvoice,
    kind: InvoiceKind,
) -> Result<Invoice> {
    let customer = customer::load_named(conn, ctx, input.customer_id, true)
        .await?
        .at(ctx.now);
    let checked = check(input, &customer)?;
    let (invoice, issue) = issued(input, checked, customer.id, kind, ctx.now)?;
    let issue = [issue];
    let journal = Journal {
        customer_id: invoice.customer_id,
        currency: &invoice.currency,
        effective_on: invoice.issue_date,
        document_id: None,
        memo: None,
    };
    let shown = invoice.clone().shown();
    let event = audit::event(
        ctx,
        "invoice.create",
        "invoice",
        shown.id,
        None::<&()>,
        Some(&shown),
    );
    // The row, its entry and the audit event go out pipelined: one round trip instead
    // of three (the entry's foreign key to the invoice is checked at commit).
    {
        let mut c: &AsyncPgConnection = conn;
        let mut writes: Vec<crate::db::Write<'_>> = vec![
            diesel::insert_into(invoices::table)
                .values((
                    invoices::id.eq(invoice.id),
                    invoices::number.eq(invoice.number.clone()),
                    invoices::external_id.eq(invoice.external_id.clone()),
                    invoices::customer_id.eq(invoice.customer_id),
                    invoices::kind.eq(invoice.kind),
                    invoices::issue_date.eq(invoice.issue_date),
                    invoices::due_date.eq(invoice.due_date),
                    invoices::amount.eq(invoice.amount),
                    invoices::currency.eq(invoice.currency.clone()),
                    invoices::po_number.eq(invoice.po_number.clone()),
                    invoices::project.eq(invoice.project.clone()),
                    invoices::status.eq(invoice.status),
                    invoices::open_balance.eq(invoice.open_balance),
                    invoices::charged.eq(invoice.charged),
                    invoices::created_at.eq(ctx.now),
                    invoices::updated_at.eq(ctx.now),
                ))
                .execute(&mut c),
        ];
        writes.extend(journal::writes(c, ctx, &journal, &issue, &[], &[]));
        writes.push(Box::pin(event.write(c)));
        futures_util::future::try_join_all(writes).await?;
    }
    let invoice = shown;
    Ok(invoice)
}

/// A new invoice as [`insert`] writes it and its issue posting: the row carries its
/// final balance (the posting already applied with `post_to`), so the entry needs no
/// second write. The import's bulk path builds its rows with it too.
pub(crate) fn issued(
    input: &NewInvoice,
    checked: Checked,
    customer_id: Uuid,
    kind: InvoiceKind,
    now: DateTime<Utc>,
) -> Result<(Invoice, ledger::Posting)> {
    let entry_kind = match kind {
        InvoiceKind::Invoice => EntryKind::InvoiceIssued,
        InvoiceKind::NsfFee => EntryKind::NsfFee,
        InvoiceKind::PlanFee => EntryKind::InvoiceIssued,
    };
    let id = Uuid::now_v7();
    let issue = [ledger::issue(id, checked.amount, entry_kind)];
    let mut states = [InvoiceState {
        id,
        customer_id,
        currency: checked.currency.clone(),
        due_date: checked.due_date,
        balance: Decimal::ZERO,
        charged: Decimal::ZERO,
        written_off: false,
        status: InvoiceStatus::Open,
        touched: false,
    }];
    ledger::post_to(&mut states, &mut [], &issue)?;
    let [state] = states;
    let [issue] = issue;
    let invoice = Invoice {
        id,
        number: checked.number,
        external_id: input
            .external_id
            .as_deref()
            .map(str::trim)
            .map(str::to_owned),
        customer_id,
        kind,
        issue_date: input.issue_date,
        due_date: checked.due_date,
        amount: checked.amount,
        currency: checked.currency,
        po_number: input.po_number.clone(),
        project: input.project.clone(),
        status: state.status,
        open_balance: state.balance,
        charged: state.charged,
        written_off: false,
        created_at: now,
        updated_at: now,
    };
    Ok((invoice, issue))
}

async fn reload(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Invoice> {
    Ok(invoices::table
        .find(id)
        .select(Invoice::as_select())
        .first(conn)
        .await?
        .shown())
}

/// Loads an invoice the caller may see (locked for update when asked) and whether
/// anything but its issue was posted to it.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    lock: bool,
) -> Result<(Invoice, InvoiceState)> {
    let query = invoices::table.find(id).select(Invoice::as_select());
    let found = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let Some(invoice) = found else {
        return Err(Error::NotFound { entity: "invoice" });
    };
    customer::check_visible_for(conn, ctx, invoice.customer_id, false, "invoice").await?;
    let state = invoice.state();
    Ok((invoice.shown(), state))
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Invoice> {
    ctx.actor.require(Permission::InvoicesRead)?;
    Ok(load(conn, ctx, id, false).await?.0)
}

/// The ledger entries of an invoice, in posting order.
pub async fn ledger(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
) -> Result<Vec<LedgerEntry>> {
    ctx.actor.require(Permission::InvoicesRead)?;
    load(conn, ctx, id, false).await?;
    journal::for_invoice(conn, id).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// Why the invoice is void (kept on its ledger entry).
    #[schema(example = "issued twice by the ERP")]
    pub reason: String,
}

/// Voids an invoice that no cash, credit or adjustment has touched.
pub async fn void(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    request: VoidRequest,
) -> Result<Invoice> {
    ctx.actor.require(Permission::InvoicesWrite)?;
    let reason = crate::error::check_reason("reason", &request.reason)?;
    conn.transaction(async |conn| {
        let customer_id: Uuid = invoices::table
            .find(id)
            .select(invoices::customer_id)
            .first(conn)
            .await
            .optional()?
            .ok_or(Error::NotFound { entity: "invoice" })?;
        // Lock order everywhere: customer, then invoices, then payments.
        customer::load_visible(conn, ctx, customer_id, true)
            .await
            .map_err(|_| Error::NotFound { entity: "invoice" })?;
        let (before, mut state) = load(conn, ctx, id, true).await?;
        let others: i64 = ledger_entries::table
            .filter(ledger_entries::invoice_id.eq(id))
            .filter(ledger_entries::kind.ne_all([EntryKind::InvoiceIssued, EntryKind::NsfFee]))
            .count()
            .get_result(conn)
            .await?;
        state.touched = others > 0;
        let posting = ledger::void(&state)?;
        let journal = Journal {
            customer_id,
            currency: &before.currency,
            effective_on: ctx.now.date_naive(),
            document_id: None,
            memo: Some(&reason),
        };
        journal::post(conn, ctx, &journal, &[posting], &mut [state], &mut []).await?;
        let after = reload(conn, id).await?;
        audit::record(
            conn,
            ctx,
            "invoice.void",
            "invoice",
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
pub struct InvoiceFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<InvoiceStatus>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Only invoices with money still open (true) or settled (false).
    pub open: Option<bool>,
    /// Due on or after this date.
    pub due_from: Option<NaiveDate>,
    /// Due on or before this date.
    pub due_to: Option<NaiveDate>,
    /// Exact invoice number.
    pub number: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("invoices", "due_date");

/// Invoices the caller may see, by due date (oldest first).
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &InvoiceFilter,
) -> Result<Page<Invoice>> {
    ctx.actor.require(Permission::InvoicesRead)?;
    let page =
        PageRequest::<(NaiveDate, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = invoices::table.select(Invoice::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(invoices::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(invoices::customer_id.eq(id));
    }
    if let Some(status) = filter.status {
        q = q.filter(invoices::status.eq(status));
    }
    if let Some(code) = &filter.currency {
        q = q.filter(invoices::currency.eq(code.to_uppercase()));
    }
    match filter.open {
        Some(true) => q = q.filter(invoices::open_balance.gt(Decimal::ZERO)),
        Some(false) => q = q.filter(invoices::open_balance.eq(Decimal::ZERO)),
        None => {}
    }
    if let Some(d) = filter.due_from {
        q = q.filter(invoices::due_date.ge(d));
    }
    if let Some(d) = filter.due_to {
        q = q.filter(invoices::due_date.le(d));
    }
    if let Some(n) = &filter.number {
        q = q.filter(invoices::number.eq(n.clone()));
    }
    if let Some((due, id)) = page.after {
        q = q.filter(
            invoices::due_date
                .gt(due)
                .or(invoices::due_date.eq(due).and(invoices::id.gt(id))),
        );
    }
    let rows = q
        .order((invoices::due_date.asc(), invoices::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |i: &Invoice| (i.due_date, i.id)).map(Invoice::shown))
}

/// The invoices a request names as `invoice_ids[i]` for something it makes about a
/// customer (a promise, a plan, called `what`): each must be the customer's, open (not
/// written off or void) and in one currency. Returns that currency and each invoice's
/// open balance, in the order named; the first invoice that fails is the problem.
pub(crate) async fn named_open(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
    ids: &[Uuid],
    what: &str,
) -> Result<(String, Vec<Decimal>)> {
    let found: Vec<(Uuid, Uuid, String, Decimal, bool, InvoiceStatus)> = invoices::table
        .filter(invoices::id.eq_any(ids))
        .select((
            invoices::id,
            invoices::customer_id,
            invoices::currency,
            invoices::open_balance,
            invoices::written_off,
            invoices::status,
        ))
        .load(conn)
        .await?;
    let mut currency: Option<String> = None;
    let mut balances = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("invoice_ids[{i}]");
        let Some((_, _, cur, open, written_off, status)) =
            found.iter().find(|f| f.0 == *id && f.1 == customer_id)
        else {
            return Err(Error::validation(
                &field,
                "unknown_invoice",
                "not an invoice of this customer",
            ));
        };
        if *open <= Decimal::ZERO || *written_off || *status == InvoiceStatus::Void {
            return Err(Error::validation(
                &field,
                "invoice_not_open",
                "the invoice has no open balance",
            ));
        }
        if currency.as_ref().is_some_and(|c| c != cur) {
            return Err(Error::validation(
                &field,
                "currency_mismatch",
                format!("all invoices of a {what} share one currency"),
            ));
        }
        currency = Some(cur.clone());
        balances.push(*open);
    }
    let currency = currency.ok_or_else(|| Error::Internal("no invoice named".into()))?;
    Ok((currency, balances))
}

/// Open invoices of a customer, locked, oldest due first (for oldest-first application).
pub(crate) async fn open_for_customer(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
    currency: &str,
) -> Result<Vec<Invoice>> {
    let rows: Vec<Invoice> = invoices::table
        .filter(invoices::customer_id.eq(customer_id))
        .filter(invoices::currency.eq(currency))
        .filter(invoices::open_balance.gt(Decimal::ZERO))
        .order((invoices::due_date.asc(), invoices::id.asc()))
        .select(Invoice::as_select())
        .for_update()
        .load(conn)
        .await?;
    Ok(rows)
}

/// Locks the named invoices (in id order, the lock order) for a payment of `customer_id`
/// and returns them in the order asked; or the index of the first that is missing or
/// another customer's, and whether the caller may see that one at all.
pub(crate) async fn lock_for_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    ids: &[Uuid],
) -> Result<std::result::Result<Vec<Invoice>, (usize, bool)>> {
    let rows = lock(conn, ids).await?;
    of_customer(conn, ctx, customer_id, ids, rows).await
}

/// The locking statement of [`lock_for_customer`], on a shared connection so that it
/// can go pipelined with others; [`of_customer`] then checks its rows.
pub(crate) async fn lock(mut conn: &AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<Invoice>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    // Prepared (diesel re-plans its own `eq_any`); locked in id order, so two
    // operations on the same invoices queue rather than deadlock.
    Ok(
        crate::db::prepared("SELECT * FROM invoices WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(sorted)
            .load(&mut conn)
            .await?,
    )
}

/// The locked `rows` in the order `ids` asks, when each is `customer_id`'s.
pub(crate) async fn of_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    ids: &[Uuid],
    rows: Vec<Invoice>,
) -> Result<std::result::Result<Vec<Invoice>, (usize, bool)>> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match rows.iter().find(|r| r.id == *id) {
            Some(r) if r.customer_id == customer_id => out.push(r.clone()),
            Some(r) => {
                let visible = customer::load_visible(conn, ctx, r.customer_id, false)
                    .await
                    .is_ok();
                return Ok(Err((i, visible)));
            }
            None => return Ok(Err((i, false))),
        }
    }
    Ok(Ok(out))
}

/// `PUT /v1/invoices/external/{external_id}`: the ERP's invoice, merged into the invoice
/// with this external id, or a new invoice.
///
/// Every field is optional and an absent one changes nothing. Creating an invoice needs
/// `number`, `customer_id`, `issue_date` and `amount` (each missing one is the field
/// error `required`); `due_date` then defaults to the issue date plus the customer's
/// terms. On an existing invoice the descriptive fields sent change (`number`,
/// `due_date`, `po_number`, `project`; `null` clears the last two and, for any other
/// field, is the same as leaving it out), while the money
/// posted — `customer_id`, `amount`, `currency`, `issue_date` — may only be repeated
/// as it is (409 `posted_money_changed` otherwise). The ledger, the status, disputes and
/// write-offs belong to collections and are never touched by an upsert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceUpsert {
    /// Unique across all invoices; required to create.
    #[schema(example = "INV-2026-00042")]
    pub number: Option<String>,
    /// Required to create; an existing invoice keeps its customer.
    pub customer_id: Option<Uuid>,
    /// Required to create; an existing invoice keeps its issue date.
    pub issue_date: Option<NaiveDate>,
    /// When created without one: the issue date plus the customer's payment terms.
    pub due_date: Option<NaiveDate>,
    /// Required to create; an existing invoice keeps its amount.
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, example = "1250.00")]
    pub amount: Option<Decimal>,
    /// Must be the customer's currency; defaults to it.
    #[schema(example = "USD")]
    pub currency: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub po_number: Option<Option<String>>,
    /// Project or job, for liens; `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub project: Option<Option<String>>,
    /// The path's external id; may be left out, and must equal it when sent.
    pub external_id: Option<String>,
}

impl InvoiceUpsert {
    /// The invoice to create, or the `required` field errors of what is missing.
    fn creation(&self, external_id: &str) -> Result<NewInvoice> {
        let mut p = Problems::new();
        for (field, missing) in [
            ("number", self.number.is_none()),
            ("customer_id", self.customer_id.is_none()),
            ("issue_date", self.issue_date.is_none()),
            ("amount", self.amount.is_none()),
        ] {
            if missing {
                p.add(field, "required", "required to create the invoice");
            }
        }
        p.into_result()?;
        let (Some(number), Some(customer_id), Some(issue_date), Some(amount)) = (
            self.number.clone(),
            self.customer_id,
            self.issue_date,
            self.amount,
        ) else {
            return Err(Error::Internal("required fields missing".into()));
        };
        Ok(NewInvoice {
            number,
            customer_id,
            issue_date,
            due_date: self.due_date,
            amount,
            currency: self.currency.clone(),
            po_number: self.po_number.clone().flatten(),
            project: self.project.clone().flatten(),
            external_id: Some(external_id.to_owned()),
        })
    }

    /// The invoice as it would stand with the fields sent merged in (the money as
    /// posted, which [`money_changed`] keeps).
    fn merged(&self, existing: &Invoice) -> NewInvoice {
        NewInvoice {
            number: self
                .number
                .clone()
                .unwrap_or_else(|| existing.number.clone()),
            customer_id: existing.customer_id,
            issue_date: existing.issue_date,
            due_date: Some(self.due_date.unwrap_or(existing.due_date)),
            amount: existing.amount,
            currency: Some(existing.currency.clone()),
            po_number: self
                .po_number
                .clone()
                .unwrap_or_else(|| existing.po_number.clone()),
            project: self
                .project
                .clone()
                .unwrap_or_else(|| existing.project.clone()),
            external_id: existing.external_id.clone(),
        }
    }
}

/// Every field of `input` sent (imports and callers that know the whole invoice).
impl From<NewInvoice> for InvoiceUpsert {
    fn from(input: NewInvoice) -> Self {
        Self {
            number: Some(input.number),
            customer_id: Some(input.customer_id),
            issue_date: Some(input.issue_date),
            due_date: input.due_date,
            amount: Some(input.amount),
            currency: input.currency,
            po_number: Some(input.po_number),
            project: Some(input.project),
            external_id: input.external_id,
        }
    }
}

/// Whether an upsert would rewrite money that was posted: it may change descriptive
/// fields, never the customer, amount, currency or dates money was posted on. Fields
/// left out are kept, so they never differ.
pub(crate) fn money_changed(existing: &Invoice, input: &InvoiceUpsert) -> Option<&'static str> {
    if input.customer_id.is_some_and(|c| c != existing.customer_id) {
        return Some("customer_id");
    }
    if input.amount.is_some_and(|a| a != existing.amount) {
        return Some("amount");
    }
    if input
        .currency
        .as_deref()
        .is_some_and(|c| c != existing.currency)
    {
        return Some("currency");
    }
    if input.issue_date.is_some_and(|d| d != existing.issue_date) {
        return Some("issue_date");
    }
    None
}

/// `PUT /v1/invoices/external/{external_id}`: creates the invoice or merges the fields
/// sent into it (see [`InvoiceUpsert`]). Returns the invoice and whether it was created.
pub async fn upsert_external(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    external_id: &str,
    input: InvoiceUpsert,
) -> Result<(Invoice, bool)> {
    ctx.actor.require(Permission::InvoicesWrite)?;
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
    conn.transaction(async |conn| {
        let existing: Option<Invoice> = invoices::table
            .filter(invoices::external_id.eq(external_id))
            .select(Invoice::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some(existing) = existing else {
            let new = input.creation(external_id)?;
            return Ok((insert(conn, ctx, &new, InvoiceKind::Invoice).await?, true));
        };
        let (before, _) = load(conn, ctx, existing.id, true).await?;
        if let Some(field) = money_changed(&before, &input) {
            return Err(Error::conflict(
                ProblemCode::PostedMoneyChanged,
                format!("`{field}` differs from the posted invoice; post a credit memo or adjustment instead"),
            ));
        }
        let merged = input.merged(&before);
        let customer = customer::load_visible(conn, ctx, before.customer_id, false).await?.at(ctx.now);
        let checked = check(&merged, &customer)?;
        if before.number == checked.number
            && before.due_date == checked.due_date
            && before.po_number == merged.po_number
            && before.project == merged.project
        {
            // Nothing changes: no write, no audit event (ERP syncs and re-imports repeat
            // themselves).
            return Ok((before, false));
        }
        diesel::update(invoices::table.find(before.id))
            .set((
                invoices::number.eq(&checked.number),
                invoices::due_date.eq(checked.due_date),
                invoices::po_number.eq(&merged.po_number),
                invoices::project.eq(&merged.project),
                invoices::updated_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        let after = reload(conn, before.id).await?;
        if after != before {
            audit::record(conn, ctx, "invoice.update", "invoice", after.id, Some(&before), Some(&after)).await?;
        }
        Ok((after, false))
    })
    .await
    .map_err(map_unique)
}

/// How many invoices exist (demo seeding imports a portfolio only into an empty ledger).
pub async fn count_all(conn: &mut AsyncPgConnection) -> Result<i64> {
    Ok(invoices::table.count().get_result(conn).await?)
}

#[cfg(test)]
mod upsert_tests {
    use super::*;

    fn posted() -> Invoice {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap_or_default();
        Invoice {
            id: Uuid::nil(),
            number: "INV-1".into(),
            external_id: Some("I-1".into()),
            customer_id: Uuid::nil(),
            kind: InvoiceKind::Invoice,
            issue_date: day(1),
            due_date: day(31),
            amount: Decimal::new(70_000, 2),
            currency: "USD".into(),
            po_number: Some("PO-1".into()),
            project: Some("Depot".into()),
            status: InvoiceStatus::Open,
            open_balance: Decimal::new(70_000, 2),
            charged: Decimal::ZERO,
            written_off: false,
            created_at: DateTime::<Utc>::default(),
            updated_at: DateTime::<Utc>::default(),
        }
    }

    fn upsert(json: &str) -> InvoiceUpsert {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn fields_left_out_are_kept() {
        let existing = posted();
        let merged = upsert(r#"{"number": "INV-1b"}"#).merged(&existing);
        assert_eq!(merged.number, "INV-1b");
        assert_eq!(merged.due_date, Some(existing.due_date), "not recomputed");
        assert_eq!(merged.po_number.as_deref(), Some("PO-1"));
        assert_eq!(merged.project.as_deref(), Some("Depot"));
        assert_eq!(merged.amount, existing.amount);
        let cleared = upsert(r#"{"po_number": null, "due_date": "2026-02-15"}"#).merged(&existing);
        assert_eq!(cleared.po_number, None);
        assert_eq!(cleared.project.as_deref(), Some("Depot"));
        assert_eq!(cleared.due_date, NaiveDate::from_ymd_opt(2026, 2, 15));
    }

    #[test]
    fn posted_money_may_be_repeated_or_left_out_but_not_changed() {
        let existing = posted();
        assert_eq!(money_changed(&existing, &upsert("{}")), None);
        assert_eq!(
            money_changed(
                &existing,
                &upsert(r#"{"amount": "700.0", "currency": "USD", "issue_date": "2026-01-01"}"#)
            ),
            None
        );
        assert_eq!(
            money_changed(&existing, &upsert(r#"{"amount": "750.00"}"#)),
            Some("amount")
        );
        assert_eq!(
            money_changed(&existing, &upsert(r#"{"issue_date": "2026-01-02"}"#)),
            Some("issue_date")
        );
        assert_eq!(
            money_changed(&existing, &upsert(r#"{"currency": "EUR"}"#)),
            Some("currency")
        );
    }

    #[test]
    fn creating_needs_number_customer_issue_date_and_amount() {
        match upsert(r#"{"po_number": "PO-9"}"#).creation("I-9") {
            Err(Error::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["number", "customer_id", "issue_date", "amount"]);
                assert!(errors.iter().all(|e| e.code == "required"));
            }
            other => panic!("expected required fields, got {other:?}"),
        }
        let full = NewInvoice {
            number: "INV-9".into(),
            customer_id: Uuid::nil(),
            issue_date: posted().issue_date,
            due_date: None,
            amount: Decimal::ONE,
            currency: None,
            po_number: None,
            project: None,
            external_id: Some("I-9".into()),
        };
        let back = InvoiceUpsert::from(full.clone()).creation("I-9");
        assert_eq!(back.ok(), Some(full));
    }
}
