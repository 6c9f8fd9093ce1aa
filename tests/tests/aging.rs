//! The aging report: buckets on a constructed portfolio, as of a past day unchanged by
//! later postings, the SQL aggregate equal to the pure `aging::age` over the same items,
//! roles and visibility, CSV, bad parameters, and IBM's sample against an independent
//! computation from the CSV.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{Context as _, Result};
use chrono::{Duration, NaiveDate};
use recoup_core::access::Visibility;
use recoup_core::aging::{self, Buckets};
use recoup_core::aging_report::{self, AgingParams, GroupBy};
use recoup_core::user::Role;
use recoup_core::{Context, db, import};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn day(s: &str) -> Result<NaiveDate> {
    Ok(NaiveDate::parse_from_str(s, "%Y-%m-%d")?)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

async fn aging(app: &TestApp, user: &TestUser, query: &str) -> Result<Value> {
    let (status, body) = read(
        app.as_user(user, Method::GET, &format!("/v1/reports/aging?{query}"))
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::OK, "{query}: {status} {body}");
    Ok(body)
}

/// The rows of a report by name, as `(currency, amounts, counts, total, disputed)`.
fn rows(report: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for row in report["rows"].as_array().into_iter().flatten() {
        by_name
            .entry(row["name"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(json!([
                row["currency"],
                row["amounts"],
                row["counts"],
                row["total"],
                row["disputed"]
            ]));
    }
    by_name
}

/// The SQL aggregate and the pure `aging::age` over the same open items agree.
async fn sql_equals_pure_age(app: &TestApp, params: &AgingParams) -> Result<()> {
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    for visibility in [Visibility::All] {
        let report = aging_report::aggregate(&mut conn, visibility, params).await?;
        let items =
            aging_report::open_items(&mut conn, visibility, params.as_of, params.group_by).await?;
        let pure = aging::age(items, params.as_of, &params.buckets);
        let from_sql: Vec<_> = report
            .rows
            .iter()
            .filter(|r| !r.counts.iter().all(|c| *c == 0))
            .map(|r| {
                (
                    r.key.clone().unwrap_or_default(),
                    r.currency.clone(),
                    r.amounts.clone(),
                    r.counts.clone(),
                    r.total,
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let reference: Vec<_> = pure
            .into_iter()
            .map(|r| {
                (
                    r.key,
                    r.currency,
                    r.buckets.iter().map(|b| b.round_dp(2)).collect::<Vec<_>>(),
                    r.counts,
                    r.total.round_dp(2),
                )
            })
            .collect();
        anyhow::ensure!(
            from_sql == reference,
            "{params:?}\nsql:  {from_sql:?}\npure: {reference:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aging_as_of_a_day_is_what_the_ledger_said_that_day() -> Result<()> {
    let app = TestApp::spawn().await?;
    let casey = app.user(Role::Collector).await?;
    let accountant = app.user(Role::Accountant).await?;
    let manager = app.user(Role::Manager).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&acme, Some(casey.id), None).await?;
    let beta = app
        .customer(json!({"name": "Beta", "kind": "commercial", "currency": "USD"}))
        .await?;
    let euro = app
        .customer(json!({"name": "Euro", "kind": "commercial", "currency": "EUR"}))
        .await?;
    app.assign(&euro, Some(casey.id), None).await?;
    // Today is 2026-03-02.
    let a1 = app
        .invoice(&acme, "A-1", "1000.00", "2026-01-01", "2026-01-31")
        .await?; // 30 days past due: 1-30
    app.invoice(&acme, "A-2", "500.00", "2025-10-01", "2025-10-31")
        .await?; // 122 days: 120+
    let a3 = app
        .invoice(&acme, "A-3", "200.00", "2026-02-20", "2026-03-22")
        .await?; // current
    app.invoice(&beta, "B-1", "700.00", "2025-12-01", "2025-12-31")
        .await?; // 61 days: 61-90
    app.invoice(&euro, "E-1", "300.00", "2025-12-15", "2026-01-15")
        .await?; // 46 days: 31-60
    let (status, on_account) = read(
        app.money(
            &accountant,
            "/v1/payments",
            &json!({"customer_id": acme["id"], "received_on": "2026-03-01", "amount": "50.00", "method": "ach", "applications": []}),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{on_account}");
    let (status, dispute) = read(
        app.as_user(&casey, Method::POST, "/v1/disputes")
            .json(&json!({"customer_id": acme["id"], "invoices": [{"invoice_id": a1["id"], "amount": "100.00"}], "reason_code": "pricing"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{dispute}");

    let before = aging(&app, &manager, "as_of=2026-03-02").await?;
    assert_eq!(
        before["buckets"],
        json!(["current", "1-30", "31-60", "61-90", "91-120", "120+"])
    );
    assert_eq!(before["group_by"], "customer");
    let expected = json!({
        "Acme": [["USD", ["150.00", "1000.00", "0.00", "0.00", "0.00", "500.00"], [2, 1, 0, 0, 0, 1], "1650.00", "100.00"]],
        "Beta": [["USD", ["0.00", "0.00", "0.00", "700.00", "0.00", "0.00"], [0, 0, 0, 1, 0, 0], "700.00", "0.00"]],
        "Euro": [["EUR", ["0.00", "0.00", "300.00", "0.00", "0.00", "0.00"], [0, 0, 1, 0, 0, 0], "300.00", "0.00"]],
    });
    assert_eq!(json!(rows(&before)), expected, "{before}");
    assert_eq!(
        before["totals"],
        json!([
            {"key": "EUR", "name": "EUR", "currency": "EUR", "amounts": ["0.00", "0.00", "300.00", "0.00", "0.00", "0.00"], "counts": [0, 0, 1, 0, 0, 0], "total": "300.00", "disputed": "0.00"},
            {"key": "USD", "name": "USD", "currency": "USD", "amounts": ["150.00", "1000.00", "0.00", "700.00", "0.00", "500.00"], "counts": [2, 1, 0, 1, 0, 1], "total": "2350.00", "disputed": "100.00"},
        ])
    );
    // Before A-3 was issued, the cash received and the dispute opened.
    let earlier = aging(&app, &manager, "as_of=2026-02-15&buckets=15,45").await?;
    assert_eq!(
        earlier["buckets"],
        json!(["current", "1-15", "16-45", "45+"])
    );
    assert_eq!(
        rows(&earlier)["Acme"],
        // 15 days (1-15); A-2: 107 days (45+).
        [json!([
            "USD",
            ["0.00", "1000.00", "0.00", "500.00"],
            [0, 1, 0, 1],
            "1500.00",
            "0.00"
        ])]
    );
    // By collector and currency; Beta has no collector.
    let by_collector = aging(&app, &manager, "as_of=2026-03-02&group_by=collector").await?;
    let names: Vec<_> = by_collector["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["key"].clone(),
                r["name"].clone(),
                r["currency"].clone(),
                r["total"].clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                json!(null),
                json!("(unassigned)"),
                json!("USD"),
                json!("700.00")
            ),
            (
                json!(casey.id.to_string()),
                json!("Test collector"),
                json!("EUR"),
                json!("300.00")
            ),
            (
                json!(casey.id.to_string()),
                json!("Test collector"),
                json!("USD"),
                json!("1650.00")
            ),
        ]
    );

    // Later: A-1 paid, the cash on account applied to A-3, the dispute withdrawn.
    app.clock.set(app.clock_now() + Duration::days(44)); // 2026-04-15
    let accountant = app.relogin(&accountant).await?;
    let manager = app.relogin(&manager).await?;
    let (status, paid) = read(
        app.money(
            &accountant,
            "/v1/payments",
            &json!({"customer_id": acme["id"], "received_on": "2026-04-15", "amount": "1000.00", "method": "wire",
                    "applications": [{"invoice_id": a1["id"], "amount": "1000.00"}]}),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let (status, applied) = read(
        app.money(
            &accountant,
            &format!("/v1/payments/{}/applications", id_of(&on_account)),
            &json!({"applications": [{"invoice_id": a3["id"], "amount": "50.00"}]}),
        )
        .send()
        .await?,
    )
    .await?;
    assert!(status.is_success(), "{status} {applied}");
    let (status, resolved) = read(
        app.as_user(
            &manager,
            Method::POST,
            &format!("/v1/disputes/{}/resolve", id_of(&dispute)),
        )
        .json(&json!({"status": "withdrawn", "note": "paid in full"}))
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{resolved}");

    let again = aging(&app, &manager, "as_of=2026-03-02").await?;
    assert_eq!(again, before, "the past does not change");
    let after = aging(&app, &manager, "as_of=2026-04-15").await?;
    assert_eq!(
        rows(&after)["Acme"],
        // 150 left, 24 days past due; A-2: 166 days.
        [json!([
            "USD",
            ["0.00", "150.00", "0.00", "0.00", "0.00", "500.00"],
            [0, 1, 0, 0, 0, 1],
            "650.00",
            "0.00"
        ])]
    );
    // Today by default.
    assert_eq!(aging(&app, &manager, "").await?, after);

    // The SQL aggregate equals the pure rule over the same items.
    for as_of in [
        "2026-02-15",
        "2026-03-01",
        "2026-03-02",
        "2026-04-15",
        "2027-01-01",
    ] {
        for group_by in GroupBy::ALL {
            for buckets in [
                "30,60,90,120",
                "1,2,3",
                "7,14,21,28,35,42,49,56,63,70,77,84",
            ] {
                let params = AgingParams {
                    as_of: day(as_of)?,
                    group_by: *group_by,
                    buckets: Buckets::parse(buckets).map_err(|e| anyhow::anyhow!(e.message))?,
                };
                sql_equals_pure_age(&app, &params).await?;
            }
        }
    }

    // Collectors may not read reports (no `reports:read`); the visibility filter that
    // the report applies to callers who see only their customers keeps Casey to
    // Acme and Euro.
    let pool = db::pool(&app.db.url, 1)?;
    let mut conn = db::conn(&pool).await?;
    let params = AgingParams {
        as_of: day("2026-03-02")?,
        group_by: GroupBy::Customer,
        buckets: Buckets::default(),
    };
    let mine =
        aging_report::aggregate(&mut conn, Visibility::AssignedTo(casey.id), &params).await?;
    let names: Vec<_> = mine.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Acme", "Euro"]);
    let usd = mine
        .totals
        .iter()
        .find(|t| t.currency == "USD")
        .context("USD")?;
    assert_eq!(usd.total, dec("1650.00"));
    let nobody =
        aging_report::aggregate(&mut conn, Visibility::SalesRep(casey.id), &params).await?;
    assert!(nobody.rows.is_empty() && nobody.totals.is_empty());

    // Roles: reports are for admins, managers, accountants and auditors.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(&user, Method::GET, "/v1/reports/aging?as_of=2026-03-02")
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

    // CSV, wide.
    let res = app
        .as_user(&manager, Method::GET, "/v1/reports/aging?as_of=2026-03-02")
        .header("accept", "text/csv")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    let mut lines = body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "key,name,currency,current,1-30,31-60,61-90,91-120,120+,total,disputed,\
             count current,count 1-30,count 31-60,count 61-90,count 91-120,count 120+"
        )
    );
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "{},Acme,USD,150.00,1000.00,0.00,0.00,0.00,500.00,1650.00,100.00,2,1,0,0,0,1",
                id_of(&acme)
            )
            .as_str()
        )
    );
    assert_eq!(body.lines().count(), 4);

    // Bad parameters.
    for (query, field, code) in [
        ("as_of=2026-02-30", "as_of", "invalid_date"),
        ("as_of=03/02/2026", "as_of", "invalid_date"),
        ("group_by=region", "group_by", "invalid_group_by"),
        ("buckets=60,30", "buckets", "invalid_buckets"),
        ("buckets=0", "buckets", "invalid_buckets"),
        ("buckets=a,b", "buckets", "invalid_buckets"),
    ] {
        let res = app
            .as_user(&manager, Method::GET, &format!("/v1/reports/aging?{query}"))
            .send()
            .await?;
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
        assert_eq!(problem["errors"][0]["code"], code, "{query}");
    }
    let res = app
        .as_user(&manager, Method::GET, "/v1/reports/aging?region=north")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.check_ledger().await?;
    Ok(())
}

/// `M/D/YYYY` as in IBM's file.
fn us_date(s: &str) -> Result<NaiveDate> {
    Ok(NaiveDate::parse_from_str(s, "%m/%d/%Y")?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aging_of_the_ibm_sample_matches_the_csv() -> Result<()> {
    let app = TestApp::spawn().await?;
    let pool = db::pool(&app.db.url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let report = import::import_ibm(&mut conn, &ctx, text.as_bytes(), |_| {}).await?;
    assert!(report.errors.is_empty(), "{:?}", report.errors.first());
    assert_eq!(report.invoices_created, 2466);

    // Independently, from the CSV: open on the day when InvoiceDate ≤ as_of <
    // SettledDate; days past due = as_of − DueDate; buckets current, 1-30, 31-60,
    // 61-90, 91-120, 120+. Every row imports as USD (the file has no currency; its
    // countryCode is not one).
    let as_of = day("2013-06-30")?;
    let mut amounts = [Decimal::ZERO; 6];
    let mut counts = [0_u64; 6];
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .context(name.to_owned())
    };
    let (invoice_date, due_date, amount, settled, flagged) = (
        col("InvoiceDate")?,
        col("DueDate")?,
        col("InvoiceAmount")?,
        col("SettledDate")?,
        col("Disputed")?,
    );
    // Rows flagged Disputed import as disputes open from the invoice date until
    // settled, so on the day they are exactly the open flagged rows.
    let mut disputed = Decimal::ZERO;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |i: usize| fields.get(i).copied().context("short line");
        if !(us_date(field(invoice_date)?)? <= as_of && as_of < us_date(field(settled)?)?) {
            continue;
        }
        let days = (as_of - us_date(field(due_date)?)?).num_days();
        let bucket = match days {
            d if d <= 0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            91..=120 => 4,
            _ => 5,
        };
        amounts[bucket] += Decimal::from_str(field(amount)?)?;
        counts[bucket] += 1;
        if field(flagged)? == "Yes" {
            disputed += Decimal::from_str(field(amount)?)?;
        }
    }
    let total: Decimal = amounts.iter().sum();
    assert!(counts.iter().sum::<u64>() > 50, "the day has open items");
    assert!(disputed > Decimal::ZERO, "some of them disputed");

    let admin = app.admin().await?;
    let got = aging(&app, admin, "as_of=2013-06-30&group_by=currency").await?;
    let expected_amounts: Vec<String> = amounts.iter().map(|a| format!("{:.2}", a)).collect();
    assert_eq!(
        got["rows"],
        json!([{
            "key": "USD", "name": "USD", "currency": "USD",
            "amounts": expected_amounts, "counts": counts,
            "total": format!("{total:.2}"), "disputed": format!("{disputed:.2}"),
        }]),
        "{got}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_snapshots_make_the_trend() -> Result<()> {
    use chrono::TimeZone;
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    let inv = app
        .invoice(&acme, "T-1", "1000.00", "2026-01-01", "2026-01-31")
        .await?;
    let accountant = app.user(Role::Accountant).await?;
    let wait_for = |day: &'static str| {
        let app = &app;
        async move {
            for _ in 0..300 {
                let n = app
                    .count(&format!(
                        "SELECT 1 FROM aging_snapshots WHERE as_of = '{day}' AND group_by = 'currency'"
                    ))
                    .await?;
                if n > 0 {
                    return anyhow::Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            anyhow::bail!("no snapshot of {day}")
        }
    };
    // Started on 2 March: the worker takes 1 March's snapshot.
    wait_for("2026-03-01").await?;
    // 400 paid on 2 March; the 3 March run takes 2 March's.
    let res = app
        .money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-03-02", "amount": "400.00", "method": "wire", "applications": [{"invoice_id": inv["id"], "amount": "400.00"}]}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 3, 3, 6, 0, 0)
            .single()
            .unwrap_or_default(),
    );
    wait_for("2026-03-02").await?;
    let manager = app.user(Role::Manager).await?;
    let (status, trend) = read(
        app.as_user(
            &manager,
            Method::GET,
            "/v1/reports/aging-trend?from=2026-02-01&to=2026-03-31",
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{trend}");
    assert_eq!(trend["group_by"], "currency");
    let totals: Vec<(String, String)> = trend["points"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["as_of"].as_str().unwrap_or_default().to_owned(),
                p["rows"][0]["total"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        vec![
            ("2026-03-01".to_owned(), "1000.00".to_owned()),
            ("2026-03-02".to_owned(), "600.00".to_owned())
        ]
    );
    assert_eq!(
        trend["points"][0]["rows"][0]["amounts"][1], "1000.00",
        "1-30 days on 1 March"
    );
    // By customer, too; retaking a day replaces it rather than doubling it.
    let pool = recoup_core::db::pool(&app.db.url, 1)?;
    let mut conn = recoup_core::db::conn(&pool).await?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
    recoup_core::aging_snapshot::take(&mut conn, app.clock_now(), day).await?;
    assert_eq!(
        app.count(
            "SELECT 1 FROM aging_snapshots WHERE as_of = '2026-03-02' AND group_by = 'customer'"
        )
        .await?,
        1
    );
    for (query, code) in [
        ("from=2026-03-02&to=2026-03-01", "before_from"),
        ("from=2020-01-01&to=2026-03-01", "period_too_long"),
    ] {
        let res = app
            .as_user(
                &manager,
                Method::GET,
                &format!("/v1/reports/aging-trend?{query}"),
            )
            .send()
            .await?;
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
        assert_eq!(problem["errors"][0]["code"], code);
    }
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                "/v1/reports/aging-trend?from=2026-03-01&to=2026-03-02",
            )
            .send()
            .await?;
        let reads = matches!(
            role,
            Role::Admin | Role::Manager | Role::Accountant | Role::Auditor
        );
        if reads {
            assert_eq!(res.status(), StatusCode::OK, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_read_the_replica_when_one_is_configured() -> Result<()> {
    // A second database stands in for the replica: what the reports show comes from
    // it, while writes go to the primary.
    let replica = recoup_e2e::TestDatabase::create().await?;
    let replica_url = replica.url.clone();
    let app = TestApp::spawn_with(move |c| c.replica_database_url = Some(replica_url)).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.invoice(&acme, "R-1", "100.00", "2026-01-01", "2026-01-31")
        .await?;
    let admin = app.admin().await?;
    let on_replica = aging(&app, admin, "as_of=2026-03-02&group_by=currency").await?;
    assert_eq!(
        on_replica["rows"],
        json!([]),
        "the replica has no invoice yet"
    );
    // Once the replica has the rows (here: written to it directly), reports show them.
    let client = replica.client().await?;
    client
        .batch_execute(&format!(
            "INSERT INTO customers (id, name, kind, currency, timezone, payment_terms_days, created_at, updated_at)
             VALUES ('{id}', 'Acme', 'commercial', 'USD', 'UTC', 30, now(), now());
             INSERT INTO invoices (id, number, customer_id, kind, issue_date, due_date, amount, currency, status,
                                   open_balance, charged, created_at, updated_at)
             VALUES (gen_random_uuid(), 'R-1', '{id}', 'invoice', '2026-01-01', '2026-01-31', 100, 'USD', 'open',
                     100, 100, now(), now()) RETURNING id",
            id = acme["id"].as_str().unwrap_or_default()
        ))
        .await?;
    client
        .batch_execute(
            "INSERT INTO ledger_entries (id, customer_id, invoice_id, kind, amount, currency, effective_on, posted_at, actor_kind)
             SELECT gen_random_uuid(), customer_id, id, 'invoice_issued', amount, 'USD', issue_date, now(), 'system'
               FROM invoices",
        )
        .await?;
    let replicated = aging(&app, admin, "as_of=2026-03-02&group_by=currency").await?;
    assert_eq!(replicated["rows"][0]["total"], "100.00", "{replicated}");
    Ok(())
}
