//! A synthetic portfolio written straight into a test database with set-based SQL:
//! customers, invoices with consistent ledger entries (issued; paid ones paid by a
//! payment applied in full, as the API posts it: ~3.4M entries for 1M invoices),
//! and the collection records the worklist reads (activities, promises, disputes,
//! tasks). Deterministic, so runs compare.

use anyhow::Result;
use chrono::NaiveDate;
use uuid::Uuid;

pub struct Shape {
    pub customers: i64,
    pub invoices_per_customer: i64,
    /// The first `accounts` customers belong to `collector`.
    pub accounts: i64,
    pub collector: Uuid,
    pub as_of: NaiveDate,
}

/// Writes the portfolio; returns how many invoices and ledger entries it wrote.
pub async fn generate(client: &tokio_postgres::Client, shape: &Shape) -> Result<(i64, i64)> {
    let as_of = shape.as_of.to_string();
    let collector = shape.collector.to_string();
    client
        .batch_execute(&format!(
            "INSERT INTO customers (id, name, kind, currency, timezone, payment_terms_days, risk_rating,
                                    assigned_collector_id, created_at, updated_at)
             SELECT gen_random_uuid(), 'Synthetic ' || lpad(g::text, 7, '0'), 'commercial', 'USD', 'UTC', 30,
                    (ARRAY['low', 'medium', 'high', NULL])[1 + g % 4],
                    CASE WHEN g <= {accounts} THEN '{collector}'::uuid END, now(), now()
               FROM generate_series(1, {customers}) g;
             CREATE TEMP TABLE syn AS
             SELECT c.id AS customer_id, c.n, i,
                    ('{as_of}'::date - ((c.n * 7 + i * 13) % 240)::int) AS due,
                    (100 + (c.n * 31 + i * 17) % 9900)::numeric(19, 4) AS amount,
                    ((c.n + i) % 5 = 0) AS open
               FROM (SELECT id, row_number() OVER (ORDER BY name) AS n FROM customers
                      WHERE name LIKE 'Synthetic %') c,
                    generate_series(1, {per}) i;
             ALTER TABLE syn ADD COLUMN id uuid;
             UPDATE syn SET id = gen_random_uuid();
             INSERT INTO invoices (id, number, customer_id, kind, issue_date, due_date, amount, currency, status,
                                   open_balance, charged, created_at, updated_at)
             SELECT id, 'SYN-' || n || '-' || i, customer_id, 'invoice', due - 30, due, amount, 'USD',
                    CASE WHEN open THEN 'open' ELSE 'paid' END, CASE WHEN open THEN amount ELSE 0 END,
                    amount, now(), now()
               FROM syn;
             INSERT INTO ledger_entries (id, customer_id, invoice_id, kind, amount, currency, effective_on,
                                         posted_at, actor_kind)
             SELECT gen_random_uuid(), customer_id, id, 'invoice_issued', amount, 'USD', due - 30, now(), 'system'
               FROM syn;
             -- Paid invoices were paid by a payment three days before they fell due: the
             -- payment, its application and the ledger's three entries, as the API posts.
             ALTER TABLE syn ADD COLUMN payment_id uuid;
             UPDATE syn SET payment_id = gen_random_uuid() WHERE NOT open;
             INSERT INTO payments (id, customer_id, received_on, amount, currency, method, status, unapplied,
                                   unapplied_changed_on, created_at, updated_at)
             SELECT payment_id, customer_id, due - 3, amount, 'USD', 'ach', 'posted', 0, due - 3, now(), now()
               FROM syn WHERE NOT open;
             INSERT INTO payment_applications (id, payment_id, invoice_id, amount, applied_at)
             SELECT gen_random_uuid(), payment_id, id, amount, now() FROM syn WHERE NOT open;
             INSERT INTO ledger_entries (id, customer_id, invoice_id, payment_id, kind, amount, currency,
                                         effective_on, posted_at, actor_kind)
             SELECT gen_random_uuid(), customer_id, NULL::uuid, payment_id, 'payment_received', -amount, 'USD',
                    due - 3, now(), 'system' FROM syn WHERE NOT open
             UNION ALL
             SELECT gen_random_uuid(), customer_id, NULL::uuid, payment_id, 'payment_applied', amount, 'USD',
                    due - 3, now(), 'system' FROM syn WHERE NOT open
             UNION ALL
             SELECT gen_random_uuid(), customer_id, id, payment_id, 'payment_applied', -amount, 'USD',
                    due - 3, now(), 'system' FROM syn WHERE NOT open;
             -- The collector's accounts: a call each, some promises, disputes and tasks.
             INSERT INTO activities (id, customer_id, kind, direction, outcome, notes, actor_kind, actor_id,
                                     occurred_at, created_at)
             SELECT gen_random_uuid(), id, 'call', 'outbound', 'no_answer', '', 'user', '{collector}',
                    '{as_of}'::date - (row_number() OVER (ORDER BY id) % 45)::int, now()
               FROM customers WHERE assigned_collector_id = '{collector}';
             CREATE TEMP TABLE picks AS
             SELECT DISTINCT ON (s.customer_id) s.customer_id, s.id AS invoice_id, s.amount, s.n
               FROM syn s WHERE s.open AND s.n <= {accounts} ORDER BY s.customer_id, s.i;
             ALTER TABLE picks ADD COLUMN promise_id uuid, ADD COLUMN dispute_id uuid;
             UPDATE picks SET promise_id = gen_random_uuid(), dispute_id = gen_random_uuid();
             INSERT INTO promises (id, customer_id, amount, currency, made_on, promised_on, grace_days, status,
                                   paid, decided_at, created_by, created_at, updated_at)
             SELECT promise_id, customer_id, amount, 'USD', '{as_of}'::date - 20,
                    '{as_of}'::date - 20 + (n % 25)::int, 2,
                    CASE WHEN n % 25 < 18 THEN 'open' ELSE 'broken' END, 0,
                    CASE WHEN n % 25 < 18 THEN NULL ELSE '{as_of}'::date - 2 END,
                    '{collector}', now(), now()
               FROM picks WHERE n % 4 = 0;
             INSERT INTO promise_invoices (promise_id, invoice_id)
             SELECT promise_id, invoice_id FROM picks WHERE n % 4 = 0;
             INSERT INTO disputes (id, customer_id, amount, currency, reason_code, status, owner_id, due_on,
                                   created_by, created_at, updated_at)
             SELECT dispute_id, customer_id, amount / 2, 'USD', 'pricing', 'open', '{collector}',
                    '{as_of}'::date + 10, '{collector}', now(), now()
               FROM picks WHERE n % 4 = 1;
             INSERT INTO dispute_invoices (dispute_id, invoice_id, amount)
             SELECT dispute_id, invoice_id, amount / 2 FROM picks WHERE n % 4 = 1;
             INSERT INTO tasks (id, customer_id, assignee_id, kind, title, due_on, status, created_at, updated_at)
             SELECT gen_random_uuid(), customer_id, '{collector}', 'call', 'Call back',
                    '{as_of}'::date - (n % 5)::int, 'open', now(), now()
               FROM picks WHERE n % 3 = 0;
             ANALYZE;",
            accounts = shape.accounts,
            customers = shape.customers,
            per = shape.invoices_per_customer,
        ))
        .await?;
    let invoices: i64 = client
        .query_one("SELECT count(*) FROM invoices", &[])
        .await?
        .get(0);
    let entries: i64 = client
        .query_one("SELECT count(*) FROM ledger_entries", &[])
        .await?
        .get(0);
    Ok((invoices, entries))
}
