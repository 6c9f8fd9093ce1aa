//! Ledger throughput: payments with three applications each, posted through the API by
//! 16 concurrent clients, beside pgbench's TPC-B on the same PostgreSQL in the same run.
//!
//! `cargo run --release -p recoup-bench --bin ledger-bench [-- PAYMENTS_PER_CLIENT]` (default
//! 400: 6,400 payments, several seconds, so that the rate is not a one-second sample)
//! Prints payments/s, pgbench tps and their ratio (target ≥ 0.5); then the same
//! statements replayed by pgbench alone (`bench/sql/payment.pgbench`): what they cost
//! the database without Recoup around them (a reference, not a strict bound: the
//! replay computes its ids in SQL, and runs after the rest).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use recoup_bench::run;
use recoup_core::user::Role;
use recoup_e2e::{SERVER, TestApp};
use serde_json::json;

const CLIENTS: usize = 16;

#[tokio::main]
async fn main() -> Result<()> {
    let per_client: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    let app = TestApp::spawn_with(|c| {
        c.http_workers = 2;
        c.db_pool_size = 24;
    })
    .await?;
    let accountant = app.user(Role::Accountant).await?;

    // One customer per client (as real traffic spreads over accounts), three open
    // invoices per payment to come.
    eprintln!(
        "setting up {} customers and {} invoices…",
        CLIENTS,
        CLIENTS * per_client * 3
    );
    let mut customers = Vec::new();
    for c in 0..CLIENTS {
        let customer = app
            .customer(
                json!({"name": format!("Bench {c:02}"), "kind": "commercial", "currency": "USD"}),
            )
            .await?;
        customers.push(customer);
    }
    let mut setups = Vec::new();
    for (c, customer) in customers.iter().enumerate() {
        let http = app.http.clone();
        let url = app.url("/v1/invoices");
        let token = accountant.token.clone();
        let customer_id = customer["id"].clone();
        setups.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..per_client * 3 {
                let res = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"number": format!("B-{c:02}-{i:05}"), "customer_id": customer_id, "amount": "100.00",
                        "issue_date": "2026-01-01", "due_date": "2026-01-31"}))
                    .send()
                    .await?;
                let body: serde_json::Value = res.json().await?;
                ids.push(body["id"].clone());
            }
            anyhow::Ok((customer_id, ids))
        }));
    }
    let mut work = Vec::new();
    for s in setups {
        work.push(s.await??);
    }

    eprintln!(
        "posting {} payments from {CLIENTS} clients…",
        CLIENTS * per_client
    );
    let started = Instant::now();
    let mut clients = Vec::new();
    for (customer_id, invoices) in work {
        let http = app.http.clone();
        let url = app.url("/v1/payments");
        let token = accountant.token.clone();
        clients.push(tokio::spawn(async move {
            for chunk in invoices.chunks(3) {
                let applications: Vec<_> = chunk.iter().map(|id| json!({"invoice_id": id, "amount": "100.00"})).collect();
                let res = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&json!({"customer_id": customer_id, "received_on": "2026-02-01", "amount": "300.00",
                        "method": "ach", "applications": applications}))
                    .send()
                    .await?;
                if res.status() != reqwest::StatusCode::CREATED {
                    bail!("payment refused: {} {}", res.status(), res.text().await.unwrap_or_default());
                }
            }
            Ok(())
        }));
    }
    for c in clients {
        c.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let payments = CLIENTS * per_client;
    let payments_per_sec = f64::from(u32::try_from(payments)?) / elapsed;
    app.check_ledger().await?;

    let tps = pgbench_tpcb()?;
    let alone = statements_alone(&app.db.url)?;
    println!("ledger-bench: {payments} payments × 3 applications, {CLIENTS} clients");
    println!("  recoup POST /v1/payments   {payments_per_sec:>10.1} payments/s  ({elapsed:.2} s)");
    println!("  pgbench TPC-B (16 clients) {tps:>10.1} tps");
    println!(
        "  ratio                      {:>10.2}  (target ≥ 0.5)",
        payments_per_sec / tps
    );
    println!(
        "  the same statements replayed by pgbench {alone:>10.1} payments/s  (ratio {:.2}; no HTTP, JSON or Recoup)",
        alone / tps
    );
    Ok(())
}

/// A payment's statements replayed by pgbench (`bench/sql/payment.pgbench`) with 16
/// clients in the app's database: what they cost PostgreSQL without Recoup around them.
fn statements_alone(url: &str) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("recoup-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let setup = dir.join("payment-setup.sql");
    let script = dir.join("payment.pgbench");
    std::fs::write(&setup, include_str!("../sql/payment-setup.sql"))?;
    std::fs::write(&script, include_str!("../sql/payment.pgbench"))?;
    let result = (|| {
        let setup = setup.display().to_string();
        let script = script.display().to_string();
        run(&["psql", url, "-v", "ON_ERROR_STOP=1", "-qf", &setup])?;
        let out = run(&[
            "pgbench", "-n", "-M", "prepared", "-c", "16", "-j", "2", "-T", "15", "-D", "n=0",
            "-f", &script, url,
        ])?;
        tps_of(&out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tps_of(pgbench: &str) -> Result<f64> {
    pgbench
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("no tps line in pgbench output")
}

/// pgbench's TPC-B with 16 clients on a scratch database of the same server.
fn pgbench_tpcb() -> Result<f64> {
    let name = format!("recoup_bench_pgbench_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{SERVER}/{name}");
    let admin = format!("{SERVER}/postgres");
    run(&["psql", &admin, "-qc", &format!("CREATE DATABASE {name}")])?;
    let result = (|| {
        run(&["pgbench", "-i", "-q", "-s", "16", &url])?;
        tps_of(&run(&[
            "pgbench", "-n", "-c", "16", "-j", "2", "-T", "15", &url,
        ])?)
    })();
    run(&[
        "psql",
        &admin,
        "-qc",
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ])?;
    result
}
