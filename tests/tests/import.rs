//! Imports of customers, invoices and payments (built-in layouts and mappings, raw
//! `text/csv` and forms) and of IBM's accounts-receivable sample: every row lands once,
//! bad rows are reported with their lines and columns and write nothing, a second
//! import of the same file changes nothing, and refusals are clear problems.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_core::{Context, db, import};
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, form, read, wait_for_job};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CUSTOMERS: &str = "external_id,name,currency,kind,payment_terms_days,credit_limit\n\
C-1,Northwind Traders,USD,commercial,30,25000.00\n\
C-2,Contoso,USD,consumer,15,\n\
C-3,Fabrikam,USD,,,\n";

const INVOICES: &str = "external_id,customer_external_id,issue_date,due_date,amount,po_number\n\
I-1,C-1,2026-01-05,2026-02-04,1250.00,PO-7\n\
I-2,C-1,2026-01-20,,99.95,\n\
I-3,C-2,2026-02-01,2026-03-03,500.00,\n";

const PAYMENTS: &str = "external_id,customer_external_id,received_on,amount,method,reference,invoice_external_id\n\
P-1,C-1,2026-02-10,1000.00,ach,TRACE-1,I-1\n\
P-2,C-2,2026-02-20,600.00,check,CHK-88,I-3\n";

