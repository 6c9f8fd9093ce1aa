//! Every request a test sends and every response it gets, checked against the committed
//! spec (`openapi/openapi.json`): the spec is the contract clients are generated from,
//! so a test that passes while the server says something the spec does not is a bug.
//!
//! A request the spec calls valid must get a documented status, with a documented media
//! type, headers and a body that validates against the schema (JSON Schema 2020-12).
//! A request the spec calls invalid (tests send bad input on purpose) must get a
//! documented 4xx problem. Paths outside the spec must get a 404 problem, methods
//! outside it a 405 or 404 problem.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use http::Extensions;
use jsonschema::{Registry, Validator};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use serde_json::Value;

const SPEC: &str = include_str!("../../openapi/openapi.json");
const BASE_URI: &str = "urn:recoup:openapi";

/// Headers whose presence in a response must be declared by the spec, since clients
/// read them (caching, conditional writes, replays, retries, redirects).
const CONTRACT_HEADERS: [&str; 6] = [
    "etag",
    "location",
    "retry-after",
    "idempotent-replayed",
    "allow",
    "content-disposition",
];

/// Paths the server serves outside the API contract (the document itself, its UI).
fn outside_contract(path: &str) -> bool {
    path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/")
}

pub struct Contract {
    spec: Value,
    registry: Registry<'static>,
    router: matchit::Router<String>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// What was sent, as the server saw it.
pub struct Sent<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a reqwest::header::HeaderMap,
    /// `None` for a streamed body, which is not checked.
    pub body: Option<&'a [u8]>,
}

/// What came back.
pub struct Received<'a> {
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
}

