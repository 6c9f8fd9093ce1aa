-- The aging report as of a day needs each payment's unapplied cash as of that day, a
-- sum over the payment's entries with no invoice. Nearly every payment is applied in
-- full and stays so; `unapplied_changed_on` lets the report skip those without reading
-- their entries: it is the latest effective date among the payment's entries with no
-- invoice (receipt, applications, refunds, return), kept with `unapplied` in the same
-- statements. On any day from it on, the payment's unapplied cash as of that day is
-- `unapplied`; so a payment with `unapplied = 0` and `unapplied_changed_on <= as_of`
-- has none on `as_of`. No index: balance updates stay heap-only (HOT).
ALTER TABLE payments ADD COLUMN unapplied_changed_on DATE;
UPDATE payments p SET unapplied_changed_on = e.last
  FROM (SELECT payment_id, max(effective_on) AS last FROM ledger_entries
         WHERE invoice_id IS NULL AND payment_id IS NOT NULL GROUP BY payment_id) e
 WHERE e.payment_id = p.id;
-- A payment has its receipt entry from the start; none is missing one, but the column
-- may not be NULL.
UPDATE payments SET unapplied_changed_on = received_on WHERE unapplied_changed_on IS NULL;
ALTER TABLE payments ALTER COLUMN unapplied_changed_on SET NOT NULL;

-- An entry moves an invoice or a payment's unapplied cash (`ledger::post_to` refuses
-- any other), so the report can find every entry with no invoice through its payment.
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_invoice_or_payment
    CHECK (invoice_id IS NOT NULL OR payment_id IS NOT NULL);
