//! `/v1/audit-events`: the append-only record of every mutation.

use actix_web::{get, web};
use recoup_core::audit::{self, AuditEvent, AuditFilter};
use recoup_core::db;

use super::list_of;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

list_of!(AuditEventList, AuditEvent);

/// List audit events, oldest first (admin, manager, auditor).
#[utoipa::path(
    operation_id = "list_audit_events",
    tag = "audit",
    params(AuditFilter),
    responses(
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin, manager or auditor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/audit-events")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<AuditFilter>,
) -> ApiResult<web::Json<AuditEventList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        audit::list(&mut conn, &caller.ctx(), &filter).await?.into(),
    ))
}
