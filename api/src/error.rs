//! RFC 9457 problem details. Every error leaves the API as `application/problem+json`
//! with a stable `code`; a 5xx says nothing about internals (they go to the log).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use recoup_core::ProblemCode;
use recoup_core::{Error, FieldError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail (RFC 9457).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:recoup:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine code; clients branch on it.
    pub code: ProblemCode,
    /// Field-level errors (validation problems only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ProblemCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::InternalError,
            "an unexpected error occurred; it has been logged",
        )
    }

    pub fn unauthenticated(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:recoup:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        match serde_json::to_vec(&self.problem()) {
            Ok(body) => response.body(body),
            Err(_) => response.finish(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        use StatusCode as S;
        match error {
            Error::NotFound { entity } => ApiError::new(
                S::NOT_FOUND,
                ProblemCode::NotFound,
                format!("no such {entity}"),
            ),
            Error::Validation(errors) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ProblemCode::ValidationFailed,
                "the request has invalid fields",
            )
            .with_errors(errors),
            Error::InvalidQuery(errors) => ApiError::new(
                S::BAD_REQUEST,
                ProblemCode::InvalidQuery,
                "the query parameters are invalid",
            )
            .with_errors(errors),
            Error::Forbidden { code, detail } => ApiError::new(S::FORBIDDEN, code, detail),
            Error::Conflict { code, detail } => ApiError::new(S::CONFLICT, code, detail),
            Error::Unprocessable { code, detail } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, code, detail)
            }
            Error::Rejected {
                code,
                detail,
                errors,
            } => ApiError::new(S::UNPROCESSABLE_ENTITY, code, detail).with_errors(errors),
            Error::PreconditionFailed => ApiError::new(
                S::PRECONDITION_FAILED,
                ProblemCode::PreconditionFailed,
                "the resource changed since you read it; fetch it again and retry",
            ),
            Error::Unauthenticated { code, detail } => ApiError::new(S::UNAUTHORIZED, code, detail),
            Error::Unavailable(reason) => {
                tracing::error!(%reason, "dependency unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    ProblemCode::Unavailable,
                    "a backing service is unavailable; retry shortly",
                )
            }
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                ApiError::internal()
            }
            Error::Internal(reason) => {
                tracing::error!(%reason, "internal error");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
