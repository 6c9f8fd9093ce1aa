//! The collector activity report: figures on a constructed day, roles, CSV and bad
//! periods.

use anyhow::Result;
use chrono::Duration;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_activity_counts_what_each_collector_did_and_recovered() -> Result<()> {
    let app = TestApp::spawn().await?;
    let casey = app.user(Role::Collector).await?;
    let chris = app.user(Role::Collector).await?;
    let accountant = app.user(Role::Accountant).await?;
    let mine = app
        .customer(json!({"name": "Mine", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&mine, Some(casey.id), None).await?;
    let euro = app
        .customer(json!({"name": "Euro", "kind": "commercial", "currency": "EUR"}))
        .await?;
    app.assign(&euro, Some(casey.id), None).await?;
    let log = |who, body: Value| {
        app.as_user(who, Method::POST, "/v1/activities")
            .json(&body)
            .send()
    };
    for body in [
        json!({"customer_id": mine["id"], "kind": "call", "outcome": "no_answer"}),
        json!({"customer_id": mine["id"], "kind": "call", "outcome": "promised"}),
        json!({"customer_id": mine["id"], "kind": "call", "outcome": "promised"}),
        json!({"customer_id": mine["id"], "kind": "note", "notes": "Owner on holiday"}),
    ] {
        assert_eq!(log(&casey, body).await?.status(), StatusCode::CREATED);
    }
    // Logged on the day before the period: not counted.
    let (status, early) = read(
        log(
            &casey,
            json!({"customer_id": mine["id"], "kind": "email", "occurred_at": "2026-02-28T23:59:59Z"}),
        )
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{early}");

    app.invoice(&mine, "A-1", "1000.00", "2026-01-01", "2026-01-31")
        .await?;
    let a2 = app
        .invoice(&mine, "A-2", "100.00", "2026-02-01", "2026-02-28")
        .await?;
    app.invoice(&euro, "E-1", "300.00", "2026-01-01", "2026-01-31")
        .await?;
    let a1_id = {
        let (_, list) = read(
            app.as_user(&casey, Method::GET, "/v1/invoices?limit=10")
                .send()
                .await?,
        )
        .await?;
        list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["number"] == "A-1")
            .map(|i| i["id"].clone())
            .unwrap_or(Value::Null)
    };
    for (invoice, amount) in [(&a1_id, "400.00"), (&a2["id"], "100.00")] {
        let res = app
            .as_user(&casey, Method::POST, "/v1/promises")
            .json(&json!({"customer_id": mine["id"], "invoice_ids": [invoice], "amount": amount, "promised_on": "2026-03-02", "grace_days": 0}))
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let pay = |customer: &Value, amount: &str| {
        app.money(
            &accountant,
            "/v1/payments",
            &json!({"customer_id": customer["id"], "received_on": "2026-03-02", "amount": amount, "method": "ach"}),
        )
        .send()
    };
    let (status, kept) = read(pay(&mine, "400.00").await?).await?;
    assert_eq!(status, StatusCode::CREATED, "{kept}");
    let (status, bounced) = read(pay(&mine, "250.00").await?).await?;
    assert_eq!(status, StatusCode::CREATED, "{bounced}");
    let (status, _) = read(pay(&euro, "300.00").await?).await?;
    assert_eq!(status, StatusCode::CREATED);
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{}/return", id_of(&bounced)),
            &json!({"reason": "NSF R01"}),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);

    // The worker would evaluate on each payment; here the evaluation runs directly.
    let pool = recoup_core::db::pool(&app.db.url, 1)?;
    let mut conn = recoup_core::db::conn(&pool).await?;
    let mut evaluated = recoup_core::promise::Evaluation::default();
    recoup_core::promise::evaluate_customer(
        &mut conn,
        &recoup_core::Context::system(app.clock_now()),
        id_of(&mine),
        &mut evaluated,
    )
    .await?;
    assert_eq!(evaluated.kept, 1);

    let manager = app.user(Role::Manager).await?;
    let (status, report) = read(
        app.as_user(
            &manager,
            Method::GET,
            "/v1/reports/collector-activity?from=2026-03-01&to=2026-03-02",
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    let row = |id| {
        report["collectors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["user_id"] == json!(id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let c = row(casey.id);
    assert_eq!(c["activity_count"], 4, "{c}");
    assert_eq!(
        c["activities"],
        json!([
            {"kind": "call", "outcome": "no_answer", "count": 1},
            {"kind": "call", "outcome": "promised", "count": 2},
            {"kind": "note", "outcome": null, "count": 1},
        ])
    );
    // 400 + 250 applied, 250 returned the same day; EUR kept apart.
    assert_eq!(
        c["recovered"],
        json!([{"currency": "EUR", "amount": "300.00"}, {"currency": "USD", "amount": "400.00"}])
    );
    // Two promises recorded, the 400 one kept by the payment that was not returned.
    assert_eq!(
        c["promises"],
        json!([{"currency": "USD", "made": 2, "made_amount": "500.00", "kept": 1, "kept_amount": "400.00",
                "partially_kept": 0, "partially_kept_amount": "0.00", "broken": 0, "broken_amount": "0.00"}])
    );
    let other = row(chris.id);
    assert_eq!(other["activity_count"], 0);
    assert_eq!(other["recovered"], json!([]));

    // The return the next day counts in the next day's period, as a negative.
    app.clock.advance(Duration::days(1));
    let accountant = app.relogin(&accountant).await?;
    let manager = app.relogin(&manager).await?;
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{}/return", id_of(&kept)),
            &json!({"reason": "ACH R10"}),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, next_day) = read(
        app.as_user(
            &manager,
            Method::GET,
            "/v1/reports/collector-activity?from=2026-03-03&to=2026-03-03",
        )
        .send()
        .await?,
    )
    .await?;
    let c = next_day["collectors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["user_id"] == json!(casey.id))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        c["recovered"],
        json!([{"currency": "USD", "amount": "-400.00"}])
    );

    // CSV: one row per figure.
    let res = app
        .as_user(
            &manager,
            Method::GET,
            "/v1/reports/collector-activity?from=2026-03-01&to=2026-03-02",
        )
        .header("accept", "text/csv")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    let mut lines = body.lines();
    assert_eq!(
        lines.next(),
        Some("user_id,name,role,figure,kind,outcome,currency,value")
    );
    assert!(body.contains(&format!("{},", casey.id)));
    assert!(body.contains(",recovered,,,USD,400.00"));
    assert!(body.contains(",activities,call,promised,,2"));

    // Roles: reports are for managers, accountants, auditors and admins.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                "/v1/reports/collector-activity?from=2026-03-01&to=2026-03-02",
            )
            .send()
            .await?;
        if matches!(
            role,
            Role::Admin | Role::Manager | Role::Accountant | Role::Auditor
        ) {
            assert_eq!(res.status(), StatusCode::OK, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }

    // Bad periods.
    for (query, code) in [
        ("from=2026-03-02&to=2026-03-01", "before_from"),
        ("from=2020-01-01&to=2026-03-01", "period_too_long"),
    ] {
        let res = app
            .as_user(
                &manager,
                Method::GET,
                &format!("/v1/reports/collector-activity?{query}"),
            )
            .send()
            .await?;
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
        assert_eq!(problem["errors"][0]["code"], code);
    }
    let res = app
        .as_user(
            &manager,
            Method::GET,
            "/v1/reports/collector-activity?from=2026-13-01&to=x",
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.check_ledger().await?;
    Ok(())
}
