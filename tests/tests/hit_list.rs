//! The weekly hit list: sales reps see their own customers, managers everyone's by
//! rep; amounts as of the week (a later payment does not change an earlier week);
//! last activity, promises and disputes; CSV; every role.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Result<Value> {
    let (status, body) = read(app.as_user(user, Method::GET, path).send().await?).await?;
    anyhow::ensure!(status == StatusCode::OK, "{path}: {status} {body}");
    Ok(body)
}

fn customers(list: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for rep in list["reps"].as_array().into_iter().flatten() {
        for c in rep["customers"].as_array().into_iter().flatten() {
            out.push((
                rep["sales_rep_name"].as_str().unwrap_or("-").to_owned(),
                c["customer_name"].as_str().unwrap_or_default().to_owned(),
                c["past_due"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hit_list_groups_past_due_customers_by_rep() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let rep1 = app.user(Role::Sales).await?;
    let rep2 = app.user(Role::Sales).await?;
    let accountant = app.user(Role::Accountant).await?;
    let mk = |name: &str| json!({"name": name, "kind": "commercial", "currency": "USD"});
    let x = app.customer(mk("X Corp")).await?;
    let y = app.customer(mk("Y Ltd")).await?;
    let z = app.customer(mk("Z GmbH")).await?;
    let w = app.customer(mk("W current only")).await?;
    for (c, rep) in [(&x, &rep1), (&y, &rep1), (&z, &rep2), (&w, &rep1)] {
        app.assign(c, Some(collector.id), Some(rep.id)).await?;
    }
    // Today is Monday 2 March 2026 (week 10).
    let x1 = app
        .invoice(&x, "H-X1", "1000.00", "2025-12-20", "2026-01-19")
        .await?;
    app.invoice(&x, "H-X2", "200.00", "2026-02-20", "2026-03-22")
        .await?;
    let y1 = app
        .invoice(&y, "H-Y1", "300.00", "2026-01-20", "2026-02-19")
        .await?;
    app.invoice(&z, "H-Z1", "500.00", "2025-10-01", "2025-10-31")
        .await?;
    app.invoice(&w, "H-W1", "900.00", "2026-02-20", "2026-03-22")
        .await?;
    let res = app.as_user(&collector, Method::POST, "/v1/activities")
        .json(&json!({"customer_id": x["id"], "kind": "call", "direction": "outbound", "outcome": "promised"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.as_user(&collector, Method::POST, "/v1/promises")
        .json(&json!({"customer_id": y["id"], "invoice_ids": [y1["id"]], "amount": "100.00", "promised_on": "2026-03-06"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.as_user(&collector, Method::POST, "/v1/disputes")
        .json(&json!({"customer_id": y["id"], "invoices": [{"invoice_id": y1["id"], "amount": "50.00"}], "reason_code": "pricing"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);

    let mine = get(&app, &rep1, "/v1/reports/hit-list").await?;
    assert_eq!(mine["week"], "2026-W10");
    assert_eq!(mine["as_of"], "2026-03-02");
    let rep1_name = mine["reps"][0]["sales_rep_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        customers(&mine),
        vec![
            (rep1_name.clone(), "X Corp".to_owned(), "1000.00".to_owned()),
            (rep1_name.clone(), "Y Ltd".to_owned(), "300.00".to_owned()),
        ]
    );
    let xr = &mine["reps"][0]["customers"][0];
    assert_eq!(xr["current"], "200.00");
    assert_eq!(
        xr["buckets"],
        json!([{"bucket": "31-60", "amount": "1000.00"}])
    );
    assert_eq!(xr["oldest_days_past_due"], 42);
    assert_eq!(xr["last_activity_kind"], "call");
    assert_eq!(xr["last_activity_outcome"], "promised");
    let yr = &mine["reps"][0]["customers"][1];
    assert_eq!(yr["open_promises"], 1);
    assert_eq!(yr["promised_amount"], "100.00");
    assert_eq!(yr["next_promise_on"], "2026-03-06");
    assert_eq!(yr["open_disputes"], 1);
    assert_eq!(yr["disputed_amount"], "50.00");
    assert_eq!(
        mine["reps"][0]["totals"],
        json!([{"currency": "USD", "past_due": "1300.00"}])
    );
    let res = app
        .as_user(
            &rep1,
            Method::GET,
            &format!("/v1/reports/hit-list?sales_rep_id={}", rep2.id),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;

    // X pays today: this week shows it, last week does not.
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": x["id"], "received_on": "2026-03-02", "amount": "1000.00", "method": "wire", "applications": [{"invoice_id": x1["id"], "amount": "1000.00"}]})).send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let manager = app.user(Role::Manager).await?;
    let now = get(&app, &manager, "/v1/reports/hit-list").await?;
    let rep2_name = now["reps"][1]["sales_rep_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut expected_now = vec![
        (rep1_name.clone(), "Y Ltd".to_owned(), "300.00".to_owned()),
        (rep2_name.clone(), "Z GmbH".to_owned(), "500.00".to_owned()),
    ];
    let mut got = customers(&now);
    got.sort();
    expected_now.sort();
    assert_eq!(got, expected_now);
    let last_week = get(&app, &manager, "/v1/reports/hit-list?week=2026-W09").await?;
    assert_eq!(last_week["as_of"], "2026-03-01");
    let mut got = customers(&last_week);
    got.sort();
    let mut expected = vec![
        (rep1_name.clone(), "X Corp".to_owned(), "1000.00".to_owned()),
        (rep1_name.clone(), "Y Ltd".to_owned(), "300.00".to_owned()),
        (rep2_name.clone(), "Z GmbH".to_owned(), "500.00".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    // Last week, the dispute and promise made today did not exist yet.
    for rep in last_week["reps"].as_array().into_iter().flatten() {
        for c in rep["customers"].as_array().into_iter().flatten() {
            assert_eq!(c["open_disputes"], 0);
            assert_eq!(c["open_promises"], 0);
        }
    }
    let one_rep = get(
        &app,
        &manager,
        &format!("/v1/reports/hit-list?sales_rep_id={}", rep2.id),
    )
    .await?;
    assert_eq!(customers(&one_rep).len(), 1);

    // CSV.
    let res = app
        .as_user(&manager, Method::GET, "/v1/reports/hit-list?week=2026-W09")
        .header("accept", "text/csv")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await?;
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "sales_rep,customer,collector,currency,past_due,current,1-30,31-60,61-90,91-120,120+,oldest_days_past_due,last_activity_on,last_activity,open_promises,promised_amount,next_promise_on,open_disputes,disputed_amount"
        )
    );
    assert_eq!(lines.count(), 3);

    for bad in ["week=2026-10", "week=2026-W11"] {
        let res = app
            .as_user(
                &manager,
                Method::GET,
                &format!("/v1/reports/hit-list?{bad}"),
            )
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    for role in ROLES {
        let user = app.user(role).await?;
        let reads = matches!(
            role,
            Role::Admin | Role::Manager | Role::Sales | Role::Auditor
        );
        let res = app
            .as_user(&user, Method::GET, "/v1/reports/hit-list")
            .send()
            .await?;
        if reads {
            let (status, body) = read(res).await?;
            assert_eq!(status, StatusCode::OK, "{role}");
            // A rep with no customers gets an empty list.
            if role == Role::Sales {
                assert_eq!(body["reps"], json!([]));
            }
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    Ok(())
}
