//! `/v1/invoices`: issue, read, ledger, void; ERP upsert by external id.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use recoup_core::db;
use recoup_core::invoice::{self, Invoice, InvoiceFilter, InvoiceUpsert, NewInvoice, VoidRequest};
use recoup_core::journal::LedgerEntry;
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(InvoiceList, Invoice);

/// The ledger entries of an invoice, in posting order.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceLedger {
    pub invoice: Invoice,
    pub entries: Vec<LedgerEntry>,
}

/// List invoices the caller may see, oldest due first.
#[utoipa::path(
    tag = "invoices",
    operation_id = "list_invoices",
    params(InvoiceFilter),
    responses(
        (status = 200, description = "A page of invoices", body = InvoiceList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role or key may not read invoices", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/invoices")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<InvoiceFilter>,
) -> ApiResult<web::Json<InvoiceList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        invoice::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Issue an invoice (accountant, admin; keys with `invoices:write`).
///
/// Posts its `invoice_issued` ledger entry in the same transaction.
#[utoipa::path(
    tag = "invoices",
    operation_id = "create_invoice",
    request_body = NewInvoice,
    responses(
        (status = 201, description = "Issued", body = Invoice, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not issue invoices", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Number or external id taken (`invoice_number_taken`, `external_id_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (amount, currency of another customer, dates)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/invoices")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewInvoice>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = invoice::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get an invoice.
#[utoipa::path(
    tag = "invoices",
    operation_id = "get_invoice",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice", body = Invoice, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such invoice, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/invoices/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = invoice::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// The invoice's ledger: every entry that moved its balance.
#[utoipa::path(
    tag = "invoices",
    operation_id = "get_invoice_ledger",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice and its entries", body = InvoiceLedger),
        (status = 404, description = "No such invoice, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/invoices/{id}/ledger")]
pub async fn ledger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<InvoiceLedger>> {
    let mut conn = db::conn(&state.pool).await?;
    let ctx = caller.ctx();
    let entries = invoice::ledger(&mut conn, &ctx, *id).await?;
    let invoice = invoice::get(&mut conn, &ctx, *id).await?;
    Ok(web::Json(InvoiceLedger { invoice, entries }))
}

/// Void an invoice that no cash, credit or adjustment has touched.
#[utoipa::path(
    tag = "invoices",
    operation_id = "void_invoice",
    params(("id" = Uuid, Path, description = "Invoice id")),
    request_body = VoidRequest,
    responses(
        (status = 200, description = "Void", body = Invoice),
        (status = 403, description = "Role may not void invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already void, or touched by cash or credits (`invoice_void`, `invoice_touched`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/invoices/{id}/void")]
pub async fn void(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<VoidRequest>,
) -> ApiResult<web::Json<Invoice>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        invoice::void(&mut conn, &caller.ctx(), *id, body).await?,
    ))
}

/// Create or update an invoice by its ERP id (keys with `invoices:write`).
///
/// A merge: every field is optional and one left out changes nothing. Creating needs
/// `number`, `customer_id`, `issue_date` and `amount` (422 with the field error
/// `required` for each one missing). On an existing invoice the descriptive fields sent
/// change (number, due date, PO, project; `null` clears PO and project); a different
/// customer, amount, currency or issue date answers 409 `posted_money_changed`. The
/// ledger, status, disputes and write-offs are collections' and never touched.
#[utoipa::path(
    tag = "integration",
    operation_id = "upsert_invoice_by_external_id",
    params(("external_id" = String, Path, description = "The invoice's id in the ERP")),
    request_body = InvoiceUpsert,
    responses(
        (status = 200, description = "Updated (or unchanged)", body = Invoice),
        (status = 201, description = "Created", body = Invoice),
        (status = 403, description = "Role or key may not write invoices", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would change posted money (`posted_money_changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or one needed to create missing (`required`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[put("/invoices/external/{external_id}")]
pub async fn upsert(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
    Body(body): Body<InvoiceUpsert>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let (invoice, created) =
        invoice::upsert_external(&mut conn, &caller.ctx(), &external_id, body).await?;
    Ok(if created {
        HttpResponse::Created().json(invoice)
    } else {
        HttpResponse::Ok().json(invoice)
    })
}
