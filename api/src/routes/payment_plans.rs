//! `/v1/payment-plans`: schedules negotiated with a customer, judged against the
//! admin's policy.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use recoup_core::db;
use recoup_core::payment_plan::{
    self, CancelPlan, PaymentPlan, PlanFilter, PlanTerms, Policy, Preview,
};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
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

list_of!(PaymentPlanList, PaymentPlan);

/// List payment plans on the accounts the caller may see, newest first.
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "list_payment_plans",
    params(PlanFilter),
    responses(
        (status = 200, description = "A page of plans with their installments", body = PaymentPlanList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read plans", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/payment-plans")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<PlanFilter>,
) -> ApiResult<web::Json<PaymentPlanList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Save a payment plan (collectors, managers, admins).
///
/// The terms are those of the preview. A plan within the policy, or made by someone
/// who may approve plans, is approved at once: its fee and interest (if any) are billed
/// as a `plan_fee` invoice that joins the plan, and it is `active` once its down payment
/// is in (at once without one). Outside the policy it is `proposed`, with its
/// `policy_breaches`, until a manager approves it. Payments applied to the plan's
/// invoices are allocated to the installments oldest first; the worker moves
/// installments along daily and after each payment or return, and defaults the plan
/// after the policy's number of missed installments (a task, an activity, and
/// `referral_candidate_at`).
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "create_payment_plan",
    request_body(content = PlanTerms, example = json!({
        "customer_id": "0192f0c1-7e6a-7cc3-9d1e-2b5a4c3d2e10",
        "invoice_ids": ["0192f0c1-8a10-7cc3-9d1e-2b5a4c3d2e11"],
        "total": "1000.00",
        "installment_count": 3,
        "frequency": "monthly",
        "first_due_date": "2026-04-30",
        "note": "Agreed with the controller on the phone"
    })),
    responses(
        (status = 201, description = "Saved (approved, active or proposed)", body = PaymentPlan, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not make plans", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An invoice is already in a proposed or running plan (`invoice_already_on_plan`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Terms that cannot be scheduled; unknown or hidden customer or invoice; total above the collectible balance (`exceeds_collectible`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/payment-plans")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<PlanTerms>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = payment_plan::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get a plan with its installments, their status and the next one due.
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "get_payment_plan",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses(
        (status = 200, description = "The plan", body = PaymentPlan, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 403, description = "Role may not read plans", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/payment-plans/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = payment_plan::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// Approve a proposed plan (managers, admins): as on creation within policy, its fee is
/// billed and it starts.
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "approve_payment_plan",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses(
        (status = 200, description = "Approved (active when no down payment is asked)", body = PaymentPlan),
        (status = 403, description = "Only managers and admins approve plans", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not proposed (`plan_not_proposed`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/payment-plans/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<PaymentPlan>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::approve(&mut conn, &caller.ctx(), *id).await?,
    ))
}

/// Cancel a proposed or running plan (completed and defaulted plans are history).
#[utoipa::path(
    tag = "payment-plans",
    operation_id = "cancel_payment_plan",
    params(("id" = Uuid, Path, description = "Plan id")),
    request_body = CancelPlan,
    responses(
        (status = 200, description = "Cancelled", body = PaymentPlan),
        (status = 403, description = "Role may not change plans", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Completed, defaulted or cancelled already (`plan_closed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/payment-plans/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Body(body): Body<CancelPlan>,
) -> ApiResult<web::Json<PaymentPlan>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment_plan::cancel(&mut conn, &caller.ctx(), *id, body).await?,
    ))
}
