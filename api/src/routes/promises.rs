//! `/v1/promises`: promises to pay, decided by the worker after date + grace.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use recoup_core::db;
use recoup_core::promise::{self, CancelPromise, NewPromise, Promise, PromiseFilter};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(PromiseList, Promise);

/// List promises on the accounts the caller may see, by promised date.
#[utoipa::path(
    tag = "promises",
    operation_id = "list_promises",
    params(PromiseFilter),
    responses(
        (status = 200, description = "A page of promises", body = PromiseList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read promises", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/promises")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<PromiseFilter>,
) -> ApiResult<web::Json<PromiseList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        promise::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Record a promise to pay (collectors, field collectors, managers, admins).
///
/// The invoices must be the customer's, open, in one currency and in no other open
/// promise; the amount may not exceed their open balance. The worker decides it after
/// `promised_on` + `grace_days`: `kept` when payments received from today through then
/// and applied to these invoices reach the amount, else `partially_kept` or `broken`
/// (a task for the collector and an activity). It is kept at once when paid early.
#[utoipa::path(
    tag = "promises",
    operation_id = "create_promise",
    request_body(content = NewPromise, example = json!({
        "customer_id": "0192f0c1-7e6a-7cc3-9d1e-2b5a4c3d2e10",
        "invoice_ids": ["0192f0c1-8a10-7cc3-9d1e-2b5a4c3d2e11"],
        "amount": "2000.00",
        "promised_on": "2026-03-13",
        "grace_days": 2,
        "note": "Controller promised a wire on Friday"
    })),
    responses(
        (status = 201, description = "Recorded", body = Promise, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not record promises", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An invoice is already in an open promise (`invoice_already_promised`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; unknown or hidden customer or invoice; amount above the open balance (`exceeds_open_balance`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/promises")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewPromise>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = promise::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get a promise with what counted toward it so far.
#[utoipa::path(
    tag = "promises",
    operation_id = "get_promise",
    params(("id" = Uuid, Path, description = "Promise id")),
    responses(
        (status = 200, description = "The promise", body = Promise, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 403, description = "Role may not read promises", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such promise, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/promises/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = promise::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// Cancel an open promise (a decided one is history and stays).
#[utoipa::path(
    tag = "promises",
    operation_id = "cancel_promise",
    params(("id" = Uuid, Path, description = "Promise id")),
    request_body = CancelPromise,
    responses(
        (status = 200, description = "Cancelled", body = Promise),
        (status = 403, description = "Role may not change promises", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such promise, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided (`promise_decided`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/promises/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<CancelPromise>,
) -> ApiResult<web::Json<Promise>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        promise::cancel(&mut conn, &caller.ctx(), *id, body).await?,
    ))
}
