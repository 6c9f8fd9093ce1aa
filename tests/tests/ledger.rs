//! The AR ledger through the API: invoices, payments, applications, returns (NSF),
//! refunds, credit memos, adjustments, deductions, write-offs, statements,
//! reconciliation and integration upserts. Every test ends by checking the ledger
//! invariants on the whole database.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, TestUser, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn account(app: &TestApp, name: &str) -> Result<Value> {
    app.customer(json!({"name": name, "kind": "commercial", "currency": "USD", "timezone": "America/New_York"})).await
}

fn balance(v: &Value) -> &str {
    v["open_balance"].as_str().unwrap_or("?")
}

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Result<Value> {
    let (status, body) = read(app.as_user(user, Method::GET, path).send().await?).await?;
    anyhow::ensure!(status == StatusCode::OK, "GET {path}: {status} {body}");
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_are_issued_read_and_voided_only_while_untouched() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let body = json!({"number": "INV-1", "customer_id": acme["id"], "amount": "1250.50", "issue_date": "2026-01-10", "po_number": "PO-77"});
    let (status, inv) = read(
        app.as_user(&accountant, Method::POST, "/v1/invoices")
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    assert_eq!(inv["amount"], "1250.50");
    assert_eq!(balance(&inv), "1250.50");
    assert_eq!(inv["status"], "open");
    assert_eq!(
        inv["due_date"], "2026-02-09",
        "issue date + the customer's 30 days"
    );
    assert_eq!(inv["currency"], "USD");
    let id = id_of(&inv);
    let ledger = get(&app, &accountant, &format!("/v1/invoices/{id}/ledger")).await?;
    assert_eq!(ledger["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(ledger["entries"][0]["kind"], "invoice_issued");
    assert_eq!(ledger["entries"][0]["amount"], "1250.50");
    assert_eq!(ledger["entries"][0]["effective_on"], "2026-01-10");

    let cases = [
        (
            json!({"number": "INV-1", "customer_id": acme["id"], "amount": "1.00", "issue_date": "2026-01-10"}),
            StatusCode::CONFLICT,
            "invoice_number_taken",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "0.00", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "-5.00", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "5.001", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "5.00", "currency": "EUR", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "5.00", "currency": "ABC", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": "5.00", "issue_date": "2026-01-10", "due_date": "2026-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": uuid::Uuid::new_v4(), "amount": "5.00", "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"number": "INV-2", "customer_id": acme["id"], "amount": 5, "issue_date": "2026-01-10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .as_user(&accountant, Method::POST, "/v1/invoices")
            .json(&body)
            .send()
            .await?;
        expect_problem(res, status, code)
            .await
            .map_err(|e| anyhow::anyhow!("{body}: {e}"))?;
    }
    assert_eq!(
        app.count("SELECT 1 FROM invoices").await?,
        1,
        "refused invoices wrote nothing"
    );
    assert_eq!(app.count("SELECT 1 FROM ledger_entries").await?, 1);

    // Roles: accountants and admins issue; others may not; collectors see only their accounts.
    let collector = app.user(Role::Collector).await?;
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app.as_user(&user, Method::POST, "/v1/invoices").json(&json!({"number": format!("R-{role}"), "customer_id": acme["id"], "amount": "10.00", "issue_date": "2026-01-10"})).send().await?;
        if matches!(role, Role::Admin | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::CREATED, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app
            .as_user(&user, Method::GET, &format!("/v1/invoices/{id}"))
            .send()
            .await?;
        if matches!(role, Role::Collector | Role::FieldCollector | Role::Sales) {
            expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
        } else {
            assert_eq!(res.status(), StatusCode::OK, "{role}");
        }
    }
    app.assign(&acme, Some(collector.id), None).await?;
    assert_eq!(
        get(&app, &collector, &format!("/v1/invoices/{id}")).await?["number"],
        "INV-1"
    );
    let listed = get(&app, &collector, "/v1/invoices?open=true").await?;
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(3),
        "INV-1 plus the admin's and accountant's"
    );

    // Void: only while untouched.
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
        )
        .json(&json!({"reason": "duplicate"}))
        .send()
        .await?;
    let (status, voided) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "void");
    assert_eq!(balance(&voided), "0.00");
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
        )
        .json(&json!({"reason": "again"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "invoice_void").await?;
    let touched = app
        .invoice(&acme, "INV-T", "100.00", "2026-01-10", "2026-02-10")
        .await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-01-20", "amount": "10.00", "method": "check", "applications": [{"invoice_id": touched["id"], "amount": "10.00"}]})).send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/invoices/{}/void", id_of(&touched)),
        )
        .json(&json!({"reason": "oops"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "invoice_touched").await?;
    let res = app
        .as_user(
            &collector,
            Method::POST,
            &format!("/v1/invoices/{}/void", id_of(&touched)),
        )
        .json(&json!({"reason": "oops"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_apply_oldest_first_and_keep_the_rest_on_account() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let newer = app
        .invoice(&acme, "INV-B", "300.00", "2026-01-15", "2026-02-14")
        .await?;
    let older = app
        .invoice(&acme, "INV-A", "200.00", "2026-01-01", "2026-01-31")
        .await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "600.00", "method": "ach", "reference": "TRACE-1"})).send().await?;
    let (status, payment) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["unapplied"], "100.00");
    let apps = payment["applications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0]["invoice_id"], older["id"], "oldest due first");
    assert_eq!(apps[0]["amount"], "200.00");
    assert_eq!(apps[1]["amount"], "300.00");
    assert_eq!(apps[1]["invoice_id"], newer["id"]);
    let a = get(
        &app,
        &accountant,
        &format!("/v1/invoices/{}", id_of(&older)),
    )
    .await?;
    assert_eq!((balance(&a), a["status"].as_str()), ("0.00", Some("paid")));

    // Unapplied cash is applied later to a new invoice.
    let third = app
        .invoice(&acme, "INV-C", "150.00", "2026-02-01", "2026-03-03")
        .await?;
    let pid = id_of(&payment);
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/applications"),
            &json!({"applications": [{"invoice_id": third["id"], "amount": "100.00"}]}),
        )
        .send()
        .await?;
    let (status, applied) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["unapplied"], "0.00");
    let c = get(
        &app,
        &accountant,
        &format!("/v1/invoices/{}", id_of(&third)),
    )
    .await?;
    assert_eq!(
        (balance(&c), c["status"].as_str()),
        ("50.00", Some("partially_paid"))
    );
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/applications"),
            &json!({"applications": []}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "nothing_unapplied").await?;

    // An empty application list keeps everything on account.
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-02", "amount": "25.00", "method": "cash", "applications": []})).send().await?;
    let (_, on_account) = read(res).await?;
    assert_eq!(on_account["unapplied"], "25.00");
    let listed = get(
        &app,
        &accountant,
        &format!(
            "/v1/payments?customer_id={}&unapplied=true",
            acme["id"].as_str().unwrap_or_default()
        ),
    )
    .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payments_are_refused_and_write_nothing() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let other = account(&app, "Other").await?;
    let euro = app
        .customer(json!({"name": "Euro", "kind": "commercial", "currency": "EUR"}))
        .await?;
    let inv = app
        .invoice(&acme, "INV-1", "100.00", "2026-01-01", "2026-01-31")
        .await?;
    let theirs = app
        .invoice(&other, "INV-2", "100.00", "2026-01-01", "2026-01-31")
        .await?;
    let void = app
        .invoice(&acme, "INV-V", "50.00", "2026-01-01", "2026-01-31")
        .await?;
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/invoices/{}/void", id_of(&void)),
        )
        .json(&json!({"reason": "x"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let before_entries = app.count("SELECT 1 FROM ledger_entries").await?;
    let pay = |apps: Value, amount: &str| json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": amount, "method": "wire", "applications": apps});
    let cases = [
        (
            pay(
                json!([{"invoice_id": inv["id"], "amount": "100.01"}]),
                "200.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "exceeds_open_balance",
        ),
        (
            pay(
                json!([{"invoice_id": inv["id"], "amount": "60.00"}]),
                "50.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "exceeds_unapplied",
        ),
        (
            pay(
                json!([{"invoice_id": theirs["id"], "amount": "10.00"}]),
                "50.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "other_customer",
        ),
        (
            pay(
                json!([{"invoice_id": uuid::Uuid::new_v4(), "amount": "10.00"}]),
                "50.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "unknown_invoice",
        ),
        (
            pay(
                json!([{"invoice_id": inv["id"], "amount": "0.00"}]),
                "50.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "not_positive",
        ),
        (
            pay(
                json!([{"invoice_id": inv["id"], "amount": "10.00"}, {"invoice_id": inv["id"], "amount": "10.00"}]),
                "50.00",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "duplicate_invoice",
        ),
        (
            pay(
                json!([{"invoice_id": void["id"], "amount": "10.00"}]),
                "50.00",
            ),
            StatusCode::CONFLICT,
            "invoice_void",
            "invoice_void",
        ),
        (
            pay(json!(null), "-5.00"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "not_positive",
        ),
        (
            pay(json!(null), "0"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "not_positive",
        ),
        (
            pay(json!(null), "1.999"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "too_many_decimals",
        ),
        (
            json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "5.00", "currency": "EUR", "method": "wire"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "currency_mismatch",
        ),
        (
            json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "5.00", "currency": "ZZZ", "method": "wire"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "unknown_currency",
        ),
        (
            json!({"customer_id": euro["id"], "received_on": "2026-02-01", "amount": "5.00", "method": "wire", "applications": [{"invoice_id": inv["id"], "amount": "5.00"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "other_customer",
        ),
        (
            json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "5.00", "method": "bitcoin"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid_value",
        ),
    ];
    for (body, status, code, field_code) in cases {
        let res = app.money(&accountant, "/v1/payments", &body).send().await?;
        let problem = expect_problem(res, status, code)
            .await
            .map_err(|e| anyhow::anyhow!("{body}: {e}"))?;
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            let hit = problem["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["code"] == field_code);
            assert!(hit, "{body} → {field_code}: {problem}");
        }
    }
    let res = app
        .as_user(&accountant, Method::POST, "/v1/payments")
        .json(&pay(json!(null), "5.00"))
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "idempotency_key_required").await?;
    assert_eq!(
        app.count("SELECT 1 FROM payments").await?,
        0,
        "nothing half-written"
    );
    assert_eq!(
        app.count("SELECT 1 FROM ledger_entries").await?,
        before_entries
    );
    assert_eq!(
        app.count("SELECT 1 FROM idempotency_keys").await?,
        0,
        "failed requests are not remembered"
    );
    let fresh = get(&app, &accountant, &format!("/v1/invoices/{}", id_of(&inv))).await?;
    assert_eq!(balance(&fresh), "100.00");

    // Only accountants and admins post cash.
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .money(&user, "/v1/payments", &pay(json!(null), "5.00"))
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::CREATED, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nsf_return_restores_every_invoice_bills_a_fee_flags_and_tasks() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let collector = app.user(Role::Collector).await?;
    let acme = account(&app, "Acme").await?;
    app.assign(&acme, Some(collector.id), None).await?;
    let mut invoices = Vec::new();
    for (i, amount) in ["100.00", "250.00", "400.00"].iter().enumerate() {
        invoices.push(
            app.invoice(
                &acme,
                &format!("INV-{i}"),
                amount,
                "2026-01-01",
                &format!("2026-01-{:02}", 10 + i),
            )
            .await?,
        );
    }
    let apps: Vec<Value> = invoices
        .iter()
        .map(|i| json!({"invoice_id": i["id"], "amount": i["amount"]}))
        .collect();
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "750.00", "method": "check", "reference": "CHK 1042", "applications": apps})).send().await?;
    let (status, payment) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    for inv in &invoices {
        assert_eq!(
            get(&app, &accountant, &format!("/v1/invoices/{}", id_of(inv))).await?["status"],
            "paid"
        );
    }
    let pid = id_of(&payment);
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/return"),
            &json!({"reason": "NSF R01", "fee": "35.00"}),
        )
        .send()
        .await?;
    let (status, outcome) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["payment"]["status"], "returned");
    assert!(
        outcome["payment"]["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|a| a["reversed_at"].is_string())
    );
    for inv in &invoices {
        let now = get(&app, &accountant, &format!("/v1/invoices/{}", id_of(inv))).await?;
        assert_eq!(
            balance(&now),
            inv["amount"].as_str().unwrap_or("?"),
            "balance restored"
        );
        assert_eq!(now["status"], "open");
    }
    assert_eq!(outcome["fee_invoice"]["kind"], "nsf_fee");
    assert_eq!(outcome["fee_invoice"]["amount"], "35.00");
    assert_eq!(outcome["task"]["assignee_id"], json!(collector.id));
    assert_eq!(outcome["task"]["kind"], "payment_returned");
    let customer = get(
        &app,
        &accountant,
        &format!("/v1/customers/{}", id_of(&acme)),
    )
    .await?;
    assert_eq!(customer["returned_payments"], 1);
    let statement = get(
        &app,
        &accountant,
        &format!("/v1/customers/{}/statement?as_of=2026-03-31", id_of(&acme)),
    )
    .await?;
    assert_eq!(statement["balance"], "785.00", "750 reopened + 35 fee");
    assert_eq!(statement["unapplied_cash"], "0.00");

    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/return"),
            &json!({"reason": "again"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "payment_returned").await?;
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/refund"),
            &json!({"amount": "1.00", "reason": "x"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "payment_returned").await?;
    let res = app
        .money(
            &collector,
            &format!("/v1/payments/{pid}/return"),
            &json!({"reason": "x"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_credits_and_adjustments_respect_the_balances() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let inv = app
        .invoice(&acme, "INV-1", "500.00", "2026-01-01", "2026-01-31")
        .await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "80.00", "method": "card", "applications": []})).send().await?;
    let (_, payment) = read(res).await?;
    let pid = id_of(&payment);
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/refund"),
            &json!({"amount": "80.01", "reason": "overpaid"}),
        )
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["code"], "exceeds_unapplied");
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/refund"),
            &json!({"amount": "30.00", "reason": "overpaid"}),
        )
        .send()
        .await?;
    let (status, refunded) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(
        (
            refunded["unapplied"].as_str(),
            refunded["refunded"].as_str(),
            refunded["status"].as_str()
        ),
        (Some("50.00"), Some("30.00"), Some("posted"))
    );
    let res = app
        .money(
            &accountant,
            &format!("/v1/payments/{pid}/refund"),
            &json!({"amount": "50.00", "reason": "rest"}),
        )
        .send()
        .await?;
    let (_, refunded) = read(res).await?;
    assert_eq!(refunded["status"], "refunded");

    let res = app
        .money(
            &accountant,
            "/v1/credit-memos",
            &json!({"invoice_id": inv["id"], "amount": "500.01", "reason": "pricing"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .money(
            &accountant,
            "/v1/credit-memos",
            &json!({"invoice_id": inv["id"], "amount": "120.00", "reason": "pricing error"}),
        )
        .send()
        .await?;
    let (status, credit) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{credit}");
    assert_eq!(balance(&credit["invoice"]), "380.00");
    let res = app
        .money(
            &accountant,
            "/v1/adjustments",
            &json!({"invoice_id": inv["id"], "amount": "-380.01", "reason": "x"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .money(
            &accountant,
            "/v1/adjustments",
            &json!({"invoice_id": inv["id"], "amount": "0.00", "reason": "x"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .money(
            &accountant,
            "/v1/adjustments",
            &json!({"invoice_id": inv["id"], "amount": "20.00", "reason": "freight billed late"}),
        )
        .send()
        .await?;
    let (status, adjusted) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{adjusted}");
    assert_eq!(balance(&adjusted["invoice"]), "400.00");
    let ledger = get(
        &app,
        &accountant,
        &format!("/v1/invoices/{}/ledger", id_of(&inv)),
    )
    .await?;
    let kinds: Vec<&str> = ledger["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["invoice_issued", "credit_memo", "adjustment"]);

    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .money(
                &user,
                "/v1/credit-memos",
                &json!({"invoice_id": inv["id"], "amount": "1.00", "reason": "role check"}),
            )
            .send()
            .await?;
        if matches!(role, Role::Admin | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::CREATED, "{role}");
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_pays_open_deductions_that_resolve_into_credits_or_collection() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let a = app
        .invoice(&acme, "INV-A", "1000.00", "2026-01-01", "2026-01-31")
        .await?;
    let b = app
        .invoice(&acme, "INV-B", "500.00", "2026-01-01", "2026-01-31")
        .await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "1380.00", "method": "ach",
        "applications": [
            {"invoice_id": a["id"], "amount": "920.00", "short_pay_reason": "pricing"},
            {"invoice_id": b["id"], "amount": "460.00", "short_pay_reason": "damaged"}
        ]})).send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let listed = get(&app, &accountant, "/v1/deductions?status=open").await?;
    let deductions = listed["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(deductions.len(), 2);
    assert_eq!(deductions[0]["amount"], "80.00");
    assert_eq!(deductions[0]["reason_code"], "pricing");
    let (valid, invalid) = (id_of(&deductions[0]), id_of(&deductions[1]));

    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/deductions/{valid}/resolve"),
        )
        .json(&json!({"status": "resolved_valid", "note": "price list was wrong"}))
        .send()
        .await?;
    let (status, resolved) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["credit_memo"]["amount"], "80.00");
    assert_eq!(
        (
            balance(&resolved["invoice"]),
            resolved["invoice"]["status"].as_str()
        ),
        ("0.00", Some("paid"))
    );
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/deductions/{invalid}/resolve"),
        )
        .json(&json!({"status": "resolved_invalid", "note": "POD signed"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/deductions/{invalid}/resolve"),
        )
        .json(&json!({"status": "resolved_invalid", "follow_up": "chase", "note": "POD signed"}))
        .send()
        .await?;
    let (status, resolved) = read(res).await?;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["deduction"]["follow_up"], "chase");
    assert_eq!(
        balance(&resolved["invoice"]),
        "40.00",
        "stays open for collection"
    );
    let res = app
        .as_user(
            &accountant,
            Method::POST,
            &format!("/v1/deductions/{invalid}/resolve"),
        )
        .json(&json!({"status": "resolved_valid", "note": "changed mind"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "deduction_resolved").await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "40.00", "method": "ach",
        "applications": [{"invoice_id": b["id"], "amount": "40.00", "short_pay_reason": "other"}]})).send().await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;

    let collector = app.user(Role::Collector).await?;
    let res = app
        .as_user(
            &collector,
            Method::POST,
            &format!("/v1/deductions/{valid}/resolve"),
        )
        .json(&json!({"status": "resolved_valid", "note": "x"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    let listed = get(&app, &collector, "/v1/deductions").await?;
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(0),
        "not their accounts"
    );
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_offs_post_below_the_threshold_wait_above_it_and_recover() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let collector = app.user(Role::Collector).await?;
    let manager = app.user(Role::Manager).await?;
    let acme = account(&app, "Acme").await?;
    app.assign(&acme, Some(collector.id), None).await?;
    let small = app
        .invoice(&acme, "INV-S", "120.00", "2025-01-01", "2025-01-31")
        .await?;
    let large = app
        .invoice(&acme, "INV-L", "5000.00", "2025-01-01", "2025-01-31")
        .await?;

    let res = app
        .money(
            &collector,
            "/v1/write-offs",
            &json!({"invoice_id": small["id"], "reason": "not worth chasing"}),
        )
        .send()
        .await?;
    let (status, posted) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["write_off"]["status"], "posted");
    assert_eq!(posted["invoice"]["status"], "written_off");

    let res = app
        .money(
            &collector,
            "/v1/write-offs",
            &json!({"invoice_id": large["id"], "reason": "customer insolvent"}),
        )
        .send()
        .await?;
    let (_, pending) = read(res).await?;
    assert_eq!(pending["write_off"]["status"], "pending_approval");
    assert_eq!(
        balance(&pending["invoice"]),
        "5000.00",
        "nothing posted yet"
    );
    let res = app
        .money(
            &collector,
            "/v1/write-offs",
            &json!({"invoice_id": large["id"], "reason": "again"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "write_off_pending").await?;
    let wid = id_of(&pending["write_off"]);
    expect_problem(
        app.as_user(
            &collector,
            Method::POST,
            &format!("/v1/write-offs/{wid}/approve"),
        )
        .send()
        .await?,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await?;
    let (status, approved) = read(
        app.as_user(
            &manager,
            Method::POST,
            &format!("/v1/write-offs/{wid}/approve"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["write_off"]["approved_by"], json!(manager.id));
    assert_eq!(approved["invoice"]["status"], "written_off");
    expect_problem(
        app.as_user(
            &manager,
            Method::POST,
            &format!("/v1/write-offs/{wid}/approve"),
        )
        .send()
        .await?,
        StatusCode::CONFLICT,
        "write_off_posted",
    )
    .await?;

    // A payment to a written-off invoice is refused; recovering through the write-off works.
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "300.00", "method": "wire", "applications": [{"invoice_id": large["id"], "amount": "300.00"}]})).send().await?;
    expect_problem(res, StatusCode::CONFLICT, "invoice_written_off").await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "300.00", "method": "wire", "applications": []})).send().await?;
    let (_, payment) = read(res).await?;
    let res = app
        .money(
            &accountant,
            &format!("/v1/write-offs/{wid}/recoveries"),
            &json!({"payment_id": payment["id"], "amount": "300.01"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .money(
            &accountant,
            &format!("/v1/write-offs/{wid}/recoveries"),
            &json!({"payment_id": payment["id"], "amount": "300.00"}),
        )
        .send()
        .await?;
    let (status, recovered) = read(res).await?;
    assert_eq!(status, StatusCode::CREATED, "{recovered}");
    assert_eq!(recovered["write_off"]["recovered_amount"], "300.00");
    assert_eq!(recovered["invoice"]["status"], "written_off");
    assert_eq!(
        get(
            &app,
            &accountant,
            &format!("/v1/payments/{}", id_of(&payment))
        )
        .await?["unapplied"],
        "0.00"
    );
    let listed = get(&app, &collector, "/v1/write-offs").await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let sales = app.user(Role::Sales).await?;
    let res = app
        .money(
            &sales,
            "/v1/write-offs",
            &json!({"invoice_id": large["id"], "reason": "x"}),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_replays_refuses_reuse_and_lets_one_of_many_through() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    app.invoice(&acme, "INV-1", "100.00", "2026-01-01", "2026-01-31")
        .await?;
    let body = json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "60.00", "method": "ach"});
    let post = |key: &str, body: &Value| {
        app.as_user(&accountant, Method::POST, "/v1/payments")
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let first = post("key-1", &body).await?;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (s1, b1) = read(first).await?;
    let again = post("key-1", &body).await?;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (s2, b2) = read(again).await?;
    assert_eq!((s1, &b1), (s2, &b2), "the first response, exactly");
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 1);
    let mut changed = body.clone();
    changed["amount"] = json!("61.00");
    expect_problem(
        post("key-1", &changed).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await?;
    // Keys are scoped to the caller: another accountant's same key is a new payment.
    let other = app.user(Role::Accountant).await?;
    let res = app
        .as_user(&other, Method::POST, "/v1/payments")
        .header("idempotency-key", "key-1")
        .json(&body)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Kept for 24 hours, then forgotten.
    app.clock.advance(chrono::Duration::hours(25));
    let accountant = app.relogin(&accountant).await?;
    let res = app
        .as_user(&accountant, Method::POST, "/v1/payments")
        .header("idempotency-key", "key-1")
        .json(&body)
        .send()
        .await?;
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 3);

    // The same key fired from many tasks at once: exactly one effect.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let req = app
            .as_user(&accountant, Method::POST, "/v1/payments")
            .header("idempotency-key", "burst")
            .json(&body);
        tasks.push(tokio::spawn(
            async move { req.send().await.map(|r| r.status()) },
        ));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await??);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::CREATED));
    assert_eq!(
        app.count("SELECT 1 FROM payments").await?,
        4,
        "one effect: {statuses:?}"
    );
    let res = app
        .as_user(&accountant, Method::POST, "/v1/payments")
        .header("idempotency-key", "burst")
        .json(&body)
        .send()
        .await?;
    assert_eq!(
        res.headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let res = app
        .as_user(&accountant, Method::POST, "/v1/payments")
        .header("idempotency-key", "")
        .json(&body)
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await?;
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_as_of_a_date_and_reconcile_with_the_gl() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    app.invoice(&acme, "INV-1", "1000.00", "2026-01-05", "2026-02-04")
        .await?;
    app.invoice(&acme, "INV-2", "250.00", "2026-02-10", "2026-03-12")
        .await?;
    let res = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-20", "amount": "1100.00", "method": "ach"})).send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let path = |d: &str| format!("/v1/customers/{}/statement?as_of={d}", id_of(&acme));
    let jan = get(&app, &accountant, &path("2026-01-31")).await?;
    assert_eq!(jan["open_items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (jan["total_open"].as_str(), jan["balance"].as_str()),
        (Some("1000.00"), Some("1000.00"))
    );
    let feb15 = get(&app, &accountant, &path("2026-02-15")).await?;
    assert_eq!(feb15["balance"], "1250.00");
    assert_eq!(feb15["open_items"][0]["days_past_due"], 11);
    let mar = get(&app, &accountant, &path("2026-03-01")).await?;
    assert_eq!(mar["open_items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (
            mar["total_open"].as_str(),
            mar["unapplied_cash"].as_str(),
            mar["balance"].as_str()
        ),
        (Some("150.00"), Some("0.00"), Some("150.00"))
    );
    let res = app
        .as_user(&accountant, Method::GET, &path("2026-03-01"))
        .header("accept", "text/csv")
        .send()
        .await?;
    assert!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let csv = res.text().await?;
    assert!(csv.starts_with("invoice_number,issue_date,due_date,amount,open_balance,days_past_due,currency\nINV-2,2026-02-10,2026-03-12,250.00,150.00,0,USD\n"), "{csv}");
    assert!(csv.contains("balance,,,,150.00,,USD"));
    let res = app
        .as_user(&accountant, Method::GET, &path("yesterday"))
        .send()
        .await?;
    expect_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await?;

    let res = app
        .as_user(&accountant, Method::POST, "/v1/gl-balances")
        .json(
            &json!({"as_of": "2026-03-01", "currency": "USD", "amount": "150.00", "source": "erp"}),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let rec = get(
        &app,
        &accountant,
        "/v1/reports/reconciliation?as_of=2026-03-01",
    )
    .await?;
    let usd = &rec["currencies"][0];
    assert_eq!(
        (
            usd["subledger_total"].as_str(),
            usd["gl_balance"].as_str(),
            usd["difference"].as_str(),
            usd["reconciled"].as_bool()
        ),
        (Some("150.00"), Some("150.00"), Some("0.00"), Some(true))
    );
    assert_eq!(usd["by_kind"]["invoice_issued"], "1250.00");
    assert_eq!(usd["by_kind"]["payment_received"], "-1100.00");
    let res = app
        .as_user(&accountant, Method::POST, "/v1/gl-balances")
        .json(
            &json!({"as_of": "2026-01-31", "currency": "USD", "amount": "999.00", "source": "erp"}),
        )
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let rec = get(
        &app,
        &accountant,
        "/v1/reports/reconciliation?as_of=2026-01-31",
    )
    .await?;
    assert_eq!(rec["currencies"][0]["difference"], "-1.00");
    assert_eq!(rec["currencies"][0]["reconciled"], false);
    for role in ROLES {
        let user = app.user(role).await?;
        let res = app
            .as_user(
                &user,
                Method::GET,
                "/v1/reports/reconciliation?as_of=2026-01-31",
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
        let res = app
            .as_user(&user, Method::GET, &path("2026-03-01"))
            .send()
            .await?;
        if matches!(role, Role::Collector | Role::FieldCollector | Role::Sales) {
            expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
        } else {
            assert_eq!(res.status(), StatusCode::OK, "{role}");
        }
    }
    app.check_ledger().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_upsert_by_external_id_without_rewriting_money() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?.clone();
    let (_, key) = read(app.as_user(&admin, Method::POST, "/v1/api-keys").json(&json!({"name": "ERP", "scopes": ["customers:write", "customers:read", "invoices:write", "invoices:read", "payments:write", "payments:read"]})).send().await?).await?;
    let key = key["key"].as_str().unwrap_or_default().to_owned();
    let erp = |method: Method, path: &str| app.anon(method, path).header("x-api-key", key.as_str());
    let customer = json!({"name": "Northwind", "kind": "commercial", "currency": "USD", "credit_limit": "5000.00"});
    let (status, created) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&customer)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["external_id"], "C-1");
    let (status, same) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&customer)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, created, "an unchanged upsert changes nothing");
    assert_eq!(app.audit_count("customer.update").await?, 0);
    let mut renamed = customer.clone();
    renamed["name"] = json!("Northwind Traders");
    let (status, updated) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&renamed)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (status, updated["name"].as_str()),
        (StatusCode::OK, Some("Northwind Traders"))
    );

    let invoice = json!({"number": "INV-9", "customer_id": created["id"], "amount": "700.00", "issue_date": "2026-01-01"});
    let (status, inv) = read(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&invoice)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    let mut later = invoice.clone();
    later["due_date"] = json!("2026-03-01");
    later["po_number"] = json!("PO-1");
    let (status, moved) = read(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&later)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (status, moved["po_number"].as_str()),
        (StatusCode::OK, Some("PO-1"))
    );
    let mut richer = invoice.clone();
    richer["amount"] = json!("750.00");
    expect_problem(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&richer)
            .send()
            .await?,
        StatusCode::CONFLICT,
        "posted_money_changed",
    )
    .await?;

    let payment = json!({"customer_id": created["id"], "received_on": "2026-02-01", "amount": "700.00", "method": "ach"});
    let (status, paid) = read(
        erp(Method::PUT, "/v1/payments/external/P-1")
            .json(&payment)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["applications"][0]["invoice_id"], inv["id"]);
    let (status, again) = read(
        erp(Method::PUT, "/v1/payments/external/P-1")
            .json(&payment)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &paid),
        "a repeated sync posts nothing twice"
    );
    let mut other = payment.clone();
    other["amount"] = json!("701.00");
    expect_problem(
        erp(Method::PUT, "/v1/payments/external/P-1")
            .json(&other)
            .send()
            .await?,
        StatusCode::CONFLICT,
        "posted_money_changed",
    )
    .await?;
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 1);

    // A key without the scope is refused.
    let (_, reader) = read(
        app.as_user(&admin, Method::POST, "/v1/api-keys")
            .json(&json!({"name": "BI", "scopes": ["invoices:read"]}))
            .send()
            .await?,
    )
    .await?;
    let res = app
        .anon(Method::PUT, "/v1/payments/external/P-2")
        .header("x-api-key", reader["key"].as_str().unwrap_or_default())
        .json(&payment)
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "insufficient_scope").await?;
    let res = app
        .anon(Method::GET, "/v1/invoices")
        .header("x-api-key", reader["key"].as_str().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    app.check_ledger().await
}

/// Every ledger route by every role, on an account assigned to the collector and the
/// sales rep under test and on one that is not: 403 for roles without the permission,
/// 404 for accounts the caller may not see, and the route's own answer otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_routes_answer_every_role_by_the_rules() -> Result<()> {
    let app = TestApp::spawn().await?;
    let accountant = app.user(Role::Accountant).await?;
    let collector = app.user(Role::Collector).await?;
    let field = app.user(Role::FieldCollector).await?;
    let sales = app.user(Role::Sales).await?;
    let mine = account(&app, "Assigned").await?;
    app.assign(&mine, Some(collector.id), Some(sales.id))
        .await?;
    let theirs = account(&app, "Unassigned").await?;

    struct Fixture {
        invoice: Value,
        payment: Value,
        write_off: Value,
        deduction: Value,
    }
    async fn fixture(
        app: &TestApp,
        accountant: &TestUser,
        customer: &Value,
        tag: &str,
    ) -> Result<Fixture> {
        let invoice = app
            .invoice(
                customer,
                &format!("F-{tag}-1"),
                "900.00",
                "2026-01-01",
                "2026-01-31",
            )
            .await?;
        let short = app
            .invoice(
                customer,
                &format!("F-{tag}-2"),
                "100.00",
                "2026-01-01",
                "2026-01-31",
            )
            .await?;
        let big = app
            .invoice(
                customer,
                &format!("F-{tag}-3"),
                "2000.00",
                "2026-01-01",
                "2026-01-31",
            )
            .await?;
        let res = app.money(accountant, "/v1/payments", &json!({"customer_id": customer["id"], "received_on": "2026-02-01", "amount": "100.00", "method": "ach",
            "applications": [{"invoice_id": short["id"], "amount": "90.00", "short_pay_reason": "freight"}]})).send().await?;
        let (_, payment) = read(res).await?;
        let deduction = get(
            app,
            accountant,
            &format!("/v1/deductions?invoice_id={}", id_of(&short)),
        )
        .await?["data"][0]
            .clone();
        let res = app
            .money(
                accountant,
                "/v1/write-offs",
                &json!({"invoice_id": big["id"], "reason": "insolvent"}),
            )
            .send()
            .await?;
        let (_, write_off) = read(res).await?;
        Ok(Fixture {
            invoice,
            payment,
            write_off: write_off["write_off"].clone(),
            deduction,
        })
    }
    let a = fixture(&app, &accountant, &mine, "mine").await?;
    let b = fixture(&app, &accountant, &theirs, "theirs").await?;

    for role in ROLES {
        let user = match role {
            Role::Collector => collector.clone(),
            Role::FieldCollector => field.clone(),
            Role::Sales => sales.clone(),
            Role::Accountant => accountant.clone(),
            other => app.user(other).await?,
        };
        let sees_mine = role != Role::FieldCollector;
        let sees_theirs = !matches!(role, Role::Collector | Role::FieldCollector | Role::Sales);
        for (f, visible) in [(&a, sees_mine), (&b, sees_theirs)] {
            let expect = |allowed: bool, ok: StatusCode| -> (StatusCode, &'static str) {
                if !allowed {
                    (StatusCode::FORBIDDEN, "forbidden")
                } else if !visible {
                    (StatusCode::NOT_FOUND, "not_found")
                } else {
                    (ok, "")
                }
            };
            let check = |res: reqwest::Response,
                         (status, code): (StatusCode, &'static str),
                         what: String| async move {
                if code.is_empty() {
                    let got = res.status();
                    let body = res.text().await.unwrap_or_default();
                    anyhow::ensure!(got == status, "{what}: expected {status}, got {got} {body}");
                    Ok(())
                } else {
                    expect_problem(res, status, code)
                        .await
                        .map(|_| ())
                        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
                }
            };
            let inv = id_of(&f.invoice);
            let pay = id_of(&f.payment);
            let wo = id_of(&f.write_off);
            let ded = id_of(&f.deduction);
            let money_role = matches!(role, Role::Admin | Role::Accountant);
            check(
                app.as_user(&user, Method::GET, &format!("/v1/invoices/{inv}"))
                    .send()
                    .await?,
                expect(true, StatusCode::OK),
                format!("{role} get invoice"),
            )
            .await?;
            check(
                app.as_user(&user, Method::GET, &format!("/v1/invoices/{inv}/ledger"))
                    .send()
                    .await?,
                expect(true, StatusCode::OK),
                format!("{role} ledger"),
            )
            .await?;
            check(
                app.as_user(&user, Method::GET, &format!("/v1/payments/{pay}"))
                    .send()
                    .await?,
                expect(true, StatusCode::OK),
                format!("{role} get payment"),
            )
            .await?;
            // Allowed roles reach the rule: 100.00 is more than the 10.00 left unapplied.
            check(
                app.money(
                    &user,
                    &format!("/v1/payments/{pay}/refund"),
                    &json!({"amount": "100.00", "reason": "x"}),
                )
                .send()
                .await?,
                expect(money_role, StatusCode::UNPROCESSABLE_ENTITY),
                format!("{role} refund"),
            )
            .await?;
            check(
                app.money(
                    &user,
                    &format!("/v1/payments/{pay}/applications"),
                    &json!({"applications": [{"invoice_id": inv, "amount": "10.01"}]}),
                )
                .send()
                .await?,
                expect(money_role, StatusCode::UNPROCESSABLE_ENTITY),
                format!("{role} apply"),
            )
            .await?;
            check(
                app.money(
                    &user,
                    "/v1/adjustments",
                    &json!({"invoice_id": inv, "amount": "-900.01", "reason": "x"}),
                )
                .send()
                .await?,
                expect(money_role, StatusCode::UNPROCESSABLE_ENTITY),
                format!("{role} adjust"),
            )
            .await?;
            let may_request = matches!(
                role,
                Role::Admin | Role::Manager | Role::Collector | Role::Accountant
            );
            // An invoice named in a body that the caller may not see is as unknown as a
            // missing one: 422 `unknown_invoice` (path resources answer 404 instead).
            let res = app
                .money(
                    &user,
                    "/v1/write-offs",
                    &json!({"invoice_id": inv, "amount": "900.01", "reason": "x"}),
                )
                .send()
                .await?;
            if may_request {
                let problem =
                    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                        .await?;
                let code = if visible {
                    "exceeds_open_balance"
                } else {
                    "unknown_invoice"
                };
                assert_eq!(problem["errors"][0]["code"], code, "{role} write-off");
            } else {
                expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
            }
            // The accountant's 2000.00 write-off waits for approval (above the threshold).
            let may_approve = matches!(role, Role::Admin | Role::Manager);
            check(
                app.as_user(
                    &user,
                    Method::POST,
                    &format!("/v1/deductions/{ded}/resolve"),
                )
                .json(&json!({"status": "open", "note": "x"}))
                .send()
                .await?,
                expect(
                    matches!(role, Role::Admin | Role::Manager | Role::Accountant),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                format!("{role} resolve"),
            )
            .await?;
            if !may_approve {
                check(
                    app.as_user(&user, Method::POST, &format!("/v1/write-offs/{wo}/approve"))
                        .send()
                        .await?,
                    expect(false, StatusCode::OK),
                    format!("{role} approve"),
                )
                .await?;
            }
            check(
                app.as_user(
                    &user,
                    Method::GET,
                    &format!(
                        "/v1/customers/{}/statement",
                        f.invoice["customer_id"].as_str().unwrap_or_default()
                    ),
                )
                .send()
                .await?,
                expect(true, StatusCode::OK),
                format!("{role} statement"),
            )
            .await?;
        }
        // Lists only ever show what the caller may see.
        let invoices = get(&app, &user, "/v1/invoices?limit=200").await?;
        let customers: std::collections::HashSet<&str> = invoices["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["customer_id"].as_str())
            .collect();
        let expected: std::collections::HashSet<&str> = [
            (mine["id"].as_str(), sees_mine),
            (theirs["id"].as_str(), sees_theirs),
        ]
        .into_iter()
        .filter(|(_, v)| *v)
        .filter_map(|(id, _)| id)
        .collect();
        assert_eq!(customers, expected, "{role} invoices list");
        for path in ["/v1/payments", "/v1/deductions", "/v1/write-offs"] {
            let listed = get(&app, &user, path).await?;
            assert!(
                listed["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|r| expected.contains(r["customer_id"].as_str().unwrap_or_default())),
                "{role} {path}"
            );
        }
        let gl_read = matches!(
            role,
            Role::Admin | Role::Manager | Role::Accountant | Role::Auditor
        );
        let res = app
            .as_user(&user, Method::GET, "/v1/gl-balances")
            .send()
            .await?;
        if gl_read {
            assert_eq!(res.status(), StatusCode::OK, "{role}")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app.as_user(&user, Method::POST, "/v1/gl-balances").json(&json!({"as_of": "2026-01-31", "currency": "USD", "amount": "1.00", "source": "test"})).send().await?;
        if matches!(role, Role::Admin | Role::Accountant) {
            assert_eq!(res.status(), StatusCode::CREATED, "{role}")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app.as_user(&user, Method::PUT, "/v1/invoices/external/X-1").json(&json!({"number": format!("X-{role}"), "customer_id": theirs["id"], "amount": "5.00", "issue_date": "2026-01-01"})).send().await?;
        if money_role_of(role) {
            assert!(res.status().is_success(), "{role} upsert invoice")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    // Managers approve write-offs they did not request; the accountant's large one waits.
    let manager = app.user(Role::Manager).await?;
    let wo = id_of(&a.write_off);
    assert_eq!(a.write_off["status"], "pending_approval");
    let (status, approved) = read(
        app.as_user(
            &manager,
            Method::POST,
            &format!("/v1/write-offs/{wo}/approve"),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{approved}");
    app.check_ledger().await
}

fn money_role_of(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Accountant)
}

/// Concurrent payments racing for one invoice: the customer lock serialises them, so
/// the invoice is never over-applied and every refusal leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_never_over_apply_an_invoice() -> Result<()> {
    let app = TestApp::spawn_with(|c| c.db_pool_size = 12).await?;
    let accountant = app.user(Role::Accountant).await?;
    let acme = account(&app, "Acme").await?;
    let inv = app
        .invoice(&acme, "INV-1", "100.00", "2026-01-01", "2026-01-31")
        .await?;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let req = app.money(&accountant, "/v1/payments", &json!({"customer_id": acme["id"], "received_on": "2026-02-01", "amount": "60.00", "method": "ach",
            "applications": [{"invoice_id": inv["id"], "amount": "60.00"}]}));
        tasks.push(tokio::spawn(
            async move { req.send().await.map(|r| r.status()) },
        ));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await??);
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
            .count(),
        9,
        "{statuses:?}"
    );
    let now = get(&app, &accountant, &format!("/v1/invoices/{}", id_of(&inv))).await?;
    assert_eq!(balance(&now), "40.00");
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 1);
    app.check_ledger().await
}
