//! The worklist through the API, on a portfolio whose right order is known: scores,
//! components, reasons and next actions; exclusions with their reasons; filters and
//! pagination; weights as an admin setting; every role.

use anyhow::Result;
use chrono::{TimeZone, Utc};
use recoup_core::user::Role;
use recoup_core::{Context, db, promise};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn at(month: u32, day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Result<Value> {
    let (status, body) = read(app.as_user(user, Method::GET, path).send().await?).await?;
    anyhow::ensure!(status == StatusCode::OK, "{path}: {status} {body}");
    Ok(body)
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["customer_name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_ranks_a_known_portfolio_and_says_why() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let other_collector = app.user(Role::Collector).await?;
    // 20 February: the portfolio and B's promise.
    app.clock.set(at(2, 20));
    let collector = app.relogin(&collector).await?;
    let mut customers = std::collections::HashMap::new();
    for (name, extra) in [
        ("A big and old", json!({})),
        ("B broke a promise", json!({})),
        ("C small, called today", json!({})),
        ("D all disputed", json!({})),
        ("E on hold", json!({})),
        ("F promised", json!({})),
        ("G not yet due", json!({})),
        ("H bankrupt", json!({"bankrupt": true})),
        (
            "I cease communication",
            json!({"cease_communication": true}),
        ),
    ] {
        let mut body = json!({"name": name, "kind": "commercial", "currency": "USD"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let c = app.customer(body).await?;
        app.assign(&c, Some(collector.id), None).await?;
        customers.insert(name.chars().next().unwrap_or('?'), c);
    }
    let c = |k: char| customers.get(&k).cloned().unwrap_or_default();
    let a = app
        .invoice(&c('A'), "W-A", "12400.00", "2025-11-17", "2025-12-17")
        .await?;
    let b = app
        .invoice(&c('B'), "W-B", "2000.00", "2026-01-21", "2026-02-20")
        .await?;
    app.invoice(&c('C'), "W-C", "100.00", "2026-01-26", "2026-02-25")
        .await?;
    let d = app
        .invoice(&c('D'), "W-D", "500.00", "2026-01-10", "2026-02-09")
        .await?;
    app.invoice(&c('E'), "W-E", "700.00", "2026-01-10", "2026-02-09")
        .await?;
    let f = app
        .invoice(&c('F'), "W-F", "800.00", "2026-01-10", "2026-02-09")
        .await?;
    app.invoice(&c('G'), "W-G", "900.00", "2026-02-20", "2026-03-22")
        .await?;
    app.invoice(&c('H'), "W-H", "300.00", "2026-01-10", "2026-02-09")
        .await?;
    app.invoice(&c('I'), "W-I", "300.00", "2026-01-10", "2026-02-09")
        .await?;
    let res = app.as_user(&collector, Method::POST, "/v1/promises")
        .json(&json!({"customer_id": c('B')["id"], "invoice_ids": [b["id"]], "amount": "2000.00", "promised_on": "2026-02-25", "grace_days": 2}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    // 1 March: the daily evaluation breaks it (task for the collector, due that day).
    app.clock.set(at(3, 1));
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    let decided = promise::evaluate_due(&mut conn, &Context::system(app.clock_now())).await?;
    assert_eq!(decided.broken, 1);
    // 2 March: today.
    app.clock.set(at(3, 2));
    let collector = app.relogin(&collector).await?;
    let res = app.as_user(&collector, Method::POST, "/v1/activities")
        .json(&json!({"customer_id": c('C')["id"], "kind": "call", "direction": "outbound", "outcome": "promised"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.as_user(&collector, Method::POST, "/v1/disputes")
        .json(&json!({"customer_id": c('D')["id"], "invoices": [{"invoice_id": d["id"], "amount": "500.00"}], "reason_code": "damaged"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .as_user(
            &collector,
            Method::POST,
            &format!(
                "/v1/customers/{}/holds",
                c('E')["id"].as_str().unwrap_or_default()
            ),
        )
        .json(&json!({"kind": "collection", "reason": "awaiting proof of delivery"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.as_user(&collector, Method::POST, "/v1/promises")
        .json(&json!({"customer_id": c('F')["id"], "invoice_ids": [f["id"]], "amount": "800.00", "promised_on": "2026-03-10"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);

    let list = get(&app, &collector, "/v1/worklist?include_excluded=true").await?;
    assert_eq!(list["as_of"], "2026-03-02");
    assert_eq!(
        names(&list),
        vec![
            "A big and old",
            "B broke a promise",
            "C small, called today"
        ]
    );
    let rows = list["data"].as_array().cloned().unwrap_or_default();
    let row = |i: usize| rows.get(i).cloned().unwrap_or_default();
    // A: 12.4 × 2 + 75 days × 0.25 + never contacted 30 × 0.5 + size 1.24 = 59.79.
    assert_eq!(row(0)["score"], "59.79");
    assert_eq!(row(0)["rank"], 1);
    assert_eq!(row(0)["next_action"], "call");
    assert_eq!(
        row(0)["reasons"],
        json!([
            "1 invoice 61-90 days past due, 12400.00 USD collectible",
            "never contacted"
        ])
    );
    assert_eq!(row(0)["oldest_days_past_due"], 75);
    let top = row(0);
    let factors: Vec<(&str, &str)> = top["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["factor"].as_str()?, c["points"].as_str()?)))
        .collect();
    assert_eq!(
        factors,
        vec![
            ("overdue_amount", "24.80"),
            ("days_past_due", "18.75"),
            ("days_since_contact", "15.0"),
            ("account_size", "1.24")
        ]
    );
    // B: 4 + 2.5 + 25 (broken) + 15 + 0.2 + 10 (its follow-up task is due) = 56.70.
    assert_eq!(row(1)["score"], "56.70");
    assert_eq!(row(1)["next_action"], "call_about_broken_promise");
    assert_eq!(
        row(1)["reasons"][0],
        "promise of 2000.00 USD broken yesterday"
    );
    assert_eq!(row(1)["tasks_due"], 1);
    // C: called today, so no contact points: 0.2 + 1.25 + 0.01.
    assert_eq!(row(2)["score"], "1.46");
    assert_eq!(row(2)["next_action"], "send_reminder");
    assert_eq!(row(2)["last_contact_on"], "2026-03-02");
    let excluded: Vec<(String, String)> = list["excluded"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["customer_name"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut excluded = excluded;
    excluded.sort();
    assert_eq!(
        excluded,
        vec![
            ("D all disputed".to_owned(), "all_disputed".to_owned()),
            ("E on hold".to_owned(), "on_hold".to_owned()),
            ("F promised".to_owned(), "promised_not_due".to_owned()),
            ("G not yet due".to_owned(), "nothing_due".to_owned()),
            ("H bankrupt".to_owned(), "bankrupt".to_owned()),
            (
                "I cease communication".to_owned(),
                "cease_communication".to_owned()
            ),
        ]
    );

    // Filters and pages.
    assert_eq!(
        names(&get(&app, &collector, "/v1/worklist?bucket=61-90").await?),
        vec!["A big and old"]
    );
    assert_eq!(
        names(&get(&app, &collector, "/v1/worklist?min_amount=1000").await?),
        vec!["A big and old", "B broke a promise"]
    );
    assert_eq!(
        names(&get(&app, &collector, "/v1/worklist?has_task_due=true").await?),
        vec!["B broke a promise"]
    );
    assert_eq!(
        names(&get(&app, &collector, "/v1/worklist?currency=EUR").await?),
        Vec::<String>::new()
    );
    let first = get(&app, &collector, "/v1/worklist?limit=2").await?;
    assert_eq!(names(&first), vec!["A big and old", "B broke a promise"]);
    assert_eq!(first["excluded"], Value::Null);
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let second = get(
        &app,
        &collector,
        &format!("/v1/worklist?limit=2&cursor={cursor}"),
    )
    .await?;
    assert_eq!(names(&second), vec!["C small, called today"]);
    assert_eq!(second["next_cursor"], Value::Null);
    for bad in [
        "bucket=current",
        "bucket=7-9",
        "min_amount=-1",
        "cursor=nonsense",
        "limit=0",
    ] {
        let res = app
            .as_user(&collector, Method::GET, &format!("/v1/worklist?{bad}"))
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // Weights: the documented defaults; an admin changes them and the order follows.
    let weights = get(&app, &collector, "/v1/worklist/weights").await?;
    assert_eq!(
        weights["broken_promises"],
        json!({"weight": "25", "cap": "50"})
    );
    let mut heavier = weights.clone();
    heavier["broken_promises"] = json!({"weight": "100", "cap": "100"});
    let manager = app.user(Role::Manager).await?;
    let res = app
        .as_user(&manager, Method::PUT, "/v1/worklist/weights")
        .json(&heavier)
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let admin = app.relogin(app.admin().await?).await?;
    let mut bad = weights.clone();
    bad["risk"] = json!({"weight": "-1", "cap": "15"});
    let res = app
        .as_user(&admin, Method::PUT, "/v1/worklist/weights")
        .json(&bad)
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "risk.weight");
    let res = app
        .as_user(&admin, Method::PUT, "/v1/worklist/weights")
        .json(&heavier)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.audit_count("setting.update").await?, 1);
    assert_eq!(
        names(&get(&app, &collector, "/v1/worklist").await?),
        vec![
            "B broke a promise",
            "A big and old",
            "C small, called today"
        ]
    );

    // Whose list: managers pick a collector; collectors only their own.
    assert_eq!(
        names(
            &get(
                &app,
                &manager,
                &format!("/v1/worklist?collector_id={}", collector.id)
            )
            .await?
        )
        .len(),
        3
    );
    assert_eq!(
        names(
            &get(
                &app,
                &manager,
                &format!("/v1/worklist?collector_id={}", other_collector.id)
            )
            .await?
        )
        .len(),
        0
    );
    let res = app
        .as_user(
            &collector,
            Method::GET,
            &format!("/v1/worklist?collector_id={}", other_collector.id),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let other_collector = app.relogin(&other_collector).await?;
    assert_eq!(
        names(&get(&app, &other_collector, "/v1/worklist").await?).len(),
        0
    );
    let _ = a;

    for role in ROLES {
        let user = app.user(role).await?;
        // Auditors read everything, the worklist included.
        let reads = matches!(
            role,
            Role::Admin | Role::Manager | Role::Collector | Role::FieldCollector | Role::Auditor
        );
        for path in ["/v1/worklist", "/v1/worklist/weights"] {
            let res = app.as_user(&user, Method::GET, path).send().await?;
            if reads {
                assert_eq!(res.status(), StatusCode::OK, "{role} {path}");
            } else {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
        }
    }
    Ok(())
}

fn row_of<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["data"]
        .as_array()?
        .iter()
        .find(|r| r["customer_name"] == name)
}

fn excluded_of(list: &Value, name: &str) -> Option<String> {
    list["excluded"]
        .as_array()?
        .iter()
        .find(|r| r["customer_name"] == name)
        .and_then(|r| r["reason"].as_str().map(str::to_owned))
}

/// The worklist read from the kept standings equals the one gathered from scratch.
async fn same_as_from_scratch(app: &TestApp, user: &TestUser, list: &Value) -> Result<()> {
    let kept = app.count("SELECT 1 FROM account_standings").await?;
    app.db
        .client()
        .await?
        .execute("DELETE FROM account_standings", &[])
        .await?;
    let fresh = get(app, user, "/v1/worklist?include_excluded=true").await?;
    assert_eq!(&fresh, list, "standings ({kept} kept) differ from scratch");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standings_follow_every_write_and_roll_over_with_the_date() -> Result<()> {
    let app = TestApp::spawn().await?;
    let collector = app.user(Role::Collector).await?;
    let accountant = app.user(Role::Accountant).await?;
    app.clock.set(at(3, 2));
    let collector = app.relogin(&collector).await?;
    let accountant = app.relogin(&accountant).await?;
    let x = app
        .customer(json!({"name": "X pays", "kind": "commercial", "currency": "USD"}))
        .await?;
    let y = app
        .customer(json!({"name": "Y promises", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&x, Some(collector.id), None).await?;
    app.assign(&y, Some(collector.id), None).await?;
    let xi = app
        .invoice(&x, "S-X", "1000.00", "2026-01-21", "2026-02-20")
        .await?;
    let yi = app
        .invoice(&y, "S-Y", "500.00", "2026-01-21", "2026-02-20")
        .await?;
    let url = "/v1/worklist?include_excluded=true";

    // 2 March: both 10 days past due; the read keeps their standings.
    let list = get(&app, &collector, url).await?;
    let row = row_of(&list, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["oldest_days_past_due"], 10);
    assert_eq!(row["collectible_overdue"], "1000.00");
    assert_eq!(
        app.count("SELECT 1 FROM account_standings WHERE NOT dirty AND computed_on = '2026-03-02'")
            .await?,
        2
    );
    // With the figures a read ranks by, as columns.
    assert_eq!(
        app.count(
            "SELECT 1 FROM account_standings WHERE collectible_overdue = 1000
                AND overdue_buckets = '{1-30}' AND oldest_due_on = '2026-02-20' AND tasks_due = 0"
        )
        .await?,
        1
    );

    // A payment is in the next read.
    app.pay(&accountant, &x, "2026-03-02", &[(&xi, "400.00")])
        .await?;
    let list = get(&app, &collector, url).await?;
    let row = row_of(&list, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["collectible_overdue"], "600.00");
    assert_eq!(row["open_balance"], "600.00");
    assert_eq!(row["last_contact_on"], Value::Null);

    // So is an activity.
    let res = app.as_user(&collector, Method::POST, "/v1/activities")
        .json(&json!({"customer_id": x["id"], "kind": "call", "direction": "outbound", "outcome": "reached"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let list = get(&app, &collector, url).await?;
    let row = row_of(&list, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["last_contact_on"], "2026-03-02");

    // And a promise: Y is left out until it falls due.
    let res = app.as_user(&collector, Method::POST, "/v1/promises")
        .json(&json!({"customer_id": y["id"], "invoice_ids": [yi["id"]], "amount": "500.00", "promised_on": "2026-03-04"}))
        .send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let list = get(&app, &collector, url).await?;
    assert_eq!(
        excluded_of(&list, "Y promises").as_deref(),
        Some("promised_not_due")
    );
    same_as_from_scratch(&app, &collector, &list).await?;

    // X handed to another collector: on that list at once, with its kept standing
    // (which follows the customer's collector), and off this one; then handed back.
    let other = app.user(Role::Collector).await?;
    app.assign(&x, Some(other.id), None).await?;
    assert_eq!(
        app.count(&format!(
            "SELECT 1 FROM account_standings WHERE collector_id = '{}' AND NOT dirty",
            other.id
        ))
        .await?,
        1
    );
    let theirs = get(&app, &other, url).await?;
    let row = row_of(&theirs, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["collectible_overdue"], "600.00");
    assert!(row_of(&get(&app, &collector, url).await?, "X pays").is_none());
    app.assign(&x, Some(collector.id), None).await?;
    assert_eq!(get(&app, &collector, url).await?, list);

    // 4 March: X's standing is aged, not recomputed; Y's expired with the promise due.
    app.clock.set(at(3, 4));
    let collector = app.relogin(&collector).await?;
    let list = get(&app, &collector, url).await?;
    let row = row_of(&list, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["oldest_days_past_due"], 12);
    assert_eq!(row["overdue_by_bucket"][0]["bucket"], "1-30");
    let y_row = row_of(&list, "Y promises").cloned().unwrap_or_default();
    assert_eq!(y_row["next_action"], "confirm_promise");
    assert_eq!(y_row["reasons"][0], "promise of 500.00 USD due today");
    assert_eq!(
        app.count("SELECT 1 FROM account_standings s JOIN customers c ON c.id = s.customer_id WHERE c.name = 'X pays' AND s.computed_on = '2026-03-02'")
            .await?,
        1
    );
    same_as_from_scratch(&app, &collector, &list).await?;

    // 23 March: X's invoice moves to 31-60; the nightly job recomputed every standing.
    let _worker = app.start_worker();
    app.clock.set(at(3, 23));
    app.jobs_done().await?;
    // X's standing was recomputed that day by the nightly job. Y's may not be: the
    // promise evaluation of the same morning can move Y's version while the refresh
    // runs, and a refresh never saves over a change it did not see (the read below
    // recomputes it).
    assert_eq!(
        app.count("SELECT 1 FROM account_standings s JOIN customers c ON c.id = s.customer_id WHERE c.name = 'X pays' AND NOT s.dirty AND s.computed_on = '2026-03-23'")
            .await?,
        1
    );
    let collector = app.relogin(&collector).await?;
    let list = get(&app, &collector, url).await?;
    let row = row_of(&list, "X pays").cloned().unwrap_or_default();
    assert_eq!(row["oldest_days_past_due"], 31);
    assert_eq!(row["overdue_by_bucket"][0]["bucket"], "31-60");
    same_as_from_scratch(&app, &collector, &list).await?;
    Ok(())
}
