//! `/v1/tasks`: follow-ups for people, on the accounts they may see.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use recoup_core::db;
use recoup_core::task::{self, NewTaskRequest, Task, TaskFilter, TaskPatch};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(TaskList, Task);

/// List tasks on the accounts the caller may see, soonest due first.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_tasks",
    params(TaskFilter),
    responses(
        (status = 200, description = "A page of tasks", body = TaskList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read tasks", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/tasks")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<TaskFilter>,
) -> ApiResult<web::Json<TaskList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        task::list(&mut conn, &caller.ctx(), &filter).await?.into(),
    ))
}

/// Create a task (collectors on their accounts, field collectors, accountants, managers, admins).
///
/// Without `assignee_id` it goes to the customer's collector, else to the caller.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_task",
    request_body = NewTaskRequest,
    responses(
        (status = 201, description = "Created", body = Task, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not create tasks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; unknown or hidden customer (`unknown_customer`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/tasks")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewTaskRequest>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = task::create_by_hand(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &created))
}

/// Get a task.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_task",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = Task, headers(("ETag" = String, description = "Entity tag"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such task, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/tasks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let found = task::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &found))
}

/// Reassign, reschedule, retitle, complete or cancel a task; needs `If-Match`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "update_task",
    params(("id" = Uuid, Path, description = "Task id"), ("If-Match" = String, Header, description = "ETag from the last GET")),
    request_body = TaskPatch,
    responses(
        (status = 200, description = "Updated", body = Task, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Role may not change tasks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task, or on an account the caller may not see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[patch("/tasks/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<TaskPatch>,
) -> ApiResult<HttpResponse> {
    let if_match = etag::required_if_match(&req)?;
    let mut conn = db::conn(&state.pool).await?;
    let updated = task::update(&mut conn, &caller.ctx(), *id, body, |current| {
        etag::still(&if_match, current)
    })
    .await?;
    Ok(etag::respond(&req, StatusCode::OK, &updated))
}
