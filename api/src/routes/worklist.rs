//! `/v1/worklist`: the accounts a collector should work today, ranked, with reasons.

use actix_web::{get, put, web};
use recoup_core::db;
use recoup_core::worklist::{self, Weights, Worklist, WorklistQuery};

use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Today's worklist: the caller's accounts (managers and admins pass `collector_id`,
/// or see every account), highest score first.
///
/// The score is the sum of the `components`, each a factor's weight × its measure,
/// capped (defaults and caps: `GET /v1/worklist/weights`): collectible past-due amount
/// net of disputes (per 1,000 of the account's currency), days the oldest invoice is
/// past due, promises broken or partly kept in the last 30 days, a promise due
/// today, missed installments, days since the last contact, risk rating, account
/// size and tasks due. Each row says why in `reasons` and suggests a `next_action`.
/// Accounts on hold, in bankruptcy, with cease-communication, wholly disputed, wholly
/// promised and not yet due, or with nothing due are left out; `include_excluded=true`
/// lists them with the reason (on the first page).
#[utoipa::path(
    tag = "worklist",
    operation_id = "get_worklist",
    params(WorklistQuery),
    responses(
        (status = 200, description = "The ranked worklist", body = Worklist),
        (status = 400, description = "Bad query parameters (`unknown_bucket`, `negative_amount`, `invalid_cursor`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read the worklist, or a collector asked for another's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/worklist")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<WorklistQuery>,
) -> ApiResult<web::Json<Worklist>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        worklist::worklist(&mut conn, &caller.ctx(), &query).await?,
    ))
}

/// The worklist's weights and caps (the documented defaults until an admin saves some).
#[utoipa::path(
    tag = "worklist",
    operation_id = "get_worklist_weights",
    responses(
        (status = 200, description = "Weights and caps per factor", body = Weights),
        (status = 403, description = "Role may not read the worklist", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/worklist/weights")]
pub async fn weights(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Weights>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        worklist::weights(&mut conn, &caller.ctx()).await?,
    ))
}

/// Replace the worklist's weights (admins). Every factor is required; weights and caps
/// are 0–1000 with up to 4 decimals.
#[utoipa::path(
    tag = "worklist",
    operation_id = "put_worklist_weights",
    request_body = Weights,
    responses(
        (status = 200, description = "Saved", body = Weights),
        (status = 403, description = "Only admins change weights", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A weight or cap out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[put("/worklist/weights")]
pub async fn save_weights(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<Weights>,
) -> ApiResult<web::Json<Weights>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        worklist::save_weights(&mut conn, &caller.ctx(), body).await?,
    ))
}
