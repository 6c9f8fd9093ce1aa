//! The API's cross-cutting conventions through real HTTP: cursors bound to their list
//! and sort, one date rule and problem shape, 405 with `Allow` and `HEAD`, the
//! `Idempotency-Key` rule, over-long URLs and the docs page's configuration.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{TestApp, expect_problem, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The field errors of a problem as `(field, code)` pairs.
fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_is_refused_outside_its_list_and_sort() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let admin = app.admin().await?.clone();
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.customer(json!({"name": "Globex", "kind": "commercial", "currency": "USD"}))
        .await?;
    for (n, due) in [(1, "2026-02-01"), (2, "2026-02-02")] {
        app.invoice(&acme, &format!("INV-{n}"), "100.00", "2026-01-01", due)
            .await?;
    }
    let (status, invoices) = read(
        app.as_user(&accountant, Method::GET, "/v1/invoices?limit=1")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{invoices}");
    let cursor = invoices["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!cursor.is_empty(), "{invoices}");

    // On its own list it pages on.
    let (status, next) = read(
        app.as_user(
            &accountant,
            Method::GET,
            &format!("/v1/invoices?limit=1&cursor={cursor}"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next["data"][0]["number"], "INV-2");

    // On another list, whose key has the same shape, it is refused.
    let res = app
        .as_user(
            &accountant,
            Method::GET,
            &format!("/v1/payments?cursor={cursor}"),
        )
        .send()
        .await?;
    let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
    assert_eq!(
        field_errors(&problem),
        [("cursor".to_owned(), "invalid_cursor".to_owned())]
    );

    // A customers cursor cut in one order is refused in any other.
    let (_, by_name) = read(
        app.as_user(&admin, Method::GET, "/v1/customers?limit=1&sort=name")
            .send()
            .await?,
    )
    .await?;
    let cursor = by_name["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!cursor.is_empty(), "{by_name}");
    for sort in ["-created_at", "created_at", "-name"] {
        let res = app
            .as_user(
                &admin,
                Method::GET,
                &format!("/v1/customers?sort={sort}&cursor={cursor}"),
            )
            .send()
            .await?;
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
        assert_eq!(
            field_errors(&problem),
            [("cursor".to_owned(), "invalid_cursor".to_owned())],
            "{sort}"
        );
    }
    let (status, page) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/customers?sort=name&cursor={cursor}"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"][0]["name"], "Globex");
    Ok(())
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_answer_405_with_allow_and_unknown_paths_404() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    let id = acme["id"].as_str().unwrap_or_default();
    let statement = format!("/v1/customers/{id}/statement");
    let customer = format!("/v1/customers/{id}");
    for (method, path, allow) in [
        (Method::OPTIONS, statement.as_str(), "GET, HEAD"),
        (Method::DELETE, statement.as_str(), "GET, HEAD"),
        (Method::POST, statement.as_str(), "GET, HEAD"),
        (Method::DELETE, "/v1/customers", "GET, HEAD, POST"),
        (Method::PUT, customer.as_str(), "GET, HEAD, PATCH"),
        (Method::GET, "/v1/customers/external/C-1", "PUT"),
        (Method::POST, "/healthz", "GET, HEAD"),
        (Method::DELETE, "/docs/index.html", "GET, HEAD"),
        (Method::POST, "/openapi.json", "GET, HEAD"),
        // The static segment wins: not GET /v1/payment-plans/{id} with a bad id.
        (Method::GET, "/v1/payment-plans/preview", "POST"),
    ] {
        // Authenticated or not: the method is wrong whoever asks.
        for res in [
            app.as_user(&admin, method.clone(), path).send().await?,
            app.anon(method.clone(), path).send().await?,
        ] {
            assert_eq!(header(&res, "allow"), allow, "{method} {path}");
            let problem =
                expect_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await?;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(allow),
                "{problem}"
            );
        }
    }
    for (method, path) in [
        (Method::GET, "/v1/nothing"),
        (Method::DELETE, "/v1/nothing"),
        (Method::OPTIONS, "/v1/customers/"),
        (Method::GET, "/v2/customers"),
    ] {
        let res = app.as_user(&admin, method.clone(), path).send().await?;
        assert!(res.headers().get("allow").is_none(), "{method} {path}");
        expect_problem(res, StatusCode::NOT_FOUND, "route_not_found").await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_the_get_without_its_body() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    for path in [
        "/v1/customers",
        "/v1/me",
        "/healthz",
        "/openapi.json",
        "/docs/",
    ] {
        let get = app.as_user(&collector, Method::GET, path).send().await?;
        let head = app.as_user(&collector, Method::HEAD, path).send().await?;
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        for name in ["content-type", "content-length", "etag"] {
            assert_eq!(header(&head, name), header(&get, name), "{path}: {name}");
        }
        assert!(!header(&head, "content-length").is_empty(), "{path}");
        assert_eq!(head.text().await?, "", "{path}: HEAD has no body");
        assert!(!get.text().await?.is_empty(), "{path}");
    }
    // HEAD answers as GET would: unauthenticated is 401, without a body.
    let head = app.anon(Method::HEAD, "/v1/customers").send().await?;
    assert_eq!(head.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&head, "content-type"), "application/problem+json");
    assert_eq!(head.text().await?, "");
    // A path without GET has no HEAD either.
    let head = app
        .as_user(&collector, Method::HEAD, "/v1/payment-plans/preview")
        .send()
        .await?;
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&head, "allow"), "POST");
    Ok(())
}