/// Posts a raw CSV body with query parameters and waits for its job's report.
async fn import_csv(
    app: &TestApp,
    user: &TestUser,
    query: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Result<Value> {
    let (status, job) = read(
        app.as_user(user, Method::POST, "/v1/imports")
            .query(query)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::ACCEPTED, "{status} {job}");
    let done = wait_for_job(app, user, job["id"].as_str().unwrap_or_default()).await?;
    anyhow::ensure!(done["status"] == "succeeded", "{done}");
    Ok(done["result"].clone())
}

async fn import_form(app: &TestApp, user: &TestUser, parts: &[(&str, &[u8])]) -> Result<Value> {
    let (content_type, body) = form(parts);
    let (status, job) = read(
        app.as_user(user, Method::POST, "/v1/imports")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?,
    )
    .await?;
    anyhow::ensure!(status == StatusCode::ACCEPTED, "{status} {job}");
    let done = wait_for_job(app, user, job["id"].as_str().unwrap_or_default()).await?;
    anyhow::ensure!(done["status"] == "succeeded", "{done}");
    Ok(done["result"].clone())
}

fn created(report: &Value) -> (i64, i64, i64, i64, i64) {
    let n = |k: &str| report[k].as_i64().unwrap_or(-1);
    (
        n("customers_created"),
        n("invoices_created"),
        n("payments_created"),
        n("unchanged"),
        n("rejected"),
    )
}

/// Rows that change anything leave a trace here; a re-import must leave none.
async fn footprint(app: &TestApp) -> Result<(i64, i64, i64, String)> {
    let client = app.db.client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM audit_events WHERE action <> 'import.create'), \
                    (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM payment_applications), \
                    (SELECT coalesce(max(updated_at)::text, '') FROM (SELECT updated_at FROM customers UNION ALL \
                     SELECT updated_at FROM invoices UNION ALL SELECT updated_at FROM payments) u)",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_imports_in_its_builtin_layout_once() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let accountant = app.user(Role::Accountant).await?;
    let kind = |k| [("kind", k)];

    let report = import_csv(&app, &accountant, &kind("customers"), CUSTOMERS).await?;
    assert_eq!(created(&report), (3, 0, 0, 0, 0), "{report}");
    let report = import_csv(&app, &accountant, &kind("invoices"), INVOICES).await?;
    assert_eq!(created(&report), (0, 3, 0, 0, 0), "{report}");
    let report = import_csv(&app, &accountant, &kind("payments"), PAYMENTS).await?;
    assert_eq!(created(&report), (0, 0, 2, 0, 0), "{report}");

    let client = app.db.client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT sum(amount)::text FROM invoices), (SELECT sum(amount)::text FROM payments), \
                    (SELECT open_balance::text FROM invoices WHERE external_id = 'I-1'), \
                    (SELECT status FROM invoices WHERE external_id = 'I-3'), \
                    (SELECT unapplied::text FROM payments WHERE external_id = 'P-2'), \
                    (SELECT due_date::text FROM invoices WHERE external_id = 'I-2'), \
                    (SELECT kind || ' ' || payment_terms_days || ' ' || coalesce(credit_limit::text, '-') FROM customers WHERE external_id = 'C-2')",
            &[],
        )
        .await?;
    let got: (String, String, String, String, String, String, String) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
    );
    assert_eq!(
        got,
        (
            "1849.9500".into(),
            "1600.0000".into(),
            "250.0000".into(),
            "paid".into(),
            "100.0000".into(),
            // No due date in the file: the customer's 30 days of terms.
            "2026-02-19".into(),
            "consumer 15 -".into(),
        )
    );
    app.check_ledger().await?;

    // The same files again: every row found as it was, nothing written.
    let before = footprint(&app).await?;
    for (k, file, rows) in [
        ("customers", CUSTOMERS, 3),
        ("invoices", INVOICES, 3),
        ("payments", PAYMENTS, 2),
    ] {
        let again = import_csv(&app, &accountant, &kind(k), file).await?;
        assert_eq!(created(&again), (0, 0, 0, rows, 0), "{k}: {again}");
    }
    assert_eq!(footprint(&app).await?, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_read_foreign_layouts_from_forms_and_queries() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let admin = app.admin().await?.clone();

    let customers =
        "Kundennr;Firma;Limit;Gesperrt\nK-1;Müller GmbH;1.500,00;nein\nK-2;Schmidt AG;;ja\n";
    let mapping = json!({
        "columns": {"external_id": "Kundennr", "name": "Firma", "credit_limit": "Limit", "do_not_contact": "Gesperrt"},
        "defaults": {"currency": "EUR"},
        "decimal_separator": ",", "thousands_separator": ".", "delimiter": ";"
    })
    .to_string();
    // Flags in German are not flags: K-2's row is refused, K-1 lands.
    let report = import_form(
        &app,
        &admin,
        &[
            ("kind", b"customers"),
            ("mapping", mapping.as_bytes()),
            ("file", customers.as_bytes()),
        ],
    )
    .await?;
    assert_eq!(created(&report), (0, 0, 0, 0, 2), "{report}");
    assert_eq!(report["errors"][0]["column"], "Gesperrt", "{report}");
    assert_eq!(report["errors"][0]["code"], "invalid_value");
    let customers = customers.replace("nein", "false").replace("ja", "true");
    // The file may come before the fields.
    let report = import_form(
        &app,
        &admin,
        &[
            ("file", customers.as_bytes()),
            ("mapping", mapping.as_bytes()),
            ("kind", b"customers"),
        ],
    )
    .await?;
    assert_eq!(created(&report), (2, 0, 0, 0, 0), "{report}");

    let invoices =
        "Beleg;Konto;Datum;Betrag\nR-1;K-1;15.01.2026;1.234,56\nR-2;K-2;31.01.2026;99,5\n";
    let mapping = json!({
        "columns": {"external_id": "Beleg", "customer_external_id": "Konto", "issue_date": "Datum", "amount": "Betrag"},
        "date_format": "%d.%m.%Y", "decimal_separator": ",", "thousands_separator": ".", "delimiter": ";"
    })
    .to_string();
    let report = import_form(
        &app,
        &admin,
        &[
            ("kind", b"invoices"),
            ("mapping", mapping.as_bytes()),
            ("file", invoices.as_bytes()),
        ],
    )
    .await?;
    assert_eq!(created(&report), (0, 2, 0, 0, 0), "{report}");

    let payments = "Ref|Account|Paid on|Sum\nZ-1|K-1|01/02/2026|1,234.56\n";
    let mapping = json!({
        "columns": {"external_id": "Ref", "customer_external_id": "Account", "received_on": "Paid on", "amount": "Sum"},
        "defaults": {"method": "wire"},
        "date_format": "%m/%d/%Y", "thousands_separator": ",", "delimiter": "|"
    })
    .to_string();
    let report = import_csv(
        &app,
        &admin,
        &[("kind", "payments"), ("mapping", mapping.as_str())],
        payments,
    )
    .await?;
    assert_eq!(created(&report), (0, 0, 1, 0, 0), "{report}");

    let client = app.db.client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT currency || ' ' || credit_limit::text || ' ' || do_not_contact FROM customers WHERE external_id = 'K-1'), \
                    (SELECT amount::text || ' ' || currency || ' ' || issue_date FROM invoices WHERE external_id = 'R-1'), \
                    (SELECT amount::text || ' ' || method || ' ' || received_on FROM payments WHERE external_id = 'Z-1'), \
                    (SELECT status FROM invoices WHERE external_id = 'R-1')",
            &[],
        )
        .await?;
    let got: (String, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        got,
        (
            "EUR 1500.0000 false".into(),
            "1234.5600 EUR 2026-01-15".into(),
            "1234.5600 wire 2026-01-02".into(),
            // Without an invoice column the payment pays the oldest due first.
            "paid".into(),
        )
    );
    app.check_ledger().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rows_are_reported_and_write_nothing_wrong() -> Result<()> {
    let app = TestApp::spawn().await?;
    let _worker = app.start_worker();
    let accountant = app.user(Role::Accountant).await?;
    import_csv(&app, &accountant, &[("kind", "customers")], CUSTOMERS).await?;

    let mut file = b"external_id,customer_external_id,issue_date,due_date,amount,number\n\
M-1,C-1,2026-01-05,,100.00,\n\
M-2,C-1,2026-02-30,,100.00,\n\
M-3,C-1,2026-01-05,,12abc,\n\
M-4,C-1,2026-01-05,,100.00,,extra\n"
        .to_vec();
    file.extend_from_slice(b"M-5,C-\xe9,2026-01-05,,100.00,\n");
    file.extend_from_slice(
        b"M-1,C-1,2026-01-05,,150.00,\n\
M-7,C-1,2026-01-05,,175.00,M-1\n\
M-8,NOBODY,2026-01-05,,10.00,\n\
M-9,C-1,2026-01-05,2026-01-01,10.00,\n\
M-10,C-1,2026-01-05,,10.005,\n\
M-11,C-1,2026-01-05,,-10.00,\n",
    );
    let report = import_csv(&app, &accountant, &[("kind", "invoices")], file).await?;
    let errors: Vec<(i64, String, String)> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["line"].as_i64().unwrap_or_default(),
                e["column"].as_str().unwrap_or("-").to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want: Vec<(i64, String, String)> = [
        (3, "issue_date", "invalid_date"),
        (4, "amount", "invalid_amount"),
        (5, "-", "wrong_column_count"),
        (6, "customer_external_id", "not_utf8"),
        // The same invoice again with other money: refused, never rewritten.
        (7, "-", "posted_money_changed"),
        // Another invoice under a number that is taken.
        (8, "-", "invoice_number_taken"),
        (9, "customer_external_id", "unknown_customer"),
        (10, "due_date", "before_issue_date"),
        (11, "amount", "too_many_decimals"),
        (12, "amount", "invalid_amount"),
    ]
    .iter()
    .map(|(l, c, k)| (*l, (*c).to_owned(), (*k).to_owned()))
    .collect();
    assert_eq!(errors, want, "{report}");
    assert_eq!(created(&report), (0, 1, 0, 0, 10));
    assert_eq!(report["rows"], 11);
    // Only M-1, with its first amount.
    let client = app.db.client().await?;
    let rows = client
        .query("SELECT external_id, amount::text FROM invoices", &[])
        .await?;
    let invoices: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(invoices, [("M-1".to_owned(), "100.0000".to_owned())]);
    app.check_ledger().await?;

    // A file without a column the layout needs is refused at once; nothing is stored.
    let jobs = app.count("SELECT 1 FROM jobs").await?;
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=invoices")
        .header("content-type", "text/csv")
        .body("external_id,customer_external_id,issue_date\nX-1,C-1,2026-01-05\n")
        .send()
        .await?;
    let problem = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "missing_columns").await?;
    assert_eq!(problem["errors"][0]["code"], "missing_column", "{problem}");
    assert_eq!(app.count("SELECT 1 FROM jobs").await?, jobs);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_problems_with_stable_codes() -> Result<()> {
    let app = TestApp::spawn_with(|c| c.import_max_bytes = 4096).await?;
    let accountant = app.user(Role::Accountant).await?;
    let post = |query: &'static str, content_type: &str, body: Vec<u8>| {
        app.as_user(&accountant, Method::POST, &format!("/v1/imports{query}"))
            .header("content-type", content_type.to_owned())
            .body(body)
    };
    let csv = CUSTOMERS.as_bytes().to_vec();
    let res = post("?kind=widgets", "text/csv", csv.clone())
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_import_kind").await?;
    let res = post("", "text/csv", csv.clone()).send().await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_import_kind").await?;
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports")
        .query(&[
            ("kind", "invoices"),
            (
                "mapping",
                r#"{"columns": {"external_id": "A", "colour": "B"}}"#,
            ),
        ])
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await?;
    let problem = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_mapping").await?;
    let mut fields: Vec<(String, String)> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            (
                "mapping.columns.amount".into(),
                "required_field_missing".into()
            ),
            ("mapping.columns.colour".into(), "unknown_field".into()),
            (
                "mapping.columns.customer_external_id".into(),
                "required_field_missing".into()
            ),
            (
                "mapping.columns.issue_date".into(),
                "required_field_missing".into()
            ),
        ]
    );
    let res = post("?kind=customers&mapping=%7Bnot", "text/csv", csv.clone())
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_mapping").await?;
    let res = post("?kind=customers", "application/json", b"{}".to_vec())
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await?;
    let res = post("?kind=customers", "text/csv", Vec::new())
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "empty_file").await?;

    // Past the configured cap: refused by its declared length, and by what arrives when
    // no length is declared (a stream).
    let mut big = CUSTOMERS.as_bytes().to_vec();
    while big.len() <= 4096 {
        big.extend_from_slice(b"C-9,Filler Inc,USD,,,\n");
    }
    let res = post("?kind=customers", "text/csv", big.clone())
        .send()
        .await?;
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=customers")
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await?;
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;
    let (content_type, body) = form(&[("kind", b"customers"), ("file", &big)]);
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await?;

    // Forms: without a file, with a kind given twice, or not a form at all.
    let (content_type, body) = form(&[("kind", b"customers")]);
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "missing_file").await?;
    let (content_type, body) = form(&[("kind", b"customers"), ("file", CUSTOMERS.as_bytes())]);
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=customers")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .as_user(&accountant, Method::POST, "/v1/imports?kind=customers")
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("this is not a form")
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_multipart").await?;
    // The IBM layout is fixed.
    let res = post("?kind=ibm&mapping=%7B%7D", "text/csv", csv.clone())
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_mapping").await?;

    // Nothing of the refused uploads was kept.
    assert_eq!(app.count("SELECT 1 FROM jobs").await?, 0);
    assert_eq!(app.count("SELECT 1 FROM import_chunks").await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_import() -> Result<()> {
    let app = TestApp::spawn().await?;
    for role in ROLES {
        let user = app.user(role).await?;
        let (content_type, body) = form(&[("kind", b"customers"), ("file", CUSTOMERS.as_bytes())]);
        let res = app
            .as_user(&user, Method::POST, "/v1/imports")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        // The role table as it stands: admins, managers and accountants import.
        if matches!(role, Role::Admin | Role::Manager | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::ACCEPTED, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    let admin = app.admin().await?.clone();
    for (scopes, allowed) in [
        (json!(["imports:write"]), true),
        (json!(["customers:write"]), false),
    ] {
        let (_, key) = read(
            app.as_user(&admin, Method::POST, "/v1/api-keys")
                .json(&json!({"name": "ERP", "scopes": scopes}))
                .send()
                .await?,
        )
        .await?;
        let res = app
            .anon(Method::POST, "/v1/imports?kind=customers")
            .header("x-api-key", key["key"].as_str().unwrap_or_default())
            .header("content-type", "text/csv")
            .body(CUSTOMERS)
            .send()
            .await?;
        if allowed {
            assert_eq!(res.status(), StatusCode::ACCEPTED);
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "insufficient_scope").await?;
        }
    }
    let res = app
        .anon(Method::POST, "/v1/imports?kind=customers")
        .header("content-type", "text/csv")
        .body(CUSTOMERS)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ibm_sample_imports_exactly_once() -> Result<()> {
    let app = TestApp::spawn().await?;
    let pool = db::pool(&app.db.url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let mut reported = 0;
    let report =
        import::import_ibm(&mut conn, &ctx, file.as_slice(), |r| reported = r.rows).await?;
    assert!(report.errors.is_empty(), "{:?}", report.errors.first());
    assert_eq!((report.rows, reported), (2466, 2466));
    assert_eq!(
        (
            report.customers_created,
            report.invoices_created,
            report.payments_created
        ),
        (100, 2466, 2466)
    );

    let client = app.db.client().await?;
    let totals = client
        .query_one(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoices), \
                    (SELECT sum(amount)::text FROM invoices), (SELECT sum(amount)::text FROM payments), \
                    (SELECT count(*) FROM invoices WHERE status <> 'paid'), (SELECT sum(open_balance)::text FROM invoices)",
            &[],
        )
        .await?;
    let (customers, invoices): (i64, i64) = (totals.get(0), totals.get(1));
    let (billed, paid, unpaid, open): (String, String, i64, String) =
        (totals.get(2), totals.get(3), totals.get(4), totals.get(5));
    assert_eq!((customers, invoices, unpaid), (100, 2466, 0));
    assert_eq!(billed, "147703.1800");
    assert_eq!(paid, "147703.1800");
    assert_eq!(open, "0.0000");
    app.check_ledger().await?;
    // Rows flagged Disputed become disputes, resolved invalid on the settled date
    // (every row of the sample was settled); counted independently from the CSV.
    let text = String::from_utf8_lossy(&file).into_owned();
    let flagged = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(7) == Some("Yes"))
        .count();
    assert!(flagged > 0);
    assert_eq!(
        app.count(
            "SELECT 1 FROM disputes WHERE status = 'resolved_invalid' AND resolved_at IS NOT NULL"
        )
        .await?,
        i64::try_from(flagged)?
    );

    // Importing the same file again writes nothing at all.
    let before = footprint(&app).await?;
    let again = import::import_ibm(&mut conn, &ctx, file.as_slice(), |_| {}).await?;
    assert_eq!(
        (
            again.customers_created,
            again.invoices_created,
            again.payments_created,
            again.unchanged
        ),
        (0, 0, 0, 2466)
    );
    assert_eq!(footprint(&app).await?, before);
    assert_eq!(
        app.count("SELECT 1 FROM disputes").await?,
        i64::try_from(flagged)?
    );
    Ok(())
}
