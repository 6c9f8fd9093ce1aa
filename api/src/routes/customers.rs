//! `/v1/customers`: accounts, their contacts, assignment and holds.
//!
//! Collectors and field collectors see only accounts assigned to them, sales reps only
//! their own customers; any other id answers 404 exactly like a missing one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use recoup_core::contact::{self, Contact, ContactFilter, NewContact};
use recoup_core::customer::{
    self, Assignment, Customer, CustomerFilter, CustomerPatch, CustomerUpsert, NewCustomer,
};
use recoup_core::db;
use recoup_core::hold::{self, Hold, HoldChange, NewHold};
use recoup_core::statement::{self, Statement};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(CustomerList, Customer);
list_of!(ContactList, Contact);

/// The holds of a customer, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HoldList {
    pub data: Vec<Hold>,
}

/// List customers the caller may see.
#[utoipa::path(
    operation_id = "list_customers",
    tag = "customers",
    params(CustomerFilter),
    responses(
        (status = 200, description = "A page of customers", body = CustomerList),
        (status = 400, description = "Bad query parameters (`invalid_query`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/customers")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<CustomerFilter>,
) -> ApiResult<web::Json<CustomerList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        customer::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Create a customer (admin, manager, accountant; API keys with `customers:write`).
#[utoipa::path(
    operation_id = "create_customer",
    tag = "customers",
    request_body = NewCustomer,
    responses(
        (status = 201, description = "Created", body = Customer, headers(("ETag" = String, description = "Entity tag"))),
        (status = 403, description = "Role or key may not create customers, or assign them", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "External id already used (`external_id_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/customers")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewCustomer>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = customer::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get a customer.
#[utoipa::path(
    operation_id = "get_customer",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = Customer, headers(("ETag" = String, description = "Entity tag for If-None-Match / If-Match"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/customers/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = customer::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// Update a customer; needs `If-Match` with the ETag of the last read.
///
/// Changing `credit_limit` needs a manager or admin.
#[utoipa::path(
    operation_id = "update_customer",
    tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = String, Header, description = "ETag from the last GET"),
    ),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "Updated", body = Customer, headers(("ETag" = String, description = "Entity tag"))),
        (status = 403, description = "Role may not update customers or credit limits", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "External id already used (`external_id_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read (`precondition_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match (`precondition_required`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[patch("/customers/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<CustomerPatch>,
) -> ApiResult<HttpResponse> {
    let if_match = etag::required_if_match(&req)?;
    let mut conn = db::conn(&state.pool).await?;
    let updated = customer::update(&mut conn, &caller.ctx(), *id, body, |current| {
        etag::still(&if_match, current)
    })
    .await?;
    Ok(etag::respond(&req, StatusCode::OK, &updated))
}

/// Assign the collector and sales rep (manager, admin). Both are replaced; `null` unassigns.
#[utoipa::path(
    operation_id = "assign_customer",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = Assignment,
    responses(
        (status = 200, description = "Assigned", body = Customer, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Not a manager or admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Assignee unknown, inactive or of the wrong role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[put("/customers/{id}/assignment")]
pub async fn assign(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<Assignment>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let updated = customer::assign(&mut conn, &caller.ctx(), *id, body).await?;
    Ok(etag::respond(&req, StatusCode::OK, &updated))
}

/// The holds of a customer (active and past), newest first.
#[utoipa::path(
    operation_id = "list_customer_holds",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Holds", body = HoldList),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/customers/{id}/holds")]
pub async fn list_holds(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<HoldList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(HoldList {
        data: hold::list(&mut conn, &caller.ctx(), *id).await?,
    }))
}

/// Place a collection hold (no collection work, optionally until a date) or a credit
/// hold (no orders ship) on a customer (collector on own accounts, manager, admin).
#[utoipa::path(
    operation_id = "place_customer_hold",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = NewHold,
    responses(
        (status = 201, description = "Hold placed; the customer as it now stands", body = HoldChange),
        (status = 403, description = "Role may not place holds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/customers/{id}/holds")]
pub async fn place_hold(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<NewHold>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let change = hold::place(&mut conn, &caller.ctx(), *id, body).await?;
    Ok(HttpResponse::Created().json(change))
}

/// Release a hold.
#[utoipa::path(
    operation_id = "release_customer_hold",
    tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("hold_id" = Uuid, Path, description = "Hold id"),
    ),
    responses(
        (status = 200, description = "Released; the customer as it now stands", body = HoldChange),
        (status = 403, description = "Role may not release holds", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or hold", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already released (`hold_released`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/customers/{id}/holds/{hold_id}/release")]
pub async fn release_hold(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<HoldChange>> {
    let (id, hold_id) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        hold::release(&mut conn, &caller.ctx(), id, hold_id).await?,
    ))
}

