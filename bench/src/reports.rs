//! Read paths on a 1M-invoice portfolio, each beside a PostgreSQL baseline on the
//! same database in the same run:
//! - worklist latency, `GET /v1/worklist` for a collector with 5,000 accounts, beside
//!   `pgbench -S` (select-only) latency (target p95 ≤ 50 ms);
//! - the aging report, `GET /v1/reports/aging?group_by=currency`, beside one
//!   hand-written SQL aggregate computing the same buckets (target ratio ≤ 2).
//!
//! `cargo run --release -p recoup-bench --bin reports-bench [-- CUSTOMERS INVOICES_PER_CUSTOMER]`
//! (default 50,000 × 20 = 1M invoices, ~3.4M ledger entries).
//!
//! Each run generates the portfolio afresh in a database of its own, dropped at the
//! end. To iterate on a query, `RECOUP_BENCH_DB=name` keeps the database `name`
//! instead: generated on the first run, reused as it is (migrated to the current set)
//! on the next ones, which skip the ~5 minutes of generation. `DROP DATABASE name`
//! when done; figures to report come from a fresh run.

mod portfolio;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use recoup_core::user::Role;
use recoup_e2e::{TestApp, TestDatabase};
use rust_decimal::Decimal;

const ACCOUNTS: i64 = 5_000;
const REQUESTS: usize = 200;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let customers: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let per: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let kept = std::env::var("RECOUP_BENCH_DB")
        .ok()
        .filter(|n| !n.is_empty());
    let db = match &kept {
        Some(name) => TestDatabase::kept(name).await?,
        None => TestDatabase::create().await?,
    };
    let app = TestApp::spawn_on(db, |c| c.http_workers = 2).await?;
    // The collector of a kept database must be found again on the next run.
    let collector = match &kept {
        Some(_) => {
            app.user_with(
                Role::Collector,
                "bench-collector@recoup.test",
                "bench-collector-password",
            )
            .await?
        }
        None => app.user(Role::Collector).await?,
    };
    let client = app.db.client().await?;
    let shape = portfolio::Shape {
        customers,
        invoices_per_customer: per,
        accounts: ACCOUNTS.min(customers),
        collector: collector.id,
        as_of: app.clock_now().date_naive(),
    };
    let generated: i64 = client
        .query_one("SELECT count(*) FROM invoices", &[])
        .await?
        .get(0);
    let (invoices, entries) = if generated == 0 {
        eprintln!("generating {customers} customers × {per} invoices…");
        let started = Instant::now();
        let counts = portfolio::generate(&client, &shape).await?;
        eprintln!(
            "  {} invoices, {} ledger entries in {:.1} s",
            counts.0,
            counts.1,
            started.elapsed().as_secs_f64()
        );
        counts
    } else {
        let entries: i64 = client
            .query_one("SELECT count(*) FROM ledger_entries", &[])
            .await?
            .get(0);
        eprintln!(
            "reusing database {}: {generated} invoices, {entries} ledger entries",
            app.db.name
        );
        (generated, entries)
    };

    // Every customer has a standing, as after the nightly refresh: the collector's
    // read then finds its 5,000 among 50,000 by index, as in production.
    let standings: i64 = client
        .query_one("SELECT count(*) FROM account_standings", &[])
        .await?
        .get(0);
    if standings < customers {
        eprintln!("refreshing the standings of {customers} customers…");
        let started = Instant::now();
        let pool = recoup_core::db::pool(&app.db.url, 1)?;
        let mut conn = recoup_core::db::conn(&pool).await?;
        recoup_core::worklist::refresh_all(
            &mut conn,
            &recoup_core::Context::system(app.clock_now()),
        )
        .await?;
        client
            .batch_execute("VACUUM ANALYZE account_standings")
            .await?;
        eprintln!("  in {:.1} s", started.elapsed().as_secs_f64());
    }

    let url = app.url("/v1/worklist?limit=50");
    let get = || async {
        let res = app
            .http
            .get(&url)
            .bearer_auth(&collector.token)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!(
                "worklist: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        let body: serde_json::Value = res.json().await?;
        anyhow::Ok(body)
    };
    let first = get().await?;
    let rows = first["data"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(rows == 50, "expected a full first page, got {rows}");
    for _ in 0..10 {
        get().await?;
    }
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        get().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: usize| {
        times
            .get((times.len() * q / 100).min(times.len() - 1))
            .copied()
            .unwrap_or(0.0)
    };
    // The aging report against one hand-written aggregate of the same buckets: open
    // invoices summed from their entries, bucketed by days past due. It leaves out what
    // the portfolio does not have (cash on account, negative or not-yet-issued invoice
    // balances, which the report must still handle), so each round checks that both
    // give the same amounts and counts: the reference stays a reference.
    let as_of = shape.as_of.to_string();
    let admin = app.admin().await?;
    let aging_url = app.url(&format!(
        "/v1/reports/aging?as_of={as_of}&group_by=currency"
    ));
    let baseline = format!(
        "SELECT i.currency, width_bucket('{as_of}'::date - i.due_date, ARRAY[1, 31, 61, 91, 121]) AS bucket,
                count(*), sum(x.open)::text
           FROM (SELECT invoice_id, sum(amount) AS open FROM ledger_entries
                  WHERE effective_on <= '{as_of}' AND invoice_id IS NOT NULL
                  GROUP BY invoice_id HAVING sum(amount) <> 0) x
           JOIN invoices i ON i.id = x.invoice_id
          GROUP BY 1, 2"
    );
    let mut report_times = Vec::new();
    let mut sql_times = Vec::new();
    for round in 0..4 {
        let t = Instant::now();
        let res = app
            .http
            .get(&aging_url)
            .bearer_auth(&admin.token)
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "aging: {}", res.status());
        let body: serde_json::Value = res.json().await?;
        let report_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let rows = client.query(baseline.as_str(), &[]).await?;
        let sql_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            !rows.is_empty() && body["rows"].as_array().is_some_and(|r| !r.is_empty()),
            "empty aging"
        );
        same_buckets(&body, &rows)?;
        // The first round warms the caches for both.
        if round > 0 {
            report_times.push(report_s);
            sql_times.push(sql_s);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (report_s, sql_s) = (median(&mut report_times), median(&mut sql_times));

    let pg = pgbench_select_latency(&app.db.url)?;
    println!(
        "reports-bench: worklist of a collector with {} accounts, {invoices} invoices, {REQUESTS} requests",
        shape.accounts
    );
    println!(
        "  GET /v1/worklist   p50 {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms  (target p95 ≤ 50 ms)",
        at(50),
        at(95),
        times.last().copied().unwrap_or(0.0)
    );
    println!("  pgbench -S (1 client, same database)  latency average {pg:>8.3} ms");
    println!(
        "aging report as of {as_of}, by currency, over {entries} ledger entries (median of 3)"
    );
    println!("  GET /v1/reports/aging   {:>8.1} ms", report_s * 1000.0);
    println!("  hand-written aggregate  {:>8.1} ms", sql_s * 1000.0);
    println!(
        "  ratio                   {:>8.2}  (target ≤ 2)",
        report_s / sql_s
    );
    Ok(())
}

/// Whether the report's totals per currency have the reference's amount and count in
/// every bucket (zero where the reference has no row).
fn same_buckets(report: &serde_json::Value, reference: &[tokio_postgres::Row]) -> Result<()> {
    let mut expected: BTreeMap<(String, usize), (Decimal, u64)> = BTreeMap::new();
    for row in reference {
        let currency: String = row.get(0);
        let bucket = usize::try_from(row.get::<_, i32>(1))?;
        let count = u64::try_from(row.get::<_, i64>(2))?;
        let amount: Decimal = row.get::<_, String>(3).parse()?;
        expected.insert((currency, bucket), (amount, count));
    }
    let mut actual: BTreeMap<(String, usize), (Decimal, u64)> = BTreeMap::new();
    for total in report["totals"].as_array().into_iter().flatten() {
        let currency = total["currency"].as_str().unwrap_or_default().to_owned();
        let amounts = total["amounts"].as_array().into_iter().flatten();
        let counts = total["counts"].as_array().into_iter().flatten();
        for (bucket, (amount, count)) in amounts.zip(counts).enumerate() {
            let amount: Decimal = amount.as_str().unwrap_or_default().parse()?;
            let count = count.as_u64().unwrap_or_default();
            if count > 0 || !amount.is_zero() {
                actual.insert((currency.clone(), bucket), (amount, count));
            }
        }
    }
    anyhow::ensure!(
        actual == expected,
        "the report and the reference disagree:\n  report    {actual:?}\n  reference {expected:?}"
    );
    Ok(())
}

/// `pgbench -S` (select-only) with one client on the same database.
fn pgbench_select_latency(url: &str) -> Result<f64> {
    recoup_bench::run(&["pgbench", "-i", "-q", "-s", "10", url])?;
    let out = recoup_bench::run(&["pgbench", "-S", "-n", "-c", "1", "-T", "10", url])?;
    out.lines()
        .find(|l| l.starts_with("latency average = "))
        .and_then(|l| {
            l.trim_start_matches("latency average = ")
                .split_whitespace()
                .next()
        })
        .and_then(|v| v.parse::<f64>().ok())
        .context("no latency line in pgbench output")
}
