//! `/v1/payment-plans`: schedules negotiated with a customer, judged against the
//! admin's policy.

use actix_web::{get, post, put, web};
use recoup_core::db;
use recoup_core::payment_plan::{self, PlanTerms, Policy, Preview};

use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Preview a plan's schedule without saving it, with how it stands against the policy.
///
/// `total` defaults to the invoices' collectible balance (open minus disputed). Give
/// `installment_count` or `installment_amount`. Amounts round half-up to the
/// currency's minor unit and the last installment absorbs the remainder, so the
/// schedule sums exactly to `total_payable`; monthly dates clamp to month end (Jan 31
/// → Feb 28/29 → Mar 31); a due date on a weekend or policy holiday moves by the
/// policy's `business_day_rule`. `policy_breaches` lists why a plan would need a
/// manager's approval.
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "preview_payment_plan",
    request_body(content = PlanTerms, example = json!({
        "customer_id": "0192f0c1-7e6a-7cc3-9d1e-2b5a4c3d2e10",
        "invoice_ids": ["0192f0c1-8a10-7cc3-9d1e-2b5a4c3d2e11"],
        "total": "1000.00",
        "down_payment": "100.00",
        "installment_count": 3,
        "frequency": "monthly",
        "first_due_date": "2026-04-30"
    })),
    responses(
        (status = 200, description = "The schedule and its policy breaches", body = Preview),
        (status = 403, description = "Role may not read plans", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Terms that cannot be scheduled; unknown or hidden customer or invoice; total above the collectible balance (`exceeds_collectible`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/payment-plans/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<PlanTerms>,
) -> ApiResult<web::Json<Preview>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::preview(&mut conn, &caller.ctx(), &body).await?,
    ))
}

/// The payment-plan policy (defaults until an admin saves one).
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "get_payment_plan_policy",
    responses(
        (status = 200, description = "The policy", body = Policy),
        (status = 403, description = "Role may not read plans", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/payment-plans/policy")]
pub async fn policy(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Policy>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::policy(&mut conn, &caller.ctx()).await?,
    ))
}

/// Replace the payment-plan policy (admins).
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "put_payment_plan_policy",
    request_body = Policy,
    responses(
        (status = 200, description = "Saved", body = Policy),
        (status = 403, description = "Only admins change the policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[put("/payment-plans/policy")]
pub async fn save_policy(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<Policy>,
) -> ApiResult<web::Json<Policy>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::save_policy(&mut conn, &caller.ctx(), body).await?,
    ))
}
