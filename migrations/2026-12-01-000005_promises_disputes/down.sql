ALTER TABLE activities DROP CONSTRAINT activities_outcome_check;
ALTER TABLE activities ADD CONSTRAINT activities_outcome_check CHECK (outcome IN (
    'no_answer', 'left_message', 'promised', 'disputed', 'refused',
    'wrong_number', 'paid', 'callback_requested', 'reached',
    'sent', 'bounced', 'promise_broken', 'promise_kept',
    'installment_missed', 'plan_defaulted', 'other'));
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'import', 'promise_evaluation', 'installment_tracking', 'aging_snapshot'));
DROP TABLE schedule_runs;
ALTER TABLE credit_memos DROP COLUMN dispute_id;
DROP TABLE dispute_invoices;
DROP TABLE disputes;
DROP TABLE promise_invoices;
DROP TABLE promises;
