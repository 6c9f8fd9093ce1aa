//! `/v1/payments`: cash received, applied, returned and refunded; ERP upsert.
//!
//! Every POST here moves money and needs an `Idempotency-Key`.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use recoup_core::db;
use recoup_core::idempotency::Command;
use recoup_core::payment::{
    self, ApplyRequest, NewPayment, Payment, PaymentFilter, RefundRequest, ReturnOutcome,
    ReturnRequest,
};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::idempotency;
use crate::state::AppState;

list_of!(PaymentList, Payment);

/// Post a payment (accountant, admin; keys with `payments:write`).
///
/// With `applications` the cash goes where they say; without, to open invoices oldest
/// due first; what is left stays on account as unapplied cash. A short application with
/// `short_pay_reason` opens a deduction for what stays open.
#[utoipa::path(
    tag = "payments",
    operation_id = "post_payment",
    params(("Idempotency-Key" = String, Header, description = "Unique per intended payment; a retry with the same key and body replays the first response")),
    request_body = NewPayment,
    responses(
        (status = 201, description = "Posted", body = Payment, headers(("Idempotent-Replayed" = String, description = "`true` when this replays the first response"))),
        (status = 400, description = "No Idempotency-Key (`idempotency_key_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not post payments", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Same key still in flight (`idempotency_in_flight`), invoice void or written off (`invoice_void`, `invoice_written_off`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, over-application, other customer's invoice, currency mismatch, or key reused with another body (`idempotency_key_reused`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/payments")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewPayment>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::PostPayment(body.clone()),
    )
    .await
}

/// List payments the caller may see, newest received first.
#[utoipa::path(
    tag = "payments",
    operation_id = "list_payments",
    params(PaymentFilter),
    responses(
        (status = 200, description = "A page of payments", body = PaymentList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/payments")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<PaymentFilter>,
) -> ApiResult<web::Json<PaymentList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        payment::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Get a payment with its applications.
#[utoipa::path(
    tag = "payments",
    operation_id = "get_payment",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = Payment, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such payment, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/payments/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = payment::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(crate::etag::respond(
        &req,
        actix_web::http::StatusCode::OK,
        &found,
    ))
}

/// Apply a payment's unapplied cash (explicitly, or oldest due first when empty).
#[utoipa::path(
    tag = "payments",
    operation_id = "apply_payment",
    params(("id" = Uuid, Path, description = "Payment id"), ("Idempotency-Key" = String, Header, description = "Unique per intended application")),
    request_body = ApplyRequest,
    responses(
        (status = 200, description = "Applied", body = Payment),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not apply payments", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing unapplied (`nothing_unapplied`), payment not posted, key in flight", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Over-application or invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/payments/{id}/applications")]
pub async fn apply(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<ApplyRequest>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::ApplyPayment(*id, body.clone()),
    )
    .await
}

/// Return a payment (NSF, ACH return).
///
/// Reverses every application (the invoices are open again), optionally bills a fee
/// invoice, flags the customer and creates a task for the assigned collector.
#[utoipa::path(
    tag = "payments",
    operation_id = "return_payment",
    params(("id" = Uuid, Path, description = "Payment id"), ("Idempotency-Key" = String, Header, description = "Unique per intended return")),
    request_body = ReturnRequest,
    responses(
        (status = 200, description = "Returned", body = ReturnOutcome),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not return payments", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already returned (`payment_returned`) or partly refunded (`payment_refunded`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/payments/{id}/return")]
pub async fn return_payment(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<ReturnRequest>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::ReturnPayment(*id, body.clone()),
    )
    .await
}

/// Refund unapplied cash to the customer.
#[utoipa::path(
    tag = "payments",
    operation_id = "refund_payment",
    params(("id" = Uuid, Path, description = "Payment id"), ("Idempotency-Key" = String, Header, description = "Unique per intended refund")),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = Payment),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not refund", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Payment returned or not posted (`payment_returned`, `payment_not_posted`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than the unapplied cash (`exceeds_unapplied`) or invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/payments/{id}/refund")]
pub async fn refund(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<RefundRequest>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::RefundPayment(*id, body.clone()),
    )
    .await
}

/// Post a payment once by its ERP id (keys with `payments:write`).
///
/// A repeat with the same money answers the existing payment (200) and changes nothing:
/// its method, reference and applications are not rewritten, so what collections did
/// with the cash since (applications, returns, refunds) stands. Different money answers
/// 409 `posted_money_changed`. The external id makes it idempotent.
#[utoipa::path(
    tag = "integration",
    operation_id = "upsert_payment_by_external_id",
    params(("external_id" = String, Path, description = "The payment's id in the ERP or bank feed")),
    request_body = NewPayment,
    responses(
        (status = 200, description = "Already posted with the same money", body = Payment),
        (status = 201, description = "Posted", body = Payment),
        (status = 403, description = "Role or key may not post payments", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Posted with other money (`posted_money_changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[put("/payments/external/{external_id}")]
pub async fn upsert(
    state: web::Data<AppState>,
    caller: Caller,
    external_id: web::Path<String>,
    Body(body): Body<NewPayment>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let (payment, created) =
        payment::upsert_external(&mut conn, &caller.ctx(), &external_id, body).await?;
    Ok(if created {
        HttpResponse::Created().json(payment)
    } else {
        HttpResponse::Ok().json(payment)
    })
}
