//! `/v1/write-offs`: requests, approval above the threshold, recoveries.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use recoup_core::db;
use recoup_core::idempotency::Command;
use recoup_core::write_off::{
    self, NewRecovery, NewWriteOff, WriteOff, WriteOffChange, WriteOffFilter,
};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::idempotency;
use crate::state::AppState;

list_of!(WriteOffList, WriteOff);

/// List write-offs the caller may see.
#[utoipa::path(
    tag = "write-offs",
    operation_id = "list_write_offs",
    params(WriteOffFilter),
    responses(
        (status = 200, description = "A page of write-offs", body = WriteOffList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/write-offs")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<WriteOffFilter>,
) -> ApiResult<web::Json<WriteOffList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        write_off::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Request a write-off (collector on own accounts, accountant, manager, admin).
///
/// Up to `RECOUP_WRITE_OFF_APPROVAL_THRESHOLD` (or when a manager asks) it posts at
/// once; above it waits as `pending_approval`.
#[utoipa::path(
    tag = "write-offs",
    operation_id = "request_write_off",
    params(("Idempotency-Key" = String, Header, description = "Unique per intended write-off")),
    request_body = NewWriteOff,
    responses(
        (status = 201, description = "Posted or pending approval", body = WriteOffChange),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not request write-offs", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invoice void or written off; a request already pending (`write_off_pending`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than the open balance, unknown invoice", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/write-offs")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewWriteOff>,
) -> ApiResult<HttpResponse> {
    let approval_threshold = state.config.write_off_approval_threshold;
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::RequestWriteOff {
            input: body.clone(),
            approval_threshold,
        },
    )
    .await
}

/// Approve a pending write-off (manager, admin; not the requester); it posts now.
#[utoipa::path(
    tag = "write-offs",
    operation_id = "approve_write_off",
    params(("id" = Uuid, Path, description = "Write-off id")),
    responses(
        (status = 200, description = "Approved and posted", body = WriteOffChange),
        (status = 403, description = "Not a manager or admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such write-off", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already posted (`write_off_posted`), own request (`own_request`), balance changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The invoice no longer has that much open (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/write-offs/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<WriteOffChange>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        write_off::approve(&mut conn, &caller.ctx(), *id).await?,
    ))
}

/// Record money recovered on a written-off invoice from a payment's unapplied cash.
#[utoipa::path(
    tag = "write-offs",
    operation_id = "recover_write_off",
    params(("id" = Uuid, Path, description = "Write-off id"), ("Idempotency-Key" = String, Header, description = "Unique per intended recovery")),
    request_body = NewRecovery,
    responses(
        (status = 201, description = "Recovered", body = WriteOffChange),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not post payments", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such write-off", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Write-off not posted yet (`write_off_pending`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than written off or than the payment's unapplied cash", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/write-offs/{id}/recoveries")]
pub async fn recover(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<NewRecovery>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::RecoverWriteOff(*id, body.clone()),
    )
    .await
}
