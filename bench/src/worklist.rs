//! Worklist latency: `GET /v1/worklist` for a collector with 5,000 accounts in a
//! database of 1M invoices, beside `pgbench -S` (select-only) latency on the same
//! database in the same run.
//!
//! `cargo run --release -p recoup-bench --bin worklist-bench [-- CUSTOMERS INVOICES_PER_CUSTOMER]`
//! (default 50,000 × 20 = 1M invoices). Prints p50/p95/max in ms (target p95 ≤ 50 ms).

mod portfolio;

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use recoup_core::user::Role;
use recoup_e2e::TestApp;

const ACCOUNTS: i64 = 5_000;
const REQUESTS: usize = 200;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let customers: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let per: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let app = TestApp::spawn_with(|c| c.http_workers = 2).await?;
    let collector = app.user(Role::Collector).await?;
    let client = app.db.client().await?;
    eprintln!("generating {customers} customers × {per} invoices…");
    let started = Instant::now();
    let shape = portfolio::Shape {
        customers,
        invoices_per_customer: per,
        accounts: ACCOUNTS.min(customers),
        collector: collector.id,
        as_of: app.clock_now().date_naive(),
    };
    let (invoices, entries) = portfolio::generate(&client, &shape).await?;
    eprintln!(
        "  {invoices} invoices, {entries} ledger entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );

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
    let pg = pgbench_select_latency(&app.db.url)?;
    println!(
        "worklist-bench: collector with {} accounts, {invoices} invoices, {REQUESTS} requests",
        shape.accounts
    );
    println!(
        "  GET /v1/worklist   p50 {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms  (target p95 ≤ 50 ms)",
        at(50),
        at(95),
        times.last().copied().unwrap_or(0.0)
    );
    println!("  pgbench -S (1 client, same database)  latency average {pg:>8.3} ms");
    Ok(())
}

/// `pgbench -S` (select-only) with one client on the same database.
fn pgbench_select_latency(url: &str) -> Result<f64> {
    let run = |args: &[&str]| -> Result<String> {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .with_context(|| format!("running {}", args[0]))?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(&["pgbench", "-i", "-q", "-s", "10", url])?;
    let out = run(&["pgbench", "-S", "-n", "-c", "1", "-T", "10", url])?;
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
