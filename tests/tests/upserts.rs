//! ERP upserts by external id are merges: they set what the caller sends and owns, and
//! never reset what collections set through the other routes.

use anyhow::Result;
use recoup_core::user::Role;
use recoup_e2e::{TestApp, expect_problem, id_of, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An API key with the integration scopes.
async fn erp_key(app: &TestApp) -> Result<(String, String)> {
    let admin = app.admin().await?.clone();
    let (status, key) = read(
        app.as_user(&admin, Method::POST, "/v1/api-keys")
            .json(&json!({"name": "ERP", "scopes": ["customers:write", "customers:read", "invoices:write", "invoices:read", "payments:write", "payments:read"]}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    Ok((
        key["key"].as_str().unwrap_or_default().to_owned(),
        key["id"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// The customer's update events written by `actor_id`, oldest first, as (before, after).
async fn updates_by(app: &TestApp, customer: &str, actor_id: &str) -> Result<Vec<(Value, Value)>> {
    let client = app.db.client().await?;
    let rows = client
        .query(
            "SELECT before, after FROM audit_events WHERE action = 'customer.update' \
             AND entity_id = $1::text::uuid AND actor_id = $2::text::uuid ORDER BY occurred_at, id",
            &[&customer, &actor_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, Value>(0), r.get::<_, Value>(1)))
        .collect())
}

/// The top-level members whose values differ between two JSON objects.
fn changed(before: &Value, after: &Value) -> Vec<String> {
    let mut keys: Vec<String> = before
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| after.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sync_keeps_what_collections_set() -> Result<()> {
    let app = TestApp::spawn().await?;
    let (key, key_id) = erp_key(&app).await?;
    let erp = |method: Method, path: &str| app.anon(method, path).header("x-api-key", key.as_str());
    let manager = app.user(Role::Manager).await?;

    // Creating needs name, kind and currency: each missing one is a field error.
    let res = erp(Method::PUT, "/v1/customers/external/C-1")
        .json(&json!({"timezone": "America/Chicago"}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let missing: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default(),
                e["code"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        missing,
        [
            ("name", "required"),
            ("kind", "required"),
            ("currency", "required")
        ]
    );
    assert_eq!(app.count("SELECT 1 FROM customers").await?, 0);

    let sync = json!({"name": "Northwind", "kind": "consumer", "currency": "USD", "payment_terms_days": 45, "credit_limit": "5000.00"});
    let (status, created) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&sync)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created).to_string();
    let path = format!("/v1/customers/{id}");

    // Collections sets its flags, a new limit and both holds through the normal routes.
    let res = app.as_user(&manager, Method::GET, &path).send().await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, patched) = read(
        app.as_user(&manager, Method::PATCH, &path)
            .header("if-match", etag)
            .json(&json!({"cease_communication": true, "attorney_represented": true, "bankrupt": true, "deceased": true, "do_not_contact": true, "credit_limit": "9000.00", "risk_rating": "high"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{patched}");
    for kind in ["collection", "credit"] {
        let res = app
            .as_user(&manager, Method::POST, &format!("{path}/holds"))
            .json(&json!({"kind": kind, "reason": "consumer asked in writing"}))
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::CREATED, "{kind} hold");
    }
    let (_, held) = read(app.as_user(&manager, Method::GET, &path).send().await?).await?;
    assert_eq!(held["credit_hold"], true);
    assert!(held["collection_hold"].is_object(), "{held}");

    // The nightly sync sends its master data again, without any of that: all survives,
    // and a sync that changes nothing writes nothing.
    let (status, synced) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&json!({"name": "Northwind", "kind": "consumer", "currency": "USD", "payment_terms_days": 45}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(
        synced, held,
        "an upsert that omits a field leaves it as it is"
    );
    assert!(updates_by(&app, &id, &key_id).await?.is_empty());

    // A field it sends changes, and only that field, in the customer and in the audit.
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, renamed) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&json!({"name": "Northwind Traders", "currency": "USD"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Northwind Traders");
    assert_eq!(changed(&held, &renamed), ["name", "updated_at"]);
    let events = updates_by(&app, &id, &key_id).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(changed(&events[0].0, &events[0].1), ["name", "updated_at"]);
    assert_eq!(events[0].0["cease_communication"], true);
    assert_eq!(events[0].1["cease_communication"], true);

    // A flag collections owns changes only when sent explicitly.
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, lifted) = read(
        erp(Method::PUT, "/v1/customers/external/C-1")
            .json(&json!({"deceased": false, "credit_limit": null}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(
        changed(&renamed, &lifted),
        ["credit_limit", "deceased", "updated_at"]
    );
    assert_eq!(lifted["cease_communication"], true);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_and_payment_syncs_keep_what_collections_did() -> Result<()> {
    let app = TestApp::spawn().await?;
    let (key, _) = erp_key(&app).await?;
    let erp = |method: Method, path: &str| app.anon(method, path).header("x-api-key", key.as_str());
    let accountant = app.user(Role::Accountant).await?;
    let acme = app
        .customer(json!({"name": "Acme", "kind": "commercial", "currency": "USD", "payment_terms_days": 30}))
        .await?;

    let res = erp(Method::PUT, "/v1/invoices/external/I-9")
        .json(&json!({"customer_id": acme["id"], "po_number": "PO-1"}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["code"] == "required")
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["number", "issue_date", "amount"]);

    let full = json!({"number": "INV-9", "customer_id": acme["id"], "amount": "700.00", "issue_date": "2026-01-01", "due_date": "2026-02-20", "po_number": "PO-1", "project": "Depot"});
    let (status, created) = read(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&full)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // Collections takes part of the money in; the invoice is partially paid.
    let paid = app
        .pay(&accountant, &acme, "2026-02-01", &[(&created, "200.00")])
        .await?;
    let (_, before) = read(
        app.as_user(
            &accountant,
            Method::GET,
            &format!("/v1/invoices/{}", id_of(&created)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(before["status"], "partially_paid", "{before}");

    // A sync without the due date, PO and project keeps them (the due date is not
    // recomputed from the terms) and leaves the ledger alone.
    let (status, synced) = read(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&json!({"number": "INV-9", "customer_id": acme["id"], "amount": "700.00", "issue_date": "2026-01-01"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!((status, &synced), (StatusCode::OK, &before));
    assert_eq!(app.audit_count("invoice.update").await?, 0);

    // What it sends changes; null clears; money stays refused.
    let (status, moved) = read(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&json!({"due_date": "2026-03-01", "po_number": null}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        (
            &moved["due_date"],
            &moved["po_number"],
            &moved["project"],
            &moved["status"],
            &moved["open_balance"]
        ),
        (
            &json!("2026-03-01"),
            &Value::Null,
            &json!("Depot"),
            &json!("partially_paid"),
            &json!("500.00")
        )
    );
    expect_problem(
        erp(Method::PUT, "/v1/invoices/external/I-9")
            .json(&json!({"amount": "750.00"}))
            .send()
            .await?,
        StatusCode::CONFLICT,
        "posted_money_changed",
    )
    .await?;

    // A payment the ERP posted and collections returned stays returned on a repeat.
    let payment = json!({"customer_id": acme["id"], "received_on": "2026-02-10", "amount": "300.00", "method": "check", "reference": "chk 1001"});
    let (status, posted) = read(
        erp(Method::PUT, "/v1/payments/external/P-1")
            .json(&payment)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let (status, outcome) = read(
        app.money(
            &accountant,
            &format!("/v1/payments/{}/return", id_of(&posted)),
            &json!({"reason": "NSF: insufficient funds (R01)"}),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    let (_, returned) = read(
        app.as_user(
            &accountant,
            Method::GET,
            &format!("/v1/payments/{}", id_of(&posted)),
        )
        .send()
        .await?,
    )
    .await?;
    assert_eq!(returned["status"], "returned");
    let mut repeat = payment.clone();
    repeat["reference"] = json!("chk 1001 (resent)");
    let (status, again) = read(
        erp(Method::PUT, "/v1/payments/external/P-1")
            .json(&repeat)
            .send()
            .await?,
    )
    .await?;
    assert_eq!((status, &again), (StatusCode::OK, &returned));
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 2, "{paid}");
    app.check_ledger().await
}
