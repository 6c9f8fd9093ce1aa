//! Activities through the API: every role, the 404 rule, notes for sales, follow-up
//! tasks, validation and the append-only rule.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_follow_roles_visibility_and_make_follow_ups() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let sales = app.user(Role::Sales).await?;
    let mine = app
        .customer(json!({"name": "Mine", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&mine, Some(collector.id), Some(sales.id))
        .await?;
    let theirs = app
        .customer(json!({"name": "Theirs", "kind": "commercial", "currency": "USD"}))
        .await?;
    let call = |customer: &Value| {
        json!({"customer_id": customer["id"], "kind": "call", "direction": "outbound",
               "outcome": "callback_requested", "subject": "Spoke with AP",
               "notes": "Call back after Friday", "follow_up_on": "2026-03-06"})
    };

    let (status, logged) = read(
        app.as_user(&collector, Method::POST, "/v1/activities")
            .json(&call(&mine))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{logged}");
    assert_eq!(logged["actor_id"], json!(collector.id));
    assert_eq!(logged["occurred_at"], "2026-03-02T14:30:00Z");
    let task_id = logged["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, task) = read(
        app.as_user(&collector, Method::GET, &format!("/v1/tasks/{task_id}"))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["kind"], "follow_up");
    assert_eq!(task["due_on"], "2026-03-06");
    assert_eq!(task["assignee_id"], json!(collector.id));
    assert_eq!(task["source_type"], "activity");
    assert_eq!(task["source_id"], logged["id"]);
    assert_eq!(app.audit_count("activity.create").await?, 1);

    // A hidden account is as unknown as a missing one.
    let res = app
        .as_user(&collector, Method::POST, "/v1/activities")
        .json(&call(&theirs))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "unknown_customer");

    let admin = app.admin().await?.clone();
    let (status, other) = read(
        app.as_user(&admin, Method::POST, "/v1/activities")
            .json(&json!({"customer_id": theirs["id"], "kind": "note", "notes": "Owner changed"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_eq!(other["task_id"], Value::Null);

    for role in ROLES {
        let user: TestUser = match role {
            Role::Collector => collector.clone(),
            Role::Sales => sales.clone(),
            Role::Admin => admin.clone(),
            other => app.user(other).await?,
        };
        let sees_mine = role != Role::FieldCollector;
        let sees_theirs = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        let logs = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::FieldCollector
        );
        let notes = logs || matches!(role, Role::Sales | Role::Accountant);
        let (status, listed) = read(
            app.as_user(&user, Method::GET, "/v1/activities?limit=200")
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{role}");
        let ids: Vec<&str> = listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["id"].as_str())
            .collect();
        assert_eq!(
            ids.contains(&logged["id"].as_str().unwrap_or("?")),
            sees_mine,
            "{role}"
        );
        assert_eq!(
            ids.contains(&other["id"].as_str().unwrap_or("?")),
            sees_theirs,
            "{role}"
        );
        for (a, visible) in [(&logged, sees_mine), (&other, sees_theirs)] {
            let res = app
                .as_user(&user, Method::GET, &format!("/v1/activities/{}", id_of(a)))
                .send()
                .await?;
            if visible {
                assert_eq!(res.status(), StatusCode::OK, "{role}");
            } else {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
        }
        let res = app
            .as_user(&user, Method::POST, "/v1/activities")
            .json(&json!({"customer_id": mine["id"], "kind": "call", "outcome": "no_answer"}))
            .send()
            .await?;
        match (logs, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
            }
            (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role}"),
        }
        let res = app
            .as_user(&user, Method::POST, "/v1/activities")
            .json(&json!({"customer_id": mine["id"], "kind": "note", "notes": "Seen at the trade show"}))
            .send()
            .await?;
        match (notes, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
            }
            (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role}"),
        }
    }

    // Filters: by customer and kind, newest first.
    let (_, notes_on_mine) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/activities?customer_id={}&kind=note", id_of(&mine)),
        )
        .send()
        .await?,
    )
    .await?;
    let rows = notes_on_mine["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|a| a["kind"] == "note" && a["customer_id"] == mine["id"])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_refuse_bad_input_and_never_change() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let one = app
        .customer(json!({"name": "One", "kind": "commercial", "currency": "USD"}))
        .await?;
    let two = app
        .customer(json!({"name": "Two", "kind": "commercial", "currency": "USD"}))
        .await?;
    let (status, contact) = read(
        app.as_user(
            &admin,
            Method::POST,
            &format!("/v1/customers/{}/contacts", id_of(&two)),
        )
        .json(&json!({"name": "AP desk", "email": "ap@two.example", "preferred_channel": "email"}))
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{contact}");

    let post = |body: Value| {
        app.as_user(&admin, Method::POST, "/v1/activities")
            .json(&body)
            .send()
    };
    let res = post(
        json!({"customer_id": one["id"], "kind": "note", "direction": "inbound",
                          "occurred_at": "2026-03-03T00:00:00Z", "follow_up_on": "2026-03-01"}),
    )
    .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let codes: Vec<&str> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["required", "not_applicable", "in_future", "in_past"]
    );
    let res = post(json!({"customer_id": one["id"], "kind": "email", "contact_id": contact["id"]}))
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "unknown_contact");
    let res = post(json!({"customer_id": one["id"], "kind": "fax"})).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = post(json!({"customer_id": one["id"], "kind": "call", "mood": "good"})).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT id FROM activities").await?, 0);
    assert_eq!(app.count("SELECT id FROM tasks").await?, 0);

    let res = post(
        json!({"customer_id": two["id"], "kind": "email", "direction": "outbound",
                          "contact_id": contact["id"], "outcome": "sent"}),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let db = app.db.client().await?;
    assert!(
        db.execute("UPDATE activities SET notes = 'x'", &[])
            .await
            .is_err()
    );
    assert!(db.execute("DELETE FROM activities", &[]).await.is_err());
    assert_eq!(app.count("SELECT id FROM activities").await?, 1);
    Ok(())
}
