//! Promises to pay through the API and the worker: every role and the 404 rule,
//! validation, and outcomes decided at chosen instants (kept on the grace day, kept by
//! two partial payments, paid to another invoice, partially kept, a returned payment
//! turning kept into broken), with tasks and activities, once each.

use std::time::Duration;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use recoup_core::user::Role;
use recoup_core::{Context, db, promise};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

async fn promise(app: &TestApp, user: &TestUser, body: Value) -> Result<Value> {
    let (status, created) = read(
        app.as_user(user, Method::POST, "/v1/promises")
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "{status} {created}");
    Ok(created)
}

/// Polls a promise until it reaches `status` (the worker decides asynchronously).
async fn until(app: &TestApp, user: &TestUser, p: &Value, status: &str) -> Result<Value> {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (code, got) = read(
            app.as_user(user, Method::GET, &format!("/v1/promises/{}", id_of(p)))
                .send()
                .await?,
        )
        .await?;
        anyhow::ensure!(code == StatusCode::OK, "{code} {got}");
        if got["status"] == status {
            return Ok(got);
        }
        last = got;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("promise never became {status}: {last}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promises_are_decided_by_the_worker_at_the_right_instants() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let collector = app.user(Role::Collector).await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&acme, Some(collector.id), None).await?;
    let inv = |n: &str, amount: &str| {
        let app = &app;
        let acme = &acme;
        let n = n.to_owned();
        let amount = amount.to_owned();
        async move {
            app.invoice(acme, &n, &amount, "2026-01-15", "2026-02-14")
                .await
        }
    };
    let a = inv("P-A", "1000.00").await?;
    let b = inv("P-B", "500.00").await?;
    let c = inv("P-C", "300.00").await?;
    let d = inv("P-D", "300.00").await?;
    let e = inv("P-E", "250.00").await?;
    let f = inv("P-F", "500.00").await?;

    let on_grace_day = promise(&app, &collector, json!({"customer_id": acme["id"], "invoice_ids": [a["id"]], "amount": "600.00", "promised_on": "2026-03-10", "grace_days": 2})).await?;
    assert_eq!(on_grace_day["status"], "open");
    assert_eq!(on_grace_day["deadline"], "2026-03-12");
    assert_eq!(on_grace_day["made_on"], "2026-03-02");
    let two_parts = promise(&app, &collector, json!({"customer_id": acme["id"], "invoice_ids": [b["id"]], "amount": "400.00", "promised_on": "2026-03-05", "grace_days": 0})).await?;
    let elsewhere = promise(&app, &collector, json!({"customer_id": acme["id"], "invoice_ids": [c["id"]], "amount": "300.00", "promised_on": "2026-03-05", "grace_days": 1})).await?;
    let returned = promise(&app, &collector, json!({"customer_id": acme["id"], "invoice_ids": [e["id"]], "amount": "250.00", "promised_on": "2026-03-08", "grace_days": 0})).await?;
    let partial = promise(&app, &collector, json!({"customer_id": acme["id"], "invoice_ids": [f["id"]], "amount": "500.00", "promised_on": "2026-03-05"})).await?;
    assert_eq!(partial["grace_days"], 2);

    // 3 March: half of B. 4 March: D (not promised) and part of F. 5 March: rest of B.
    app.clock.set(at(3));
    let accountant = app.relogin(&accountant).await?;
    app.pay(&accountant, &acme, "2026-03-03", &[(&b, "200.00")])
        .await?;
    app.clock.set(at(4));
    let accountant = app.relogin(&accountant).await?;
    app.pay(
        &accountant,
        &acme,
        "2026-03-04",
        &[(&d, "300.00"), (&f, "200.00")],
    )
    .await?;
    app.clock.set(at(5));
    let (accountant, collector) = (
        app.relogin(&accountant).await?,
        app.relogin(&collector).await?,
    );
    app.pay(&accountant, &acme, "2026-03-05", &[(&b, "200.00")])
        .await?;
    let kept = until(&app, &collector, &two_parts, "kept").await?;
    assert_eq!(kept["paid"], "400.00");
    // 6 March: E paid in full, kept before its date.
    app.clock.set(at(6));
    let (accountant, collector) = (
        app.relogin(&accountant).await?,
        app.relogin(&collector).await?,
    );
    let paid_e = app
        .pay(&accountant, &acme, "2026-03-06", &[(&e, "250.00")])
        .await?;
    until(&app, &collector, &returned, "kept").await?;

    // 7 March: the daily run decides what passed its deadline (5 March + grace).
    app.clock.set(at(7));
    let collector = app.relogin(&collector).await?;
    let broken = until(&app, &collector, &elsewhere, "broken").await?;
    assert_eq!(broken["paid"], "0.00");
    // F's promise has two days of grace: its last day is today, still open.
    let (_, f_today) = read(
        app.as_user(
            &collector,
            Method::GET,
            &format!("/v1/promises/{}", id_of(&partial)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(f_today["status"], "open");
    assert_eq!(f_today["paid"], "200.00");
    // Not yet due: still open.
    let (_, still) = read(
        app.as_user(
            &collector,
            Method::GET,
            &format!("/v1/promises/{}", id_of(&on_grace_day)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(still["status"], "open");

    // 12 March, the last day of grace: paid exactly then, kept.
    app.clock.set(at(12));
    let (accountant, collector) = (
        app.relogin(&accountant).await?,
        app.relogin(&collector).await?,
    );
    app.pay(&accountant, &acme, "2026-03-12", &[(&a, "600.00")])
        .await?;
    until(&app, &collector, &on_grace_day, "kept").await?;
    let part = until(&app, &collector, &partial, "partially_kept").await?;
    assert_eq!(part["paid"], "200.00");
    // E's payment comes back after E's date: the promise is broken after all.
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{}/return", id_of(&paid_e)),
            &json!({"reason": "NSF R01"}),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    until(&app, &collector, &returned, "broken").await?;

    // Tasks for the collector and activities, for broken and partial promises only.
    for (p, outcome) in [
        (&elsewhere, "promise_broken"),
        (&partial, "promise_partially_kept"),
        (&returned, "promise_broken"),
    ] {
        let pid = id_of(p);
        assert_eq!(app.count(&format!("SELECT id FROM tasks WHERE source_type = 'promise' AND source_id = '{pid}' AND kind = 'promise_follow_up' AND assignee_id = '{}'", collector.id)).await?, 1);
        assert_eq!(app.count(&format!("SELECT id FROM activities WHERE source_type = 'promise' AND source_id = '{pid}' AND outcome = '{outcome}'")).await?, 1);
    }
    assert_eq!(
        app.count(&format!(
            "SELECT id FROM activities WHERE source_id = '{}' AND outcome = 'promise_kept'",
            id_of(&returned)
        ))
        .await?,
        1
    );
    assert_eq!(
        app.count("SELECT id FROM tasks WHERE kind = 'promise_follow_up'")
            .await?,
        3
    );
    let (_, acts) = read(
        app.as_user(
            &collector,
            Method::GET,
            &format!(
                "/v1/activities?customer_id={}&outcome=promise_broken",
                acme["id"].as_str().unwrap_or_default()
            ),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(acts["data"].as_array().map(Vec::len), Some(2), "{acts}");

    // Evaluating again changes nothing.
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    let before = app.count("SELECT id FROM audit_events").await?;
    let again = promise::evaluate_due(&mut conn, &Context::system(app.clock_now())).await?;
    assert_eq!(again.kept + again.broken + again.partially_kept, 0);
    let mut out = promise::Evaluation::default();
    promise::evaluate_customer(
        &mut conn,
        &Context::system(app.clock_now()),
        recoup_e2e::id_of(&acme),
        &mut out,
    )
    .await?;
    assert_eq!(out.kept + out.broken + out.partially_kept + out.reopened, 0);
    assert_eq!(app.count("SELECT id FROM audit_events").await?, before);
    assert_eq!(
        app.count("SELECT id FROM tasks WHERE kind = 'promise_follow_up'")
            .await?,
        3
    );
    app.check_ledger().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promises_follow_roles_visibility_and_refuse_bad_input() -> Result<()> {
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
    let m1 = app
        .invoice(&mine, "M-1", "800.00", "2026-01-10", "2026-02-09")
        .await?;
    let m2 = app
        .invoice(&mine, "M-2", "200.00", "2026-01-10", "2026-02-09")
        .await?;
    let t1 = app
        .invoice(&theirs, "T-1", "100.00", "2026-01-10", "2026-02-09")
        .await?;

    // Bad input, each refused with its code, nothing written.
    let cases = [
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "800.01", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exceeds_open_balance",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "0", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_positive",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "10.001", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_decimals",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "10.00", "promised_on": "2026-03-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "in_past",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "10.00", "promised_on": "2027-06-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_far",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [], "amount": "10.00", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_length",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"], m1["id"]], "amount": "10.00", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [t1["id"]], "amount": "10.00", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_invoice",
        ),
        (
            json!({"customer_id": theirs["id"], "invoice_ids": [t1["id"]], "amount": "10.00", "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_customer",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "10.00", "promised_on": "2026-03-09", "grace_days": 31}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
        ),
        (
            json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": 10, "promised_on": "2026-03-09"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .as_user(&collector, Method::POST, "/v1/promises")
            .json(&body)
            .send()
            .await?;
        let (got, problem) = read(res).await?;
        assert_eq!(got, status, "{body} → {problem}");
        if !code.is_empty() {
            assert_eq!(problem["errors"][0]["code"], code, "{problem}");
        }
    }
    assert_eq!(app.count("SELECT id FROM promises").await?, 0);

    let p = promise(&app, &collector, json!({"customer_id": mine["id"], "invoice_ids": [m1["id"], m2["id"]], "amount": "1000.00", "promised_on": "2026-03-09", "note": "Wire on Monday"})).await?;
    assert_eq!(p["invoice_ids"].as_array().map(Vec::len), Some(2));
    assert_eq!(app.audit_count("promise.create").await?, 1);
    // One open promise per invoice.
    let res = app.as_user(&collector, Method::POST, "/v1/promises")
        .json(&json!({"customer_id": mine["id"], "invoice_ids": [m2["id"]], "amount": "10.00", "promised_on": "2026-03-09"}))
        .send().await?;
    expect_problem(res, StatusCode::CONFLICT, "invoice_already_promised").await?;

    let admin = app.admin().await?.clone();
    let other = promise(&app, &admin, json!({"customer_id": theirs["id"], "invoice_ids": [t1["id"]], "amount": "100.00", "promised_on": "2026-03-04"})).await?;

    for role in ROLES {
        let user: TestUser = match role {
            Role::Collector => collector.clone(),
            Role::Sales => sales.clone(),
            Role::Admin => admin.clone(),
            other => app.user(other).await?,
        };
        let reads = true;
        let writes = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::FieldCollector
        );
        let sees_mine = role != Role::FieldCollector;
        let sees_theirs = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        let res = app
            .as_user(&user, Method::GET, "/v1/promises")
            .send()
            .await?;
        let (status, listed) = read(res).await?;
        assert_eq!(status == StatusCode::OK, reads, "{role}");
        let ids: Vec<&str> = listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str())
            .collect();
        assert_eq!(
            ids.contains(&p["id"].as_str().unwrap_or("?")),
            sees_mine,
            "{role}"
        );
        assert_eq!(
            ids.contains(&other["id"].as_str().unwrap_or("?")),
            sees_theirs,
            "{role}"
        );
        for (x, visible) in [(&p, sees_mine), (&other, sees_theirs)] {
            let res = app
                .as_user(&user, Method::GET, &format!("/v1/promises/{}", id_of(x)))
                .send()
                .await?;
            if visible {
                assert_eq!(res.status(), StatusCode::OK, "{role}");
            } else {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
        }
        // Cancel: writers on what they see; readers 403; hidden 404.
        let res = app
            .as_user(
                &user,
                Method::POST,
                &format!("/v1/promises/{}/cancel", id_of(&other)),
            )
            .json(&json!({"reason": "checking"}))
            .send()
            .await?;
        match (writes, sees_theirs) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
            }
            (true, true) => {
                // The first writer who sees it cancels it; later ones find it decided.
                let status = res.status();
                assert!(
                    status == StatusCode::OK || status == StatusCode::CONFLICT,
                    "{role} {status}"
                );
            }
        }
        let res = app.as_user(&user, Method::POST, "/v1/promises")
            .json(&json!({"customer_id": mine["id"], "invoice_ids": [m1["id"]], "amount": "1.00", "promised_on": "2026-03-09"}))
            .send().await?;
        match (writes, sees_mine) {
            (false, _) => {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            (true, false) => {
                expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
            }
            (true, true) => {
                expect_problem(res, StatusCode::CONFLICT, "invoice_already_promised").await?;
            }
        }
    }
    let (_, cancelled) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/promises/{}", id_of(&other)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "checking");
    // Filters.
    let (_, by_invoice) = read(
        app.as_user(
            &admin,
            Method::GET,
            &format!("/v1/promises?invoice_id={}&status=open", id_of(&m2)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(by_invoice["data"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_each_scheduled_occurrence_once() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _one = app.start_worker();
    let _two = app.start_worker();
    let admin = app.admin().await?.clone();
    for day in [2, 3, 4] {
        app.clock.set(at(day));
        // Wait for this day's occurrences to be claimed and their jobs to finish.
        let mut done = false;
        for _ in 0..300 {
            let claimed = app
                .count(&format!(
                    "SELECT 1 FROM schedule_runs WHERE occurrence = '2026-03-0{day}'"
                ))
                .await?;
            let open = app
                .count("SELECT 1 FROM jobs WHERE status <> 'succeeded'")
                .await?;
            if claimed == 6 && open == 0 {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::ensure!(done, "day {day}'s occurrences did not run");
    }
    // Six schedules, three days (the start day, 3 and 4 March): once each.
    assert_eq!(app.count("SELECT 1 FROM schedule_runs").await?, 18);
    for kind in [
        "promise_evaluation",
        "installment_tracking",
        "dispute_follow_up",
        "idempotency_purge",
        "aging_snapshot",
        "account_standings",
    ] {
        assert_eq!(
            app.count(&format!("SELECT 1 FROM jobs WHERE kind = '{kind}'"))
                .await?,
            3,
            "{kind}"
        );
    }
    // They are ordinary jobs an admin can see.
    let admin = app.relogin(&admin).await?;
    let (status, jobs) = read(
        app.as_user(&admin, Method::GET, "/v1/jobs?kind=promise_evaluation")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["data"].as_array().map(Vec::len), Some(3), "{jobs}");
    assert_eq!(jobs["data"][0]["result"]["evaluated"], 0);
    Ok(())
}
