//! The metrics report: a small portfolio whose DSO, CEI and days to pay are worked out
//! by hand below; roles, CSV and bad queries; and IBM's sample, whose average days to
//! pay and days late must equal the means of its own `DaysToSettle` and `DaysLate`.

use std::str::FromStr;

use anyhow::{Context as _, Result};
use recoup_core::user::Role;
use recoup_core::{Context, db, import};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

async fn metrics(app: &TestApp, user: &TestUser, query: &str) -> Result<Value> {
    let (status, body) = read(
        app.as_user(user, Method::GET, &format!("/v1/reports/metrics?{query}"))
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::OK, "{query}: {status} {body}");
    Ok(body)
}

/// The group of a currency (and name), as `metric → value`.
fn figures(report: &Value, name: &str, currency: &str) -> Result<serde_json::Map<String, Value>> {
    let group = report["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["currency"] == currency && g["name"] == name)
        .with_context(|| format!("no group {name} {currency} in {report}"))?;
    let mut out = serde_json::Map::new();
    for f in group["figures"].as_array().into_iter().flatten() {
        anyhow::ensure!(
            f["definition"].as_str().is_some_and(|d| d.len() > 40),
            "{f}"
        );
        out.insert(
            f["metric"].as_str().unwrap_or_default().to_owned(),
            f["value"].clone(),
        );
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_portfolio_worked_by_hand() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let manager = app.user(Role::Manager).await?;
    let collector = app.user(Role::Collector).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD"}))
        .await?;
    app.assign(&acme, Some(collector.id), None).await?;
    let euro = app
        .customer(json!({"name": "Euro", "kind": "commercial", "currency": "EUR"}))
        .await?;
    // The period: 2025-12-03 to today, 2026-03-02: 29 + 31 + 28 + 2 = 90 days.
    // Before it: P-0, 2,000 (beginning AR). In it, credit sales of 10,000: S-1 3,000,
    // S-2 4,000, S-3 3,000.
    let p0 = app
        .invoice(&acme, "P-0", "2000.00", "2025-11-01", "2025-12-01")
        .await?;
    let s1 = app
        .invoice(&acme, "S-1", "3000.00", "2025-12-10", "2026-01-09")
        .await?;
    let s2 = app
        .invoice(&acme, "S-2", "4000.00", "2026-01-15", "2026-02-14")
        .await?;
    let s3 = app
        .invoice(&acme, "S-3", "3000.00", "2026-02-20", "2026-03-22")
        .await?;
    app.invoice(&euro, "E-1", "1000.00", "2026-01-10", "2026-02-09")
        .await?;
    let pay = |invoice: &Value, amount: &str, on: &str| {
        app.money(
            &accountant,
            "/v1/payments",
            &json!({"customer_id": acme["id"], "received_on": on, "amount": amount, "method": "ach",
                    "applications": [{"invoice_id": invoice["id"], "amount": amount}]}),
        )
        .send()
    };
    // P-0 paid in full on 2026-01-05: 65 days to pay, 35 late.
    // S-1 paid in full on 2026-01-09: 30 days to pay, on its due date (0 late).
    // S-2 paid 1,000 on 2026-02-20 and 500 written off today: 2,500 open, past due.
    for (invoice, amount, on) in [
        (&p0, "2000.00", "2026-01-05"),
        (&s1, "3000.00", "2026-01-09"),
        (&s2, "1000.00", "2026-02-20"),
    ] {
        let (status, body) = read(pay(invoice, amount, on).await?).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let admin = app.admin().await?;
    let (status, written_off) = read(
        app.money(
            admin,
            "/v1/write-offs",
            &json!({"invoice_id": s2["id"], "amount": "500.00", "reason": "goodwill on damaged lot"}),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{written_off}");
    assert_eq!(written_off["write_off"]["status"], "posted");
    // Disputes opened today on S-3: 300 pricing, 200 damaged.
    for (invoice, amount, reason) in [(&s3, "300.00", "pricing"), (&s3, "200.00", "damaged")] {
        let (status, body) = read(
            app.as_user(&collector, Method::POST, "/v1/disputes")
                .json(&json!({"customer_id": acme["id"], "invoices": [{"invoice_id": invoice["id"], "amount": amount}], "reason_code": reason}))
                .send()
                .await?,
        )
        .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let report = metrics(&app, &manager, "from=2025-12-03&to=2026-03-02").await?;
    assert_eq!(
        (report["days"].clone(), report["group_by"].clone()),
        (json!(90), json!("none"))
    );
    let usd = figures(&report, "all", "USD")?;
    // Ending AR: S-2 2,500 + S-3 3,000 = 5,500, of which S-3's 3,000 is current.
    // DSO = 5,500 ÷ 10,000 × 90 = 49.5; BPDSO = 3,000 ÷ 10,000 × 90 = 27; ADD = 22.5.
    // CEI = (2,000 + 10,000 − 5,500) ÷ (2,000 + 10,000 − 3,000) × 100 = 6,500 ÷ 9,000
    //     × 100 = 72.22….
    // Count-back: newest month 2026-02-03..03-02 (28 days) sold S-3 3,000: covered,
    // 2,500 left; the month before, 01-03..02-02 (31 days), sold S-2 4,000:
    // 2,500 ÷ 4,000 × 31 = 19.375; 28 + 19.375 = 47.375 → 47.38 (half away from zero).
    // Paid in the period: P-0 (65 days, 35 late, 2,000) and S-1 (30 days, 0 late, 3,000):
    // ADP = 47.5; weighted (2,000 × 65 + 3,000 × 30) ÷ 5,000 = 44; ADL = 17.5; 50 % late.
    // Bad debt: 500 ÷ 10,000 × 100 = 5 %.
    let expected = json!({
        "credit_sales": "10000.00",
        "beginning_ar": "2000.00",
        "ending_ar": "5500.00",
        "current_ar": "3000.00",
        "dso": "49.50",
        "dso_count_back": "47.38",
        "best_possible_dso": "27.00",
        "average_days_delinquent": "22.50",
        "collection_effectiveness_index": "72.22",
        "paid_invoices": "2.00",
        "average_days_to_pay": "47.50",
        "average_days_to_pay_weighted": "44.00",
        "average_days_late": "17.50",
        "percent_paid_late": "50.00",
        "write_offs_net_of_recoveries": "500.00",
        "bad_debt_ratio": "5.00",
        "disputes_opened": "2.00",
        "disputed_amount_opened": "500.00",
    });
    assert_eq!(Value::Object(usd), expected, "{report}");
    let group = report["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["currency"] == "USD")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        group["disputes"],
        json!([
            {"reason_code": "damaged", "count": 1, "amount": "200.00"},
            {"reason_code": "pricing", "count": 1, "amount": "300.00"},
        ])
    );
    let dso = group["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["metric"] == "dso")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        dso["definition"].as_str(),
        Some(recoup_core::metrics::definition(
            recoup_core::metrics::Metric::Dso
        ))
    );
    // Ending and current AR are the aging report's total and current bucket on `to`.
    let (status, aging) = read(
        app.as_user(
            &manager,
            Method::GET,
            "/v1/reports/aging?as_of=2026-03-02&group_by=currency",
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{aging}");
    let usd_aging = aging["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["currency"] == "USD")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(usd_aging["total"], expected["ending_ar"]);
    assert_eq!(usd_aging["amounts"][0], expected["current_ar"]);
    // EUR stays apart: 1,000 sold, all open and past due, nothing collected.
    let eur = figures(&report, "all", "EUR")?;
    assert_eq!(eur["credit_sales"], "1000.00");
    assert_eq!(eur["dso"], "90.00");
    assert_eq!(eur["best_possible_dso"], "0.00");
    assert_eq!(eur["collection_effectiveness_index"], "0.00");
    assert_eq!(eur["average_days_to_pay"], Value::Null, "no paid invoices");
    assert_eq!(eur["paid_invoices"], "0.00");

    // A period before the sales: no credit sales, so no DSO; the AR is P-0.
    let early = metrics(&app, &manager, "from=2025-11-15&to=2025-11-30").await?;
    let early_usd = figures(&early, "all", "USD")?;
    assert_eq!(early_usd["credit_sales"], "0.00");
    assert_eq!(early_usd["ending_ar"], "2000.00");
    assert_eq!(early_usd["dso"], Value::Null);
    assert_eq!(early_usd["bad_debt_ratio"], Value::Null);

    // Per customer and per collector.
    let by_customer = metrics(
        &app,
        &manager,
        "from=2025-12-03&to=2026-03-02&group_by=customer",
    )
    .await?;
    assert_eq!(figures(&by_customer, "Acme", "USD")?["dso"], "49.50");
    assert_eq!(figures(&by_customer, "Euro", "EUR")?["dso"], "90.00");
    let acme_group = by_customer["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["name"] == "Acme")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(acme_group["key"], json!(id_of(&acme).to_string()));
    let by_collector = metrics(
        &app,
        &manager,
        "from=2025-12-03&to=2026-03-02&group_by=collector",
    )
    .await?;
    assert_eq!(
        figures(&by_collector, "Test collector", "USD")?["collection_effectiveness_index"],
        "72.22"
    );
    assert_eq!(
        figures(&by_collector, "(unassigned)", "EUR")?["ending_ar"],
        "1000.00"
    );

    // CSV, long.
    let res = app
        .as_user(
            &manager,
            Method::GET,
            "/v1/reports/metrics?from=2025-12-03&to=2026-03-02",
        )
        .header("accept", "text/csv")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(
        body.lines().next(),
        Some("key,name,currency,metric,reason_code,value")
    );
    assert!(body.contains("\n,all,USD,dso,,49.50\n"), "{body}");
    assert!(
        body.contains("\n,all,USD,disputes_opened,pricing,1\n"),
        "{body}"
    );
    assert!(
        body.contains("\n,all,EUR,average_days_to_pay,,\n"),
        "{body}"
    );

    // Roles.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                "/v1/reports/metrics?from=2026-01-01&to=2026-01-31",
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

    // Bad queries.
    for (query, code) in [
        ("from=2026-03-02&to=2026-03-01", "before_from"),
        ("from=2020-01-01&to=2026-03-01", "period_too_long"),
        (
            "from=2026-01-01&to=2026-01-31&group_by=region",
            "invalid_group_by",
        ),
    ] {
        let res = app
            .as_user(
                &manager,
                Method::GET,
                &format!("/v1/reports/metrics?{query}"),
            )
            .send()
            .await?;
        let problem = expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;
        assert_eq!(problem["errors"][0]["code"], code, "{query}");
    }
    let res = app
        .as_user(&manager, Method::GET, "/v1/reports/metrics?from=2026-01-01")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.check_ledger().await?;
    Ok(())
}

fn half_up(value: Decimal) -> String {
    let mut v = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(2);
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ibm_days_to_pay_and_days_late_match_the_csv() -> Result<()> {
    let app = TestApp::spawn().await?;
    let pool = db::pool(&app.db.url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let imported = import::import_ibm(&mut conn, &ctx, text.as_bytes(), |_| {}).await?;
    assert!(imported.errors.is_empty(), "{:?}", imported.errors.first());

    // The means of the file's own columns, independently.
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .context(name.to_owned())
    };
    let (to_settle, late) = (col("DaysToSettle")?, col("DaysLate")?);
    let (mut settle_sum, mut late_sum, mut late_count, mut n) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let get = |i: usize| fields.get(i).copied().context("short line");
        let days_late = Decimal::from_str(get(late)?)?;
        settle_sum += Decimal::from_str(get(to_settle)?)?;
        late_sum += days_late;
        if days_late > Decimal::ZERO {
            late_count += Decimal::ONE;
        }
        n += Decimal::ONE;
    }
    assert_eq!(n, Decimal::from(2466));

    let admin = app.admin().await?;
    let report = metrics(&app, admin, "from=2012-01-01&to=2014-01-31").await?;
    let usd = figures(&report, "all", "USD")?;
    assert_eq!(usd["paid_invoices"], "2466.00");
    assert_eq!(
        usd["average_days_to_pay"],
        half_up(settle_sum / n),
        "mean DaysToSettle"
    );
    assert_eq!(
        usd["average_days_late"],
        half_up(late_sum / n),
        "mean DaysLate"
    );
    assert_eq!(
        usd["percent_paid_late"],
        half_up(late_count * Decimal::ONE_HUNDRED / n)
    );
    // Everything billed was collected: no AR at either end, CEI 100.
    assert_eq!(usd["credit_sales"], "147703.18");
    assert_eq!(usd["ending_ar"], "0.00");
    assert_eq!(usd["collection_effectiveness_index"], "100.00");
    Ok(())
}
