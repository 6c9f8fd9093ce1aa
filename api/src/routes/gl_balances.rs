//! `/v1/gl-balances` and `/v1/reports/reconciliation`: the GL's AR control balance and
//! the subledger reconciled against it.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use recoup_core::db;
use recoup_core::gl_balance::{self, GlBalance, GlBalanceFilter, NewGlBalance, Reconciliation};
use serde::Deserialize;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

list_of!(GlBalanceList, GlBalance);

/// List GL balances, newest date first (accountant, manager, admin, auditor).
#[utoipa::path(
    tag = "reconciliation",
    operation_id = "list_gl_balances",
    params(GlBalanceFilter),
    responses(
        (status = 200, description = "A page of GL balances", body = GlBalanceList),
        (status = 403, description = "Role may not read GL balances", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/gl-balances")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<GlBalanceFilter>,
) -> ApiResult<web::Json<GlBalanceList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        gl_balance::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Record the GL's AR control balance for a date (accountant, admin; keys with `gl_balances:write`).
#[utoipa::path(
    tag = "reconciliation",
    operation_id = "create_gl_balance",
    request_body = NewGlBalance,
    responses(
        (status = 201, description = "Recorded", body = GlBalance),
        (status = 403, description = "Role may not record GL balances", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/gl-balances")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<NewGlBalance>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(HttpResponse::Created().json(gl_balance::create(&mut conn, &caller.ctx(), body).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// The day to reconcile (entries effective on or before it).
    pub as_of: NaiveDate,
}

/// Reconcile the AR subledger with the GL control balance, per currency.
///
/// The subledger total is every ledger entry effective on or before `as_of`, split by
/// kind; the difference is GL minus subledger.
#[utoipa::path(
    tag = "reconciliation",
    operation_id = "reconciliation_report",
    params(AsOf),
    responses(
        (status = 200, description = "The reconciliation", body = Reconciliation),
        (status = 400, description = "Missing or bad `as_of`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read reports", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/reconciliation")]
pub async fn reconciliation(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AsOf>,
) -> ApiResult<web::Json<Reconciliation>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        gl_balance::reconcile(&mut conn, &caller.ctx(), query.as_of).await?,
    ))
}
