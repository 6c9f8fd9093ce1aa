//! JSON request bodies: size-limited, `application/json` only, unknown fields refused,
//! and every deserialisation error reported with the path of the field at fault.

use recoup_core::ProblemCode;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use recoup_core::FieldError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ProblemCode::UnsupportedMediaType,
                    "send the body as application/json",
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ProblemCode::PayloadTooLarge,
                        format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ProblemCode::UnreadableBody,
                        "the body could not be read",
                    )
                }
            })?;
            parse(&bytes).map(Body)
        })
    }
}

fn malformed(inner: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ProblemCode::MalformedJson,
        format!("the body is not valid JSON: {inner}"),
    )
}

/// The whole body refused as the domain refuses a field (422 `validation_failed`).
fn refused(code: &str, message: &str) -> ApiError {
    recoup_core::Error::validation("", code, message).into()
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is a JSON object; serde would also read a struct from an array of its
    // fields in order (`[null, null]`), which no client means and the spec does not say.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[') {
        return Err(refused("invalid_type", "the body must be a JSON object"));
    }
    // JSON spells a NUL character only as `\u0000`; no stored text may hold one.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        return Err(refused(
            "nul_character",
            "text may not contain the NUL character (\\u0000)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(malformed(&inner));
            }
            let message = inner.to_string();
            // The path of an unknown field already ends in it; a missing field is
            // reported at its parent's path.
            let (field, code) = if let Some(name) = between_backticks(&message, "unknown field `") {
                (
                    if path.is_empty() || path == "." {
                        name
                    } else {
                        path
                    },
                    "unknown_field",
                )
            } else if let Some(name) = between_backticks(&message, "missing field `") {
                (join(&path, &name), "required")
            } else {
                (path, "invalid_value")
            };
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned();
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::ValidationFailed,
                "the request has invalid fields",
            )
            .with_errors(vec![FieldError::new(field, code, message)]));
        }
    };
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn between_backticks(message: &str, prefix: &str) -> Option<String> {
    let rest = message.split_once(prefix)?.1;
    Some(rest.split('`').next()?.to_owned())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        start: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        windows: Vec<Inner>,
    }

    fn field_error(body: &str) -> (u16, String, String) {
        match parse::<Outer>(body.as_bytes()) {
            Ok(_) => (200, String::new(), String::new()),
            Err(e) => (
                e.status.as_u16(),
                e.errors
                    .first()
                    .map(|f| f.field.clone())
                    .unwrap_or_default(),
                e.errors
                    .first()
                    .map(|f| f.code.clone())
                    .unwrap_or_else(|| e.code.as_str().to_owned()),
            ),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_error(r#"{"name":"a","windows":[]}"#).0, 200);
        assert_eq!(
            field_error(r#"{"name":"a","windows":[],"x":1}"#),
            (422, "x".into(), "unknown_field".into())
        );
        assert_eq!(
            field_error(r#"{"windows":[]}"#),
            (422, "name".into(), "required".into())
        );
        assert_eq!(
            field_error(r#"{"name":"a","windows":[{"start":5}]}"#),
            (422, "windows[0].start".into(), "invalid_value".into())
        );
        assert_eq!(
            field_error(r#"{"name":"a","windows":[{"start":"1","end":"2"}]}"#),
            (422, "windows[0].end".into(), "unknown_field".into())
        );
        assert_eq!(field_error(r#"{"name": "#).2, "malformed_json");
        assert_eq!(
            field_error(r#"{"name":"a","windows":[]} trailing"#).2,
            "malformed_json"
        );
    }

    #[test]
    fn arrays_and_nul_characters_are_refused_as_fields() {
        for (body, code) in [
            (&b"[\"x\"]"[..], "invalid_type"),
            (&b"{\"start\": \"a\\u0000b\"}"[..], "nul_character"),
        ] {
            let err = parse::<Inner>(body).err();
            assert_eq!(
                err.as_ref().map(|e| e.status),
                Some(StatusCode::UNPROCESSABLE_ENTITY)
            );
            assert_eq!(
                err.as_ref().map(|e| e.code),
                Some(ProblemCode::ValidationFailed)
            );
            assert_eq!(
                err.and_then(|e| e.errors.first().map(|f| f.code.clone())),
                Some(code.to_owned())
            );
        }
    }
}
