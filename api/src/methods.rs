//! Which methods each path serves, read from the OpenAPI document (built from the same
//! route table the server mounts): any other method on a path that exists answers 405
//! `method_not_allowed` with `Allow`, an unknown path 404 `route_not_found`, and `HEAD`
//! is served for every `GET` as that `GET` without its body.
//!
//! The method is checked before routing, against the spec's templates as `matchit`
//! matches them (a static segment wins over a parameter): `GET /v1/payment-plans/preview`
//! is a 405 of that POST-only path, not a `GET /v1/payment-plans/{id}` with a bad id.

use recoup_core::ProblemCode;
use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use utoipa::openapi::OpenApi;

use crate::error::ApiError;

/// The methods of every path: templates as the spec writes them (`/v1/customers/{id}`),
/// matched by `matchit`, each with its `Allow` value.
pub struct Methods {
    router: matchit::Router<Allowed>,
}

/// The methods of one path, and the `Allow` value listing them.
struct Allowed {
    methods: Vec<Method>,
    header: HeaderValue,
}

/// The order methods are listed in `Allow`.
const ORDER: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

impl Methods {
    /// The paths and methods of `document`, and `extra` ones the spec does not describe
    /// (the docs page). Every path with `GET` also serves `HEAD`.
    pub fn new(document: &OpenApi, extra: &[(&str, Method)]) -> Self {
        // Templates keyed with their parameters renamed by position, so that two spellings
        // of one path (`/x/{id}`, `/x/{customer_id}`) are one path, as for the router.
        let mut paths: BTreeMap<String, Vec<Method>> = BTreeMap::new();
        let mut add = |template: &str, method: Method| {
            let methods = paths.entry(normalise(template)).or_default();
            if !methods.contains(&method) {
                methods.push(method);
            }
        };
        for (template, item) in document.paths.paths.iter() {
            let operations = [
                (Method::GET, item.get.is_some()),
                (Method::HEAD, item.head.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
                (Method::OPTIONS, item.options.is_some()),
                (Method::TRACE, item.trace.is_some()),
            ];
            for (method, present) in operations {
                if present {
                    add(template, method);
                }
            }
        }
        for (template, method) in extra {
            add(template, method.clone());
        }
        let mut router = matchit::Router::new();
        for (template, mut methods) in paths {
            if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
                methods.push(Method::HEAD);
            }
            methods.sort_by_key(|m| ORDER.iter().position(|o| o == m));
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let Ok(header) = HeaderValue::from_str(&allow) else {
                continue;
            };
            if let Err(e) = router.insert(template.clone(), Allowed { methods, header }) {
                tracing::warn!(%template, error = %e, "path left out of the method table");
            }
        }
        Self { router }
    }

    /// The `Allow` value of the path `path` is an instance of, if any.
    pub fn allowed(&self, path: &str) -> Option<&HeaderValue> {
        self.router.at(path).ok().map(|m| &m.value.header)
    }

    /// The `Allow` value of `path` if it exists and does not allow `method`.
    fn refuses(&self, method: &Method, path: &str) -> Option<&HeaderValue> {
        let allowed = self.router.at(path).ok()?.value;
        (!allowed.methods.contains(method)).then_some(&allowed.header)
    }
}

fn not_allowed(method: &Method, allow: &HeaderValue) -> HttpResponse {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ProblemCode::MethodNotAllowed,
        format!(
            "{method} is not allowed on this path; it allows {}",
            allow.to_str().unwrap_or_default()
        ),
    )
    .error_response();
    response.headers_mut().insert(header::ALLOW, allow.clone());
    response
}

/// `/v1/customers/{id}/contacts` → `/v1/customers/{p1}/contacts` (`{*rest}` kept).
fn normalise(template: &str) -> String {
    template
        .split('/')
        .enumerate()
        .map(|(i, segment)| {
            if segment.starts_with("{*") {
                segment.to_owned()
            } else if segment.starts_with('{') && segment.ends_with('}') {
                format!("{{p{i}}}")
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Marks a request that came in as `HEAD` and is routed as `GET`.
#[derive(Debug, Clone, Copy)]
struct Head;

/// Answers 405 for a method the path does not allow, before any route or extractor runs,
/// and routes `HEAD` as `GET`: the handler answers as for `GET`, and actix-http, which
/// remembers the request was `HEAD`, sends the status and headers (`Content-Length`
/// included) without the body.
pub async fn check(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let refused = req
        .app_data::<web::Data<Methods>>()
        .and_then(|m| m.refuses(req.method(), req.path()).cloned());
    if let Some(allow) = refused {
        let response = not_allowed(req.method(), &allow);
        return Ok(req.into_response(response).map_into_right_body());
    }
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(Head);
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// What no route took: 405 with `Allow` on a path that exists (a method the spec lists
/// but no route serves), else 404.
pub async fn unrouted(req: HttpRequest, methods: web::Data<Methods>) -> HttpResponse {
    let method = if req.extensions().get::<Head>().is_some() {
        Method::HEAD
    } else {
        req.method().clone()
    };
    match methods.allowed(req.path()) {
        Some(allow) => not_allowed(&method, allow),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::RouteNotFound,
            format!("no route for {method} {}", req.path()),
        )
        .error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(methods: &Methods, path: &str) -> Option<String> {
        methods
            .allowed(path)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn every_path_of_the_spec_has_its_methods() {
        let methods = Methods::new(
            &crate::openapi::document(),
            &[("/docs/{*rest}", Method::GET)],
        );
        assert_eq!(
            allow(&methods, "/v1/customers").as_deref(),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            allow(
                &methods,
                "/v1/customers/0194a0b0-0000-7000-8000-000000000000"
            )
            .as_deref(),
            Some("GET, HEAD, PATCH")
        );
        assert_eq!(
            allow(&methods, "/v1/customers/external/C-1").as_deref(),
            Some("PUT")
        );
        assert_eq!(allow(&methods, "/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(
            allow(&methods, "/docs/index.html").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(allow(&methods, "/v1/nothing"), None);
        assert_eq!(
            allow(&methods, "/v1/payment-plans/preview").as_deref(),
            Some("POST"),
            "a static segment wins"
        );
        assert!(
            methods
                .refuses(&Method::GET, "/v1/payment-plans/preview")
                .is_some()
        );
        assert!(methods.refuses(&Method::HEAD, "/v1/customers").is_none());
        assert!(methods.refuses(&Method::GET, "/v1/nothing").is_none());
        assert_eq!(allow(&methods, "/v1/customers/"), None);
    }

    #[test]
    fn parameters_are_renamed_by_position() {
        assert_eq!(
            normalise("/v1/customers/{id}/contacts/{*rest}"),
            "/v1/customers/{p3}/contacts/{*rest}"
        );
    }
}
