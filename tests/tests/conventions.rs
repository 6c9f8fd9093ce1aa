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
