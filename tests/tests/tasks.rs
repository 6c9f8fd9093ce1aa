//! Tasks through the API: every role, the 404 rule, defaults, validation, ETags,
//! pagination and audit events.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_follow_roles_visibility_and_etags() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let field = app.user(Role::FieldCollector).await?;
    let sales = app.user(Role::Sales).await?;
    let mine = app
        .customer(json!({"name": "Mine", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&mine, Some(collector.id), Some(sales.id))
        .await?;
    let theirs = app
        .customer(json!({"name": "Theirs", "kind": "commercial", "currency": "USD"}))
        .await?;
    let new = |customer: &Value| json!({"customer_id": customer["id"], "kind": "call", "title": "Call AP about March", "due_on": "2026-03-05"});

    // The collector's own task defaults to them (the account's collector).
    let (status, task) = read(
        app.as_user(&collector, Method::POST, "/v1/tasks")
            .json(&new(&mine))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    assert_eq!(task["assignee_id"], json!(collector.id));
    assert_eq!(task["status"], "open");
    let res = app
        .as_user(&collector, Method::POST, "/v1/tasks")
        .json(&new(&theirs))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(
        problem["errors"][0]["code"], "unknown_customer",
        "a hidden account is as unknown as a missing one"
    );
    let admin = app.admin().await?.clone();
    let (_, other) = read(
        app.as_user(&admin, Method::POST, "/v1/tasks")
            .json(&new(&theirs))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        other["assignee_id"],
        json!(admin.id),
        "no collector on the account: the caller"
    );

    for role in ROLES {
        let user: TestUser = match role {
            Role::Collector => collector.clone(),
            Role::FieldCollector => field.clone(),
            Role::Sales => sales.clone(),
            Role::Admin => admin.clone(),
            other => app.user(other).await?,
        };
        let sees_mine = role != Role::FieldCollector;
        let sees_theirs = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        let writes = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::FieldCollector | Role::Accountant
        );
        let (status, listed) = read(
            app.as_user(&user, Method::GET, "/v1/tasks?limit=200")
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{role}");
        let ids: Vec<&str> = listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str())
            .collect();
        assert_eq!(
            ids.contains(&task["id"].as_str().unwrap_or("?")),
            sees_mine,
            "{role}"
        );
        assert_eq!(
            ids.contains(&other["id"].as_str().unwrap_or("?")),
            sees_theirs,
            "{role}"
        );
        let customers: Vec<&str> = listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["customer_id"].as_str())
            .collect();
        assert!(
            customers
                .iter()
                .all(|c| (sees_mine && Some(*c) == mine["id"].as_str())
                    || (sees_theirs && Some(*c) == theirs["id"].as_str())),
            "{role}"
        );
        for (t, visible) in [(&task, sees_mine), (&other, sees_theirs)] {
            let path = format!("/v1/tasks/{}", id_of(t));
            let res = app.as_user(&user, Method::GET, &path).send().await?;
            let etag = res
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("\"x\"")
                .to_owned();
            if visible {
                assert_eq!(res.status(), StatusCode::OK, "{role}")
            } else {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
            let res = app
                .as_user(&user, Method::PATCH, &path)
                .header("if-match", etag)
                .json(&json!({"due_on": "2026-03-06"}))
                .send()
                .await?;
            match (writes, visible) {
                (false, _) => {
                    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
                }
                (true, false) => {
                    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
                }
                (true, true) => assert_eq!(res.status(), StatusCode::OK, "{role}"),
            }
        }
        let res = app
            .as_user(&user, Method::POST, "/v1/tasks")
            .json(&new(&mine))
            .send()
            .await?;
        match (writes, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
            }
            (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role}"),
        }
    }

    // Completing needs a fresh ETag; the audit log has every change.
    let path = format!("/v1/tasks/{}", id_of(&task));
    let res = app
        .as_user(&collector, Method::PATCH, &path)
        .json(&json!({"status": "done"}))
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::PRECONDITION_REQUIRED,
        "precondition_required",
    )
    .await?;
    let res = app
        .as_user(&collector, Method::PATCH, &path)
        .header("if-match", "\"stale\"")
        .json(&json!({"status": "done"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await?;
    let res = app.as_user(&collector, Method::GET, &path).send().await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let res = app
        .as_user(&collector, Method::GET, &path)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let (status, done) = read(
        app.as_user(&collector, Method::PATCH, &path)
            .header("if-match", &etag)
            .json(&json!({"status": "done", "assignee_id": field.id}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["status"].as_str(), done["assignee_id"].clone()),
        (Some("done"), json!(field.id))
    );
    let (_, open) = read(
        app.as_user(&collector, Method::GET, "/v1/tasks?status=open&limit=1")
            .send()
            .await?,
    )
    .await?;
    assert!(
        open["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["status"] == "open")
    );
    assert!(
        open["next_cursor"].is_string(),
        "more than one open task pages on"
    );
    let (_, by_assignee) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/tasks?assignee_id={}", field.id),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(by_assignee["data"].as_array().map(Vec::len), Some(1));

    for (body, field_name) in [
        (
            json!({"customer_id": mine["id"], "kind": "Call!", "title": "x", "due_on": "2026-03-05"}),
            "kind",
        ),
        (
            json!({"customer_id": mine["id"], "kind": "call", "title": " ", "due_on": "2026-03-05"}),
            "title",
        ),
        (
            json!({"customer_id": mine["id"], "kind": "call", "title": "x", "due_on": "2026-03-05", "assignee_id": uuid::Uuid::new_v4()}),
            "assignee_id",
        ),
        (
            json!({"customer_id": mine["id"], "kind": "call", "title": "x", "due_on": "soon"}),
            "due_on",
        ),
    ] {
        let problem = expect_problem(
            app.as_user(&collector, Method::POST, "/v1/tasks")
                .json(&body)
                .send()
                .await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], field_name, "{body}");
    }
    // Two at the start, then one each by admin, manager, collector and accountant.
    assert_eq!(app.audit_count("task.create").await?, 6);
    // Two each by admin, manager and accountant, one by the collector, then "done".
    assert_eq!(app.audit_count("task.update").await?, 8);
    Ok(())
}
