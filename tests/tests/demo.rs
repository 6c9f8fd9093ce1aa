//! The demo (`recoup-api seed-demo`): seeded at a chosen instant, the demo collector's
//! worklist ranks accounts with reasons, the aging report has money in every bucket,
//! the hit list has rows, and the ledger holds; seeding again adds nothing.

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use recoup_api::demo;
use recoup_core::user::Role;
use recoup_core::{Context, db};
use recoup_e2e::{TestApp, TestUser, read};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::Value;

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Result<Value> {
    let (status, body) = read(app.as_user(user, Method::GET, path).send().await?).await?;
    anyhow::ensure!(status == StatusCode::OK, "{path}: {status} {body}");
    Ok(body)
}

fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

fn amount(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

fn statuses(page: &Value) -> Vec<String> {
    list(&page["data"])
        .iter()
        .filter_map(|r| r["status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_shows_a_collectors_day() -> Result<()> {
    let app = TestApp::spawn().await?;
    // A Thursday morning, before the day's work (15:00) and after the morning runs.
    let now = Utc
        .with_ymd_and_hms(2026, 5, 14, 9, 30, 0)
        .single()
        .context("instant")?;
    app.clock.set(now);
    let today = now.date_naive();
    let pool = db::pool(&app.db.url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    let logins = demo::create_users(&mut conn, &ctx).await?;
    assert!(logins.iter().all(|l| l.password.is_some()));
    let csv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let seeded = demo::seed_portfolio(&mut conn, &ctx, &csv, |_| {})
        .await?
        .context("an empty ledger is seeded")?;
    eprint!("{seeded}");
    assert_eq!(
        seeded.import.rejected,
        0,
        "{:?}",
        seeded.import.errors.first()
    );
    assert_eq!(seeded.import.invoices_created, 2466);
    // The sample's last invoice (2 December 2013) lands three days before today.
    let last = NaiveDate::from_ymd_opt(2013, 12, 2).context("date")?;
    assert_eq!(
        last.checked_add_signed(chrono::TimeDelta::days(seeded.shift_days)),
        today.checked_sub_days(chrono::Days::new(3))
    );
    // The invoices IBM settled more than three days after its last invoice are open.
    assert_eq!(seeded.left_open(), 71);
    let day = seeded.day.clone().context("the collector's day")?;
    assert_eq!(
        (
            day.invoices,
            day.payments,
            day.promises,
            day.disputes,
            day.plans,
            day.tasks,
            day.activities
        ),
        (6, 3, 3, 2, 1, 2, 11)
    );

    // Seeding again finds the ledger full and adds nothing; the logins exist.
    let tables = [
        "invoices",
        "payments",
        "promises",
        "disputes",
        "tasks",
        "activities",
        "audit_events",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(app.count(&format!("SELECT 1 FROM {t}")).await?);
    }
    assert!(
        demo::seed_portfolio(&mut conn, &ctx, &csv, |_| {})
            .await?
            .is_none()
    );
    let again = demo::create_users(&mut conn, &ctx).await?;
    assert!(again.iter().all(|l| l.password.is_none()));
    let mut after = Vec::new();
    for t in tables {
        after.push(app.count(&format!("SELECT 1 FROM {t}")).await?);
    }
    assert_eq!(before, after);

    // The demo collector's worklist: ranked rows, each with its reasons.
    let collector = app
        .user_with(
            Role::Collector,
            demo::COLLECTOR,
            &demo::password(Role::Collector),
        )
        .await?;
    let worklist = get(&app, &collector, "/v1/worklist?limit=50").await?;
    let rows = list(&worklist["data"]);
    eprintln!("worklist of {today}: {} rows", rows.len());
    for r in &rows {
        eprintln!(
            "  {} {} {} {} {:?}",
            r["rank"], r["customer_name"], r["score"], r["next_action"], r["reasons"]
        );
    }
    assert!(rows.len() >= 6, "{worklist}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"].as_i64(), i64::try_from(i + 1).ok());
        assert!(!list(&r["reasons"]).is_empty(), "{r}");
        assert!(!list(&r["components"]).is_empty(), "{r}");
    }
    let scores: Vec<Decimal> = rows.iter().map(|r| amount(&r["score"])).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let actions: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["next_action"].as_str())
        .collect();
    for action in [
        "confirm_promise",
        "call_about_broken_promise",
        "call_about_missed_installment",
        "do_due_task",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    let reasons: Vec<String> = rows
        .iter()
        .flat_map(|r| list(&r["reasons"]))
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    for words in [
        "due today",
        "broken",
        "missed",
        "in dispute, not chased",
        "task(s) due",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(words)),
            "{words}: {reasons:?}"
        );
    }
    let buckets: Vec<String> = rows
        .iter()
        .flat_map(|r| list(&r["overdue_by_bucket"]))
        .filter_map(|b| b["bucket"].as_str().map(str::to_owned))
        .collect();
    for bucket in ["1-30", "31-60", "61-90", "91-120", "120+"] {
        assert!(buckets.iter().any(|b| b == bucket), "{bucket}: {buckets:?}");
    }

    // What the collector sees behind it: promises kept, broken and open; disputes
    // open and investigating; a plan with a missed installment; tasks overdue and due
    // today.
    let promises = statuses(&get(&app, &collector, "/v1/promises?limit=200").await?);
    for s in ["kept", "broken", "open"] {
        assert!(promises.iter().any(|p| p == s), "{s}: {promises:?}");
    }
    let disputes = statuses(&get(&app, &collector, "/v1/disputes?limit=200").await?);
    for s in ["open", "investigating"] {
        assert!(disputes.iter().any(|d| d == s), "{s}: {disputes:?}");
    }
    let plans = get(&app, &collector, "/v1/payment-plans").await?;
    let plan = list(&plans["data"]).into_iter().next().context("a plan")?;
    assert_eq!(plan["status"], "active", "{plan}");
    let installments: Vec<String> = list(&plan["installments"])
        .iter()
        .filter_map(|i| i["status"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        installments.get(..3),
        Some(&["paid".to_owned(), "paid".to_owned(), "missed".to_owned()][..]),
        "{installments:?}"
    );
    let tasks = get(&app, &collector, "/v1/tasks?status=open&limit=200").await?;
    let due: Vec<NaiveDate> = list(&tasks["data"])
        .iter()
        .filter_map(|t| t["due_on"].as_str().and_then(|d| d.parse().ok()))
        .collect();
    assert!(due.iter().any(|d| *d < today), "{due:?}");
    assert!(due.contains(&today), "{due:?}");

    // The manager's reports: every aging bucket holds money, and the hit list has rows.
    let manager = app
        .user_with(Role::Manager, demo::MANAGER, &demo::password(Role::Manager))
        .await?;
    let aging = get(&app, &manager, "/v1/reports/aging?group_by=currency").await?;
    let totals = list(&aging["totals"])
        .into_iter()
        .next()
        .context("totals")?;
    eprintln!(
        "aging {}: {} {} {}",
        aging["as_of"], aging["buckets"], totals["amounts"], totals["counts"]
    );
    assert_eq!(list(&aging["buckets"]).len(), 6);
    assert!(
        list(&totals["amounts"])
            .iter()
            .all(|a| amount(a) > Decimal::ZERO),
        "{totals}"
    );
    assert!(
        list(&totals["counts"]).iter().all(|c| c.as_u64() > Some(0)),
        "{totals}"
    );
    let by_collector = get(&app, &manager, "/v1/reports/aging?group_by=collector").await?;
    let casey = list(&by_collector["rows"])
        .into_iter()
        .find(|r| r["key"] == collector.id.to_string())
        .context("the demo collector's row")?;
    eprintln!(
        "aging of {}: {} {}",
        casey["name"], casey["amounts"], casey["counts"]
    );
    assert!(
        list(&casey["counts"]).iter().all(|c| c.as_u64() > Some(0)),
        "{casey}"
    );
    let hit_list = get(&app, &manager, "/v1/reports/hit-list").await?;
    let hits: Vec<Value> = list(&hit_list["reps"])
        .iter()
        .flat_map(|g| list(&g["customers"]))
        .collect();
    eprintln!(
        "hit list {}: {} customers in {} groups",
        hit_list["week"],
        hits.len(),
        list(&hit_list["reps"]).len()
    );
    assert!(!hits.is_empty(), "{hit_list}");
    assert!(
        hits.iter().any(|h| h["open_promises"].as_i64() > Some(0)),
        "{hit_list}"
    );
    assert!(
        hits.iter().any(|h| h["open_disputes"].as_i64() > Some(0)),
        "{hit_list}"
    );

    app.check_ledger().await?;
    Ok(())
}
