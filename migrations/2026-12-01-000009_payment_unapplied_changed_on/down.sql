ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_invoice_or_payment;
ALTER TABLE payments DROP COLUMN unapplied_changed_on;
