//! `/v1/users`: people and their roles (admins manage; managers and auditors read).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use recoup_core::db;
use recoup_core::user::{self, NewUser, User, UserFilter, UserPatch};
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::etag;
use crate::state::AppState;

list_of!(UserList, User);

/// List users, ordered by e-mail.
#[utoipa::path(
    operation_id = "list_users",
    tag = "users",
    params(UserFilter),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin, manager or auditor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/users")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<UserFilter>,
) -> ApiResult<web::Json<UserList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        user::list(&mut conn, &caller.ctx(), &filter).await?.into(),
    ))
}

/// Create a user (admin).
#[utoipa::path(
    operation_id = "create_user",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already used (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/users")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    Body(body): Body<NewUser>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let user = user::create(&mut conn, &caller.ctx(), body).await?;
    Ok(etag::respond(&req, StatusCode::CREATED, &user))
}

/// Get a user.
#[utoipa::path(
    operation_id = "get_user",
    tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User, headers(("ETag" = String, description = "Entity tag for If-None-Match / If-Match"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 403, description = "Not an admin, manager or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/users/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let user = user::get(&mut conn, &caller.ctx(), *id).await?;
    Ok(etag::respond(&req, StatusCode::OK, &user))
}

/// Change a user's name, role, active flag or password (admin).
///
/// A role change, deactivation or new password ends the user's sessions.
#[utoipa::path(
    operation_id = "update_user",
    tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "Updated", body = User, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An admin demoting or deactivating themself (`self_lockout`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[patch("/users/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body<UserPatch>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let user = user::update(&mut conn, &caller.ctx(), *id, body).await?;
    Ok(etag::respond(&req, StatusCode::OK, &user))
}
