//! Payment plans through the API: previews and the policy (exact schedules for
//! 1000.00 / 3, JPY without minor unit, 3-decimal KWD, month-end clamping; the default
//! total from the collectible balance; policy breaches; bad input), saved plans
//! approved by policy and role, cancelled, listed and hidden by the 404 rule, and four
//! months of installments tracked by the worker to completion and to default.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_core::{Context, db, payment_plan};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn preview(app: &TestApp, user: &TestUser, body: Value) -> Result<(StatusCode, Value)> {
    read(
        app.as_user(user, Method::POST, "/v1/payment-plans/preview")
            .json(&body)
            .send()
            .await?,
    )
    .await
}

fn plan(schedule: &Value) -> Vec<(String, String)> {
    schedule["schedule"]["installments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["due_date"].as_str().unwrap_or_default().to_owned(),
                i["amount"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(d, a)| ((*d).to_owned(), (*a).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_are_exact_and_judged_against_the_policy() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let admin = app.admin().await?.clone();
    // Keep weekend dates, so the month-end clamping shows plainly.
    let (status, mut policy) = read(
        app.as_user(&collector, Method::GET, "/v1/payment-plans/policy")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["max_installments"], 12);
    assert_eq!(policy["business_day_rule"], "next");
    policy["business_day_rule"] = json!("keep");
    let manager = app.user(Role::Manager).await?;
    let res = app
        .as_user(&manager, Method::PUT, "/v1/payment-plans/policy")
        .json(&policy)
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let mut bad = policy.clone();
    bad["max_installments"] = json!(0);
    let res = app
        .as_user(&admin, Method::PUT, "/v1/payment-plans/policy")
        .json(&bad)
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "max_installments");
    let res = app
        .as_user(&admin, Method::PUT, "/v1/payment-plans/policy")
        .json(&policy)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);

    let usd = app
        .customer(json!({"name": "Usd", "kind": "commercial", "currency": "USD"}))
        .await?;
    let jpy = app
        .customer(json!({"name": "Yen", "kind": "commercial", "currency": "JPY"}))
        .await?;
    let kwd = app
        .customer(json!({"name": "Dinar", "kind": "commercial", "currency": "KWD"}))
        .await?;
    for c in [&usd, &jpy, &kwd] {
        app.assign(c, Some(collector.id), None).await?;
    }
    let u = app
        .invoice(&usd, "PP-U", "1000.00", "2026-01-01", "2026-01-31")
        .await?;
    let y = app
        .invoice(&jpy, "PP-Y", "10000", "2026-01-01", "2026-01-31")
        .await?;
    let k = app
        .invoice(&kwd, "PP-K", "100.000", "2026-01-01", "2026-01-31")
        .await?;

    // 1000.00 in 3 monthly: 333.33, 333.33, 333.34; no down payment breaches the 10% rule.
    let (status, p) = preview(&app, &collector, json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"})).await?;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["schedule"]["total"], "1000.00");
    assert_eq!(
        plan(&p),
        pairs(&[
            ("2026-03-31", "333.33"),
            ("2026-04-30", "333.33"),
            ("2026-05-31", "333.34")
        ])
    );
    assert_eq!(p["needs_approval"], true);
    assert_eq!(p["policy_breaches"][0]["code"], "down_payment_too_small");
    // With 100.00 down it is within policy.
    let (_, p) = preview(&app, &collector, json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "down_payment": "100.00", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"})).await?;
    assert_eq!(p["needs_approval"], false, "{p}");
    assert_eq!(
        plan(&p),
        pairs(&[
            ("2026-03-02", "100.00"),
            ("2026-03-31", "300.00"),
            ("2026-04-30", "300.00"),
            ("2026-05-31", "300.00")
        ])
    );
    // JPY has no minor unit; KWD has three.
    let (_, p) = preview(&app, &collector, json!({"customer_id": jpy["id"], "invoice_ids": [y["id"]], "down_payment": "1000", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01"})).await?;
    assert_eq!(
        plan(&p).iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
        vec!["1000", "3000", "3000", "3000"]
    );
    let (_, p) = preview(&app, &collector, json!({"customer_id": jpy["id"], "invoice_ids": [y["id"]], "down_payment": "1000", "installment_count": 7, "frequency": "weekly", "first_due_date": "2026-04-01"})).await?;
    let amounts: Vec<String> = plan(&p).into_iter().map(|x| x.1).collect();
    assert_eq!(
        amounts,
        vec![
            "1000", "1286", "1286", "1286", "1286", "1286", "1286", "1284"
        ]
    );
    let (_, p) = preview(&app, &collector, json!({"customer_id": kwd["id"], "invoice_ids": [k["id"]], "total": "100.000", "down_payment": "10.000", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01"})).await?;
    assert_eq!(
        plan(&p).iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
        vec!["10.000", "30.000", "30.000", "30.000"]
    );

    // The total defaults to the collectible balance: open minus disputed.
    let res = app.as_user(&collector, Method::POST, "/v1/disputes")
        .json(&json!({"customer_id": usd["id"], "invoices": [{"invoice_id": u["id"], "amount": "200.00"}], "reason_code": "pricing"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, p) = preview(&app, &collector, json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "down_payment": "80.00", "installment_amount": "250.00", "frequency": "biweekly", "first_due_date": "2026-03-16"})).await?;
    assert_eq!(p["schedule"]["total"], "800.00");
    assert_eq!(
        plan(&p),
        pairs(&[
            ("2026-03-02", "80.00"),
            ("2026-03-16", "250.00"),
            ("2026-03-30", "250.00"),
            ("2026-04-13", "220.00")
        ])
    );

    // Bad input.
    for (body, code) in [
        (
            json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "total": "900.00", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"}),
            "exceeds_collectible",
        ),
        (
            json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "installment_count": 3, "installment_amount": "10.00", "frequency": "monthly", "first_due_date": "2026-03-31"}),
            "one_of",
        ),
        (
            json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-01"}),
            "in_past",
        ),
        (
            json!({"customer_id": usd["id"], "invoice_ids": [y["id"]], "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"}),
            "unknown_invoice",
        ),
        (
            json!({"customer_id": usd["id"], "invoice_ids": [], "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"}),
            "invalid_length",
        ),
        (
            json!({"customer_id": usd["id"], "invoice_ids": [u["id"]], "down_payment": "0.001", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-03-31"}),
            "too_many_decimals",
        ),
    ] {
        let (status, problem) = preview(&app, &collector, body.clone()).await?;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }

    // Every role reads the policy and previews on the accounts it sees.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(&user, Method::GET, "/v1/payment-plans/policy")
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::OK, "{role}");
        let (status, body) = preview(&app, &user, json!({"customer_id": kwd["id"], "invoice_ids": [k["id"]], "down_payment": "10.000", "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01"})).await?;
        let sees = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        if sees {
            assert_eq!(status, StatusCode::OK, "{role} {body}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{role} {body}");
            assert_eq!(body["errors"][0]["code"], "unknown_customer");
        }
    }
    Ok(())
}

fn on(month: u32, day: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, month, day, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

async fn save(app: &TestApp, user: &TestUser, body: Value) -> Result<(StatusCode, Value)> {
    read(
        app.as_user(user, Method::POST, "/v1/payment-plans")
            .json(&body)
            .send()
            .await?,
    )
    .await
}

async fn fetch(app: &TestApp, user: &TestUser, plan: &Value) -> Result<Value> {
    let (status, body) = read(
        app.as_user(
            user,
            Method::GET,
            &format!("/v1/payment-plans/{}", id_of(plan)),
        )
        .send()
        .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {body}");
    Ok(body)
}

fn statuses(plan: &Value) -> Vec<String> {
    plan["installments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_saved_approved_and_cancelled_by_role() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let other = app.user(Role::Collector).await?;
    let manager = app.user(Role::Manager).await?;
    let sales = app.user(Role::Sales).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&acme, Some(collector.id), Some(sales.id))
        .await?;
    let a = app
        .invoice(&acme, "PL-A", "1000.00", "2026-01-01", "2026-02-01")
        .await?;
    let b = app
        .invoice(&acme, "PL-B", "600.00", "2026-01-01", "2026-02-01")
        .await?;
    let c = app
        .invoice(&acme, "PL-C", "500.00", "2026-01-01", "2026-02-01")
        .await?;
    let in_policy = json!({"customer_id": acme["id"], "invoice_ids": [a["id"]], "down_payment": "100.00",
        "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01",
        "note": "Agreed with the controller"});

    // Only collectors, managers and admins make plans; a collector only on their accounts.
    for role in ROLES {
        if matches!(role, Role::Admin | Role::Manager | Role::Collector) {
            continue;
        }
        let user = app.user(role).await?;
        let (status, body) = save(&app, &user, in_policy.clone()).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role} {body}");
    }
    let (status, body) = save(&app, &other, in_policy.clone()).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["code"], "unknown_customer");

    // Within policy: approved at once, waiting for the down payment due today.
    let (status, pa) = save(&app, &collector, in_policy.clone()).await?;
    assert_eq!(status, StatusCode::CREATED, "{pa}");
    assert_eq!(pa["status"], "approved");
    assert_eq!(pa["approved_by"], json!(collector.id));
    assert_eq!(pa["policy_breaches"], json!([]));
    assert_eq!(pa["total_payable"], "1000.00");
    assert_eq!(pa["remaining"], "1000.00");
    assert_eq!(
        statuses(&pa),
        ["due", "scheduled", "scheduled", "scheduled"]
    );
    assert_eq!(pa["installments"][1]["amount"], "300.00");
    assert_eq!(pa["installments"][1]["pay_by"], "2026-04-06");
    assert_eq!(pa["next_installment"]["number"], 0);
    assert_eq!(pa["terms"]["note"], "Agreed with the controller");
    let (status, body) = save(&app, &collector, in_policy.clone()).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "invoice_already_on_plan");

    // Outside policy (no down payment): proposed until a manager approves.
    let (status, pb) = save(
        &app,
        &collector,
        json!({"customer_id": acme["id"], "invoice_ids": [b["id"]],
        "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01"}),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{pb}");
    assert_eq!(pb["status"], "proposed");
    assert_eq!(pb["policy_breaches"][0]["code"], "down_payment_too_small");
    assert_eq!(statuses(&pb), ["scheduled", "scheduled", "scheduled"]);
    let approve = |user: &TestUser, plan: &Value| {
        app.as_user(
            user,
            Method::POST,
            &format!("/v1/payment-plans/{}/approve", id_of(plan)),
        )
        .send()
    };
    // Only managers and admins approve; only plan makers cancel.
    for role in ROLES {
        let user = app.user(role).await?;
        if !matches!(role, Role::Admin | Role::Manager) {
            expect_problem(
                approve(&user, &pb).await?,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await?;
        }
        if !matches!(role, Role::Admin | Role::Manager | Role::Collector) {
            let res = app
                .as_user(
                    &user,
                    Method::POST,
                    &format!("/v1/payment-plans/{}/cancel", id_of(&pb)),
                )
                .json(&json!({"reason": "no"}))
                .send()
                .await?;
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    expect_problem(
        approve(&collector, &pb).await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;
    let (status, approved) = read(approve(&manager, &pb).await?).await?;
    assert_eq!(status, StatusCode::OK, "{approved}");
    // No down payment asked: active at once.
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["approved_by"], json!(manager.id));
    expect_problem(
        approve(&manager, &pb).await?,
        StatusCode::CONFLICT,
        "plan_not_proposed",
    )
    .await?;
    assert_eq!(app.audit_count("payment_plan.approve").await?, 1);

    // A manager's own plan outside policy is approved by making it; fee and interest
    // are billed as an invoice that joins the plan.
    let (status, pc) = save(
        &app,
        &manager,
        json!({"customer_id": acme["id"], "invoice_ids": [c["id"]],
        "installment_count": 2, "frequency": "monthly", "first_due_date": "2026-04-01",
        "fee": "25.00"}),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{pc}");
    assert_eq!(pc["status"], "active");
    assert_eq!(pc["total_payable"], "525.00");
    assert_eq!(pc["installments"][0]["amount"], "262.50");
    let fee_invoice = pc["fee_invoice_id"].clone();
    assert!(
        pc["invoice_ids"]
            .as_array()
            .is_some_and(|ids| ids.contains(&fee_invoice) && ids.contains(&c["id"])),
        "{pc}"
    );
    let (_, fee) = read(
        app.as_user(
            &collector,
            Method::GET,
            &format!("/v1/invoices/{}", fee_invoice.as_str().unwrap_or_default()),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(fee["kind"], "plan_fee");
    assert_eq!(fee["open_balance"], "25.00");
    assert_eq!(fee["due_date"], "2026-05-01");

    // Reading: every role on the accounts it sees; 404 for the others.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                &format!("/v1/payment-plans/{}", id_of(&pa)),
            )
            .send()
            .await?;
        let (status, list) = read(
            app.as_user(
                &user,
                Method::GET,
                &format!("/v1/payment-plans?customer_id={}", id_of(&acme)),
            )
            .send()
            .await?,
        )
        .await?;
        assert_eq!(status, StatusCode::OK, "{role} {list}");
        if matches!(role, Role::Collector | Role::FieldCollector | Role::Sales) {
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{role}");
            assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{role}");
        } else {
            assert_eq!(res.status(), StatusCode::OK, "{role}");
            assert_eq!(list["data"].as_array().map(Vec::len), Some(3), "{role}");
        }
    }
    for user in [&collector, &sales] {
        fetch(&app, user, &pa).await?;
    }
    let (_, other_list) = read(
        app.as_user(&other, Method::GET, "/v1/payment-plans")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(other_list["data"], json!([]));
    for path in ["approve", "cancel"] {
        let res = app
            .as_user(
                &manager,
                Method::POST,
                &format!("/v1/payment-plans/{}/{path}", uuid::Uuid::now_v7()),
            )
            .json(&json!({"reason": "x"}))
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = app
        .as_user(
            &other,
            Method::POST,
            &format!("/v1/payment-plans/{}/cancel", id_of(&pa)),
        )
        .json(&json!({"reason": "not mine"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Filters: newest first, by status and by invoice; a cursor pages on.
    let (_, proposed) = read(
        app.as_user(&manager, Method::GET, "/v1/payment-plans?status=approved")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(proposed["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(proposed["data"][0]["id"], pa["id"]);
    let (_, by_invoice) = read(
        app.as_user(
            &manager,
            Method::GET,
            &format!("/v1/payment-plans?invoice_id={}", id_of(&b)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(by_invoice["data"][0]["id"], pb["id"]);
    let (_, first) = read(
        app.as_user(&manager, Method::GET, "/v1/payment-plans?limit=2")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(first["data"][0]["id"], pc["id"]);
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let (_, second) = read(
        app.as_user(
            &manager,
            Method::GET,
            &format!("/v1/payment-plans?limit=2&cursor={cursor}"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(second["data"][0]["id"], pa["id"]);
    assert_eq!(second["next_cursor"], Value::Null);

    // Cancelling: a reason is needed; a cancelled plan frees its invoices.
    let cancel = |user: &TestUser, plan: &Value, reason: &str| {
        app.as_user(
            user,
            Method::POST,
            &format!("/v1/payment-plans/{}/cancel", id_of(plan)),
        )
        .json(&json!({ "reason": reason }))
        .send()
    };
    let problem = expect_problem(
        cancel(&collector, &pa, " ").await?,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "reason");
    let auditor = app.user(Role::Auditor).await?;
    expect_problem(
        cancel(&auditor, &pa, "no").await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;
    let (status, cancelled) = read(cancel(&collector, &pa, "Paid in full instead").await?).await?;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "Paid in full instead");
    expect_problem(
        cancel(&collector, &pa, "again").await?,
        StatusCode::CONFLICT,
        "plan_closed",
    )
    .await?;
    let (status, again) = save(&app, &collector, in_policy).await?;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    Ok(())
}

/// Four simulated months (March to June 2026) with the worker running on the test
/// clock: a down payment, an on-time, a partial-then-late, an NSF-returned and two
/// missed installments ending in a default; and a plan kept to completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_months_of_installments_end_completed_and_defaulted() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let collector = app.user(Role::Collector).await?;
    let manager = app.user(Role::Manager).await?;
    let accountant = app.user(Role::Accountant).await?;
    let ajax = app
        .customer(json!({"name": "Ajax", "kind": "commercial", "currency": "USD"}))
        .await?;
    let bolt = app
        .customer(json!({"name": "Bolt", "kind": "commercial", "currency": "USD"}))
        .await?;
    for c in [&ajax, &bolt] {
        app.assign(c, Some(collector.id), None).await?;
    }
    let a1 = app
        .invoice(&ajax, "AJ-1", "1000.00", "2026-01-01", "2026-02-01")
        .await?;
    let b1 = app
        .invoice(&bolt, "BO-1", "600.00", "2026-01-01", "2026-02-01")
        .await?;
    // Ajax: 100.00 down today, then 300.00 on the 1st of April, May and June.
    let (status, pa) = save(
        &app,
        &collector,
        json!({"customer_id": ajax["id"], "invoice_ids": [a1["id"]],
        "down_payment": "100.00", "installment_count": 3, "frequency": "monthly",
        "first_due_date": "2026-04-01"}),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{pa}");
    assert_eq!(pa["status"], "approved");
    // Bolt: 200.00 a month, no down payment, made by a manager: active at once.
    let (status, pb) = save(
        &app,
        &manager,
        json!({"customer_id": bolt["id"], "invoice_ids": [b1["id"]],
        "installment_count": 3, "frequency": "monthly", "first_due_date": "2026-04-01"}),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{pb}");
    assert_eq!(pb["status"], "active");

    let worklist = |user: &TestUser| {
        app.as_user(user, Method::GET, "/v1/worklist?include_excluded=true")
            .send()
    };
    let excluded_reason = |list: &Value, customer: &Value| {
        list["excluded"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["customer_id"] == customer["id"])
            .cloned()
            .unwrap_or(Value::Null)
    };
    // While both plans are kept, neither account is chased.
    let (_, list) = read(worklist(&collector).await?).await?;
    assert_eq!(list["data"], json!([]), "{list}");
    assert_eq!(excluded_reason(&list, &bolt)["reason"], "on_plan");
    assert_eq!(
        excluded_reason(&list, &bolt)["detail"],
        "on plan: next installment 200.00 USD due 2026-04-01"
    );

    // 4 March: the down payment, on time (grace runs to the 7th).
    app.clock.set(on(3, 4));
    let accountant = app.relogin(&accountant).await?;
    app.pay(&accountant, &ajax, "2026-03-04", &[(&a1, "100.00")])
        .await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let now = fetch(&app, &collector, &pa).await?;
    assert_eq!(now["status"], "active", "{now}");
    assert_eq!(
        statuses(&now),
        ["paid", "scheduled", "scheduled", "scheduled"]
    );
    assert_eq!(now["installments"][0]["paid_on"], "2026-03-04");

    // 1 April: both installments due; Bolt pays on the day, Ajax 150.00 on the 3rd.
    app.clock.set(on(4, 1));
    let accountant = app.relogin(&accountant).await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    assert_eq!(
        statuses(&fetch(&app, &collector, &pa).await?),
        ["paid", "due", "scheduled", "scheduled"]
    );
    app.pay(&accountant, &bolt, "2026-04-01", &[(&b1, "200.00")])
        .await?;
    app.clock.set(on(4, 3));
    let accountant = app.relogin(&accountant).await?;
    app.pay(&accountant, &ajax, "2026-04-03", &[(&a1, "150.00")])
        .await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let now = fetch(&app, &collector, &pa).await?;
    assert_eq!(
        statuses(&now),
        ["paid", "partially_paid", "scheduled", "scheduled"]
    );
    assert_eq!(now["installments"][1]["paid"], "150.00");
    assert_eq!(now["paid"], "250.00");
    assert_eq!(
        statuses(&fetch(&app, &collector, &pb).await?),
        ["paid", "scheduled", "scheduled"]
    );

    // 7 April: grace ran out on the 6th; the half-paid installment is missed and the
    // account is back on the worklist with that reason.
    app.clock.set(on(4, 7));
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let now = fetch(&app, &collector, &pa).await?;
    assert_eq!(statuses(&now), ["paid", "missed", "scheduled", "scheduled"]);
    assert_eq!(now["missed_installments"], 1);
    assert_eq!(now["status"], "active");
    let (_, list) = read(worklist(&collector).await?).await?;
    assert_eq!(list["data"][0]["customer_id"], ajax["id"], "{list}");
    assert_eq!(
        list["data"][0]["next_action"],
        "call_about_missed_installment"
    );
    assert_eq!(
        list["data"][0]["reasons"][0],
        "plan installment of 150.00 USD missed (due 2026-04-01)"
    );
    assert_eq!(
        app.count("SELECT 1 FROM activities WHERE outcome = 'installment_missed'")
            .await?,
        1
    );

    // 10 April: the rest arrives late; the installment is cured as late, and Ajax is
    // off the list again.
    app.clock.set(on(4, 10));
    let accountant = app.relogin(&accountant).await?;
    app.pay(&accountant, &ajax, "2026-04-10", &[(&a1, "150.00")])
        .await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let now = fetch(&app, &collector, &pa).await?;
    assert_eq!(statuses(&now), ["paid", "late", "scheduled", "scheduled"]);
    assert_eq!(now["next_installment"]["number"], 2);
    let (_, list) = read(worklist(&collector).await?).await?;
    assert_eq!(excluded_reason(&list, &ajax)["reason"], "on_plan", "{list}");

    // 1 May: both pay on time; on the 4th Ajax's payment comes back NSF, which
    // re-opens the installment it paid; on the 7th it is missed.
    app.clock.set(on(5, 1));
    let accountant = app.relogin(&accountant).await?;
    let returned = app
        .pay(&accountant, &ajax, "2026-05-01", &[(&a1, "300.00")])
        .await?;
    app.pay(&accountant, &bolt, "2026-05-01", &[(&b1, "200.00")])
        .await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    assert_eq!(
        statuses(&fetch(&app, &collector, &pa).await?),
        ["paid", "late", "paid", "scheduled"]
    );
    app.clock.set(on(5, 4));
    let accountant = app.relogin(&accountant).await?;
    let (status, body) = read(
        app.money(
            &accountant,
            &format!("/v1/payments/{}/return", id_of(&returned)),
            &json!({"reason": "nsf"}),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let now = fetch(&app, &collector, &pa).await?;
    assert_eq!(
        statuses(&now),
        ["paid", "late", "due", "scheduled"],
        "{now}"
    );
    assert_eq!(now["installments"][2]["paid"], "0.00");
    app.clock.set(on(5, 7));
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    assert_eq!(
        statuses(&fetch(&app, &collector, &pa).await?),
        ["paid", "late", "missed", "scheduled"]
    );

    // 1 June: Bolt's last installment completes its plan.
    app.clock.set(on(6, 1));
    let accountant = app.relogin(&accountant).await?;
    app.pay(&accountant, &bolt, "2026-06-01", &[(&b1, "200.00")])
        .await?;
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let done = fetch(&app, &collector, &pb).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(statuses(&done), ["paid", "paid", "paid"]);
    assert_eq!(done["remaining"], "0.00");
    assert!(done["closed_at"].is_string());

    // 7 June: Ajax's second miss defaults the plan: a task, an activity, a referral
    // candidate, and the account is chased again.
    app.clock.set(on(6, 7));
    app.jobs_done().await?;
    let collector = app.relogin(&collector).await?;
    let defaulted = fetch(&app, &collector, &pa).await?;
    assert_eq!(defaulted["status"], "defaulted", "{defaulted}");
    assert_eq!(statuses(&defaulted), ["paid", "late", "missed", "missed"]);
    assert!(defaulted["referral_candidate_at"].is_string());
    assert_eq!(defaulted["paid"], "400.00");
    assert_eq!(
        app.count(&format!(
            "SELECT 1 FROM tasks WHERE kind = 'plan_default' AND customer_id = '{}' AND assignee_id = '{}'",
            id_of(&ajax),
            collector.id
        ))
        .await?,
        1
    );
    assert_eq!(
        app.count("SELECT 1 FROM activities WHERE outcome = 'plan_defaulted'")
            .await?,
        1
    );
    assert_eq!(
        app.count("SELECT 1 FROM activities WHERE outcome = 'installment_missed'")
            .await?,
        3
    );
    let (_, list) = read(worklist(&collector).await?).await?;
    assert_eq!(list["data"][0]["customer_id"], ajax["id"], "{list}");
    assert_eq!(list["data"][0]["on_plan"], "0.00");

    // Tracking again the same day changes nothing.
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    let audits = app.count("SELECT 1 FROM audit_events").await?;
    let activities = app.count("SELECT 1 FROM activities").await?;
    for customer in [&ajax, &bolt] {
        let again = payment_plan::track_customer(
            &mut conn,
            &Context::system(app.clock_now()),
            id_of(customer),
        )
        .await?;
        assert_eq!(again.installments_changed, 0);
    }
    let again = payment_plan::track_live(&mut conn, &Context::system(app.clock_now())).await?;
    assert_eq!(again.tracked, 0);
    assert_eq!(app.count("SELECT 1 FROM audit_events").await?, audits);
    assert_eq!(app.count("SELECT 1 FROM activities").await?, activities);
    app.check_ledger().await?;
    Ok(())
}
