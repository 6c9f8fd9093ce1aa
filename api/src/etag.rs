//! Entity tags for single resources: a digest of the JSON representation, so a GET can
//! answer 304 and a PATCH can refuse a stale write (If-Match → 412, missing → 428).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use recoup_core::ProblemCode;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub fn of<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn matches(header_value: &str, tag: &str) -> bool {
    header_value
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

/// A JSON response with its ETag; 304 when the client's If-None-Match already has it.
pub fn respond<T: Serialize>(req: &HttpRequest, status: StatusCode, value: &T) -> HttpResponse {
    let tag = of(value);
    // 304 answers reads only: a write's If-None-Match is no cache check.
    let read = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let fresh = read
        && req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches(v, &tag));
    let mut response = if fresh && status == StatusCode::OK {
        HttpResponse::NotModified()
    } else {
        HttpResponse::build(status)
    };
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.insert_header((header::ETAG, value));
    }
    if fresh && status == StatusCode::OK {
        return response.finish();
    }
    response.json(value)
}

/// The If-Match header of a conditional write; 428 when the client sent none.
pub fn required_if_match(req: &HttpRequest) -> Result<String, ApiError> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                ProblemCode::PreconditionRequired,
                "send If-Match with the ETag from your last GET",
            )
        })
}

/// Whether a representation still has the tag the client sent in If-Match.
pub fn still<T: Serialize>(if_match: &str, current: &T) -> bool {
    matches(if_match, &of(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_representation() {
        let a = of(&serde_json::json!({"name": "a"}));
        assert_eq!(a, of(&serde_json::json!({"name": "a"})));
        assert_ne!(a, of(&serde_json::json!({"name": "b"})));
        assert!(still(&a, &serde_json::json!({"name": "a"})));
        assert!(still(
            &format!("W/{a}, \"other\""),
            &serde_json::json!({"name": "a"})
        ));
        assert!(!still("\"other\"", &serde_json::json!({"name": "a"})));
        assert!(still("*", &serde_json::json!({"name": "a"})));
    }
}
