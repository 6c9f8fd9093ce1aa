//! The `Idempotency-Key` header of money-moving POSTs, handed to the domain's
//! idempotent executor.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use recoup_core::ProblemCode;
use recoup_core::db;
use recoup_core::idempotency::{self, Command, Key};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";
/// Set on a response that replays the first one.
pub const REPLAYED: &str = "Idempotent-Replayed";

/// Runs a money command under the request's idempotency key.
pub async fn execute<B: Serialize>(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    body: &B,
    command: Command,
) -> ApiResult<HttpResponse> {
    let header = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ProblemCode::IdempotencyKeyRequired,
                "money-moving requests need an Idempotency-Key header (a UUID works well)",
            )
        })?;
    let actor = &caller.actor;
    let scope = format!(
        "{}:{}:{}",
        actor.kind(),
        actor.id().map(|i| i.to_string()).unwrap_or_default(),
        req.match_pattern().unwrap_or_default()
    );
    // The request is its path (ids included) and canonical body.
    let mut request = req.path().as_bytes().to_vec();
    request.push(0);
    request.extend(serde_json::to_vec(body).map_err(|_| ApiError::internal())?);
    let key = Key::new(scope, header, &request).map_err(|e| match ApiError::from(e) {
        mut err if err.status == StatusCode::BAD_REQUEST => {
            err.code = ProblemCode::InvalidIdempotencyKey;
            err
        }
        other => other,
    })?;
    let mut conn = db::conn(&state.pool).await?;
    let stored = idempotency::execute(&mut conn, &caller.ctx(), &key, command).await?;
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if stored.replayed {
        response.insert_header((REPLAYED, "true"));
    }
    Ok(response.json(stored.body))
}
