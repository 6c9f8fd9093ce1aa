//! One middleware around every request: a request id (taken from `X-Request-Id` when
//! sane, otherwise new) on the span, the logs and the response; Prometheus figures;
//! and a caught panic turned into a bare 500 problem.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use futures_util::FutureExt;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tracing::Instrument;

use crate::error::ApiError;

pub const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("recoup".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency"),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        Ok(Self {
            registry,
            requests,
            durations,
        })
    }
}

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then(|| value.to_owned())
}

/// A NUL character (`%00`) in the path or query: no text Recoup stores may hold one
/// (PostgreSQL refuses it), so it is refused here, before any handler sees it.
fn nul_in_uri(req: &ServiceRequest) -> Option<ApiError> {
    let has_nul = |text: &str| text.contains("%00");
    if has_nul(req.query_string()) {
        Some(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            recoup_core::ProblemCode::InvalidQuery,
            "a query parameter holds a NUL character (%00)",
        ))
    } else if has_nul(req.path()) {
        Some(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            recoup_core::ProblemCode::InvalidPathParameter,
            "a path parameter holds a NUL character (%00)",
        ))
    } else {
        None
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let app_state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned();
    if let Some(refusal) = nul_in_uri(&req) {
        return Ok(req.error_response(refusal));
    }
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    // No clone of the request may live across the call: actix needs it unshared.
    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut response = match outcome {
        Ok(Ok(response)) => response.map_into_boxed_body(),
        Ok(Err(error)) => return Err(error),
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            // The request went down with the panic; actix renders this error itself.
            return Err(ApiError::internal().into());
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    let status = response.status();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = started.elapsed();
    if let Some(metrics) = app_state {
        metrics
            .metrics
            .requests
            .with_label_values(&[&method, &route, status.as_str()])
            .inc();
        metrics
            .metrics
            .durations
            .with_label_values(&[&method, &route])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), route = %route, elapsed_ms = elapsed.as_millis(), "request finished")
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, middleware::from_fn, test, web};

    async fn boom() -> HttpResponse {
        let items: Vec<u8> = Vec::new();
        // An out-of-bounds index panics, as a bug in a handler would.
        let i = items.len() + 3;
        HttpResponse::Ok().body(items[i].to_string())
    }

    #[actix_web::test]
    async fn a_panic_becomes_a_bare_500_problem() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(observe))
                .route("/boom", web::get().to(boom)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID, "abc-123"))
            .to_request();
        let res = match test::try_call_service(&app, req).await {
            Ok(res) => res.map_into_boxed_body(),
            Err(e) => actix_web::dev::ServiceResponse::new(
                test::TestRequest::default().to_http_request(),
                e.error_response(),
            ),
        };
        assert_eq!(res.status().as_u16(), 500);
        assert_eq!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let body = test::read_body(res).await;
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"code\":\"internal_error\""), "{text}");
        assert!(
            !text.contains("index out of bounds"),
            "no internals: {text}"
        );
    }

    #[actix_web::test]
    async fn an_insane_request_id_is_replaced() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(observe))
                .route("/", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/")
            .insert_header((REQUEST_ID, "bad id with spaces"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let id = res
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(id.len(), 36, "a fresh uuid: {id}");
    }
}
