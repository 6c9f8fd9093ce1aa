//! Imports through the outbox, Redis and the worker: the file is stored and its job
//! queued in one transaction, the relay hands it to the queue, the worker imports it
//! and reports progress and the result on `GET /v1/jobs/{id}`.

use anyhow::Result;
use recoup_core::db;
use recoup_core::import::ImportKind;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, expect_problem, read, wait_for_job};
use reqwest::{Method, StatusCode};

const IBM_HEADER: &str = "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n";
const CUSTOMERS: &[u8] = b"external_id,name,currency\nC-1,Acme,USD\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_runs_through_the_queue_and_reports() -> Result<()> {
    let app = TestApp::spawn().await?;
    let stop = app.start_worker();
    let accountant = app.user(Role::Accountant).await?;
    // The first 300 rows of the sample (the whole file is imported in tests/import.rs).
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let file: String = sample.lines().take(301).map(|l| format!("{l}\n")).collect();
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=ibm")
        .header("content-type", "text/csv")
        .body(file.clone())
        .send()
        .await?;
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, queued) = read(res).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["progress_total"], 300);
    let id = queued["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    let done = wait_for_job(&app, &accountant, &id).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress_done"], 300);
    assert_eq!(done["result"]["invoices_created"], 300);
    assert_eq!(done["result"]["errors"], serde_json::json!([]));
    assert_eq!(
        app.count("SELECT 1 FROM invoices WHERE status = 'paid'")
            .await?,
        300
    );
    assert_eq!(
        app.count("SELECT 1 FROM outbox WHERE sent_at IS NULL")
            .await?,
        0
    );

    // A malformed file: row errors with their lines, nothing wrong written.
    let bad = "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n\
               391,NEW-1,1/1/2013,X-1,1/2/2013,2/1/2013,12abc,No,1/15/2013,Paper,13,0\n\
               391,NEW-1,1/1/2013,X-2,2/30/2013,2/1/2013,10.00,No,1/15/2013,Paper,13,0\n";
    let (_, queued) = read(
        app.as_user(&accountant, Method::POST, "/v1/imports?kind=ibm")
            .header("content-type", "text/csv")
            .body(bad)
            .send()
            .await?,
    )
    .await?;
    let done = wait_for_job(&app, &accountant, queued["id"].as_str().unwrap_or_default()).await?;
    let lines: Vec<i64> = done["result"]["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["line"].as_i64())
        .collect();
    assert_eq!(lines, [2, 3]);
    assert_eq!(
        app.count("SELECT 1 FROM customers WHERE external_id = 'NEW-1'")
            .await?,
        0
    );

    // Jobs are the caller's own; managers and admins see all; importing is not for everyone.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(&user, Method::GET, &format!("/v1/jobs/{id}"))
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Manager) {
            assert_eq!(res.status(), StatusCode::OK, "{role}")
        } else {
            expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
        }
        let res = app
            .as_user(&user, Method::POST, "/v1/imports?kind=ibm")
            .header("content-type", "text/csv")
            .body(IBM_HEADER)
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Manager | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::ACCEPTED, "{role}")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=ibm")
        .header("content-type", "text/csv")
        .body("")
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "empty_file").await?;
    // A dead job: listed for admins, retried by an admin only, then run to the end.
    let client = app.db.client().await?;
    client
        .execute(
            "UPDATE jobs SET status = 'dead', attempts = 5, problem = '{\"code\": \"job_failed\"}' WHERE id = $1::text::uuid",
            &[&id],
        )
        .await?;
    let admin = app.admin().await?.clone();
    let (status, dead) = read(
        app.as_user(&admin, Method::GET, "/v1/jobs?status=dead")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dead["data"].as_array().map(Vec::len), Some(1));
    let (_, own) = read(
        app.as_user(&accountant, Method::GET, "/v1/jobs?limit=200")
            .send()
            .await?,
    )
    .await?;
    assert!(
        own["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|j| j["created_by"] == serde_json::json!(accountant.id))
    );
    let manager = app.user(Role::Manager).await?;
    let res = app
        .as_user(&manager, Method::POST, &format!("/v1/jobs/{id}/retry"))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let (status, requeued) = read(
        app.as_user(&admin, Method::POST, &format!("/v1/jobs/{id}/retry"))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (status, requeued["status"].as_str()),
        (StatusCode::ACCEPTED, Some("queued"))
    );
    let done = wait_for_job(&app, &admin, &id).await?;
    assert_eq!(done["status"], "succeeded");
    // The rerun resumed after the last committed batch: the report is the first run's,
    // and nothing was written twice.
    assert_eq!(done["result"]["invoices_created"], 300);
    assert_eq!(app.count("SELECT 1 FROM invoices").await?, 300);
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 300);
    let res = app
        .as_user(&admin, Method::POST, &format!("/v1/jobs/{id}/retry"))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "job_not_dead").await?;
    let _ = stop.send(());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_follows_the_transaction_and_two_relays_share_it() -> Result<()> {
    let app = TestApp::spawn().await?;
    let pool = db::pool(&app.db.url, 4)?;
    let ctx = recoup_core::Context::system(app.clock_now());
    // Rolled back: the job and its outbox row vanish together.
    let mut conn = db::conn(&pool).await?;
    {
        use diesel_async::AsyncConnection;
        let rolled_back: Result<(), recoup_core::Error> = conn
            .transaction(async |conn| {
                recoup_core::import::enqueue(
                    conn,
                    &ctx,
                    ImportKind::Customers,
                    None,
                    CUSTOMERS.to_vec(),
                )
                .await?;
                Err(recoup_core::Error::Internal("roll back".into()))
            })
            .await;
        assert!(rolled_back.is_err());
    }
    assert_eq!(app.count("SELECT 1 FROM outbox").await?, 0);
    assert_eq!(app.count("SELECT 1 FROM jobs").await?, 0);
    // Committed: exactly one row each.
    for _ in 0..40 {
        recoup_core::import::enqueue(
            &mut conn,
            &ctx,
            ImportKind::Customers,
            None,
            CUSTOMERS.to_vec(),
        )
        .await?;
    }
    assert_eq!(
        app.count("SELECT 1 FROM outbox WHERE sent_at IS NULL")
            .await?,
        40
    );
    // Two relays at once push every row exactly once between them.
    let mut a = recoup_worker::Queues::connect(&app.config.redis_url, &app.redis_prefix).await?;
    let mut b = recoup_worker::Queues::connect(&app.config.redis_url, &app.redis_prefix).await?;
    let clock = app.clock.clone();
    let (ra, rb) = tokio::join!(
        async {
            let mut n = 0;
            loop {
                let k = recoup_worker::relay_once(&pool, &mut a, &clock).await?;
                if k == 0 {
                    break anyhow::Ok(n);
                }
                n += k;
            }
        },
        async {
            let mut n = 0;
            loop {
                let k = recoup_worker::relay_once(&pool, &mut b, &clock).await?;
                if k == 0 {
                    break anyhow::Ok(n);
                }
                n += k;
            }
        },
    );
    assert_eq!(ra? + rb?, 40);
    assert_eq!(
        app.count("SELECT 1 FROM outbox WHERE sent_at IS NULL")
            .await?,
        0
    );
    Ok(())
}
