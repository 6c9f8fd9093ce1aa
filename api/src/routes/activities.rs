//! `/v1/activities`: what was done on an account, by people and by the worker.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use recoup_core::activity::{self, Activity, ActivityFilter, NewActivityRequest};
use recoup_core::db;
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(ActivityList, Activity);

/// List activities on the accounts the caller may see, newest first.
#[utoipa::path(
    tag = "activities",
    operation_id = "list_activities",
    params(ActivityFilter),
    responses(
        (status = 200, description = "A page of activities", body = ActivityList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read activities", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/activities")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ActivityFilter>,
) -> ApiResult<web::Json<ActivityList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        activity::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Log an activity: a call, e-mail, letter, SMS, visit, meeting or note.
///
/// Activities are never edited; a correction is a new note. A `follow_up_on` date
/// makes a `follow_up` task for the customer's collector. Sales may log notes only.
#[utoipa::path(
    tag = "activities",
    operation_id = "create_activity",
    request_body(content = NewActivityRequest, example = json!({
        "customer_id": "0193c7a2-5b1e-7c3d-9f00-1a2b3c4d5e6f",
        "kind": "call",
        "direction": "outbound",
        "outcome": "callback_requested",
        "subject": "Spoke with AP",
        "notes": "Asked to call back after Friday's check run",
        "follow_up_on": "2026-03-06"
    })),
    responses(
        (status = 201, description = "Logged", body = Activity, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not log this kind of activity", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; unknown or hidden customer (`unknown_customer`); a contact of another customer (`unknown_contact`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/activities")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewActivityRequest>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = activity::create_by_hand(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get an activity.
#[utoipa::path(
    tag = "activities",
    operation_id = "get_activity",
    params(("id" = Uuid, Path, description = "Activity id")),
    responses(
        (status = 200, description = "The activity", body = Activity, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such activity, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/activities/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = activity::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}
