//! `/v1/deductions`: short pays with a reason, and their resolution.

use actix_web::{get, post, web};
use recoup_core::db;
use recoup_core::deduction::{self, Deduction, DeductionFilter, Resolution, Resolved};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

list_of!(DeductionList, Deduction);

/// List deductions the caller may see, oldest first.
#[utoipa::path(
    tag = "deductions",
    operation_id = "list_deductions",
    params(DeductionFilter),
    responses(
        (status = 200, description = "A page of deductions", body = DeductionList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/deductions")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<DeductionFilter>,
) -> ApiResult<web::Json<DeductionList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        deduction::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Resolve a deduction (accountant, manager, admin).
///
/// `resolved_valid` posts a credit memo for the deduction (or `credit_amount`);
/// `resolved_invalid` keeps the amount in collection, marked `rebill` or `chase`.
#[utoipa::path(
    tag = "deductions",
    operation_id = "resolve_deduction",
    params(("id" = Uuid, Path, description = "Deduction id")),
    request_body = Resolution,
    responses(
        (status = 200, description = "Resolved", body = Resolved),
        (status = 403, description = "Role may not resolve deductions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such deduction, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved (`deduction_resolved`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid resolution", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/deductions/{id}/resolve")]
pub async fn resolve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<Resolution>,
) -> ApiResult<web::Json<Resolved>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        deduction::resolve(&mut conn, &caller.ctx(), *id, body).await?,
    ))
}
