//! `/v1/api-keys`: keys for integrations (admin).

use actix_web::{HttpResponse, delete, get, post, web};
use recoup_core::api_key::{self, ApiKey, ApiKeyFilter, CreatedApiKey, NewApiKey};
use recoup_core::db;
use uuid::Uuid;

use super::list_of;
use crate::auth::Caller;
use crate::body::Body;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

list_of!(ApiKeyList, ApiKey);

/// List API keys (never the keys themselves).
#[utoipa::path(
    operation_id = "list_api_keys",
    tag = "api-keys",
    params(ApiKeyFilter),
    responses(
        (status = 200, description = "A page of keys, oldest first", body = ApiKeyList),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/api-keys")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<ApiKeyFilter>,
) -> ApiResult<web::Json<ApiKeyList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        api_key::list(&mut conn, &caller.ctx(), &filter)
            .await?
            .into(),
    ))
}

/// Create an API key. The response is the only time the key is shown.
///
/// Integrations send it as `X-Api-Key`.
#[utoipa::path(
    operation_id = "create_api_key",
    tag = "api-keys",
    request_body = NewApiKey,
    responses(
        (status = 201, description = "Created; `key` is shown once", body = CreatedApiKey),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/api-keys")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<NewApiKey>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let created = api_key::create(&mut conn, &caller.ctx(), body).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revoke an API key; it stops working at once. Revoking twice is harmless.
#[utoipa::path(
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked", body = ApiKey),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[delete("/api-keys/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ApiKey>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        api_key::revoke(&mut conn, &caller.ctx(), *id).await?,
    ))
}
