//! A large import survives its worker being killed: the real `recoup-worker` binary is
//! started as a child process, SIGKILLed mid-job several times (each time after the
//! job's progress moved on) and restarted, then stopped with SIGTERM, which hands the
//! job back; in the end every row is imported exactly once, to the cent, and the kills
//! used up no attempts.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use recoup_core::user::Role;
use recoup_e2e::{TestApp, TestUser, read};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const ROWS: u64 = 20_000;
const CUSTOMERS: u64 = 200;

/// The worker binary beside this test's (`target/<profile>/recoup-worker`), built first
/// so a run of this test alone uses the worker of the code under test.
fn worker_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test executable outside target/<profile>/deps")?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .context("no target directory")?
        .to_path_buf();
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "recoup-worker",
            "--bin",
            "recoup-worker",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("running cargo build for recoup-worker")?;
    anyhow::ensure!(status.success(), "building recoup-worker failed");
    let binary = profile_dir.join("recoup-worker");
    anyhow::ensure!(binary.exists(), "no worker at {}", binary.display());
    Ok(binary)
}

fn start_worker(binary: &PathBuf, app: &TestApp) -> Result<Child> {
    Ok(Command::new(binary)
        .env("RECOUP_DATABASE_URL", &app.db.url)
        .env("RECOUP_REDIS_URL", &app.config.redis_url)
        .env("RECOUP_REDIS_PREFIX", &app.redis_prefix)
        .env("RECOUP_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

async fn job(app: &TestApp, user: &TestUser, id: &str) -> Result<Value> {
    let (status, job) = read(
        app.as_user(user, Method::GET, &format!("/v1/jobs/{id}"))
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {job}");
    Ok(job)
}

/// Polls the job until `done(job)` holds; bounded so a stuck worker fails the test.
async fn until(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let started = Instant::now();
    loop {
        let j = job(app, user, id).await?;
        if done(&j) {
            return Ok(j);
        }
        anyhow::ensure!(j["status"] != "dead", "job died: {j}");
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "waited too long for {what}: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn progress(job: &Value) -> i64 {
    job["progress_done"].as_i64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_imports_once() -> Result<()> {
    let binary = worker_binary()?;
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;

    let mut customers = String::from("external_id,name,currency\n");
    for c in 0..CUSTOMERS {
        customers.push_str(&format!("K-{c:04},Kill Test {c},USD\n"));
    }
    let mut invoices = String::from("external_id,customer_external_id,issue_date,amount\n");
    let mut cents: i64 = 0;
    for i in 0..ROWS {
        let amount = 100 + (i * 7919) % 99_000;
        cents += i64::try_from(amount)?;
        invoices.push_str(&format!(
            "KI-{i:06},K-{:04},2026-01-{:02},{}.{:02}\n",
            i % CUSTOMERS,
            1 + i % 28,
            amount / 100,
            amount % 100
        ));
    }
    let post = |kind: &str, body: String| {
        app.as_user(
            &accountant,
            Method::POST,
            &format!("/v1/imports?kind={kind}"),
        )
        .header("content-type", "text/csv")
        .body(body)
        .send()
    };
    let mut worker = start_worker(&binary, &app)?;
    let (status, queued) = read(post("customers", customers).await?).await?;
    anyhow::ensure!(status == StatusCode::ACCEPTED, "{queued}");
    let id = queued["id"].as_str().unwrap_or_default().to_owned();
    until(&app, &accountant, &id, "the customers", |j| {
        j["status"] == "succeeded"
    })
    .await?;

    let (status, queued) = read(post("invoices", invoices).await?).await?;
    anyhow::ensure!(status == StatusCode::ACCEPTED, "{queued}");
    let id = queued["id"].as_str().unwrap_or_default().to_owned();

    // Three SIGKILLs, each once the current process has committed at least two more
    // batches, so every killed run made progress; progress never goes back.
    let mut seen = 0;
    for kill in 0..3 {
        let floor = seen;
        let j = until(&app, &accountant, &id, "progress", |j| {
            progress(j) >= floor + 1000 || j["status"] == "succeeded"
        })
        .await?;
        anyhow::ensure!(
            j["status"] != "succeeded",
            "the import finished before kill {kill}; make it larger"
        );
        worker.kill()?; // SIGKILL
        worker.wait()?;
        let at_kill = progress(&job(&app, &accountant, &id).await?);
        anyhow::ensure!(at_kill >= seen, "progress went back: {at_kill} < {seen}");
        seen = at_kill;
        worker = start_worker(&binary, &app)?;
    }

    // SIGTERM: the process stops promptly, the job handed back (or finished).
    let floor = seen;
    until(&app, &accountant, &id, "progress before SIGTERM", |j| {
        progress(j) >= floor + 500 || j["status"] == "succeeded"
    })
    .await?;
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()?;
    anyhow::ensure!(term.success(), "kill -TERM failed");
    let stopping = Instant::now();
    let exit = loop {
        if let Some(status) = worker.try_wait()? {
            break status;
        }
        anyhow::ensure!(
            stopping.elapsed() < Duration::from_secs(60),
            "the worker did not stop within 60 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    anyhow::ensure!(exit.success(), "worker exited with {exit}");
    let after_term = job(&app, &accountant, &id).await?;
    assert!(
        after_term["status"] == "queued" || after_term["status"] == "succeeded",
        "SIGTERM left the job {after_term}"
    );

    let mut worker = start_worker(&binary, &app)?;
    let done = until(&app, &accountant, &id, "the end", |j| {
        j["status"] == "succeeded"
    })
    .await;
    worker.kill()?;
    worker.wait()?;
    let done = done?;
    let report = &done["result"];
    let total = i64::try_from(ROWS)?;
    assert_eq!(report["rows"], total, "{done}");
    assert_eq!(report["invoices_created"], total, "{done}");
    assert_eq!(report["rejected"], 0, "{done}");
    assert_eq!(progress(&done), total);
    // Interrupted runs that got further used up no attempt.
    assert_eq!(done["attempts"], 1, "{done}");

    let client = app.db.client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM invoices), (SELECT count(DISTINCT external_id) FROM invoices), \
                    (SELECT (sum(amount) * 100)::bigint FROM invoices), \
                    (SELECT count(*) FROM ledger_entries WHERE kind = 'invoice_issued'), \
                    (SELECT count(*) FROM audit_events WHERE action = 'invoice.create')",
            &[],
        )
        .await?;
    let got: (i64, i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    // Each row's effect happened once: one invoice, one issue entry, one audit event.
    assert_eq!(got, (total, total, cents, total, total));
    app.check_ledger().await?;
    Ok(())
}
