ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('invoice', 'nsf_fee'));
DROP TABLE plan_installments;
DROP TABLE payment_plan_invoices;
DROP TABLE payment_plans;
