//! `Accept: text/csv` for reports and statements.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::{ApiError, ApiResult};

/// Whether the client asked for CSV.
pub fn wanted(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// Writes rows with `fill` and answers them as a CSV attachment.
pub fn respond(
    filename: &str,
    fill: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> Result<(), csv::Error>,
) -> ApiResult<HttpResponse> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    fill(&mut writer).map_err(|_| ApiError::internal())?;
    let body = writer.into_inner().map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}
