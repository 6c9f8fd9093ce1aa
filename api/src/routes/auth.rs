//! `/v1/auth/*` and `/v1/me`: logging in, refreshing, logging out, who am I.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Duration;
use recoup_core::ProblemCode;
use recoup_core::{db, session, user};
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, request_id};
use crate::body::Body;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::throttle::LoginThrottle;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "manager@recoup.example")]
    pub email: String,
    #[schema(example = "demo-manager-pass")]
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. Each can be used once.
    pub refresh_token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.sig",
    "refresh_token": "Vh2b3QmC5T0cS3j3wq0d2bJ4H7v5D1m0ZyVbXxN8Y1A",
    "token_type": "Bearer",
    "expires_in": 900
}))]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Rotating refresh token: use once with `/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

fn client_ip(req: &HttpRequest) -> String {
    // The socket's peer: forwarded headers are client-controlled and would let an
    // attacker pick a fresh throttle bucket per attempt.
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn ttl(d: std::time::Duration) -> Duration {
    Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2_000))
}

fn tokens(
    state: &AppState,
    issued: session::Issued,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<TokenPair> {
    let access_token = state.jwt.issue(
        issued.user.id,
        issued.user.role,
        now,
        state.config.access_token_ttl,
    )?;
    Ok(TokenPair {
        access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.config.access_token_ttl.as_secs(),
    })
}

/// Log in with e-mail and password.
///
/// Unknown e-mail, wrong password and inactive account all answer the same 401.
/// Failed attempts are limited per account and per client address (429 with `Retry-After`).
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong credentials (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts (`too_many_login_attempts`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let throttle = LoginThrottle::new(&state, &body.email, &client_ip(&req));
    throttle.check().await?;
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let ttl = ttl(state.config.refresh_token_ttl);
    match session::login(
        &mut conn,
        now,
        request_id(&req),
        &body.email,
        &body.password,
        ttl,
    )
    .await
    {
        Ok(issued) => {
            throttle.succeeded().await?;
            Ok(web::Json(tokens(&state, issued, now)?))
        }
        Err(e @ recoup_core::Error::Unauthenticated { .. }) => {
            throttle.failed().await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Exchange a refresh token for a new pair.
///
/// The presented token is spent. Presenting a spent token again revokes every token of
/// that login (it has leaked), and the user must log in again.
#[utoipa::path(
    operation_id = "refresh_tokens",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "Unknown, spent, expired or revoked token (`invalid_refresh_token`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let ttl = ttl(state.config.refresh_token_ttl);
    let issued =
        session::refresh(&mut conn, now, request_id(&req), &body.refresh_token, ttl).await?;
    Ok(web::Json(tokens(&state, issued, now)?))
}

/// End the session of a refresh token.
///
/// Revokes the token and every token of the same login. Idempotent: an unknown or
/// already revoked token also answers 204.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out")),
    security(("bearer_auth" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    session::logout(&mut conn, &caller.ctx(), &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller: the logged-in user.
#[utoipa::path(
    operation_id = "get_me",
    tag = "auth",
    responses(
        (status = 200, description = "The current user", body = user::User, headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "Called with an API key, which is no user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/me")]
pub async fn me(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let recoup_core::Actor::User { id, .. } = caller.actor else {
        return Err(recoup_core::Error::NotFound { entity: "user" }.into());
    };
    let mut conn = db::conn(&state.pool).await?;
    let user = user::find(&mut conn, id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                ProblemCode::InvalidToken,
                "the user no longer exists or is inactive",
            )
        })?;
    Ok(crate::etag::respond(
        &req,
        actix_web::http::StatusCode::OK,
        &user,
    ))
}