/// The contacts of a customer, in the order they were added.
#[utoipa::path(
    operation_id = "list_customer_contacts",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id"), ContactFilter),
    responses(
        (status = 200, description = "A page of contacts", body = ContactList),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/customers/{id}/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    filter: web::Query<ContactFilter>,
) -> ApiResult<web::Json<ContactList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        contact::list(&mut conn, &caller.ctx(), *id, &filter)
            .await?
            .into(),
    ))
}

/// Add a contact to a customer.
#[utoipa::path(
    operation_id = "create_customer_contact",
    tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = NewContact,
    responses(
        (status = 201, description = "Created", body = Contact),
        (status = 403, description = "Role may not add contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (e-mail, phone, time zone, windows)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/customers/{id}/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<NewContact>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = contact::create(&mut conn, &caller.ctx(), *id, body).await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// The statement date; default today.
    pub as_of: Option<chrono::NaiveDate>,
}

/// The customer's statement as of a date: open items, unapplied cash, balance.
///
/// Computed from ledger entries effective on or before `as_of`, so a past date shows
/// what the ledger said then. `Accept: text/csv` answers CSV (one row per open item,
/// then the totals).
#[utoipa::path(
    tag = "customers",
    operation_id = "get_customer_statement",
    params(("id" = Uuid, Path, description = "Customer id"), StatementQuery),
    responses(
        (status = 200, description = "The statement; with `Accept: text/csv`, the statement as CSV", content((Statement = "application/json"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "With `Accept: text/csv`: `attachment` and a file name"))),
        (status = 400, description = "Bad `as_of`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/customers/{id}/statement")]
pub async fn get_statement(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let as_of = query.as_of.unwrap_or_else(|| caller.now.date_naive());
    let found = statement::as_of(&mut conn, &caller.ctx(), *id, as_of).await?;
    if crate::csv::wanted(&req) {
        return crate::csv::respond(
            &format!("statement-{}-{as_of}.csv", found.customer_id),
            |w| {
                w.write_record([
                    "invoice_number",
                    "issue_date",
                    "due_date",
                    "amount",
                    "open_balance",
                    "days_past_due",
                    "currency",
                ])?;
                for item in &found.open_items {
                    w.write_record([
                        item.number.clone(),
                        item.issue_date.to_string(),
                        item.due_date.to_string(),
                        item.amount.to_string(),
                        item.open_balance.to_string(),
                        item.days_past_due.to_string(),
                        found.currency.clone(),
                    ])?;
                }
                w.write_record([
                    "total_open",
                    "",
                    "",
                    "",
                    &found.total_open.to_string(),
                    "",
                    &found.currency,
                ])?;
                w.write_record([
                    "unapplied_cash",
                    "",
                    "",
                    "",
                    &found.unapplied_cash.to_string(),
                    "",
                    &found.currency,
                ])?;
                w.write_record([
                    "balance",
                    "",
                    "",
                    "",
                    &found.balance.to_string(),
                    "",
                    &found.currency,
                ])?;
                Ok(())
            },
        );
    }
    Ok(HttpResponse::Ok().json(found))
}

/// Create or update a customer by its ERP id (keys with `customers:write`).
///
/// A merge of the master data the ERP sends: every field is optional and one left out
/// changes nothing. Creating needs `name`, `kind` and `currency` (422 with the field
/// error `required` for each one missing). The flags collections owns
/// (`do_not_contact`, `cease_communication`, `attorney_represented`, `bankrupt`,
/// `deceased`) and `credit_limit` change only when sent, at creation or explicitly
/// later; a sync that leaves them out never resets them. Collection holds, the credit
/// hold and the assignment have their own routes; assignees sent are set, never cleared.
/// An upsert that changes nothing writes nothing and records no audit event; one that
/// changes something records the customer before and after, differing in what changed.
#[utoipa::path(
    tag = "integration",
    operation_id = "upsert_customer_by_external_id",
    params(("external_id" = String, Path, description = "The customer's id in the ERP")),
    request_body = CustomerUpsert,
    responses(
        (status = 200, description = "Updated (or unchanged)", body = Customer),
        (status = 201, description = "Created", body = Customer),
        (status = 403, description = "Role or key may not write customers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The customer exists but is not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Currency change after invoicing (`currency_locked`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or one needed to create missing (`required`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[put("/customers/external/{external_id}")]
pub async fn upsert(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
    Body(body): Body<CustomerUpsert>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let (customer, created) =
        customer::upsert_external(&mut conn, &caller.ctx(), &external_id, body).await?;
    Ok(if created {
        HttpResponse::Created().json(customer)
    } else {
        HttpResponse::Ok().json(customer)
    })
}
