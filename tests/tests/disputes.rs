//! Disputes through the API: every role and the 404 rule, validation that writes
//! nothing, PATCH with If-Match, resolution valid (credit memos through the ledger, the
//! balance follows) and invalid, and the overdue follow-up task, once.

use anyhow::Result;
use chrono::{TimeZone, Utc};
use recoup_core::user::Role;
use recoup_core::{Context, db, dispute};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn open(app: &TestApp, user: &TestUser, body: Value) -> Result<Value> {
    let (status, created) = read(
        app.as_user(user, Method::POST, "/v1/disputes")
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{status} {created}");
    Ok(created)
}

async fn invoice(app: &TestApp, user: &TestUser, inv: &Value) -> Result<Value> {
    let (_, got) = read(
        app.as_user(user, Method::GET, &format!("/v1/invoices/{}", id_of(inv)))
            .send()
            .await?,
    )
    .await?;
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_resolve_through_the_ledger() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&acme, Some(collector.id), None).await?;
    let a = app
        .invoice(&acme, "D-A", "1000.00", "2026-01-10", "2026-02-09")
        .await?;
    let b = app
        .invoice(&acme, "D-B", "200.00", "2026-01-10", "2026-02-09")
        .await?;
    let other = app
        .customer(json!({"name": "Other", "kind": "commercial", "currency": "EUR"}))
        .await?;
    let o = app
        .invoice(&other, "D-O", "50.00", "2026-01-10", "2026-02-09")
        .await?;

    // Bad input: each refused, nothing written.
    let cases = [
        (
            json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "1000.01"}], "reason_code": "pricing"}),
            "exceeds_open_balance",
        ),
        (
            json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "-1.00"}], "reason_code": "pricing"}),
            "not_positive",
        ),
        (
            json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "1.001"}], "reason_code": "pricing"}),
            "too_many_decimals",
        ),
        (
            json!({"customer_id": acme["id"], "invoices": [], "reason_code": "pricing"}),
            "invalid_length",
        ),
        (
            json!({"customer_id": acme["id"], "invoices": [{"invoice_id": o["id"], "amount": "1.00"}], "reason_code": "pricing"}),
            "unknown_invoice",
        ),
        (
            json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "1.00"}], "reason_code": "pricing", "due_on": "2026-03-01"}),
            "in_past",
        ),
    ];
    for (body, code) in cases {
        let res = app
            .as_user(&collector, Method::POST, "/v1/disputes")
            .json(&body)
            .send()
            .await?;
        let problem =
            expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    let res = app.as_user(&collector, Method::POST, "/v1/disputes")
        .json(&json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "1.00"}], "reason_code": "bribery"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT id FROM disputes").await?, 0);

    let pricing = open(&app, &collector, json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "300.00"}, {"invoice_id": b["id"], "amount": "200.00"}], "reason_code": "pricing", "description": "Old price list"})).await?;
    assert_eq!(pricing["amount"], "500.00");
    assert_eq!(pricing["status"], "open");
    assert_eq!(pricing["owner_id"], json!(collector.id));
    assert_eq!(pricing["due_on"], "2026-03-16");
    // What is already disputed cannot be disputed twice.
    let res = app.as_user(&collector, Method::POST, "/v1/disputes")
        .json(&json!({"customer_id": acme["id"], "invoices": [{"invoice_id": b["id"], "amount": "0.01"}], "reason_code": "tax"}))
        .send().await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "invoice_not_open");
    let quantity = open(&app, &collector, json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a["id"], "amount": "100.00"}], "reason_code": "quantity", "due_on": "2026-03-05"})).await?;

    // PATCH needs If-Match; a stale tag is refused.
    let res = app
        .as_user(
            &collector,
            Method::PATCH,
            &format!("/v1/disputes/{}", id_of(&quantity)),
        )
        .json(&json!({"status": "investigating"}))
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::PRECONDITION_REQUIRED,
        "precondition_required",
    )
    .await?;
    let res = app
        .as_user(
            &collector,
            Method::GET,
            &format!("/v1/disputes/{}", id_of(&quantity)),
        )
        .send()
        .await?;
    let tag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, working) = read(
        app.as_user(
            &collector,
            Method::PATCH,
            &format!("/v1/disputes/{}", id_of(&quantity)),
        )
        .header("if-match", &tag)
        .json(&json!({"status": "investigating", "root_cause": "Short shipment"}))
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{working}");
    assert_eq!(working["status"], "investigating");
    let res = app
        .as_user(
            &collector,
            Method::PATCH,
            &format!("/v1/disputes/{}", id_of(&quantity)),
        )
        .header("if-match", &tag)
        .json(&json!({"description": "again"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await?;

    // Collectors may not resolve.
    let res = app
        .as_user(
            &collector,
            Method::POST,
            &format!("/v1/disputes/{}/resolve", id_of(&pricing)),
        )
        .json(&json!({"status": "resolved_valid", "root_cause": "x", "note": "y"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    // Validation of the resolution.
    for (body, code) in [
        (
            json!({"status": "resolved_valid", "credit_amount": "500.01", "root_cause": "x", "note": "y"}),
            "exceeds_dispute",
        ),
        (json!({"status": "resolved_valid", "note": "y"}), "required"),
        (
            json!({"status": "open", "root_cause": "x", "note": "y"}),
            "invalid_value",
        ),
        (
            json!({"status": "resolved_invalid", "credit_amount": "1.00", "root_cause": "x", "note": "y"}),
            "not_allowed",
        ),
    ] {
        let res = app
            .as_user(
                &accountant,
                Method::POST,
                &format!("/v1/disputes/{}/resolve", id_of(&pricing)),
            )
            .json(&body)
            .send()
            .await?;
        let problem =
            expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    assert_eq!(app.count("SELECT id FROM credit_memos").await?, 0);

    // Valid for 400 of the 500: credit memos of 300 on A and 100 on B.
    let (status, resolved) = read(app.as_user(&accountant, Method::POST, &format!("/v1/disputes/{}/resolve", id_of(&pricing)))
        .json(&json!({"status": "resolved_valid", "credit_amount": "400.00", "root_cause": "Price list not updated", "note": "Agreed on the call"}))
        .send().await?).await?;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["dispute"]["status"], "resolved_valid");
    assert_eq!(resolved["dispute"]["credited"], "400.00");
    let memos: Vec<(&str, &str)> = resolved["credit_memos"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["invoice_id"].as_str().unwrap_or_default(),
                m["amount"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        memos,
        vec![
            (a["id"].as_str().unwrap_or_default(), "300.00"),
            (b["id"].as_str().unwrap_or_default(), "100.00")
        ]
    );
    assert_eq!(
        invoice(&app, &accountant, &a).await?["open_balance"],
        "700.00"
    );
    assert_eq!(
        invoice(&app, &accountant, &b).await?["open_balance"],
        "100.00"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT id FROM credit_memos WHERE dispute_id = '{}'",
            id_of(&pricing)
        ))
        .await?,
        2
    );
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/disputes/{}/resolve", id_of(&pricing)),
        )
        .json(&json!({"status": "withdrawn", "note": "again"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "dispute_closed").await?;

    // The overdue dispute tasks its owner once.
    app.clock.set(
        Utc.with_ymd_and_hms(2026, 3, 6, 14, 30, 0)
            .single()
            .unwrap_or_default(),
    );
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    assert_eq!(dispute::follow_up_overdue(&mut conn, &ctx).await?, 1);
    assert_eq!(dispute::follow_up_overdue(&mut conn, &ctx).await?, 0);
    assert_eq!(app.count(&format!("SELECT id FROM tasks WHERE kind = 'dispute_overdue' AND source_id = '{}' AND assignee_id = '{}'", id_of(&quantity), collector.id)).await?, 1);
    let accountant = app.relogin(&accountant).await?;
    let (_, overdue) = read(
        app.as_user(&accountant, Method::GET, "/v1/disputes?overdue=true")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(overdue["data"].as_array().map(Vec::len), Some(1));
    // Invalid: back to collection, balance unchanged, its task closed.
    let (status, resolved) = read(app.as_user(&accountant, Method::POST, &format!("/v1/disputes/{}/resolve", id_of(&quantity)))
        .json(&json!({"status": "resolved_invalid", "root_cause": "Delivery note signed for 12", "note": "Proof of delivery sent"}))
        .send().await?).await?;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["credit_memos"], json!([]));
    assert_eq!(
        invoice(&app, &accountant, &a).await?["open_balance"],
        "700.00"
    );
    assert_eq!(
        app.count("SELECT id FROM tasks WHERE kind = 'dispute_overdue' AND status = 'open'")
            .await?,
        0
    );
    assert_eq!(app.audit_count("dispute.resolve").await?, 2);
    app.check_ledger().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_follow_roles_and_visibility() -> Result<()> {
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
    let m = app
        .invoice(&mine, "R-M", "900.00", "2026-01-10", "2026-02-09")
        .await?;
    let t = app
        .invoice(&theirs, "R-T", "900.00", "2026-01-10", "2026-02-09")
        .await?;
    let admin = app.admin().await?.clone();
    let d_mine = open(&app, &collector, json!({"customer_id": mine["id"], "invoices": [{"invoice_id": m["id"], "amount": "10.00"}], "reason_code": "damaged"})).await?;
    let d_theirs = open(&app, &admin, json!({"customer_id": theirs["id"], "invoices": [{"invoice_id": t["id"], "amount": "10.00"}], "reason_code": "service"})).await?;
    for role in ROLES {
        let user: TestUser = match role {
            Role::Collector => collector.clone(),
            Role::Sales => sales.clone(),
            Role::Admin => admin.clone(),
            other => app.user(other).await?,
        };
        let sees_mine = role != Role::FieldCollector;
        let sees_theirs = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        let writes = matches!(role, Role::Admin | Role::Manager | Role::Collector);
        let resolves = matches!(role, Role::Admin | Role::Manager | Role::Accountant);
        let (status, listed) = read(
            app.as_user(&user, Method::GET, "/v1/disputes")
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{role}");
        let ids: Vec<&str> = listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str())
            .collect();
        assert_eq!(
            ids.contains(&d_mine["id"].as_str().unwrap_or("?")),
            sees_mine,
            "{role}"
        );
        assert_eq!(
            ids.contains(&d_theirs["id"].as_str().unwrap_or("?")),
            sees_theirs,
            "{role}"
        );
        for (x, visible) in [(&d_mine, sees_mine), (&d_theirs, sees_theirs)] {
            let res = app
                .as_user(&user, Method::GET, &format!("/v1/disputes/{}", id_of(x)))
                .send()
                .await?;
            if visible {
                assert_eq!(res.status(), StatusCode::OK, "{role}");
            } else {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
        }
        let res = app.as_user(&user, Method::POST, "/v1/disputes")
            .json(&json!({"customer_id": mine["id"], "invoices": [{"invoice_id": m["id"], "amount": "1.00"}], "reason_code": "other"}))
            .send().await?;
        match (writes, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
            }
            (true, true) => assert_eq!(res.status(), StatusCode::CREATED, "{role}"),
        }
        let res = app
            .as_user(
                &user,
                Method::PATCH,
                &format!("/v1/disputes/{}", id_of(&d_mine)),
            )
            .header("if-match", "*")
            .json(&json!({"description": "seen"}))
            .send()
            .await?;
        match (writes, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
            (true, true) => assert_eq!(res.status(), StatusCode::OK, "{role}"),
        }
        // Resolving a hidden one is 404 for resolvers; a visible one is withdrawn by the first.
        let res = app
            .as_user(
                &user,
                Method::POST,
                &format!("/v1/disputes/{}/resolve", id_of(&d_theirs)),
            )
            .json(&json!({"status": "withdrawn", "note": "customer withdrew"}))
            .send()
            .await?;
        match (resolves, sees_theirs) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
            (true, true) => {
                let s = res.status();
                assert!(
                    s == StatusCode::OK || s == StatusCode::CONFLICT,
                    "{role} {s}"
                );
            }
        }
    }
    Ok(())
}
