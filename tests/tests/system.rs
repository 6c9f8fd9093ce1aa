//! System routes, the OpenAPI contract, cross-cutting conventions and the audit log.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, expect_problem, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_spec_matches_the_served_one() -> Result<()> {
    let app = TestApp::spawn().await?;
    let (status, served) = read(app.anon(Method::GET, "/openapi.json").send().await?).await?;
    assert_eq!(status, StatusCode::OK);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    assert!(
        served == committed,
        "openapi/openapi.json is stale: regenerate with `cargo run -q -p recoup-api -- openapi > openapi/openapi.json`"
    );
    assert_eq!(served["openapi"], "3.1.0");
    // Every operation documents its errors as problems, and the secured ones their 401.
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in served["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "{method} {path}: operationId {id:?} is not unique"
            );
            let responses = &op["responses"];
            assert!(responses["500"].is_object(), "{method} {path} lacks 500");
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(responses["401"].is_object(), "{method} {path} lacks 401");
            }
            assert!(op["summary"].is_string(), "{method} {path} lacks a summary");
        }
    }
    for route in [
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/users",
        "/v1/api-keys",
        "/v1/customers",
        "/v1/customers/{id}",
        "/v1/customers/{id}/contacts",
        "/v1/customers/{id}/holds",
        "/v1/customers/{id}/assignment",
        "/v1/audit-events",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(served["paths"][route].is_object(), "{route} undocumented");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_health_readiness_and_metrics() -> Result<()> {
    let app = TestApp::spawn().await?;
    let res = app.anon(Method::GET, "/docs").send().await?;
    assert!(res.status().is_redirection());
    let res = app.anon(Method::GET, "/docs/").send().await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text().await?.contains("swagger"),
        "the vendored Swagger UI is served"
    );
    let (status, health) = read(app.anon(Method::GET, "/healthz").send().await?).await?;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, ready) = read(app.anon(Method::GET, "/readyz").send().await?).await?;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["checks"], json!({"database": "ok", "redis": "ok"}));

    app.anon(Method::GET, "/v1/customers").send().await?;
    let metrics = app
        .anon(Method::GET, "/metrics")
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains(
            r#"recoup_http_requests_total{method="GET",route="/v1/customers",status="401"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("recoup_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("recoup_db_pool_connections{state=\"max\"} 4"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_a_database_that_is_gone() -> Result<()> {
    let app = TestApp::spawn().await?;
    let bystander = recoup_e2e::TestDatabase::create().await?;
    // Terminating the app's connections and refusing new ones takes the database away.
    let client = bystander.client().await?;
    client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS false",
            app.db.name
        ))
        .await?;
    client
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            app.db.name
        ))
        .await?;
    let (status, ready) = read(app.anon(Method::GET, "/readyz").send().await?).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["checks"]["database"], "unavailable");
    assert_eq!(ready["checks"]["redis"], "ok");
    // A request needing the database is a clean 503 problem, not a leak.
    let res = app
        .anon(Method::GET, "/v1/customers")
        .header("x-api-key", "rk_anything")
        .send()
        .await?;
    let problem = expect_problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await?;
    assert!(!problem.to_string().contains("connection"), "{problem}");
    client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
            app.db.name
        ))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_and_unknown_routes() -> Result<()> {
    let app = TestApp::spawn().await?;
    let res = app
        .anon(Method::GET, "/healthz")
        .header("x-request-id", "trace-42")
        .send()
        .await?;
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-42")
    );
    let res = app.anon(Method::GET, "/healthz").send().await?;
    assert!(res.headers().get("x-request-id").is_some());
    let res = app.anon(Method::GET, "/v1/nothing-here").send().await?;
    expect_problem(res, StatusCode::NOT_FOUND, "route_not_found").await?;
    let admin = app.admin().await?;
    let res = app
        .as_user(admin, Method::GET, "/v1/customers/not-a-uuid")
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_path_parameter").await?;

    // The request id is stored with the audit event of the change it made.
    let res = app
        .as_user(admin, Method::POST, "/v1/customers")
        .header("x-request-id", "req-audit-1")
        .json(&json!({"name": "Traced", "kind": "consumer", "currency": "USD"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let stored = app.count("SELECT 1 FROM audit_events WHERE action = 'customer.create' AND request_id = 'req-audit-1'").await?;
    assert_eq!(stored, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_is_readable_by_the_right_roles_and_immutable() -> Result<()> {
    let app = TestApp::spawn().await?;
    let manager = app.user(Role::Manager).await?;
    let created = app
        .customer(json!({"name": "Audited", "kind": "commercial", "currency": "USD"}))
        .await?;
    let id = created["id"].as_str().unwrap_or_default();
    let res = app
        .as_user(&manager, Method::GET, &format!("/v1/customers/{id}"))
        .send()
        .await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let res = app
        .as_user(&manager, Method::PATCH, &format!("/v1/customers/{id}"))
        .header("if-match", etag)
        .json(&json!({"name": "Audited Twice"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);

    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                &format!("/v1/audit-events?entity_type=customer&entity_id={id}"),
            )
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Manager | Role::Auditor) {
            let (status, events) = read(res).await?;
            assert_eq!(status, StatusCode::OK, "{role}");
            let actions: Vec<&str> = events["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["action"].as_str())
                .collect();
            assert_eq!(actions, ["customer.create", "customer.update"], "{role}");
            assert_eq!(events["data"][1]["before"]["name"], "Audited");
            assert_eq!(events["data"][1]["after"]["name"], "Audited Twice");
            assert_eq!(events["data"][1]["actor_id"], json!(manager.id));
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    let auditor = app.user(Role::Auditor).await?;
    let (_, page) = read(
        app.as_user(&auditor, Method::GET, "/v1/audit-events?limit=2")
            .send()
            .await?,
    )
    .await?;
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let (status, next) = read(
        app.as_user(
            &auditor,
            Method::GET,
            &format!("/v1/audit-events?limit=2&cursor={cursor}"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(next["data"][0]["id"], page["data"][0]["id"]);
    let (_, by_actor) = read(
        app.as_user(
            &auditor,
            Method::GET,
            &format!(
                "/v1/audit-events?actor_id={}&action=customer.update",
                manager.id
            ),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(by_actor["data"].as_array().map(Vec::len), Some(1));
    let res = app
        .as_user(&auditor, Method::GET, "/v1/audit-events?from=yesterday")
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;

    // The database itself refuses to rewrite history.
    let client = app.db.client().await?;
    let update = client
        .batch_execute("UPDATE audit_events SET action = 'forged'")
        .await;
    assert!(update.is_err_and(
        |e| e.to_string().contains("append-only") || format!("{e:?}").contains("append-only")
    ));
    assert!(
        client
            .batch_execute("DELETE FROM audit_events")
            .await
            .is_err()
    );
    assert!(client.batch_execute("TRUNCATE audit_events").await.is_err());
    assert_eq!(
        app.count("SELECT 1 FROM audit_events WHERE action = 'forged'")
            .await?,
        0
    );
    Ok(())
}
