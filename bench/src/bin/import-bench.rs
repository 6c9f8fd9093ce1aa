//! Import throughput: N invoice rows imported through the real path — `POST
//! /v1/imports` (the body streamed from disk into chunks) and the worker (chunks read
//! back, rows checked, written through the upserts in batches) — beside PostgreSQL's
//! `COPY` of the same file into a bare table of the same columns, in the same run; and
//! the peak RSS (VmHWM) of this process, which serves the upload and runs the worker.
//!
//! `cargo run --release -p recoup-bench --bin import-bench [-- ROWS]` (default 1,000,000
//! rows, ~60 MB, over 5,000 customers imported first). Prints rows/s, the COPY rate,
//! their ratio (target ≥ 0.3) and the peak RSS (target < 200 MiB).

use std::io::{BufWriter, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use recoup_core::user::Role;
use recoup_e2e::{TestApp, TestUser, read};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const CUSTOMERS: u64 = 5_000;

#[tokio::main]
async fn main() -> Result<()> {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("recoup-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(rows, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(rows: u64, dir: &std::path::Path) -> Result<()> {
    // The files are written to disk first and streamed from there, so this process's
    // peak memory is the server's and the worker's, not the client's.
    let customers = dir.join("customers.csv");
    let invoices = dir.join("invoices.csv");
    {
        let mut out = BufWriter::new(std::fs::File::create(&customers)?);
        writeln!(out, "external_id,name,currency,payment_terms_days")?;
        for c in 0..CUSTOMERS {
            writeln!(out, "B-{c:05},Bench Customer {c},USD,30")?;
        }
        let mut out = BufWriter::new(std::fs::File::create(&invoices)?);
        writeln!(
            out,
            "external_id,customer_external_id,issue_date,due_date,amount,po_number"
        )?;
        for i in 0..rows {
            let cents = 100 + (i * 7919) % 999_900;
            writeln!(
                out,
                "INV-{i:08},B-{:05},2026-01-{:02},2026-02-{:02},{}.{:02},PO-{}",
                i % CUSTOMERS,
                1 + i % 28,
                1 + i % 28,
                cents / 100,
                cents % 100,
                i % 997
            )?;
        }
        out.flush()?;
    }
    let size = std::fs::metadata(&invoices)?.len();

    let app = TestApp::spawn_with(|c| {
        c.http_workers = 2;
        c.db_pool_size = 8;
    })
    .await?;
    let _worker = app.start_worker();
    let accountant = app.user(Role::Accountant).await?;
    eprintln!("importing {CUSTOMERS} customers…");
    let job = upload(&app, &accountant, "customers", &customers).await?;
    finish(&app, &accountant, &job, 0).await?;

    eprintln!(
        "importing {rows} invoices ({:.1} MB) through POST /v1/imports and the worker…",
        mb(size)
    );
    let started = Instant::now();
    let job = upload(&app, &accountant, "invoices", &invoices).await?;
    let uploaded = started.elapsed();
    let done = finish(&app, &accountant, &job, rows).await?;
    let elapsed = started.elapsed();
    let report = &done["result"];
    if report["invoices_created"].as_u64() != Some(rows) || report["rejected"] != 0 {
        bail!("the import did not create every invoice: {report}");
    }
    let peak = peak_rss_kib()?;
    let import_rate = per_second(rows, elapsed);

    let copy = copy_baseline(&app, &invoices)?;
    let copy_rate = per_second(rows, copy);
    let floor = database_alone(&app)?;
    let floor_rate = per_second(rows, floor);
    println!("import-bench: {rows} invoice rows ({:.1} MB CSV)", mb(size));
    println!(
        "  recoup import (upload + worker)  {import_rate:>10.0} rows/s  ({:.1} s; upload {:.1} s)",
        elapsed.as_secs_f64(),
        uploaded.as_secs_f64()
    );
    println!(
        "  PostgreSQL COPY, bare table      {copy_rate:>10.0} rows/s  ({:.1} s)",
        copy.as_secs_f64()
    );
    println!(
        "  ratio                            {:>10.3}  (target ≥ 0.3)",
        import_rate / copy_rate
    );
    println!(
        "  PostgreSQL alone, same rows into invoices, entries, audit  {floor_rate:>10.0} rows/s  ({:.1} s; ratio to COPY {:.3}: the ceiling of this schema)",
        floor.as_secs_f64(),
        floor_rate / copy_rate
    );
    println!(
        "  peak RSS (VmHWM) of the process serving the upload and running the worker  {:.1} MiB  (target < 200 MiB)",
        f64::from(u32::try_from(peak).unwrap_or(u32::MAX)) / 1024.0
    );
    Ok(())
}

fn mb(bytes: u64) -> f64 {
    f64::from(u32::try_from(bytes / 1000).unwrap_or(u32::MAX)) / 1000.0
}

fn per_second(rows: u64, took: Duration) -> f64 {
    f64::from(u32::try_from(rows).unwrap_or(u32::MAX)) / took.as_secs_f64()
}

/// Streams a file from disk as a `text/csv` upload; returns the job id.
async fn upload(
    app: &TestApp,
    user: &TestUser,
    kind: &str,
    path: &std::path::Path,
) -> Result<String> {
    let file = std::fs::File::open(path)?;
    let blocks = futures_util::stream::unfold(file, |mut file| async move {
        let mut block = vec![0; 256 * 1024];
        match file.read(&mut block) {
            Ok(0) => None,
            Ok(n) => {
                block.truncate(n);
                Some((Ok::<_, std::io::Error>(block), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let (status, job) = read(
        app.as_user(user, Method::POST, "/v1/imports")
            .query(&[("kind", kind)])
            .header("content-type", "text/csv")
            .body(reqwest::Body::wrap_stream(blocks))
            .send()
            .await?,
    )
    .await?;
    if status != StatusCode::ACCEPTED {
        bail!("upload refused: {status} {job}");
    }
    Ok(job["id"].as_str().unwrap_or_default().to_owned())
}

/// Polls the job until it ends, showing progress.
async fn finish(app: &TestApp, user: &TestUser, id: &str, rows: u64) -> Result<Value> {
    loop {
        let (status, job) = read(
            app.as_user(user, Method::GET, &format!("/v1/jobs/{id}"))
                .send()
                .await?,
        )
        .await?;
        if status != StatusCode::OK {
            bail!("job: {status} {job}");
        }
        match job["status"].as_str() {
            Some("succeeded") => {
                eprintln!();
                return Ok(job);
            }
            Some("dead") => bail!("the import died: {job}"),
            _ => {
                if rows > 0 {
                    eprint!("\r  {} / {rows} rows", job["progress_done"]);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// `VmHWM` of this process: its peak resident set.
fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("no VmHWM in /proc/self/status")
}

/// `COPY` of the same file into a bare table (same columns, no keys, no indexes) on a
/// scratch table of the app's database, through psql's `\copy` (client-side, as an
/// upload is).
fn copy_baseline(app: &TestApp, path: &std::path::Path) -> Result<Duration> {
    let psql = |sql: &str| recoup_bench::psql(&app.db.url, sql);
    psql(
        "CREATE TABLE bench_copy (external_id TEXT, customer_external_id TEXT, issue_date DATE, \
         due_date DATE, amount NUMERIC(19, 4), po_number TEXT)",
    )?;
    let started = Instant::now();
    psql(&format!(
        "\\copy bench_copy FROM '{}' WITH (FORMAT csv, HEADER true)",
        path.display()
    ))?;
    Ok(started.elapsed())
}

/// What this schema costs PostgreSQL alone: the rows `COPY` loaded (kept in
/// `bench_copy`) written as an import writes them (an invoice, its `invoice_issued`
/// entry and its `invoice.create` audit event, with every index, foreign key and
/// trigger) by three `INSERT … SELECT`s in one transaction: no parsing, no checks, no
/// round trips. Numbers and external ids get a prefix, ids sort after every v7 id (as
/// new v7 ids do). An import can at best approach this rate.
fn database_alone(app: &TestApp) -> Result<Duration> {
    let psql = |sql: &str| recoup_bench::psql(&app.db.url, sql);
    psql(
        "CREATE TABLE bench_rows AS SELECT row_number() OVER () AS n, b.*, c.id AS customer_id \
           FROM bench_copy b JOIN customers c ON c.external_id = b.customer_external_id",
    )?;
    let id =
        |prefix: &str| format!("('{prefix}-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid");
    let (invoice, entry, event) = (id("fffffff1"), id("fffffff2"), id("fffffff3"));
    let started = Instant::now();
    psql(&format!(
        "BEGIN; \
         INSERT INTO invoices (id, number, external_id, customer_id, kind, issue_date, due_date, \
                amount, currency, po_number, project, status, open_balance, charged, written_off, \
                created_at, updated_at) \
         SELECT {invoice}, 'F-' || external_id, 'F-' || external_id, customer_id, 'invoice', \
                issue_date, due_date, amount, 'USD', po_number, NULL, 'open', amount, amount, \
                FALSE, now(), now() FROM bench_rows; \
         INSERT INTO ledger_entries (id, customer_id, invoice_id, kind, amount, currency, \
                effective_on, posted_at, actor_kind, actor_id) \
         SELECT {entry}, customer_id, {invoice}, 'invoice_issued', amount, 'USD', issue_date, \
                now(), 'system', NULL FROM bench_rows; \
         INSERT INTO audit_events (id, occurred_at, actor_kind, actor_id, action, entity_type, \
                entity_id, after, request_id) \
         SELECT {event}, now(), 'system', NULL, 'invoice.create', 'invoice', {invoice}, \
                jsonb_build_object('id', {invoice}, 'kind', 'invoice', 'number', 'F-' || external_id, \
                  'external_id', 'F-' || external_id, 'customer_id', customer_id, \
                  'issue_date', issue_date, 'due_date', due_date, 'amount', amount::text, \
                  'currency', 'USD', 'po_number', po_number, 'project', NULL, 'status', 'open', \
                  'open_balance', amount::text, 'created_at', now(), 'updated_at', now()), \
                'bench' FROM bench_rows; \
         COMMIT;"
    ))?;
    let took = started.elapsed();
    psql("DROP TABLE bench_rows; DROP TABLE bench_copy")?;
    Ok(took)
}