fn pointer_token(text: &str) -> String {
    text.replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

fn media_type(headers: &reqwest::header::HeaderMap, name: reqwest::header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

impl Contract {
    /// The contract of the committed spec, built once per test process.
    pub fn get() -> Result<&'static Contract, String> {
        static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
        CONTRACT
            .get_or_init(Contract::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<Contract, String> {
        let spec: Value = serde_json::from_str(SPEC).map_err(|e| format!("spec: {e}"))?;
        let registry = Registry::new()
            .add(BASE_URI, spec.clone())
            .map_err(|e| format!("spec registry: {e}"))?
            .prepare()
            .map_err(|e| format!("spec registry: {e}"))?;
        let mut router = matchit::Router::new();
        if let Some(paths) = spec["paths"].as_object() {
            for path in paths.keys() {
                router
                    .insert(path.clone(), path.clone())
                    .map_err(|e| format!("path {path}: {e}"))?;
            }
        }
        Ok(Contract {
            spec,
            registry,
            router,
            validators: Mutex::new(HashMap::new()),
        })
    }

    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// The errors of `value` against the schema at `pointer` (a JSON pointer into the
    /// spec), none when it is valid.
    pub fn schema_errors(&self, pointer: &str, value: &Value) -> Result<Vec<String>, String> {
        let validator = {
            let mut cache = self
                .validators
                .lock()
                .map_err(|_| "validator cache poisoned".to_owned())?;
            match cache.get(pointer) {
                Some(v) => v.clone(),
                None => {
                    let schema = serde_json::json!({"$ref": format!("{BASE_URI}#{pointer}")});
                    let built = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .with_registry(&self.registry)
                        .should_validate_formats(true)
                        .build(&schema)
                        .map_err(|e| format!("schema {pointer}: {e}"))?;
                    let built = Arc::new(built);
                    cache.insert(pointer.to_owned(), built.clone());
                    built
                }
            }
        };
        Ok(validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect())
    }

    /// A parameter's value (always text on the wire) against its schema: valid as a
    /// string, or as the JSON value it spells (a number, a boolean).
    fn param_errors(&self, pointer: &str, raw: &str) -> Result<Vec<String>, String> {
        let as_text = self.schema_errors(pointer, &Value::String(raw.to_owned()))?;
        if as_text.is_empty() {
            return Ok(as_text);
        }
        if let Ok(parsed) = serde_json::from_str::<Value>(raw)
            && !parsed.is_string()
            && self.schema_errors(pointer, &parsed)?.is_empty()
        {
            return Ok(Vec::new());
        }
        Ok(as_text)
    }

    /// Checks one exchange; `Err` says how the server or the spec broke the contract.
    pub fn check(&self, sent: &Sent<'_>, got: &Received<'_>) -> Result<(), String> {
        if outside_contract(sent.path) {
            return Ok(());
        }
        let Ok(matched) = self.router.at(sent.path) else {
            return self.expect_problem(got, &[404], "a path the spec does not list");
        };
        let template = matched.value.clone();
        let params: Vec<(String, String)> = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let method = sent.method.to_ascii_lowercase();
        let head = method == "head";
        let looked_up = if head { "get" } else { method.as_str() };
        let item = &self.spec["paths"][&template];
        let operation = &item[looked_up];
        if !operation.is_object() {
            if head {
                // HEAD of a path without GET: the problem's status and type, no body.
                return if [404, 405].contains(&got.status) && got.body.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "HEAD on {template}, which has no GET, answered {}",
                        got.status
                    ))
                };
            }
            return self.expect_problem(
                got,
                &[404, 405],
                &format!(
                    "{} on {template}, which the spec does not declare",
                    sent.method
                ),
            );
        }
        let op_pointer = format!("/paths/{}/{looked_up}", pointer_token(&template));
        let invalid = self.request_errors(sent, operation, &op_pointer, &params)?;
        let response = self.response_for(operation, got.status).ok_or_else(|| {
            format!(
                "{} {template} answered {}, which the spec does not document for it{}",
                sent.method,
                got.status,
                body_hint(got.body)
            )
        })?;
        let (status_key, response) = response;
        let response_pointer = format!("{op_pointer}/responses/{status_key}");
        if !invalid.is_empty() {
            if !(400..500).contains(&got.status) {
                return Err(format!(
                    "{} {template} answered {} to a request the spec calls invalid ({}); \
                     either the spec is wrong or the server accepted bad input",
                    sent.method,
                    got.status,
                    invalid.join("; ")
                ));
            }
            let media = media_type(got.headers, reqwest::header::CONTENT_TYPE);
            if media != "application/problem+json" {
                return Err(format!(
                    "{} {template} answered {} to an invalid request with {media:?}, not a problem",
                    sent.method, got.status
                ));
            }
        }
        self.check_response(
            sent,
            &template,
            got,
            response,
            &response_pointer,
            head || got.status == 304,
        )
    }

    fn expect_problem(
        &self,
        got: &Received<'_>,
        statuses: &[u16],
        what: &str,
    ) -> Result<(), String> {
        if !statuses.contains(&got.status) {
            return Err(format!(
                "{what} answered {}, not {statuses:?}{}",
                got.status,
                body_hint(got.body)
            ));
        }
        let media = media_type(got.headers, reqwest::header::CONTENT_TYPE);
        if media != "application/problem+json" {
            return Err(format!("{what} answered {media:?}, not a problem"));
        }
        let body: Value = serde_json::from_slice(got.body)
            .map_err(|e| format!("{what}: problem body is not JSON: {e}"))?;
        let errors = self.schema_errors("/components/schemas/Problem", &body)?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: problem body: {}", errors.join("; ")))
        }
    }

    fn response_for<'s>(
        &'s self,
        operation: &'s Value,
        status: u16,
    ) -> Option<(String, &'s Value)> {
        let responses = operation["responses"].as_object()?;
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        for key in [exact.as_str(), range.as_str(), "default"] {
            if let Some(r) = responses.get(key) {
                return Some((pointer_token(key), self.resolve(r)));
            }
        }
        None
    }

    /// Follows a local `$ref` (responses and parameters may be references).
    fn resolve<'s>(&'s self, value: &'s Value) -> &'s Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => self.spec.pointer(&r[1..]).unwrap_or(value),
            _ => value,
        }
    }

    /// What makes the request invalid by the spec (empty when it is valid).
    fn request_errors(
        &self,
        sent: &Sent<'_>,
        operation: &Value,
        op_pointer: &str,
        path_params: &[(String, String)],
    ) -> Result<Vec<String>, String> {
        let mut errors = Vec::new();
        let query: Vec<(String, String)> = sent.query.map(form_pairs).unwrap_or_default();
        let declared = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (i, param) in declared.iter().enumerate() {
            let param = self.resolve(param);
            let name = param["name"].as_str().unwrap_or_default();
            let required = param["required"].as_bool().unwrap_or(false);
            let pointer = format!("{op_pointer}/parameters/{i}/schema");
            let values: Vec<String> = match param["in"].as_str() {
                Some("path") => path_params
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| percent_decode(v))
                    .collect(),
                Some("query") => query
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                Some("header") => sent
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect(),
                _ => Vec::new(),
            };
            if values.is_empty() && required {
                errors.push(format!("required parameter {name} missing"));
            }
            for value in values {
                for e in self.param_errors(&pointer, &value)? {
                    errors.push(format!("parameter {name}={value:?}: {e}"));
                }
            }
        }
        for (key, _) in &query {
            let known = declared.iter().any(|p| {
                let p = self.resolve(p);
                p["in"] == "query" && p["name"] == key.as_str()
            });
            if !known {
                errors.push(format!("query parameter {key} is not declared"));
            }
        }
        let body = &operation["requestBody"];
        let sent_body = sent.body.filter(|b| !b.is_empty());
        match (body.is_object(), sent_body) {
            (false, Some(_)) => errors.push("a body the operation does not take".to_owned()),
            (true, None) if sent.body.is_some() && body["required"].as_bool().unwrap_or(false) => {
                errors.push("required body missing".to_owned());
            }
            (true, Some(bytes)) => {
                let media = media_type(sent.headers, reqwest::header::CONTENT_TYPE);
                let content = &body["content"][&media];
                if !content.is_object() {
                    errors.push(format!(
                        "body of media type {media:?} the operation does not take"
                    ));
                } else if is_json(&media) && content.get("schema").is_some() {
                    match serde_json::from_slice::<Value>(bytes) {
                        Err(_) => errors.push("body is not JSON".to_owned()),
                        Ok(json) => {
                            let pointer = format!(
                                "{op_pointer}/requestBody/content/{}/schema",
                                pointer_token(&media)
                            );
                            for e in self.schema_errors(&pointer, &json)? {
                                errors.push(format!("body: {e}"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(errors)
    }

    fn check_response(
        &self,
        sent: &Sent<'_>,
        template: &str,
        got: &Received<'_>,
        response: &Value,
        pointer: &str,
        bodiless: bool,
    ) -> Result<(), String> {
        let what = format!("{} {template} → {}", sent.method, got.status);
        let declared_headers = response["headers"].as_object();
        let declares = |name: &str| {
            declared_headers.is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(name)))
        };
        for name in CONTRACT_HEADERS {
            if got.headers.contains_key(name) && !declares(name) {
                return Err(format!(
                    "{what} sends the header {name}, which the spec does not declare"
                ));
            }
        }
        if let Some(headers) = declared_headers {
            for (name, header) in headers {
                let header = self.resolve(header);
                let present = got.headers.get(name.as_str());
                if present.is_none() && header["required"].as_bool().unwrap_or(false) {
                    return Err(format!("{what} lacks the required header {name}"));
                }
                if let Some(value) = present {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    let header_pointer =
                        format!("{pointer}/headers/{}/schema", pointer_token(name));
                    if header.get("schema").is_some() {
                        let errors = self.param_errors(&header_pointer, &value)?;
                        if !errors.is_empty() {
                            return Err(format!(
                                "{what}: header {name}={value:?}: {}",
                                errors.join("; ")
                            ));
                        }
                    }
                }
            }
        }
        if bodiless {
            return if got.body.is_empty() {
                Ok(())
            } else {
                Err(format!("{what} has a body where none is allowed"))
            };
        }
        let content = response["content"].as_object();
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if got.body.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{what} has a body, but the spec documents none{}",
                    body_hint(got.body)
                ))
            };
        };
        let media = media_type(got.headers, reqwest::header::CONTENT_TYPE);
        // A documented media type may carry parameters (`text/plain; version=0.0.4`).
        let documented = content.iter().find_map(|(key, value)| {
            (key.split(';').next().map(|k| k.trim().to_ascii_lowercase()) == Some(media.clone()))
                .then_some(value)
        });
        let Some(documented) = documented else {
            return Err(format!(
                "{what} answered {media:?}; the spec documents {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        };
        if is_json(&media) && documented.get("schema").is_some() {
            let body: Value = serde_json::from_slice(got.body)
                .map_err(|e| format!("{what}: body is not JSON: {e}"))?;
            let errors = self.schema_errors(
                &format!("{pointer}/content/{}/schema", pointer_token(&media)),
                &body,
            )?;
            if !errors.is_empty() {
                return Err(format!(
                    "{what}: body does not match the spec: {}",
                    errors.join("; ")
                ));
            }
            // A problem's code must be one the response documents (each has an example).
            if media == "application/problem+json"
                && let Some(examples) = documented["examples"].as_object()
                && let Some(code) = body["code"].as_str()
                && !examples.contains_key(code)
            {
                return Err(format!(
                    "{what}: problem code {code:?} is not among the codes the spec documents for it {:?}",
                    examples.keys().collect::<Vec<_>>()
                ));
            }
        }
        Ok(())
    }
}

fn body_hint(body: &[u8]) -> String {
    if body.is_empty() {
        String::new()
    } else {
        let text = String::from_utf8_lossy(body);
        format!(": {}", text.chars().take(300).collect::<String>())
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The reqwest middleware `TestApp` sends everything through.
pub struct Check;

#[async_trait::async_trait]
impl Middleware for Check {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let method = req.method().as_str().to_owned();
        let path = req.url().path().to_owned();
        let query = req.url().query().map(str::to_owned);
        let headers = req.headers().clone();
        let body = req.body().map(|b| b.as_bytes().map(<[u8]>::to_vec));
        let res = next.run(req, extensions).await?;
        let status = res.status();
        let version = res.version();
        let res_headers = res.headers().clone();
        let bytes = res.bytes().await?;
        let contract = Contract::get().map_err(reqwest_middleware::Error::middleware_msg)?;
        let sent = Sent {
            method: &method,
            path: &path,
            query: query.as_deref(),
            headers: &headers,
            body: match &body {
                None => Some(&[][..]),
                Some(Some(b)) => Some(b.as_slice()),
                Some(None) => None,
            },
        };
        let got = Received {
            status: status.as_u16(),
            headers: &res_headers,
            body: &bytes,
        };
        if let Err(broken) = contract.check(&sent, &got) {
            return Err(reqwest_middleware::Error::middleware_msg(format!(
                "contract broken: {broken}"
            )));
        }
        let mut rebuilt = http::Response::new(bytes);
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = res_headers;
        Ok(Response::from(rebuilt))
    }
}

trait MiddlewareMsg {
    fn middleware_msg(msg: String) -> Self;
}

impl MiddlewareMsg for reqwest_middleware::Error {
    fn middleware_msg(msg: String) -> Self {
        reqwest_middleware::Error::Middleware(anyhow::anyhow!(msg))
    }
}
