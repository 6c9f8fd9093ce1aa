//! Customers (accounts): master data, compliance flags, assignment and the current holds.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission, Visibility};
use crate::audit;
use crate::db::{is_unique_violation, like_escape};
use crate::error::{Error, FieldError, Problems, Result};
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{customers, users};
use crate::user::Role;

text_enum! {
    /// Commercial (B2B) or consumer account; consumer accounts fall under debt-collection
    /// law (FDCPA / Regulation F) by default.
    pub enum CustomerKind {
        Commercial = "commercial",
        Consumer = "consumer",
    }
}

text_enum! {
    pub enum RiskRating {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

/// The customer's current collection hold: no collection action while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CollectionHold {
    #[schema(example = "customer in restructuring talks; CFO asked for 30 days")]
    pub reason: String,
    /// The hold lapses at this instant; absent means until released.
    pub expires_at: Option<DateTime<Utc>>,
    pub placed_at: DateTime<Utc>,
}

/// A customer account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: Uuid,
    /// The id in the ERP; unique.
    #[schema(example = "0379-NEVHP")]
    pub external_id: Option<String>,
    #[schema(example = "Northwind Traders")]
    pub name: String,
    pub kind: CustomerKind,
    /// ISO 4217 code of the account's currency.
    #[schema(example = "USD")]
    pub currency: String,
    /// IANA time zone of the account, for contact windows.
    #[schema(example = "America/Chicago")]
    pub timezone: String,
    /// Days from invoice to due date.
    #[schema(example = 30)]
    pub payment_terms_days: i32,
    /// In the account's currency; absent means no limit has been set.
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    pub risk_rating: Option<RiskRating>,
    pub assigned_collector_id: Option<Uuid>,
    pub sales_rep_id: Option<Uuid>,
    pub do_not_contact: bool,
    pub cease_communication: bool,
    pub attorney_represented: bool,
    pub bankrupt: bool,
    pub deceased: bool,
    /// Orders are held (set and cleared by credit holds).
    pub credit_hold: bool,
    /// The active collection hold, if any.
    pub collection_hold: Option<CollectionHold>,
    /// Payments of this customer returned unpaid (NSF, ACH returns).
    pub returned_payments: i32,
    pub last_payment_returned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub(crate) struct Row {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub name: String,
    pub kind: CustomerKind,
    pub currency: String,
    pub timezone: String,
    pub payment_terms_days: i32,
    pub credit_limit: Option<Decimal>,
    pub risk_rating: Option<RiskRating>,
    pub assigned_collector_id: Option<Uuid>,
    pub sales_rep_id: Option<Uuid>,
    pub do_not_contact: bool,
    pub cease_communication: bool,
    pub attorney_represented: bool,
    pub bankrupt: bool,
    pub deceased: bool,
    pub credit_hold: bool,
    pub collection_hold_reason: Option<String>,
    pub collection_hold_expires_at: Option<DateTime<Utc>>,
    pub collection_hold_placed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub returned_payments: i32,
    pub last_payment_returned_at: Option<DateTime<Utc>>,
}

impl Row {
    /// The customer as of `now`: a collection hold past its expiry is no longer shown.
    pub(crate) fn at(self, now: DateTime<Utc>) -> Customer {
        let collection_hold = match (self.collection_hold_reason, self.collection_hold_placed_at) {
            (Some(reason), Some(placed_at))
                if self.collection_hold_expires_at.is_none_or(|t| t > now) =>
            {
                Some(CollectionHold {
                    reason,
                    expires_at: self.collection_hold_expires_at,
                    placed_at,
                })
            }
            _ => None,
        };
        let credit_limit = self
            .credit_limit
            .map(|d| money::in_minor_units(d, &self.currency));
        Customer {
            id: self.id,
            external_id: self.external_id,
            name: self.name,
            kind: self.kind,
            currency: self.currency,
            timezone: self.timezone,
            payment_terms_days: self.payment_terms_days,
            credit_limit,
            risk_rating: self.risk_rating,
            assigned_collector_id: self.assigned_collector_id,
            sales_rep_id: self.sales_rep_id,
            do_not_contact: self.do_not_contact,
            cease_communication: self.cease_communication,
            attorney_represented: self.attorney_represented,
            bankrupt: self.bankrupt,
            deceased: self.deceased,
            credit_hold: self.credit_hold,
            collection_hold,
            returned_payments: self.returned_payments,
            last_payment_returned_at: self.last_payment_returned_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// `POST /v1/customers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    #[schema(example = "0379-NEVHP")]
    pub external_id: Option<String>,
    #[schema(example = "Northwind Traders")]
    pub name: String,
    pub kind: CustomerKind,
    #[schema(example = "USD")]
    pub currency: String,
    /// IANA time zone; default `UTC`.
    #[schema(example = "America/Chicago")]
    pub timezone: Option<String>,
    /// 0–365; default 30.
    #[schema(example = 30)]
    pub payment_terms_days: Option<i32>,
    #[serde(default, deserialize_with = "money::decimal_string::option")]
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    pub risk_rating: Option<RiskRating>,
    /// Needs the `customers:assign` permission (managers, admins).
    pub assigned_collector_id: Option<Uuid>,
    /// Needs the `customers:assign` permission (managers, admins).
    pub sales_rep_id: Option<Uuid>,
    #[serde(default)]
    pub do_not_contact: bool,
    #[serde(default)]
    pub cease_communication: bool,
    #[serde(default)]
    pub attorney_represented: bool,
    #[serde(default)]
    pub bankrupt: bool,
    #[serde(default)]
    pub deceased: bool,
}

/// `PATCH /v1/customers/{id}`: absent fields keep their value; `null` clears a nullable one.
/// Assignment and holds have their own routes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub external_id: Option<Option<String>>,
    pub name: Option<String>,
    pub kind: Option<CustomerKind>,
    #[schema(example = "USD")]
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub payment_terms_days: Option<i32>,
    /// Needs the `customers:credit_limit` permission (managers, admins).
    #[serde(default, deserialize_with = "money::decimal_string::double_option")]
    #[schema(value_type = Option<String>, nullable, example = "30000.00")]
    pub credit_limit: Option<Option<Decimal>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<RiskRating>, nullable)]
    pub risk_rating: Option<Option<RiskRating>>,
    pub do_not_contact: Option<bool>,
    pub cease_communication: Option<bool>,
    pub attorney_represented: Option<bool>,
    pub bankrupt: Option<bool>,
    pub deceased: Option<bool>,
}

