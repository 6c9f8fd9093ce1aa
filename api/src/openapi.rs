//! The OpenAPI 3.1 document: paths come from the handlers mounted in `routes` (one
//! source of truth with the running app); this adds info, tags, security schemes and
//! the error responses every operation shares.

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_actix_web::{AppExt, scope};

use crate::error::Problem;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Recoup API",
        description = "The backend a collections team runs on: the accounts-receivable ledger and cash, customers and their contacts, tasks, promises to pay, disputes, and the audit log (the worklist, plans, credit and escalation are on the way).\n\n\
Conventions: JSON with snake_case; ids are UUIDs; instants RFC 3339 UTC; amounts are decimal strings with a `currency`. \
Errors are RFC 9457 `application/problem+json` with a stable `code`. Lists are cursor-paginated: `{\"data\": [...], \"next_cursor\": \"…\" | null}`. \
Single resources carry an `ETag`; `If-None-Match` answers 304 and updates require `If-Match`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        version = env!("CARGO_PKG_VERSION"),
    ),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Login, token refresh, logout, the current user"),
        (name = "users", description = "People who use Recoup and their roles"),
        (name = "api-keys", description = "Keys for integrations"),
        (name = "customers", description = "Accounts, contacts, assignment and holds"),
        (name = "invoices", description = "Invoices and their ledger"),
        (name = "payments", description = "Cash: payments, applications, returns (NSF), refunds"),
        (name = "credits", description = "Credit memos and adjustments"),
        (name = "deductions", description = "Short pays with a reason, and their resolution"),
        (name = "write-offs", description = "Write-offs, approvals and recoveries"),
        (name = "reconciliation", description = "GL control balances and the subledger reconciliation"),
        (name = "reports", description = "Aging, trends, metrics, the hit list and collector activity; `Accept: text/csv` for CSV"),
        (name = "integration", description = "Upserts by external id for ERP sync"),
        (name = "activities", description = "Every collection action on an account, by people and by the worker"),
        (name = "tasks", description = "Follow-ups for people"),
        (name = "worklist", description = "Whom to work today and why: the ranked worklist and its weights"),
        (name = "payment-plans", description = "Installment plans: previews against the admin's policy"),
        (name = "promises", description = "Promises to pay, decided by the worker after date + grace"),
        (name = "disputes", description = "Contested amounts, out of collection until resolved; valid ones end in a credit memo"),
        (name = "imports", description = "CSV imports and the status of background jobs"),
        (name = "audit", description = "The append-only record of every change"),
        (name = "system", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_auth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from `POST /v1/auth/login`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::auth::API_KEY_HEADER,
                "An integration key from `POST /v1/api-keys` (starts with `rk_`)",
            ))),
        );
        let mut schemas = Vec::new();
        <Problem as ToSchema>::schemas(&mut schemas);
        components
            .schemas
            .insert(<Problem as ToSchema>::name().into(), Problem::schema());
        for (name, schema) in schemas {
            components.schemas.insert(name, schema);
        }
        // An import's mapping travels as JSON text (a query parameter or a form part), so
        // no operation refers to its schema; it is listed for clients to build one.
        components.schemas.insert(
            <recoup_core::import::Mapping as ToSchema>::name().into(),
            <recoup_core::import::Mapping as utoipa::PartialSchema>::schema(),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        ))))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                if secured && !responses.contains_key("401") {
                    responses.insert(
                        "401".into(),
                        RefOr::T(problem("Missing, invalid or expired credentials (`unauthenticated`, `invalid_token`, `token_expired`, `invalid_api_key`)")),
                    );
                }
                let has_body = operation.request_body.is_some();
                if has_body {
                    responses.entry("413".into()).or_insert_with(|| {
                        RefOr::T(problem("Body larger than 256 KiB (`payload_too_large`)"))
                    });
                    responses.entry("415".into()).or_insert_with(|| {
                        RefOr::T(problem(
                            "Body is not application/json (`unsupported_media_type`)",
                        ))
                    });
                    responses.entry("400".into()).or_insert_with(|| {
                        RefOr::T(problem("Body is not valid JSON (`malformed_json`)"))
                    });
                }
                responses.entry("500".into()).or_insert_with(|| RefOr::T(problem("Unexpected error; details are in the server log under the request id (`internal_error`)")));
                responses.entry("503".into()).or_insert_with(|| {
                    RefOr::T(problem("A backing service is unavailable (`unavailable`)"))
                });
            }
        }
    }
}

/// The whole document, built from the same route table the server mounts.
pub fn document() -> Document {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope::scope("/v1").configure(routes::v1))
        .configure(routes::root)
        .split_for_parts();
    Conventions.modify(&mut doc);
    doc
}

/// The document as committed in `openapi/openapi.json`.
pub fn pretty_json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
