//! Payment-plan previews and the policy through the API: exact schedules (1000.00 / 3,
//! JPY without minor unit, 3-decimal KWD, month-end clamping), the default total from
//! the collectible balance, policy breaches, bad input, roles and visibility.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, read};
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
