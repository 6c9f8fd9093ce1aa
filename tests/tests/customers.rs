//! Customers, contacts, assignment and holds through the API: every role's allowed and
//! denied cases, the 404 rule, validation, ETags, pagination and audit events.

use std::collections::HashSet;

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn acme() -> Value {
    json!({
        "external_id": "0379-NEVHP",
        "name": "Acme Industrial",
        "kind": "commercial",
        "currency": "USD",
        "timezone": "America/Chicago",
        "payment_terms_days": 45,
        "credit_limit": "25000.00",
        "risk_rating": "medium"
    })
}

/// A collector's, field collector's and sales rep's own account, and one nobody of them has.
struct Portfolio {
    collector: TestUser,
    field: TestUser,
    sales: TestUser,
    mine: Value,
    field_mine: Value,
    others: Value,
}

async fn portfolio(app: &TestApp) -> Result<Portfolio> {
    let collector = app.user(Role::Collector).await?;
    let field = app.user(Role::FieldCollector).await?;
    let sales = app.user(Role::Sales).await?;
    let mine = app.customer(acme()).await?;
    let mine = app
        .assign(&mine, Some(collector.id), Some(sales.id))
        .await?;
    let field_mine = app
        .customer(json!({"name": "Field Account", "kind": "consumer", "currency": "USD"}))
        .await?;
    let field_mine = app.assign(&field_mine, Some(field.id), None).await?;
    let others = app.customer(json!({"name": "Someone Else's", "kind": "commercial", "currency": "EUR", "timezone": "Europe/Berlin"})).await?;
    Ok(Portfolio {
        collector,
        field,
        sales,
        mine,
        field_mine,
        others,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_read_a_customer_with_every_field() -> Result<()> {
    let app = TestApp::spawn().await?;
    let manager = app.user(Role::Manager).await?;
    let collector = app.user(Role::Collector).await?;
    let mut body = acme();
    body["assigned_collector_id"] = json!(collector.id);
    body["do_not_contact"] = json!(true);
    body["attorney_represented"] = json!(true);
    let res = app
        .as_user(&manager, Method::POST, "/v1/customers")
        .json(&body)
        .send()
        .await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, created) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["credit_limit"], "25000.00");
    assert_eq!(created["payment_terms_days"], 45);
    assert_eq!(created["timezone"], "America/Chicago");
    assert_eq!(created["assigned_collector_id"], json!(collector.id));
    assert_eq!(created["do_not_contact"], true);
    assert_eq!(created["attorney_represented"], true);
    assert_eq!(created["cease_communication"], false);
    assert_eq!(created["credit_hold"], false);
    assert_eq!(created["collection_hold"], Value::Null);

    let id = id_of(&created);
    let res = app
        .as_user(&manager, Method::GET, &format!("/v1/customers/{id}"))
        .send()
        .await?;
    let get_etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, fetched) = read(res).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created, "what was returned is what was stored");
    assert_eq!(get_etag, etag);

    let defaults = app.customer(json!({"name": "Yen Co", "kind": "consumer", "currency": "JPY", "credit_limit": "150000"})).await?;
    assert_eq!(defaults["timezone"], "UTC");
    assert_eq!(defaults["payment_terms_days"], 30);
    assert_eq!(defaults["credit_limit"], "150000");

    let audit: Value = app
        .db
        .client()
        .await?
        .query_one(
            "SELECT after FROM audit_events WHERE action = 'customer.create' AND entity_id = $1",
            &[&id],
        )
        .await?
        .get(0);
    assert_eq!(audit["name"], "Acme Industrial");
    let actor: Option<uuid::Uuid> = app
        .db
        .client()
        .await?
        .query_one(
            "SELECT actor_id FROM audit_events WHERE action = 'customer.create' AND entity_id = $1",
            &[&id],
        )
        .await?
        .get(0);
    assert_eq!(actor, Some(manager.id));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_customers_are_refused_with_every_field_named_and_nothing_written() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let sales = app.user(Role::Sales).await?;
    let post = |body: Value| {
        app.as_user(&admin, Method::POST, "/v1/customers")
            .json(&body)
            .send()
    };

    let res = post(json!({
        "name": "  ", "kind": "commercial", "currency": "usd", "timezone": "Mars/Olympus",
        "payment_terms_days": 400, "sales_rep_id": admin.id
    }))
    .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let codes: HashSet<(String, String)> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("name", "invalid_length"),
        ("currency", "unknown_currency"),
        ("timezone", "unknown_timezone"),
        ("payment_terms_days", "out_of_range"),
        ("sales_rep_id", "not_a_sales_rep"),
    ] {
        assert!(
            codes.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {codes:?}"
        );
    }

    let cases = [
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "credit_limit": "10.005"}),
            "credit_limit",
            "too_many_decimals",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "JPY", "credit_limit": "10.5"}),
            "credit_limit",
            "too_many_decimals",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "credit_limit": "-1.00"}),
            "credit_limit",
            "negative_amount",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "credit_limit": 1000.5}),
            "credit_limit",
            "invalid_value",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "credit_limit": "12abc"}),
            "credit_limit",
            "invalid_value",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "XAU"}),
            "currency",
            "unknown_currency",
        ),
        (
            json!({"name": "A", "kind": "wholesale", "currency": "USD"}),
            "kind",
            "invalid_value",
        ),
        (
            json!({"name": "A", "kind": "commercial"}),
            "currency",
            "required",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "colour": "red"}),
            "colour",
            "unknown_field",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "assigned_collector_id": uuid::Uuid::new_v4()}),
            "assigned_collector_id",
            "unknown_user",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "assigned_collector_id": sales.id}),
            "assigned_collector_id",
            "not_a_collector",
        ),
        (
            json!({"name": "A", "kind": "commercial", "currency": "USD", "assigned_collector_id": "not-a-uuid"}),
            "assigned_collector_id",
            "invalid_value",
        ),
    ];
    for (body, field, code) in cases {
        let problem = expect_problem(
            post(body.clone()).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await?;
        let hit = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["field"] == field && e["code"] == code);
        assert!(hit, "{body} → expected {field}/{code}, got {problem}");
    }

    // Malformed bodies, wrong media type and oversize bodies are 4xx problems too.
    let res = app
        .as_user(&admin, Method::POST, "/v1/customers")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "malformed_json").await?;
    let res = app
        .as_user(&admin, Method::POST, "/v1/customers")
        .header("content-type", "text/plain")
        .body("name=A")
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    let res = app
        .as_user(&admin, Method::POST, "/v1/customers")
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{}\"}}", "x".repeat(300 * 1024)))
        .send()
        .await?;
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    let res = app
        .as_user(&admin, Method::POST, "/v1/customers")
        .json(&json!([1, 2]))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;

    assert_eq!(
        app.count("SELECT 1 FROM customers").await?,
        0,
        "nothing was written"
    );
    assert_eq!(app.audit_count("customer.create").await?, 0);

    app.customer(acme()).await?;
    let res = post(acme()).await?;
    expect_problem(res, StatusCode::CONFLICT, "external_id_taken").await?;
    assert_eq!(app.count("SELECT 1 FROM customers").await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reads_only_what_it_may_see() -> Result<()> {
    let app = TestApp::spawn().await?;
    let p = portfolio(&app).await?;
    let all: HashSet<String> = [&p.mine, &p.field_mine, &p.others]
        .iter()
        .map(|c| id_of(c).to_string())
        .collect();
    let list = |user: &TestUser| app.as_user(user, Method::GET, "/v1/customers").send();
    let ids = |v: &Value| -> HashSet<String> {
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect()
    };

    for role in ROLES {
        let user = match role {
            Role::Collector => p.collector.clone(),
            Role::FieldCollector => p.field.clone(),
            Role::Sales => p.sales.clone(),
            other => app.user(other).await?,
        };
        let (status, body) = read(list(&user).await?).await?;
        assert_eq!(status, StatusCode::OK, "{role}");
        let expected: HashSet<String> = match role {
            Role::Collector | Role::Sales => [id_of(&p.mine).to_string()].into(),
            Role::FieldCollector => [id_of(&p.field_mine).to_string()].into(),
            _ => all.clone(),
        };
        assert_eq!(ids(&body), expected, "{role} list");
        for customer in [&p.mine, &p.field_mine, &p.others] {
            let id = id_of(customer);
            let visible = expected.contains(&id.to_string());
            for path in [
                format!("/v1/customers/{id}"),
                format!("/v1/customers/{id}/contacts"),
                format!("/v1/customers/{id}/holds"),
            ] {
                let res = app.as_user(&user, Method::GET, &path).send().await?;
                if visible {
                    assert_eq!(res.status(), StatusCode::OK, "{role} {path}");
                } else {
                    // Exactly the answer for an id that does not exist.
                    let hidden = expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
                    let missing_path =
                        path.replace(&id.to_string(), &uuid::Uuid::new_v4().to_string());
                    let missing = expect_problem(
                        app.as_user(&user, Method::GET, &missing_path)
                            .send()
                            .await?,
                        StatusCode::NOT_FOUND,
                        "not_found",
                    )
                    .await?;
                    assert_eq!(hidden, missing, "{role} {path}");
                }
            }
        }
    }
    // A collector cannot widen their view with filters.
    let res = app
        .as_user(
            &p.collector,
            Method::GET,
            &format!("/v1/customers?collector_id={}", p.field.id),
        )
        .send()
        .await?;
    let (_, body) = read(res).await?;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_writes_only_what_it_may() -> Result<()> {
    let app = TestApp::spawn().await?;
    let p = portfolio(&app).await?;
    let new_customer = json!({"name": "Created By Role", "kind": "commercial", "currency": "USD"});
    for role in ROLES {
        let user = match role {
            Role::Collector => p.collector.clone(),
            Role::FieldCollector => p.field.clone(),
            Role::Sales => p.sales.clone(),
            other => app.user(other).await?,
        };
        let own = match role {
            Role::FieldCollector => &p.field_mine,
            _ => &p.mine,
        };
        let own_id = id_of(own);
        let others_id = id_of(&p.others);
        let sees_others = matches!(
            role,
            Role::Admin | Role::Manager | Role::Accountant | Role::Auditor
        );

        // Create.
        let res = app
            .as_user(&user, Method::POST, "/v1/customers")
            .json(&new_customer)
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Manager | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::CREATED, "{role} create");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }

        // Patch own / other.
        let may_update = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::Accountant
        );
        for (id, visible) in [(own_id, true), (others_id, sees_others)] {
            let res = app
                .as_user(&user, Method::GET, &format!("/v1/customers/{id}"))
                .send()
                .await?;
            let etag = res
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("\"none\"")
                .to_owned();
            let res = app
                .as_user(&user, Method::PATCH, &format!("/v1/customers/{id}"))
                .header("if-match", etag)
                .json(&json!({"risk_rating": "high"}))
                .send()
                .await?;
            match (may_update, visible) {
                (false, _) => {
                    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
                }
                (true, false) => {
                    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
                }
                (true, true) => assert_eq!(res.status(), StatusCode::OK, "{role} patch"),
            }
        }

        // Assignment: managers and admins only.
        let res = app
            .as_user(
                &user,
                Method::PUT,
                &format!("/v1/customers/{others_id}/assignment"),
            )
            .json(&json!({"assigned_collector_id": null, "sales_rep_id": null}))
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Manager) {
            assert_eq!(res.status(), StatusCode::OK, "{role} assign");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }

        // Holds: collectors on their own accounts, managers, admins.
        let may_hold = matches!(role, Role::Admin | Role::Manager | Role::Collector);
        for (id, visible) in [(own_id, true), (others_id, sees_others)] {
            let res = app
                .as_user(&user, Method::POST, &format!("/v1/customers/{id}/holds"))
                .json(&json!({"kind": "collection", "reason": format!("{role} hold")}))
                .send()
                .await?;
            match (may_hold, visible) {
                (false, _) => {
                    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
                }
                (true, false) => {
                    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
                }
                (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role} hold"),
            }
        }

        // Contacts: field collectors too (they meet people); not sales or auditors.
        let may_contact = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::FieldCollector
        );
        for (id, visible) in [(own_id, true), (others_id, sees_others)] {
            let res = app
                .as_user(&user, Method::POST, &format!("/v1/customers/{id}/contacts"))
                .json(&json!({"name": "Pat", "preferred_channel": "letter"}))
                .send()
                .await?;
            match (may_contact, visible) {
                (false, _) => {
                    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
                }
                (true, false) => {
                    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
                }
                (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role} contact"),
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_needs_a_fresh_etag_and_304_saves_the_body() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let customer = app.customer(acme()).await?;
    let path = format!("/v1/customers/{}", id_of(&customer));

    let res = app.as_user(&admin, Method::GET, &path).send().await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10);
    let res = app
        .as_user(&admin, Method::GET, &path)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.text().await?.is_empty());

    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .json(&json!({"name": "Renamed"}))
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::PRECONDITION_REQUIRED,
        "precondition_required",
    )
    .await?;
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", "\"stale\"")
        .json(&json!({"name": "Renamed"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await?;

    let patch = json!({"name": "Acme Renamed", "credit_limit": "30000.50", "risk_rating": null, "cease_communication": true, "external_id": null});
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&patch)
        .send()
        .await?;
    let new_etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, updated) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Acme Renamed");
    assert_eq!(updated["credit_limit"], "30000.50");
    assert_eq!(updated["risk_rating"], Value::Null);
    assert_eq!(updated["external_id"], Value::Null);
    assert_eq!(updated["cease_communication"], true);
    assert_eq!(updated["currency"], "USD", "untouched fields stay");
    assert_ne!(new_etag, etag);

    // The old ETag is now stale; the old If-None-Match no longer matches.
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"name": "Lost update"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await?;
    let res = app
        .as_user(&admin, Method::GET, &path)
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);

    // Invalid patches change nothing.
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", &new_etag)
        .json(&json!({"currency": "JPY"}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(
        problem["errors"][0]["field"], "credit_limit",
        "a limit with cents cannot become yen"
    );
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", &new_etag)
        .json(&json!({"name": "", "timezone": "Nowhere"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .as_user(&admin, Method::PATCH, &path)
        .header("if-match", &new_etag)
        .json(&json!({"assigned_collector_id": null}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let (_, after) = read(app.as_user(&admin, Method::GET, &path).send().await?).await?;
    assert_eq!(after, updated);
    assert_eq!(app.audit_count("customer.update").await?, 1);
    let before: Value = app
        .db
        .client()
        .await?
        .query_one(
            "SELECT before FROM audit_events WHERE action = 'customer.update'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(before["name"], "Acme Industrial");

    // Credit limits are for managers and admins; collectors may edit the rest.
    let collector = app.user(Role::Collector).await?;
    app.assign(&customer, Some(collector.id), None).await?;
    let res = app.as_user(&collector, Method::GET, &path).send().await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let res = app
        .as_user(&collector, Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"credit_limit": "1.00"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let res = app
        .as_user(&collector, Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"do_not_contact": true}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_walks_every_customer_once_in_every_sort() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let mut expected = Vec::new();
    for i in 0..23 {
        // Duplicate names exercise the id tie-break.
        let name = format!("Customer {:02}", i % 17);
        let c = app.customer(json!({"name": name, "kind": "commercial", "currency": "USD", "external_id": format!("EXT-{i:03}")})).await?;
        expected.push(id_of(&c).to_string());
        app.clock
            .advance(chrono::Duration::seconds(if i % 5 == 0 { 0 } else { 1 }));
    }
    for sort in ["name", "-name", "created_at", "-created_at"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/customers?limit=5&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) =
                read(app.as_user(&admin, Method::GET, &path).send().await?).await?;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            let rows = page["data"].as_array().cloned().unwrap_or_default();
            assert!(rows.len() <= 5);
            seen.extend(rows.iter().map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["created_at"].as_str().unwrap_or_default().to_owned(),
                )
            }));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            // Writes between pages do not disturb the walk.
            if pages == 2 && sort == "name" {
                let c = app.customer(json!({"name": "AAA Inserted Before", "kind": "consumer", "currency": "USD"})).await?;
                let _ = c;
            }
        }
        let ids: Vec<&String> = seen.iter().map(|s| &s.0).collect();
        let unique: HashSet<&String> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{sort}: no duplicates");
        for id in &expected {
            assert!(unique.contains(id), "{sort}: no gaps");
        }
        let keys: Vec<(String, String)> = seen
            .iter()
            .map(|(id, name, created)| {
                if sort.ends_with("name") {
                    (name.clone(), id.clone())
                } else {
                    (created.clone(), id.clone())
                }
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if sort.starts_with('-') {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{sort}: ordered");
    }
    let (_, page) = read(
        app.as_user(&admin, Method::GET, "/v1/customers?limit=5&sort=name")
            .send()
            .await?,
    )
    .await?;
    let cursor = page["next_cursor"].as_str().unwrap_or_default();
    let res = app
        .as_user(
            &admin,
            Method::GET,
            &format!("/v1/customers?sort=created_at&cursor={cursor}"),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
    for bad in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=%%%",
        "cursor=bm9wZQ",
        "sort=size",
        "bankrupt=maybe",
        "collector_id=nope",
        "unknown=1",
    ] {
        let res = app
            .as_user(&admin, Method::GET, &format!("/v1/customers?{bad}"))
            .send()
            .await?;
        expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
    }
    let (_, page) = read(
        app.as_user(&admin, Method::GET, "/v1/customers?limit=200")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(24));
    assert_eq!(page["next_cursor"], Value::Null);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_narrow_the_list() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let p = portfolio(&app).await?;
    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    let get = |q: String| {
        app.as_user(&admin, Method::GET, &format!("/v1/customers?{q}"))
            .send()
    };
    let (_, r) = read(get(format!("collector_id={}", p.collector.id)).await?).await?;
    assert_eq!(names(&r), ["Acme Industrial"]);
    let (_, r) = read(get(format!("sales_rep_id={}", p.sales.id)).await?).await?;
    assert_eq!(names(&r), ["Acme Industrial"]);
    let (_, r) = read(get("unassigned=true".into()).await?).await?;
    assert_eq!(names(&r), ["Someone Else's"]);
    let (_, r) = read(get("kind=consumer".into()).await?).await?;
    assert_eq!(names(&r), ["Field Account"]);
    let (_, r) = read(get("currency=eur".into()).await?).await?;
    assert_eq!(names(&r), ["Someone Else's"]);
    let (_, r) = read(get("q=acme".into()).await?).await?;
    assert_eq!(names(&r), ["Acme Industrial"]);
    let (_, r) = read(get("q=0379".into()).await?).await?;
    assert_eq!(names(&r), ["Acme Industrial"], "external id prefix");
    let (_, r) = read(get("q=%25".into()).await?).await?;
    assert_eq!(names(&r).len(), 0, "wildcards match literally");
    let id = id_of(&p.others);
    let res = app
        .as_user(&admin, Method::POST, &format!("/v1/customers/{id}/holds"))
        .json(&json!({"kind": "credit", "reason": "over limit"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, r) = read(get("credit_hold=true".into()).await?).await?;
    assert_eq!(names(&r), ["Someone Else's"]);
    let (_, r) = read(get("credit_hold=false&kind=commercial".into()).await?).await?;
    assert_eq!(names(&r), ["Acme Industrial"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_placed_expire_by_the_clock_and_are_released() -> Result<()> {
    let app = TestApp::spawn().await?;
    let p = portfolio(&app).await?;
    let id = id_of(&p.mine);
    let holds = format!("/v1/customers/{id}/holds");
    let until = app.clock_now() + chrono::Duration::days(10);
    let res = app.as_user(&p.collector, Method::POST, &holds)
        .json(&json!({"kind": "collection", "reason": "customer restructuring; CFO asked for ten days", "expires_at": until})).send().await?;
    let (status, change) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{change}");
    assert_eq!(
        change["customer"]["collection_hold"]["reason"],
        "customer restructuring; CFO asked for ten days"
    );
    assert_eq!(change["hold"]["placed_by"], json!(p.collector.id));
    let (_, listed) = read(
        app.as_user(
            &p.collector,
            Method::GET,
            "/v1/customers?collection_hold=true",
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));

    // Eleven days later the hold has lapsed without anyone touching it.
    app.clock.advance(chrono::Duration::days(11));
    let p = Portfolio {
        collector: app.relogin(&p.collector).await?,
        sales: app.relogin(&p.sales).await?,
        ..p
    };
    let (status, customer) = read(
        app.as_user(&p.collector, Method::GET, &format!("/v1/customers/{id}"))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        customer.get("collection_hold").is_some_and(Value::is_null),
        "{customer}"
    );
    let (status, listed) = read(
        app.as_user(
            &p.collector,
            Method::GET,
            "/v1/customers?collection_hold=true",
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0));

    let res = app
        .as_user(&p.collector, Method::POST, &holds)
        .json(&json!({"kind": "credit", "reason": "NSF twice"}))
        .send()
        .await?;
    let (status, credit) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(credit["customer"]["credit_hold"], true);
    let hold_id = credit["hold"]["id"].as_str().unwrap_or_default().to_owned();
    let release = format!("{holds}/{hold_id}/release");
    let (status, released) = read(
        app.as_user(&p.collector, Method::POST, &release)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(released["customer"]["credit_hold"], false);
    assert!(released["hold"]["released_at"].is_string());
    expect_problem(
        app.as_user(&p.collector, Method::POST, &release)
            .send()
            .await?,
        StatusCode::CONFLICT,
        "hold_released",
    )
    .await?;
    let missing = format!("{holds}/{}/release", uuid::Uuid::new_v4());
    expect_problem(
        app.as_user(&p.collector, Method::POST, &missing)
            .send()
            .await?,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await?;
    // Releasing someone else's hold through another account's path is a 404.
    let other_hold = format!("/v1/customers/{}/holds/{hold_id}/release", id_of(&p.others));
    let admin = app.relogin(app.admin().await?).await?;
    expect_problem(
        app.as_user(&admin, Method::POST, &other_hold)
            .send()
            .await?,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await?;
    let sales = p.sales.clone();
    expect_problem(
        app.as_user(&sales, Method::POST, &release).send().await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;

    let (_, history) = read(app.as_user(&p.sales, Method::GET, &holds).send().await?).await?;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(2));

    for (body, field) in [
        (
            json!({"kind": "credit", "reason": "x", "expires_at": until}),
            "expires_at",
        ),
        (
            json!({"kind": "collection", "reason": "x", "expires_at": app.clock_now() - chrono::Duration::hours(1)}),
            "expires_at",
        ),
        (json!({"kind": "collection", "reason": " "}), "reason"),
    ] {
        let problem = expect_problem(
            app.as_user(&p.collector, Method::POST, &holds)
                .json(&body)
                .send()
                .await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    assert_eq!(app.count("SELECT 1 FROM customer_holds").await?, 2);
    assert_eq!(app.audit_count("hold.place").await?, 2);
    assert_eq!(app.audit_count("hold.release").await?, 1);
    assert_eq!(app.audit_count("customer.hold").await?, 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_validated_normalised_and_listed() -> Result<()> {
    let app = TestApp::spawn().await?;
    let p = portfolio(&app).await?;
    let path = format!("/v1/customers/{}/contacts", id_of(&p.mine));
    let body = json!({
        "name": "Dana Whitfield", "role": "AP lead", "email": "dana@northwind.example",
        "phone": "+1 (312) 555-0147", "preferred_channel": "phone", "timezone": "America/Chicago",
        "no_contact_windows": [{"days": ["mon", "tue"], "start": "12:00", "end": "13:30"}], "is_primary": true
    });
    let (status, first) = read(
        app.as_user(&p.collector, Method::POST, &path)
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["phone"], "+13125550147");
    assert_eq!(first["is_primary"], true);
    assert_eq!(
        first["no_contact_windows"][0]["days"],
        json!(["mon", "tue"])
    );
    let second = json!({"name": "Lee", "email": "lee@northwind.example", "preferred_channel": "email", "is_primary": true});
    let (status, _) = read(
        app.as_user(&p.collector, Method::POST, &path)
            .json(&second)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    let (_, listed) = read(app.as_user(&p.sales, Method::GET, &path).send().await?).await?;
    let rows = listed["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "Dana Whitfield");
    assert_eq!(
        rows[0]["is_primary"], false,
        "one primary contact at a time"
    );
    assert_eq!(rows[1]["is_primary"], true);

    let cases = [
        (
            json!({"name": "X", "email": "not-an-email", "preferred_channel": "email"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"name": "X", "phone": "312 555 0147", "preferred_channel": "phone"}),
            "phone",
            "invalid_phone",
        ),
        (
            json!({"name": "X", "phone": "+1 555", "preferred_channel": "sms"}),
            "phone",
            "invalid_phone",
        ),
        (
            json!({"name": "X", "preferred_channel": "email"}),
            "preferred_channel",
            "channel_unreachable",
        ),
        (
            json!({"name": "X", "preferred_channel": "letter", "timezone": "Atlantis/Deep"}),
            "timezone",
            "unknown_timezone",
        ),
        (
            json!({"name": "X", "preferred_channel": "letter", "no_contact_windows": [{"days": [], "start": "12:00", "end": "13:00"}]}),
            "no_contact_windows[0].days",
            "required",
        ),
        (
            json!({"name": "X", "preferred_channel": "letter", "no_contact_windows": [{"days": ["mon"], "start": "25:00", "end": "13:00"}]}),
            "no_contact_windows[0].start",
            "invalid_time",
        ),
        (
            json!({"name": "X", "preferred_channel": "letter", "no_contact_windows": [{"days": ["someday"], "start": "10:00", "end": "13:00"}]}),
            "no_contact_windows[0].days[0]",
            "invalid_value",
        ),
        (
            json!({"name": "", "preferred_channel": "letter"}),
            "name",
            "invalid_length",
        ),
        (
            json!({"name": "X", "preferred_channel": "pigeon"}),
            "preferred_channel",
            "invalid_value",
        ),
    ];
    for (body, field, code) in cases {
        let problem = expect_problem(
            app.as_user(&p.collector, Method::POST, &path)
                .json(&body)
                .send()
                .await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await?;
        let hit = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["field"] == field && e["code"] == code);
        assert!(hit, "{body} → {field}/{code}: {problem}");
    }
    assert_eq!(
        app.count("SELECT 1 FROM contacts").await?,
        2,
        "nothing half-written"
    );
    assert_eq!(app.audit_count("contact.create").await?, 2);

    // Contacts list pages like every list.
    let (_, page) = read(
        app.as_user(&p.collector, Method::GET, &format!("{path}?limit=1"))
            .send()
            .await?,
    )
    .await?;
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let (_, next) = read(
        app.as_user(
            &p.collector,
            Method::GET,
            &format!("{path}?limit=1&cursor={cursor}"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(next["data"][0]["name"], "Lee");
    assert_eq!(next["next_cursor"], Value::Null);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_checks_the_assignees() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let customer = app.customer(acme()).await?;
    let path = format!("/v1/customers/{}/assignment", id_of(&customer));
    let collector = app.user(Role::Collector).await?;
    let field = app.user(Role::FieldCollector).await?;
    let sales = app.user(Role::Sales).await?;
    let (status, assigned) = read(
        app.as_user(&admin, Method::PUT, &path)
            .json(&json!({"assigned_collector_id": field.id, "sales_rep_id": sales.id}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assigned["assigned_collector_id"], json!(field.id));
    let res = app
        .as_user(&admin, Method::PUT, &path)
        .json(&json!({"assigned_collector_id": sales.id, "sales_rep_id": collector.id}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
    let res = app
        .as_user(
            &admin,
            Method::PATCH,
            &format!("/v1/users/{}", collector.id),
        )
        .json(&json!({"active": false}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .as_user(&admin, Method::PUT, &path)
        .json(&json!({"assigned_collector_id": collector.id, "sales_rep_id": null}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "inactive_user");
    let res = app
        .as_user(&admin, Method::PUT, &path)
        .json(&json!({"assigned_collector_id": null}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("/v1/customers/{}/assignment", uuid::Uuid::new_v4()),
        )
        .json(&json!({"assigned_collector_id": null, "sales_rep_id": null}))
        .send()
        .await?;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
    let (_, now) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/customers/{}", id_of(&customer)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(
        now["assigned_collector_id"],
        json!(field.id),
        "refused assignments changed nothing"
    );
    assert_eq!(app.audit_count("customer.assign").await?, 1);

    // The field collector now sees it; after unassigning, no longer.
    assert_eq!(
        app.as_user(
            &field,
            Method::GET,
            &format!("/v1/customers/{}", id_of(&customer))
        )
        .send()
        .await?
        .status(),
        StatusCode::OK
    );
    let res = app
        .as_user(&admin, Method::PUT, &path)
        .json(&json!({"assigned_collector_id": null, "sales_rep_id": sales.id}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    expect_problem(
        app.as_user(
            &field,
            Method::GET,
            &format!("/v1/customers/{}", id_of(&customer)),
        )
        .send()
        .await?,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await?;
    Ok(())
}
