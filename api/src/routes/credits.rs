//! `/v1/credit-memos` and `/v1/adjustments`: corrections of an invoice's balance by
//! accountants. Both move money and need an `Idempotency-Key`.

use actix_web::{HttpRequest, HttpResponse, post, web};
use recoup_core::adjustment::{AdjustmentPosted, NewAdjustment};
use recoup_core::credit_memo::{CreditMemoPosted, NewCreditMemo};
use recoup_core::idempotency::Command;

use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::idempotency;
use crate::state::AppState;

/// Post a credit memo against an invoice (accountant, admin).
#[utoipa::path(
    tag = "credits",
    operation_id = "post_credit_memo",
    params(("Idempotency-Key" = String, Header, description = "Unique per intended credit")),
    request_body = NewCreditMemo,
    responses(
        (status = 201, description = "Posted; the invoice as it now stands", body = CreditMemoPosted),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not post credits", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invoice void or written off (`invoice_void`, `invoice_written_off`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than the open balance (`exceeds_open_balance`), unknown invoice, bad amount", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/credit-memos")]
pub async fn credit_memo(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewCreditMemo>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::PostCreditMemo(body.clone()),
    )
    .await
}

/// Post a signed adjustment to an invoice (accountant, admin).
#[utoipa::path(
    tag = "credits",
    operation_id = "post_adjustment",
    params(("Idempotency-Key" = String, Header, description = "Unique per intended adjustment")),
    request_body = NewAdjustment,
    responses(
        (status = 201, description = "Posted; the invoice as it now stands", body = AdjustmentPosted),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not post adjustments", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invoice void or written off (`invoice_void`, `invoice_written_off`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Would make the balance negative, zero amount, unknown invoice", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/adjustments")]
pub async fn adjustment(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewAdjustment>,
) -> ApiResult<HttpResponse> {
    idempotency::execute(
        &state,
        &caller,
        &req,
        &body,
        Command::PostAdjustment(body.clone()),
    )
    .await
}
