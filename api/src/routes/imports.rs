//! `/v1/imports` and `/v1/jobs/{id}`: CSV imports run by the worker, and the status of
//! any job a caller started.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use recoup_core::ProblemCode;
use recoup_core::db;
use recoup_core::import::{self, ImportRequest, Piece, UploadError, UploadSource};
use recoup_core::job::{self, Job};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

/// `?kind=…&mapping=…` of `POST /v1/imports` (with a `text/csv` body; a form may send
/// them as parts instead).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// What the rows are: `customers`, `invoices`, `payments` or `ibm`.
    #[param(value_type = Option<recoup_core::import::ImportKind>, inline)]
    pub kind: Option<String>,
    /// A column mapping (JSON, see `Mapping`) for a layout other than the kind's own.
    pub mapping: Option<String>,
}

/// The `multipart/form-data` body of `POST /v1/imports`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// `customers`, `invoices`, `payments` or `ibm`.
    #[schema(value_type = import::ImportKind)]
    kind: String,
    /// A column mapping, sent as a JSON part; absent: the kind's built-in layout.
    mapping: Option<import::Mapping>,
    /// The CSV file.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    file: Vec<u8>,
}

/// Pieces of the upload cross from the request (which lives on this worker thread) to
/// the import (which may run on any) through a short queue, so the body streams
/// through with back-pressure and is never held whole.
struct Channel(mpsc::Receiver<Result<Piece<Bytes>, ApiError>>);

impl UploadSource for Channel {
    type Data = Bytes;
    type Error = ApiError;
    async fn next(&mut self) -> Result<Option<Piece<Bytes>>, ApiError> {
        self.0.recv().await.transpose()
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        format!("imports are limited to {max} bytes (RECOUP_IMPORT_MAX_BYTES)"),
    )
}

fn unreadable() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ProblemCode::UnreadableBody,
        "the body could not be read",
    )
}

/// A piece of the file, counted against the cap: refused once `seen` passes `max`.
fn counted(seen: &mut u64, max: u64, bytes: Bytes) -> Result<Piece<Bytes>, ApiError> {
    *seen = seen.saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
    if *seen > max {
        Err(too_large(max))
    } else {
        Ok(Piece::Data(bytes))
    }
}

/// Feeds a `text/csv` body into the channel, refusing it past `max` bytes.
async fn pump_csv(
    mut body: web::Payload,
    tx: mpsc::Sender<Result<Piece<Bytes>, ApiError>>,
    max: u64,
) {
    let mut seen = 0_u64;
    while let Some(chunk) = body.next().await {
        let piece = match chunk {
            Ok(bytes) => counted(&mut seen, max, bytes),
            Err(_) => Err(unreadable()),
        };
        let stop = piece.is_err();
        // A closed channel: the import refused the upload already.
        if tx.send(piece).await.is_err() || stop {
            return;
        }
    }
}

/// Feeds a form into the channel: `kind` and `mapping` as fields, `file` as data.
async fn pump_form(
    mut form: Multipart,
    tx: mpsc::Sender<Result<Piece<Bytes>, ApiError>>,
    max: u64,
) {
    let bad = |detail: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidMultipart,
            detail,
        )
    };
    let mut seen = 0_u64;
    let mut files = 0;
    while let Some(part) = form.next().await {
        let mut part = match part {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(bad(e.to_string()))).await;
                return;
            }
        };
        let name = part.name().unwrap_or_default().to_owned();
        if name == "file" {
            files += 1;
            if files > 1 {
                let _ = tx.send(Err(bad("send one file part".into()))).await;
                return;
            }
            while let Some(chunk) = part.next().await {
                let piece = match chunk {
                    Ok(bytes) => counted(&mut seen, max, bytes),
                    Err(e) => Err(bad(e.to_string())),
                };
                let stop = piece.is_err();
                if tx.send(piece).await.is_err() || stop {
                    return;
                }
            }
        } else {
            // Small fields: a mapping is a few hundred bytes.
            let mut value = Vec::new();
            while let Some(chunk) = part.next().await {
                match chunk {
                    Ok(bytes) if value.len() + bytes.len() <= 64 * 1024 => {
                        value.extend_from_slice(&bytes)
                    }
                    Ok(_) => {
                        let _ = tx
                            .send(Err(bad(format!("the {name} part is too long"))))
                            .await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(bad(e.to_string()))).await;
                        return;
                    }
                }
            }
            let piece = match String::from_utf8(value) {
                Ok(value) => Ok(Piece::Field { name, value }),
                Err(_) => Err(bad(format!("the {name} part is not UTF-8 text"))),
            };
            let stop = piece.is_err();
            if tx.send(piece).await.is_err() || stop {
                return;
            }
        }
    }
    if files == 0 {
        let _ = tx
            .send(Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::MissingFile,
                "the form has no file part",
            )))
            .await;
    }
}

/// Start an import of customers, invoices or payments from a CSV file.
///
/// Send the file either as the body with `Content-Type: text/csv` (then `kind` and
/// `mapping` are query parameters), or as `multipart/form-data` with a `file` part and
/// `kind` and `mapping` parts. Without a mapping the kind's built-in layout applies (a
/// header naming each field, ISO dates, `.` before the cents); a mapping names the
/// column of each field, defaults, the date format, the decimal and thousands marks and
/// the delimiter. The file's header is checked at once; its rows are checked and
/// written by the worker: follow the job at `GET /v1/jobs/{id}` (also in `Location`):
/// progress in rows, then the report with every rejected row, its line and column.
/// Rows are written by external id, so importing a file twice changes nothing.
#[utoipa::path(
    tag = "imports",
    operation_id = "create_import",
    params(ImportParams),
    request_body(
        description = "The CSV file, raw or as a form",
        content(
            (String = "text/csv"),
            (inline(ImportForm) = "multipart/form-data"),
        )
    ),
    responses(
        (status = 202, description = "Stored and queued", body = Job, headers(("Location" = String, description = "The job's URL"))),
        (status = 400, description = "A form that cannot be read (`invalid_multipart`) or a broken body (`unreadable_body`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not import", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than RECOUP_IMPORT_MAX_BYTES (`payload_too_large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor multipart/form-data (`unsupported_media_type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No or unknown kind (`invalid_import_kind`), a mapping that does not fit the kind (`invalid_mapping`, with `errors`), a header without the layout's columns (`missing_columns`), an empty file (`empty_file`) or a form without a file (`missing_file`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []), ("api_key" = []))
)]
#[post("/imports")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    params: web::Query<ImportParams>,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let max = state.config.import_max_bytes;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let (tx, rx) = mpsc::channel(8);
    match media.as_str() {
        "text/csv" => {
            actix_web::rt::spawn(pump_csv(body, tx, max));
        }
        "multipart/form-data" => {
            actix_web::rt::spawn(pump_form(Multipart::new(req.headers(), body), tx, max));
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedMediaType,
                "send the file as text/csv or as multipart/form-data",
            ));
        }
    }
    let request = ImportRequest {
        kind: params.kind.clone(),
        mapping: params.mapping.clone(),
    };
    let mut conn = db::conn(&state.pool).await?;
    let job = import::receive(&mut conn, &caller.ctx(), &request, &mut Channel(rx))
        .await
        .map_err(|e| match e {
            UploadError::Import(e) => ApiError::from(e),
            UploadError::Source(e) => e,
        })?;
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
