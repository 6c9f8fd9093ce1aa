//! The OpenAPI 3.1 document: paths come from the handlers mounted in `routes` (one
//! source of truth with the running app); this adds info, tags, security schemes and
//! the error responses every operation shares.

use actix_web::App;
use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use recoup_core::ProblemCode;
use utoipa::openapi::example::{Example, ExampleBuilder};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, RefOr, Required, Response, ResponseBuilder,
};
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
        contact(name = "Recoup maintainers"),
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
        // An import's mapping is a JSON form part (ImportForm) or JSON text in a query
        // parameter; listed by name for clients that build one for the query.
        components.schemas.insert(
            <recoup_core::import::Mapping as ToSchema>::name().into(),
            <recoup_core::import::Mapping as utoipa::PartialSchema>::schema(),
        );
        doc.servers = Some(vec![
            ServerBuilder::new()
                .url("http://127.0.0.1:8080")
                .description(Some("A local stack started by `scripts/run`"))
                .build(),
        ]);
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                document_conventions(operation);
            }
        }
    }
}

/// What every operation shares, derived from what it declares: the problems the
/// extractors and middleware answer, the conditional and idempotency headers, and an
/// example of every problem code each response names.
fn document_conventions(operation: &mut Operation) {
    // The key's rule is the idempotency mechanism's, the same for every money POST.
    for param in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(param) = param
            && param.parameter_in == ParameterIn::Header
            && param.name.eq_ignore_ascii_case(crate::idempotency::HEADER)
        {
            param.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$"))
                    .examples(["6f1d2c9e-3b7a-4c51-9e0f-2a8b7c4d5e6f"])
                    .into(),
            ));
        }
    }
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if !secured {
        // A public operation says so, rather than leaving clients to guess.
        operation.security = Some(Vec::new());
    }
    let params: Vec<(ParameterIn, String)> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some((p.parameter_in.clone(), p.name.clone())),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has = |place: ParameterIn| params.iter().any(|(p, _)| *p == place);
    let has_header = |name: &str| {
        params
            .iter()
            .any(|(p, n)| *p == ParameterIn::Header && n.eq_ignore_ascii_case(name))
    };
    let (queried, pathed) = (has(ParameterIn::Query), has(ParameterIn::Path));
    let idempotent = has_header(crate::idempotency::HEADER);
    let conditional_get = operation.responses.responses.contains_key("304");
    let responses = &mut operation.responses.responses;
    if secured {
        note(
            responses,
            401,
            "Missing, invalid or expired credentials",
            &[
                ProblemCode::Unauthenticated,
                ProblemCode::InvalidToken,
                ProblemCode::TokenExpired,
                ProblemCode::InvalidApiKey,
                ProblemCode::AmbiguousCredentials,
            ],
        );
        note(
            responses,
            403,
            "The caller's role or API key scopes do not allow this",
            &[ProblemCode::Forbidden, ProblemCode::InsufficientScope],
        );
    }
    if queried {
        note(
            responses,
            400,
            "Bad query parameters",
            &[ProblemCode::InvalidQuery],
        );
    }
    if pathed {
        note(
            responses,
            400,
            "A path parameter is not of its type",
            &[ProblemCode::InvalidPathParameter],
        );
    }
    if idempotent {
        note(
            responses,
            400,
            "No Idempotency-Key, or one that is not 1 to 255 printable ASCII characters",
            &[
                ProblemCode::IdempotencyKeyRequired,
                ProblemCode::InvalidIdempotencyKey,
            ],
        );
    }
    if operation.request_body.is_some() {
        note(
            responses,
            413,
            "Body larger than 256 KiB",
            &[ProblemCode::PayloadTooLarge],
        );
        note(
            responses,
            415,
            "Body is not application/json",
            &[ProblemCode::UnsupportedMediaType],
        );
        note(
            responses,
            400,
            "Body is not valid JSON",
            &[ProblemCode::MalformedJson, ProblemCode::UnreadableBody],
        );
        note(
            responses,
            422,
            "Fields missing, of the wrong type or breaking a rule",
            &[ProblemCode::ValidationFailed],
        );
    }
    note(
        responses,
        500,
        "Unexpected error; details are in the server log under the request id",
        &[ProblemCode::InternalError],
    );
    note(
        responses,
        503,
        "A backing service is unavailable; retry shortly",
        &[ProblemCode::Unavailable],
    );
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let status: u16 = status.parse().unwrap_or(0);
        if conditional_get && (status == 200 || status == 304) {
            response.headers.entry("ETag".into()).or_insert_with(|| {
                string_header(
                    "Entity tag of the representation, for `If-None-Match` and `If-Match`",
                )
            });
        }
        if idempotent && (200..300).contains(&status) {
            response
                .headers
                .entry(crate::idempotency::REPLAYED.into())
                .or_insert_with(|| {
                    let mut header = Header::new(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["true"])),
                    );
                    header.description =
                        Some("`true` when this replays the first response to the same key".into());
                    RefOr::T(header)
                });
        }
        if status == 429 || status == 503 {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| {
                    let mut header = Header::new(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    );
                    header.description = Some("Seconds to wait before trying again".into());
                    RefOr::T(header)
                });
        }
        if status == 401 {
            response
                .headers
                .entry("WWW-Authenticate".into())
                .or_insert_with(|| string_header("`Bearer`"));
        }
        if let Some(RefOr::T(content)) = response.content.get_mut(crate::error::PROBLEM_JSON) {
            if codes_in(&response.description).is_empty()
                && let Some(code) = default_code(status)
            {
                response.description = format!("{} (`{code}`)", response.description);
            }
            content.example = None;
            content.examples = problem_examples(status, &response.description);
        }
    }
    if conditional_get && !has_header("If-None-Match") {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::T(
                ParameterBuilder::new()
                    .name("If-None-Match")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "An ETag from an earlier read; 304 when it still matches",
                    ))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            ));
    }
}

