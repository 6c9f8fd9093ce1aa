ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'import', 'promise_evaluation', 'installment_tracking', 'aging_snapshot',
    'dispute_follow_up', 'idempotency_purge'));
DROP TRIGGER plan_installments_standing ON plan_installments;
DROP TRIGGER payment_plan_invoices_standing ON payment_plan_invoices;
DROP TRIGGER dispute_invoices_standing ON dispute_invoices;
DROP TRIGGER tasks_standing ON tasks;
DROP TRIGGER activities_standing ON activities;
DROP TRIGGER payment_plans_standing ON payment_plans;
DROP TRIGGER promises_standing ON promises;
DROP TRIGGER disputes_standing ON disputes;
DROP TRIGGER invoices_standing_update ON invoices;
DROP TRIGGER invoices_standing ON invoices;
DROP FUNCTION account_standing_dirty_child();
DROP FUNCTION account_standing_dirty_row();
DROP FUNCTION account_standing_dirty(UUID);
DROP TABLE account_standings;
