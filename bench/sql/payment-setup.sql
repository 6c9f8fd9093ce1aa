-- Setup for payment.pgbench (see there), run in the bench's app database after the
-- API run: 16 customers, one per pgbench client, each with 1,000 invoices large
-- enough to take a payment's applications for as long as the run lasts.
CREATE FUNCTION bench_id(n bigint) RETURNS uuid IMMUTABLE LANGUAGE sql
    AS $$ SELECT ('fffffff0-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;
INSERT INTO customers (id, external_id, name, kind, currency, timezone, payment_terms_days,
                       created_at, updated_at)
SELECT bench_id(c), 'SQL-' || c, 'SQL bench ' || c, 'commercial', 'USD', 'UTC', 30, now(), now()
  FROM generate_series(1, 16) c;
INSERT INTO account_standings (customer_id, dirty, version)
SELECT bench_id(c), TRUE, 1 FROM generate_series(1, 16) c;
INSERT INTO invoices (id, number, customer_id, kind, issue_date, due_date, amount, currency,
                      status, open_balance, charged, created_at, updated_at)
SELECT bench_id(c * 100000 + i), 'SQL-' || c || '-' || i, bench_id(c), 'invoice',
       '2026-01-01', '2026-01-31', 1000000000, 'USD', 'open', 1000000000, 1000000000, now(), now()
  FROM generate_series(1, 16) c, generate_series(0, 999) i;
ANALYZE;