fn string_header(description: &str) -> RefOr<Header> {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.into());
    RefOr::T(header)
}

/// Documents that an operation may answer `status` with these problem codes: a new
/// problem response, or the codes added to the one the handler declared.
fn note(
    responses: &mut BTreeMap<String, RefOr<Response>>,
    status: u16,
    what: &str,
    codes: &[ProblemCode],
) {
    let listed = |codes: &[ProblemCode]| {
        codes
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match responses.get_mut(&status.to_string()) {
        Some(RefOr::T(response)) => {
            let missing: Vec<ProblemCode> = codes
                .iter()
                .copied()
                .filter(|c| !codes_in(&response.description).contains(c))
                .collect();
            if !missing.is_empty() {
                response.description = format!(
                    "{}; {} ({})",
                    response.description,
                    what.to_lowercase(),
                    listed(&missing)
                );
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(
                status.to_string(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(format!("{what} ({})", listed(codes)))
                        .content(
                            crate::error::PROBLEM_JSON,
                            ContentBuilder::new()
                                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                    "Problem",
                                ))))
                                .build(),
                        )
                        .build(),
                ),
            );
        }
    }
}

/// The code of a status that has one meaning whatever the operation.
fn default_code(status: u16) -> Option<ProblemCode> {
    match status {
        404 => Some(ProblemCode::NotFound),
        412 => Some(ProblemCode::PreconditionFailed),
        428 => Some(ProblemCode::PreconditionRequired),
        _ => None,
    }
}

/// The problem codes a response's description names in backticks.
pub fn codes_in(description: &str) -> Vec<ProblemCode> {
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// One example per problem code a response names, each as the server sends it.
fn problem_examples(status: u16, description: &str) -> BTreeMap<String, RefOr<Example>> {
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut examples = BTreeMap::new();
    for code in codes_in(description) {
        let mut value = serde_json::json!({
            "type": format!("urn:recoup:problem:{code}"),
            "title": title,
            "status": status,
            "detail": detail_of(description, code),
            "code": code,
        });
        if matches!(
            code,
            ProblemCode::ValidationFailed | ProblemCode::InvalidQuery
        ) {
            value["errors"] = serde_json::json!([{
                "field": if code == ProblemCode::InvalidQuery { "limit" } else { "currency" },
                "code": if code == ProblemCode::InvalidQuery { "out_of_range" } else { "unknown_currency" },
                "message": if code == ProblemCode::InvalidQuery { "limit must be between 1 and 200" } else { "\"XYZ\" is not an ISO 4217 currency code" },
            }]);
        }
        examples.insert(
            code.to_string(),
            RefOr::T(
                ExampleBuilder::new()
                    .summary(code.to_string())
                    .value(Some(value))
                    .build(),
            ),
        );
    }
    examples
}

/// The part of a response's description that speaks of `code`, as an example's detail.
fn detail_of(description: &str, code: ProblemCode) -> String {
    let mark = format!("`{code}`");
    description
        .split(';')
        .find(|part| part.contains(&mark))
        .unwrap_or(description)
        .split(" (")
        .next()
        .unwrap_or(description)
        .trim()
        .to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> serde_json::Value {
        serde_json::to_value(document()).unwrap_or_default()
    }

    fn enum_of(spec: &serde_json::Value, name: &str) -> Vec<String> {
        spec["components"]["schemas"][name]["enum"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn enums_list_their_wire_values() {
        let spec = spec();
        let strings = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        use recoup_core::{customer, payment, user};
        let wire = |v: Vec<String>| v;
        assert_eq!(
            enum_of(&spec, "CustomerKind"),
            wire(strings(
                &customer::CustomerKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            ))
        );
        assert_eq!(
            enum_of(&spec, "PaymentMethod"),
            strings(
                &payment::PaymentMethod::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            enum_of(&spec, "Role"),
            strings(
                &user::Role::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            enum_of(&spec, "ProblemCode"),
            strings(
                &ProblemCode::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
            )
        );
    }

    #[test]
    fn every_problem_response_names_its_codes() {
        let spec = spec();
        let mut bare = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                    let problem = &response["content"][crate::error::PROBLEM_JSON];
                    if problem.is_object()
                        && problem["examples"].as_object().is_none_or(|e| e.is_empty())
                    {
                        bare.push(format!("{method} {path} {status}"));
                    }
                }
            }
        }
        assert!(
            bare.is_empty(),
            "problem responses naming no code: {bare:#?}"
        );
    }
}
