//! `/v1/disputes`: contested invoice amounts, out of collection until resolved.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use recoup_core::db;
use recoup_core::dispute::{
    self, Dispute, DisputeFilter, DisputePatch, DisputeResolution, DisputeResolved, NewDispute,
};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(DisputeList, Dispute);

/// List disputes on the accounts the caller may see, newest first.
#[utoipa::path(
    tag = "disputes",
    operation_id = "list_disputes",
    params(DisputeFilter),
    responses(
        (status = 200, description = "A page of disputes", body = DisputeList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read disputes", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/disputes")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<DisputeFilter>,
) -> ApiResult<web::Json<DisputeList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        dispute::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Open a dispute (collectors, managers, admins).
///
/// Each amount may be at most what is open on that invoice and not already disputed.
/// Until resolved, the amounts leave the collectible balance the worklist chases.
#[utoipa::path(
    tag = "disputes",
    operation_id = "create_dispute",
    request_body(content = NewDispute, example = json!({
        "customer_id": "0192f0c1-7e6a-7cc3-9d1e-2b5a4c3d2e10",
        "invoices": [{"invoice_id": "0192f0c1-8a10-7cc3-9d1e-2b5a4c3d2e11", "amount": "350.00"}],
        "reason_code": "quantity",
        "description": "Billed 12 units, received 10"
    })),
    responses(
        (status = 201, description = "Opened", body = Dispute, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not open disputes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; unknown or hidden customer or invoice; amount above what is open and undisputed (`exceeds_open_balance`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/disputes")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewDispute>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = dispute::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get a dispute.
#[utoipa::path(
    tag = "disputes",
    operation_id = "get_dispute",
    params(("id" = Uuid, Path, description = "Dispute id")),
    responses(
        (status = 200, description = "The dispute", body = Dispute, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 403, description = "Role may not read disputes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dispute, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/disputes/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = dispute::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// Work an active dispute: status `open`/`investigating`, owner, due date, description,
/// reason code, root cause; needs `If-Match`.
#[utoipa::path(
    tag = "disputes",
    operation_id = "update_dispute",
    params(("id" = Uuid, Path, description = "Dispute id"), ("If-Match" = String, Header, description = "ETag from the last GET")),
    request_body = DisputePatch,
    responses(
        (status = 200, description = "Updated", body = Dispute, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not change disputes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dispute, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved (`dispute_closed`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[patch("/disputes/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<DisputePatch>,
) -> ApiResult<HttpResponse> {
    let if_match = etag::required_if_match(&req)?;
    let mut conn = db::conn(&state.pool).await?;
    let updated = dispute::update(&mut conn, &caller.ctx(), *id, body, |current| {
        etag::still(&if_match, current)
    })
    .await?;
    Ok(etag::respond(&req, StatusCode::OK, &updated))
}

/// Resolve a dispute (accountants, managers, admins).
///
/// `resolved_valid` posts credit memos for `credit_amount` (default: the whole
/// disputed amount) through the ledger, invoice by invoice in the dispute's order;
/// `resolved_invalid` returns the amount to collection; `withdrawn` when the customer
/// drops it. Its open follow-up tasks are closed.
#[utoipa::path(
    tag = "disputes",
    operation_id = "resolve_dispute",
    params(("id" = Uuid, Path, description = "Dispute id")),
    request_body(content = DisputeResolution, example = json!({
        "status": "resolved_valid",
        "credit_amount": "200.00",
        "root_cause": "Price list not updated after the March change",
        "note": "Agreed with the customer's AP on the call of 12 March"
    })),
    responses(
        (status = 200, description = "Resolved", body = DisputeResolved),
        (status = 403, description = "Role may not resolve disputes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dispute, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved (`dispute_closed`); less open than the credit (`credit_exceeds_open_balance`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid resolution", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/disputes/{id}/resolve")]
pub async fn resolve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<DisputeResolution>,
) -> ApiResult<web::Json<DisputeResolved>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        dispute::resolve(&mut conn, &caller.ctx(), *id, body).await?,
    ))
}
