//! `/v1/imports` and `/v1/jobs/{id}`: CSV imports run by the worker, and the status of
//! any job a caller started.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use recoup_core::db;
use recoup_core::job::{self, Job};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

/// Largest accepted import file.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Start an import of a CSV file (layout: IBM's accounts-receivable sample).
///
/// Send the file as the body with `Content-Type: text/csv`. The answer is 202 with the
/// job; follow it at `GET /v1/jobs/{id}` (also in `Location`): progress in rows, then
/// the report with every rejected row and its line. Rows are written idempotently by
/// external id, so importing a file twice changes nothing.
#[utoipa::path(
    tag = "imports",
    operation_id = "create_import",
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses(
        (status = 202, description = "Queued", body = Job, headers(("Location" = String, description = "The job's URL"))),
        (status = 403, description = "Role may not import", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty file", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/imports")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    mut body: web::Payload,
) -> ApiResult<HttpResponse> {
    let csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
        });
    if !csv {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as text/csv",
        ));
    }
    let mut content = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the body could not be read",
            )
        })?;
        if content.len() + chunk.len() > MAX_IMPORT_BYTES {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "imports are limited to 64 MiB",
            ));
        }
        content.extend_from_slice(&chunk);
    }
    let mut conn = db::conn(&state.pool).await?;
    let job = recoup_core::import::enqueue(&mut conn, &caller.ctx(), content).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/jobs/{}", job.id)))
        .json(job))
}

/// A job's status, progress and result (the caller's own; admins and managers see all).
#[utoipa::path(
    tag = "imports",
    operation_id = "get_job",
    params(("id" = Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/jobs/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Job>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(job::get(&mut conn, &caller.ctx(), *id).await?))
}

super::list_of!(JobList, Job);

/// List jobs newest first: the caller's own, or all for admins and managers.
///
/// `?status=dead` lists the jobs given up after their attempts.
#[utoipa::path(
    tag = "imports",
    operation_id = "list_jobs",
    params(job::JobFilter),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "Bad query parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[get("/jobs")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<job::JobFilter>,
) -> ApiResult<web::Json<JobList>> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(web::Json(
        job::list(&mut conn, &caller.ctx(), &filter).await?.into(),
    ))
}

/// Queue a dead job again (admin); its attempts start over.
#[utoipa::path(
    tag = "imports",
    operation_id = "retry_job",
    params(("id" = Uuid, Path, description = "Job id")),
    responses(
        (status = 202, description = "Queued again", body = Job),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is not dead (`job_not_dead`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[post("/jobs/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let job = job::retry(&mut conn, &caller.ctx(), *id).await?;
    Ok(HttpResponse::Accepted().json(job))
}
