-- The worklist's per-account standing: what `worklist::accounts` gathers from every
-- open invoice, promise, plan, activity and task of a customer, kept so that a
-- worklist read touches one narrow row per account (issue 6: p95 ≤ 50 ms for 5,000
-- accounts). The customer's own fields (name, risk, hold, flags, collector) are read
-- live and are not kept here.
--
-- A standing is exact from `computed_on` until `expires_at` (the first instant a
-- date-dependent figure would change: an invoice moving bucket, a promise or task
-- falling due, a broken promise leaving the 30-day window; NULL: never), with the
-- oldest days past due aged at read time from `oldest_due_on` inside the JSON.
-- Every write that moves its inputs marks it dirty in the writer's own transaction
-- (the triggers below) and bumps `version`; a refresh computes from a later snapshot
-- and saves only if the version it read is still current, so a standing is never
-- saved clean over a change it did not see. Stale, dirty or missing standings are
-- recomputed by the read itself (and saved), and by the nightly job.
CREATE TABLE account_standings (
    customer_id UUID PRIMARY KEY REFERENCES customers (id),
    version     BIGINT NOT NULL DEFAULT 0,
    dirty       BOOLEAN NOT NULL DEFAULT TRUE,
    computed_on DATE,
    expires_at  TIMESTAMPTZ,
    standing    JSONB
) WITH (fillfactor = 80);

CREATE FUNCTION account_standing_dirty(customer UUID) RETURNS void LANGUAGE sql AS $$
    UPDATE account_standings SET dirty = TRUE, version = version + 1
     WHERE customer_id = customer;
$$;

-- Tables with the customer on the row.
CREATE FUNCTION account_standing_dirty_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM account_standing_dirty(OLD.customer_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.customer_id IS DISTINCT FROM OLD.customer_id) THEN
        PERFORM account_standing_dirty(NEW.customer_id);
    END IF;
    RETURN NULL;
END $$;

-- Tables hanging off a dispute or a plan.
CREATE FUNCTION account_standing_dirty_child() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'dispute_invoices' THEN
        PERFORM account_standing_dirty(d.customer_id) FROM disputes d WHERE d.id = r.dispute_id;
    ELSE
        PERFORM account_standing_dirty(p.customer_id) FROM payment_plans p WHERE p.id = r.plan_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invoices_standing AFTER INSERT OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER invoices_standing_update AFTER UPDATE ON invoices
    FOR EACH ROW WHEN (OLD.open_balance IS DISTINCT FROM NEW.open_balance
                       OR OLD.due_date IS DISTINCT FROM NEW.due_date
                       OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER disputes_standing AFTER INSERT OR UPDATE OR DELETE ON disputes
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER promises_standing AFTER INSERT OR UPDATE OR DELETE ON promises
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER payment_plans_standing AFTER INSERT OR UPDATE OR DELETE ON payment_plans
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER activities_standing AFTER INSERT ON activities
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER tasks_standing AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
CREATE TRIGGER dispute_invoices_standing AFTER INSERT OR UPDATE OR DELETE ON dispute_invoices
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_child();
CREATE TRIGGER payment_plan_invoices_standing AFTER INSERT OR UPDATE OR DELETE ON payment_plan_invoices
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_child();
CREATE TRIGGER plan_installments_standing AFTER INSERT OR UPDATE OR DELETE ON plan_installments
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_child();

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'import', 'promise_evaluation', 'installment_tracking', 'aging_snapshot',
    'dispute_follow_up', 'idempotency_purge', 'account_standings'));