/// `PUT /v1/customers/{id}/assignment`: replaces both assignees (`null` unassigns).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// A user with role `collector` or `field_collector`; required, may be `null`.
    #[serde(deserialize_with = "crate::patch::present")]
    #[schema(required)]
    pub assigned_collector_id: Option<Uuid>,
    /// A user with role `sales`; required, may be `null`.
    #[serde(deserialize_with = "crate::patch::present")]
    #[schema(required)]
    pub sales_rep_id: Option<Uuid>,
}

pub(crate) fn check_timezone(field: &str, tz: &str) -> std::result::Result<String, FieldError> {
    tz.parse::<chrono_tz::Tz>()
        .map(|t| t.name().to_owned())
        .map_err(|_| {
            FieldError::new(
                field,
                "unknown_timezone",
                "not an IANA time zone (e.g. America/Chicago)",
            )
        })
}

fn check_name(name: &str) -> std::result::Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(FieldError::new(
            "name",
            "invalid_length",
            "must be 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_external_id(id: &str) -> std::result::Result<String, FieldError> {
    let id = id.trim();
    if id.is_empty() || id.chars().count() > 100 {
        return Err(FieldError::new(
            "external_id",
            "invalid_length",
            "must be 1 to 100 characters",
        ));
    }
    Ok(id.to_owned())
}

fn check_terms(days: i32) -> std::result::Result<i32, FieldError> {
    if !(0..=365).contains(&days) {
        return Err(FieldError::new(
            "payment_terms_days",
            "out_of_range",
            "must be 0 to 365",
        ));
    }
    Ok(days)
}

/// Checks that assignees exist, are active and have a fitting role.
async fn check_assignees(
    conn: &mut AsyncPgConnection,
    collector: Option<Uuid>,
    sales_rep: Option<Uuid>,
    problems: &mut Problems,
) -> Result<()> {
    let checks = [
        (
            "assigned_collector_id",
            collector,
            &[Role::Collector, Role::FieldCollector][..],
            "not_a_collector",
        ),
        (
            "sales_rep_id",
            sales_rep,
            &[Role::Sales][..],
            "not_a_sales_rep",
        ),
    ];
    for (field, id, roles, code) in checks {
        let Some(id) = id else { continue };
        let found: Option<(Role, bool)> = users::table
            .find(id)
            .select((users::role, users::active))
            .first(conn)
            .await
            .optional()?;
        match found {
            Some((role, true)) if roles.contains(&role) => {}
            Some((_, true)) => problems.add(field, code, "the user does not have a fitting role"),
            Some((_, false)) => problems.add(field, "inactive_user", "the user is inactive"),
            None => problems.add(field, "unknown_user", "no such user"),
        }
    }
    Ok(())
}

fn map_unique(error: Error) -> Error {
    match error {
        Error::Database(e) if is_unique_violation(&e, "customers_external_id_key") => {
            Error::conflict(
                ProblemCode::ExternalIdTaken,
                "another customer has this external id",
            )
        }
        other => other,
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewCustomer,
) -> Result<Customer> {
    ctx.actor.require(Permission::CustomersCreate)?;
    if input.assigned_collector_id.is_some() || input.sales_rep_id.is_some() {
        ctx.actor.require(Permission::CustomersAssign)?;
    }
    let mut p = Problems::new();
    let name = p.check(check_name(&input.name));
    let external_id = input
        .external_id
        .as_deref()
        .and_then(|e| p.check(check_external_id(e)));
    let currency = p.check(Currency::field("currency", &input.currency));
    let timezone = p.check(check_timezone(
        "timezone",
        input.timezone.as_deref().unwrap_or("UTC"),
    ));
    let terms = p.check(check_terms(input.payment_terms_days.unwrap_or(30)));
    let credit_limit = match (input.credit_limit, currency) {
        (Some(limit), Some(c)) => p.check(money::non_negative_amount("credit_limit", limit, c)),
        _ => None,
    };
    check_assignees(
        conn,
        input.assigned_collector_id,
        input.sales_rep_id,
        &mut p,
    )
    .await?;
    p.into_result()?;
    let (Some(name), Some(currency), Some(timezone), Some(terms)) =
        (name, currency, timezone, terms)
    else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    let row = Row {
        id: Uuid::now_v7(),
        external_id,
        name,
        kind: input.kind,
        currency: currency.code().to_owned(),
        timezone,
        payment_terms_days: terms,
        credit_limit,
        risk_rating: input.risk_rating,
        assigned_collector_id: input.assigned_collector_id,
        sales_rep_id: input.sales_rep_id,
        do_not_contact: input.do_not_contact,
        cease_communication: input.cease_communication,
        attorney_represented: input.attorney_represented,
        bankrupt: input.bankrupt,
        deceased: input.deceased,
        credit_hold: false,
        collection_hold_reason: None,
        collection_hold_expires_at: None,
        collection_hold_placed_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
        returned_payments: 0,
        last_payment_returned_at: None,
    };
    let customer = row.clone().at(ctx.now);
    conn.transaction(async |conn| {
        insert_row(conn, &row).await?;
        audit::record(
            conn,
            ctx,
            "customer.create",
            "customer",
            row.id,
            None::<&()>,
            Some(&customer),
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await
    .map_err(map_unique)?;
    Ok(customer)
}

async fn insert_row(conn: &mut AsyncPgConnection, r: &Row) -> Result<()> {
    diesel::insert_into(customers::table)
        .values((
            customers::id.eq(r.id),
            customers::external_id.eq(&r.external_id),
            customers::name.eq(&r.name),
            customers::kind.eq(r.kind),
            customers::currency.eq(&r.currency),
            customers::timezone.eq(&r.timezone),
            customers::payment_terms_days.eq(r.payment_terms_days),
            customers::credit_limit.eq(r.credit_limit),
            customers::risk_rating.eq(r.risk_rating),
            customers::assigned_collector_id.eq(r.assigned_collector_id),
            customers::sales_rep_id.eq(r.sales_rep_id),
            customers::do_not_contact.eq(r.do_not_contact),
            customers::cease_communication.eq(r.cease_communication),
            customers::attorney_represented.eq(r.attorney_represented),
            customers::bankrupt.eq(r.bankrupt),
            customers::deceased.eq(r.deceased),
            customers::credit_hold.eq(r.credit_hold),
            customers::created_at.eq(r.created_at),
            customers::updated_at.eq(r.updated_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Loads a customer the caller may see (optionally locking it for an update); an
/// invisible customer is `NotFound`, exactly like a missing one.
pub(crate) async fn load_visible(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    lock: bool,
) -> Result<Row> {
    visible(ctx, find_row(conn, id, lock).await?)
}

/// The statement of [`load_visible`], on a shared connection so that it can go
/// pipelined with others; [`visible`] then decides on its row.
pub(crate) async fn find_row(
    mut conn: &AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<Row>> {
    let query = customers::table.find(id).select(Row::as_select());
    Ok(if lock {
        query.for_update().first(&mut conn).await.optional()?
    } else {
        query.first(&mut conn).await.optional()?
    })
}

/// The row if the caller may see it; else `NotFound`, as for no row at all.
pub(crate) fn visible(ctx: &Context, row: Option<Row>) -> Result<Row> {
    match row {
        Some(r)
            if ctx
                .actor
                .customer_visibility()
                .admits(r.assigned_collector_id, r.sales_rep_id) =>
        {
            Ok(r)
        }
        _ => Err(Error::NotFound { entity: "customer" }),
    }
}

/// [`load_visible`] for a customer named in a request body: a missing or hidden one is
/// the field error `customer_id: unknown_customer` (422), not a 404 of the route.
pub(crate) async fn load_named(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    lock: bool,
) -> Result<Row> {
    load_visible(conn, ctx, id, lock).await.map_err(named)
}

/// A customer named in a request body and not found (or hidden) is a field error.
pub(crate) fn named(error: Error) -> Error {
    match error {
        Error::NotFound { .. } => {
            Error::validation("customer_id", "unknown_customer", "no such customer")
        }
        other => other,
    }
}

/// Checks that the customer a resource hangs off is visible to the caller; a hidden
/// one answers exactly like a missing resource: `NotFound` of `entity`.
pub(crate) async fn check_visible_for(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    lock: bool,
    entity: &'static str,
) -> Result<()> {
    load_visible(conn, ctx, customer_id, lock)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound { entity },
            other => other,
        })
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Customer> {
    ctx.actor.require(Permission::CustomersRead)?;
    Ok(load_visible(conn, ctx, id, false).await?.at(ctx.now))
}

/// Applies a patch if `precondition` holds for the current representation (the API
/// passes its If-Match check); the row is locked so no other write slips in between.
pub async fn update(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    patch: CustomerPatch,
    precondition: impl FnOnce(&Customer) -> bool + Send,
) -> Result<Customer> {
    ctx.actor.require(Permission::CustomersUpdate)?;
    if patch.credit_limit.is_some() {
        ctx.actor.require(Permission::CustomersCreditLimit)?;
    }
    conn.transaction(async |conn| {
        let before_row = load_visible(conn, ctx, id, true).await?;
        let before = before_row.clone().at(ctx.now);
        if !precondition(&before) {
            return Err(Error::PreconditionFailed);
        }
        let mut p = Problems::new();
        let before_row_copy = before_row.clone();
        let mut row = before_row;
        if let Some(name) = &patch.name {
            row.name = p.check(check_name(name)).unwrap_or_default();
        }
        if let Some(ext) = &patch.external_id {
            row.external_id = ext.as_deref().and_then(|e| p.check(check_external_id(e)));
        }
        if let Some(kind) = patch.kind {
            row.kind = kind;
        }
        let currency = match &patch.currency {
            Some(code) => p.check(Currency::field("currency", code)),
            None => Currency::parse(&row.currency),
        };
        if let Some(c) = currency {
            row.currency = c.code().to_owned();
        }
        if let Some(tz) = &patch.timezone {
            row.timezone = p.check(check_timezone("timezone", tz)).unwrap_or_default();
        }
        if let Some(days) = patch.payment_terms_days {
            row.payment_terms_days = p.check(check_terms(days)).unwrap_or_default();
        }
        if let Some(limit) = patch.credit_limit {
            row.credit_limit = match (limit, currency) {
                (Some(l), Some(c)) => p.check(money::non_negative_amount("credit_limit", l, c)),
                _ => None,
            };
        } else if let (Some(l), Some(c)) = (row.credit_limit, currency) {
            // A currency change must not leave a limit with more places than it allows.
            p.check(money::non_negative_amount("credit_limit", l, c));
        }
        if let Some(r) = patch.risk_rating {
            row.risk_rating = r;
        }
        let flags = [
            (patch.do_not_contact, &mut row.do_not_contact),
            (patch.cease_communication, &mut row.cease_communication),
            (patch.attorney_represented, &mut row.attorney_represented),
            (patch.bankrupt, &mut row.bankrupt),
            (patch.deceased, &mut row.deceased),
        ];
        for (value, slot) in flags {
            if let Some(v) = value {
                *slot = v;
            }
        }
        p.into_result()?;
        if row == before_row_copy {
            // Nothing changes: no write, no audit event (ERP upserts repeat themselves).
            return Ok(before);
        }
        if row.currency != before_row_copy.currency {
            let invoiced: i64 = crate::schema::invoices::table
                .filter(crate::schema::invoices::customer_id.eq(id))
                .count()
                .get_result(conn)
                .await?;
            if invoiced > 0 {
                return Err(Error::conflict(
                    ProblemCode::CurrencyLocked,
                    "the customer has invoices in its currency",
                ));
            }
        }
        row.updated_at = ctx.now;
        diesel::update(customers::table.find(id))
            .set((
                customers::external_id.eq(&row.external_id),
                customers::name.eq(&row.name),
                customers::kind.eq(row.kind),
                customers::currency.eq(&row.currency),
                customers::timezone.eq(&row.timezone),
                customers::payment_terms_days.eq(row.payment_terms_days),
                customers::credit_limit.eq(row.credit_limit),
                customers::risk_rating.eq(row.risk_rating),
                customers::do_not_contact.eq(row.do_not_contact),
                customers::cease_communication.eq(row.cease_communication),
                customers::attorney_represented.eq(row.attorney_represented),
                customers::bankrupt.eq(row.bankrupt),
                customers::deceased.eq(row.deceased),
                customers::updated_at.eq(row.updated_at),
            ))
            .execute(conn)
            .await?;
        let after = row.at(ctx.now);
        audit::record(
            conn,
            ctx,
            "customer.update",
            "customer",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
    .map_err(map_unique)
}

/// `PUT /v1/customers/external/{external_id}`: the ERP's master data, merged into the
/// customer with this external id, or a new customer.
///
/// Every field is optional and an absent one changes nothing, so a sync sends what it
/// knows and owns. Creating a customer needs `name`, `kind` and `currency` (each missing
/// one is the field error `required`); the rest defaults as in `POST /v1/customers`.
/// `null` clears `credit_limit` and `risk_rating`; for any other field it is the same as
/// leaving the field out.
///
/// What collections owns — `do_not_contact`, `cease_communication`,
/// `attorney_represented`, `bankrupt`, `deceased` and `credit_limit` — is set only when
/// sent: at creation, or by an upsert that names it explicitly (a deliberate change, in
/// the audit log like any other). An upsert that leaves them out never resets them.
/// Collection holds, the credit hold and the assignment are not part of this body:
/// their own routes set them (`assigned_collector_id` and `sales_rep_id` are set when
/// sent, with the `customers:assign` permission, never cleared).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpsert {
    /// The path's external id; may be left out, and must equal it when sent.
    #[schema(example = "0379-NEVHP")]
    pub external_id: Option<String>,
    /// Required to create.
    #[schema(example = "Northwind Traders")]
    pub name: Option<String>,
    /// Required to create.
    pub kind: Option<CustomerKind>,
    /// ISO 4217; required to create, and locked once the customer has invoices.
    #[schema(example = "USD")]
    pub currency: Option<String>,
    /// IANA time zone; `UTC` when created without one.
    #[schema(example = "America/Chicago")]
    pub timezone: Option<String>,
    /// 0–365; 30 when created without one.
    #[schema(example = 30)]
    pub payment_terms_days: Option<i32>,
    /// Owned by collections: changed only when sent; `null` removes the limit. Needs the
    /// `customers:credit_limit` permission to change.
    #[serde(default, deserialize_with = "money::decimal_string::double_option")]
    #[schema(value_type = Option<String>, nullable, example = "25000.00")]
    pub credit_limit: Option<Option<Decimal>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<RiskRating>, nullable)]
    pub risk_rating: Option<Option<RiskRating>>,
    /// Set when sent (needs `customers:assign`); never cleared by an upsert.
    pub assigned_collector_id: Option<Uuid>,
    /// Set when sent (needs `customers:assign`); never cleared by an upsert.
    pub sales_rep_id: Option<Uuid>,
    /// Owned by collections: changed only when sent; `false` when created without it.
    pub do_not_contact: Option<bool>,
    /// Owned by collections: changed only when sent; `false` when created without it.
    pub cease_communication: Option<bool>,
    /// Owned by collections: changed only when sent; `false` when created without it.
    pub attorney_represented: Option<bool>,
    /// Owned by collections: changed only when sent; `false` when created without it.
    pub bankrupt: Option<bool>,
    /// Owned by collections: changed only when sent; `false` when created without it.
    pub deceased: Option<bool>,
}

impl CustomerUpsert {
    /// The customer to create, or the `required` field errors of what is missing.
    fn creation(self, external_id: &str) -> Result<NewCustomer> {
        let mut p = Problems::new();
        for (field, missing) in [
            ("name", self.name.is_none()),
            ("kind", self.kind.is_none()),
            ("currency", self.currency.is_none()),
        ] {
            if missing {
                p.add(field, "required", "required to create the customer");
            }
        }
        p.into_result()?;
        let (Some(name), Some(kind), Some(currency)) = (self.name, self.kind, self.currency) else {
            return Err(Error::Internal("required fields missing".into()));
        };
        Ok(NewCustomer {
            external_id: Some(external_id.to_owned()),
            name,
            kind,
            currency,
            timezone: self.timezone,
            payment_terms_days: self.payment_terms_days,
            credit_limit: self.credit_limit.flatten(),
            risk_rating: self.risk_rating.flatten(),
            assigned_collector_id: self.assigned_collector_id,
            sales_rep_id: self.sales_rep_id,
            do_not_contact: self.do_not_contact.unwrap_or(false),
            cease_communication: self.cease_communication.unwrap_or(false),
            attorney_represented: self.attorney_represented.unwrap_or(false),
            bankrupt: self.bankrupt.unwrap_or(false),
            deceased: self.deceased.unwrap_or(false),
        })
    }

    /// The change to an existing customer: exactly the fields sent. A credit limit equal
    /// to the current one is no change (and needs no permission).
    fn patch(&self, current_credit_limit: Option<Decimal>) -> CustomerPatch {
        CustomerPatch {
            external_id: None,
            name: self.name.clone(),
            kind: self.kind,
            currency: self.currency.clone(),
            timezone: self.timezone.clone(),
            payment_terms_days: self.payment_terms_days,
            credit_limit: self.credit_limit.filter(|l| *l != current_credit_limit),
            risk_rating: self.risk_rating,
            do_not_contact: self.do_not_contact,
            cease_communication: self.cease_communication,
            attorney_represented: self.attorney_represented,
            bankrupt: self.bankrupt,
            deceased: self.deceased,
        }
    }
}

/// `PUT /v1/customers/external/{external_id}`: creates the customer or merges the
/// fields sent into it (see [`CustomerUpsert`]). Returns the customer and whether it
/// was created.
pub async fn upsert_external(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    external_id: &str,
    input: CustomerUpsert,
) -> Result<(Customer, bool)> {
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
    let existing: Option<Uuid> = customers::table
        .filter(customers::external_id.eq(external_id))
        .select(customers::id)
        .first(conn)
        .await
        .optional()?;
    let Some(id) = existing else {
        ctx.actor.require(Permission::CustomersCreate)?;
        let new = input.creation(external_id)?;
        return Ok((create(conn, ctx, new).await?, true));
    };
    let current = get(conn, ctx, id).await?;
    let patch = input.patch(current.credit_limit);
    let mut updated = update(conn, ctx, id, patch, |_| true).await?;
    let reassign = (input.assigned_collector_id.is_some()
        && input.assigned_collector_id != updated.assigned_collector_id)
        || (input.sales_rep_id.is_some() && input.sales_rep_id != updated.sales_rep_id);
    if reassign {
        let assignment = Assignment {
            assigned_collector_id: input
                .assigned_collector_id
                .or(updated.assigned_collector_id),
            sales_rep_id: input.sales_rep_id.or(updated.sales_rep_id),
        };
        updated = assign(conn, ctx, id, assignment).await?;
    }
    Ok((updated, false))
}

pub async fn assign(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    assignment: Assignment,
) -> Result<Customer> {
    ctx.actor.require(Permission::CustomersAssign)?;
    conn.transaction(async |conn| {
        let mut row = load_visible(conn, ctx, id, true).await?;
        let before = row.clone().at(ctx.now);
        let mut p = Problems::new();
        check_assignees(
            conn,
            assignment.assigned_collector_id,
            assignment.sales_rep_id,
            &mut p,
        )
        .await?;
        p.into_result()?;
        row.assigned_collector_id = assignment.assigned_collector_id;
        row.sales_rep_id = assignment.sales_rep_id;
        row.updated_at = ctx.now;
        diesel::update(customers::table.find(id))
            .set((
                customers::assigned_collector_id.eq(row.assigned_collector_id),
                customers::sales_rep_id.eq(row.sales_rep_id),
                customers::updated_at.eq(row.updated_at),
            ))
            .execute(conn)
            .await?;
        let after = row.at(ctx.now);
        audit::record(
            conn,
            ctx,
            "customer.assign",
            "customer",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

text_enum! {
    /// Order of a customer list; `-` sorts descending.
    pub enum CustomerSort {
        Name = "name",
        NameDesc = "-name",
        CreatedAt = "created_at",
        CreatedAtDesc = "-created_at",
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerFilter {
    /// Only customers assigned to this collector.
    pub collector_id: Option<Uuid>,
    /// Only customers of this sales rep.
    pub sales_rep_id: Option<Uuid>,
    /// Only customers with no collector assigned (true) or with one (false).
    pub unassigned: Option<bool>,
    pub kind: Option<CustomerKind>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Case-insensitive search in the name, or an external id prefix.
    pub q: Option<String>,
    pub do_not_contact: Option<bool>,
    pub cease_communication: Option<bool>,
    pub attorney_represented: Option<bool>,
    pub bankrupt: Option<bool>,
    pub deceased: Option<bool>,
    pub credit_hold: Option<bool>,
    /// Only customers with (true) or without (false) an active collection hold.
    pub collection_hold: Option<bool>,
    /// `name` (default), `-name`, `created_at` or `-created_at`; ties break on id.
    #[param(inline)]
    pub sort: Option<CustomerSort>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum CursorKey {
    Name(String, Uuid),
    CreatedAt(DateTime<Utc>, Uuid),
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &CustomerFilter,
) -> Result<Page<Customer>> {
    use customers::dsl as c;
    ctx.actor.require(Permission::CustomersRead)?;
    let sort = filter.sort.unwrap_or(CustomerSort::Name);
    // Each order is a list of its own: a cursor is refused under another.
    let listing = Listing::new("customers", sort.as_str());
    let page = PageRequest::<CursorKey>::parse(listing, filter.limit, filter.cursor.as_deref())?;
    let mut q = customers::table.select(Row::as_select()).into_boxed();
    match ctx.actor.customer_visibility() {
        Visibility::All => {}
        Visibility::AssignedTo(user) => q = q.filter(c::assigned_collector_id.eq(user)),
        Visibility::SalesRep(user) => q = q.filter(c::sales_rep_id.eq(user)),
    }
    if let Some(id) = filter.collector_id {
        q = q.filter(c::assigned_collector_id.eq(id));
    }
    if let Some(id) = filter.sales_rep_id {
        q = q.filter(c::sales_rep_id.eq(id));
    }
    match filter.unassigned {
        Some(true) => q = q.filter(c::assigned_collector_id.is_null()),
        Some(false) => q = q.filter(c::assigned_collector_id.is_not_null()),
        None => {}
    }
    if let Some(kind) = filter.kind {
        q = q.filter(c::kind.eq(kind));
    }
    if let Some(code) = &filter.currency {
        q = q.filter(c::currency.eq(code.to_uppercase()));
    }
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let escaped = like_escape(text);
        q = q.filter(
            c::name
                .ilike(format!("%{escaped}%"))
                .or(c::external_id.like(format!("{escaped}%"))),
        );
    }
    let flags = [
        (filter.do_not_contact, 0),
        (filter.cease_communication, 1),
        (filter.attorney_represented, 2),
        (filter.bankrupt, 3),
        (filter.deceased, 4),
        (filter.credit_hold, 5),
    ];
    for (value, which) in flags {
        let Some(v) = value else { continue };
        q = match which {
            0 => q.filter(c::do_not_contact.eq(v)),
            1 => q.filter(c::cease_communication.eq(v)),
            2 => q.filter(c::attorney_represented.eq(v)),
            3 => q.filter(c::bankrupt.eq(v)),
            4 => q.filter(c::deceased.eq(v)),
            _ => q.filter(c::credit_hold.eq(v)),
        };
    }
    if let Some(held) = filter.collection_hold {
        let active = c::collection_hold_reason.is_not_null().and(
            c::collection_hold_expires_at
                .is_null()
                .or(c::collection_hold_expires_at.gt(ctx.now)),
        );
        q = if held {
            q.filter(active)
        } else {
            q.filter(diesel::dsl::not(active))
        };
    }
    let mismatched = || {
        Error::invalid_query(
            "cursor",
            "invalid_cursor",
            "the cursor belongs to another sort order",
        )
    };
    q = match (sort, page.after.clone()) {
        (_, None) => q,
        (CustomerSort::Name, Some(CursorKey::Name(n, id))) => {
            q.filter(c::name.gt(n.clone()).or(c::name.eq(n).and(c::id.gt(id))))
        }
        (CustomerSort::NameDesc, Some(CursorKey::Name(n, id))) => {
            q.filter(c::name.lt(n.clone()).or(c::name.eq(n).and(c::id.lt(id))))
        }
        (CustomerSort::CreatedAt, Some(CursorKey::CreatedAt(t, id))) => q.filter(
            c::created_at
                .gt(t)
                .or(c::created_at.eq(t).and(c::id.gt(id))),
        ),
        (CustomerSort::CreatedAtDesc, Some(CursorKey::CreatedAt(t, id))) => q.filter(
            c::created_at
                .lt(t)
                .or(c::created_at.eq(t).and(c::id.lt(id))),
        ),
        _ => return Err(mismatched()),
    };
    q = match sort {
        CustomerSort::Name => q.order((c::name.asc(), c::id.asc())),
        CustomerSort::NameDesc => q.order((c::name.desc(), c::id.desc())),
        CustomerSort::CreatedAt => q.order((c::created_at.asc(), c::id.asc())),
        CustomerSort::CreatedAtDesc => q.order((c::created_at.desc(), c::id.desc())),
    };
    let rows = q.limit(page.fetch()).load(conn).await?;
    let by_name = matches!(sort, CustomerSort::Name | CustomerSort::NameDesc);
    let page = Page::from_rows(rows, &page, |r| {
        if by_name {
            CursorKey::Name(r.name.clone(), r.id)
        } else {
            CursorKey::CreatedAt(r.created_at, r.id)
        }
    });
    Ok(page.map(|r| r.at(ctx.now)))
}

/// The customers a caller may see as a subquery of ids, for filtering what hangs off a
/// customer (invoices, payments, deductions, write-offs); `None` when they see all.
pub(crate) fn visible_ids(
    visibility: Visibility,
) -> Option<customers::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Uuid>> {
    match visibility {
        Visibility::All => None,
        Visibility::AssignedTo(user) => Some(
            customers::table
                .filter(customers::assigned_collector_id.eq(user))
                .select(customers::id)
                .into_boxed(),
        ),
        Visibility::SalesRep(user) => Some(
            customers::table
                .filter(customers::sales_rep_id.eq(user))
                .select(customers::id)
                .into_boxed(),
        ),
    }
}

/// Touches `updated_at` and records the change (used by holds and contacts, whose
/// changes alter what the customer shows).
pub(crate) async fn touch(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(customers::table.find(id))
        .set(customers::updated_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(json: &str) -> CustomerUpsert {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn an_upsert_patches_only_what_it_sends() {
        let sync = upsert(r#"{"name": "Northwind", "kind": "commercial", "currency": "USD"}"#);
        let patch = sync.patch(Some(Decimal::new(500_000, 2)));
        assert_eq!(patch.name.as_deref(), Some("Northwind"));
        assert_eq!(patch.currency.as_deref(), Some("USD"));
        assert!(patch.credit_limit.is_none(), "an absent limit is kept");
        assert!(patch.risk_rating.is_none());
        assert!(patch.timezone.is_none() && patch.payment_terms_days.is_none());
        for flag in [
            patch.do_not_contact,
            patch.cease_communication,
            patch.attorney_represented,
            patch.bankrupt,
            patch.deceased,
        ] {
            assert_eq!(
                flag, None,
                "a flag collections owns is never reset by omission"
            );
        }
    }

    #[test]
    fn what_is_sent_is_changed_and_null_clears() {
        let sent =
            upsert(r#"{"cease_communication": false, "credit_limit": null, "risk_rating": null}"#);
        let patch = sent.patch(Some(Decimal::new(500_000, 2)));
        assert_eq!(patch.cease_communication, Some(false));
        assert_eq!(patch.credit_limit, Some(None));
        assert_eq!(patch.risk_rating, Some(None));
        assert!(patch.name.is_none());
        // The same limit again is no change, and needs no permission to send.
        let same = upsert(r#"{"credit_limit": "5000.00"}"#);
        assert!(
            same.patch(Some(Decimal::new(500_000, 2)))
                .credit_limit
                .is_none()
        );
        assert_eq!(
            same.patch(None).credit_limit,
            Some(Some(Decimal::new(500_000, 2)))
        );
    }

    #[test]
    fn creating_needs_name_kind_and_currency() {
        match upsert(r#"{"timezone": "UTC"}"#).creation("C-1") {
            Err(Error::Validation(errors)) => {
                let fields: Vec<(&str, &str)> = errors
                    .iter()
                    .map(|e| (e.field.as_str(), e.code.as_str()))
                    .collect();
                assert_eq!(
                    fields,
                    [
                        ("name", "required"),
                        ("kind", "required"),
                        ("currency", "required")
                    ]
                );
            }
            other => panic!("expected required fields, got {other:?}"),
        }
        let new = upsert(
            r#"{"name": "N", "kind": "consumer", "currency": "EUR", "cease_communication": true}"#,
        )
        .creation("C-1");
        let Ok(new) = new else {
            panic!("a complete creation is refused: {new:?}");
        };
        assert_eq!(new.external_id.as_deref(), Some("C-1"));
        assert!(new.cease_communication, "a flag may be set at creation");
        assert!(!new.bankrupt && !new.deceased && !new.do_not_contact);
    }
}
