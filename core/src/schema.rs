// The diesel schema, kept by hand beside the SQL in `migrations/`.
// An e2e test migrates a fresh database and checks every table here exists with its columns.

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        scopes -> Array<Text>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        external_id -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        currency -> Bpchar,
        timezone -> Text,
        payment_terms_days -> Int4,
        credit_limit -> Nullable<Numeric>,
        risk_rating -> Nullable<Text>,
        assigned_collector_id -> Nullable<Uuid>,
        sales_rep_id -> Nullable<Uuid>,
        do_not_contact -> Bool,
        cease_communication -> Bool,
        attorney_represented -> Bool,
        bankrupt -> Bool,
        deceased -> Bool,
        credit_hold -> Bool,
        collection_hold_reason -> Nullable<Text>,
        collection_hold_expires_at -> Nullable<Timestamptz>,
        collection_hold_placed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        returned_payments -> Int4,
        last_payment_returned_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        customer_id -> Uuid,
        name -> Text,
        role -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        preferred_channel -> Text,
        timezone -> Nullable<Text>,
        no_contact_windows -> Jsonb,
        is_primary -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customer_holds (id) {
        id -> Uuid,
        customer_id -> Uuid,
        kind -> Text,
        reason -> Text,
        expires_at -> Nullable<Timestamptz>,
        placed_by -> Nullable<Uuid>,
        placed_at -> Timestamptz,
        released_by -> Nullable<Uuid>,
        released_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        occurred_at -> Timestamptz,
        actor_kind -> Text,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Uuid,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        number -> Text,
        external_id -> Nullable<Text>,
        customer_id -> Uuid,
        kind -> Text,
        issue_date -> Date,
        due_date -> Date,
        amount -> Numeric,
        currency -> Bpchar,
        po_number -> Nullable<Text>,
        project -> Nullable<Text>,
        status -> Text,
        open_balance -> Numeric,
        charged -> Numeric,
        written_off -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        external_id -> Nullable<Text>,
        customer_id -> Uuid,
        received_on -> Date,
        amount -> Numeric,
        currency -> Bpchar,
        method -> Text,
        reference -> Nullable<Text>,
        status -> Text,
        unapplied -> Numeric,
        refunded -> Numeric,
        returned_at -> Nullable<Timestamptz>,
        return_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        unapplied_changed_on -> Date,
    }
}

diesel::table! {
    payment_applications (id) {
        id -> Uuid,
        payment_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
        applied_at -> Timestamptz,
        reversed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Uuid,
        seq -> Int8,
        customer_id -> Uuid,
        invoice_id -> Nullable<Uuid>,
        payment_id -> Nullable<Uuid>,
        kind -> Text,
        amount -> Numeric,
        currency -> Bpchar,
        effective_on -> Date,
        posted_at -> Timestamptz,
        document_id -> Nullable<Uuid>,
        memo -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    credit_memos (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason -> Text,
        deduction_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        dispute_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    adjustments (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    deductions (id) {
        id -> Uuid,
        payment_id -> Uuid,
        invoice_id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason_code -> Text,
        status -> Text,
        follow_up -> Nullable<Text>,
        note -> Nullable<Text>,
        credit_memo_id -> Nullable<Uuid>,
        resolved_by -> Nullable<Uuid>,
        resolved_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    write_offs (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason -> Text,
        status -> Text,
        requested_by -> Nullable<Uuid>,
        approved_by -> Nullable<Uuid>,
        posted_at -> Nullable<Timestamptz>,
        recovered_amount -> Numeric,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    gl_balances (id) {
        id -> Uuid,
        as_of -> Date,
        currency -> Bpchar,
        amount -> Numeric,
        source -> Text,
        note -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Bytea,
        response_status -> Int4,
        response_body -> Jsonb,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        customer_id -> Uuid,
        assignee_id -> Nullable<Uuid>,
        kind -> Text,
        title -> Text,
        due_on -> Date,
        status -> Text,
        source_type -> Nullable<Text>,
        source_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        status -> Text,
        progress_done -> Int8,
        progress_total -> Nullable<Int8>,
        result -> Nullable<Jsonb>,
        problem -> Nullable<Jsonb>,
        attempts -> Int4,
        actor_kind -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        subject_type -> Nullable<Text>,
        subject_id -> Nullable<Uuid>,
        progress_at_start -> Int8,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        queue -> Text,
        job_id -> Uuid,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    imports (id) {
        id -> Uuid,
        job_id -> Uuid,
        kind -> Text,
        created_at -> Timestamptz,
        mapping -> Nullable<Jsonb>,
        size_bytes -> Int8,
        resume_offset -> Nullable<Int8>,
        resume_line -> Nullable<Int8>,
        rows_read -> Int8,
        customers_created -> Int8,
        invoices_created -> Int8,
        payments_created -> Int8,
        updated -> Int8,
        unchanged -> Int8,
        rejected -> Int8,
    }
}

diesel::table! {
    import_chunks (import_id, seq) {
        import_id -> Uuid,
        seq -> Int4,
        byte_offset -> Int8,
        data -> Bytea,
    }
}

diesel::table! {
    import_row_errors (import_id, line, seq) {
        import_id -> Uuid,
        line -> Int8,
        seq -> Int4,
        column_name -> Nullable<Text>,
        code -> Text,
        message -> Text,
    }
}

diesel::table! {
    activities (id) {
        id -> Uuid,
        customer_id -> Uuid,
        kind -> Text,
        direction -> Nullable<Text>,
        contact_id -> Nullable<Uuid>,
        outcome -> Nullable<Text>,
        subject -> Nullable<Text>,
        notes -> Text,
        follow_up_on -> Nullable<Date>,
        task_id -> Nullable<Uuid>,
        actor_kind -> Text,
        actor_id -> Nullable<Uuid>,
        source_type -> Nullable<Text>,
        source_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Jsonb,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    promises (id) {
        id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        made_on -> Date,
        promised_on -> Date,
        grace_days -> Int4,
        status -> Text,
        paid -> Numeric,
        decided_at -> Nullable<Timestamptz>,
        contact_id -> Nullable<Uuid>,
        note -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    promise_invoices (promise_id, invoice_id) {
        promise_id -> Uuid,
        invoice_id -> Uuid,
    }
}

diesel::table! {
    disputes (id) {
        id -> Uuid,
        customer_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason_code -> Text,
        status -> Text,
        description -> Text,
        owner_id -> Nullable<Uuid>,
        due_on -> Date,
        root_cause -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        credited -> Nullable<Numeric>,
        resolved_by -> Nullable<Uuid>,
        resolved_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    dispute_invoices (dispute_id, invoice_id) {
        dispute_id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
    }
}

diesel::table! {
    schedule_runs (schedule, occurrence) {
        schedule -> Text,
        occurrence -> Date,
        job_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    aging_snapshots (id) {
        id -> Int8,
        as_of -> Date,
        group_by -> Text,
        key -> Nullable<Text>,
        name -> Text,
        currency -> Bpchar,
        labels -> Array<Text>,
        amounts -> Array<Numeric>,
        counts -> Array<Int8>,
        total -> Numeric,
        disputed -> Numeric,
        taken_at -> Timestamptz,
    }
}

diesel::table! {
    payment_plans (id) {
        id -> Uuid,
        customer_id -> Uuid,
        currency -> Bpchar,
        status -> Text,
        total -> Numeric,
        fee -> Numeric,
        interest -> Numeric,
        total_payable -> Numeric,
        terms -> Jsonb,
        policy_breaches -> Jsonb,
        grace_days -> Int4,
        default_after_missed -> Int4,
        made_on -> Date,
        paid -> Numeric,
        fee_invoice_id -> Nullable<Uuid>,
        referral_candidate_at -> Nullable<Timestamptz>,
        note -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        approved_by -> Nullable<Uuid>,
        approved_at -> Nullable<Timestamptz>,
        activated_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    payment_plan_invoices (plan_id, invoice_id) {
        plan_id -> Uuid,
        invoice_id -> Uuid,
    }
}

diesel::table! {
    plan_installments (id) {
        id -> Uuid,
        plan_id -> Uuid,
        number -> Int4,
        due_date -> Date,
        amount -> Numeric,
        paid -> Numeric,
        paid_on -> Nullable<Date>,
        status -> Text,
    }
}

diesel::table! {
    account_standings (customer_id) {
        customer_id -> Uuid,
        version -> Int8,
        dirty -> Bool,
        computed_on -> Nullable<Date>,
        expires_at -> Nullable<Timestamptz>,
        standing -> Nullable<Json>,
        collector_id -> Nullable<Uuid>,
        open_balance -> Nullable<Numeric>,
        disputed -> Nullable<Numeric>,
        collectible_overdue -> Nullable<Numeric>,
        overdue_buckets -> Nullable<Array<Nullable<Text>>>,
        oldest_due_on -> Nullable<Date>,
        promised_pending -> Nullable<Numeric>,
        promised_today -> Nullable<Numeric>,
        broken_promises -> Nullable<Int4>,
        missed_installments -> Nullable<Int4>,
        on_plan -> Nullable<Numeric>,
        last_contact_on -> Nullable<Date>,
        tasks_due -> Nullable<Int4>,
    }
}

diesel::joinable!(invoices -> customers (customer_id));
diesel::joinable!(promise_invoices -> promises (promise_id));
diesel::joinable!(payment_plan_invoices -> payment_plans (plan_id));
diesel::joinable!(payment_plan_invoices -> invoices (invoice_id));
diesel::joinable!(plan_installments -> payment_plans (plan_id));
diesel::joinable!(promise_invoices -> invoices (invoice_id));
diesel::joinable!(dispute_invoices -> disputes (dispute_id));
diesel::joinable!(dispute_invoices -> invoices (invoice_id));
diesel::joinable!(payments -> customers (customer_id));
diesel::joinable!(payment_applications -> payments (payment_id));
diesel::joinable!(payment_applications -> invoices (invoice_id));
diesel::joinable!(contacts -> customers (customer_id));
diesel::joinable!(customer_holds -> customers (customer_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    api_keys,
    customers,
    contacts,
    customer_holds,
    audit_events,
    invoices,
    payments,
    payment_applications,
    ledger_entries,
    credit_memos,
    adjustments,
    deductions,
    write_offs,
    gl_balances,
    idempotency_keys,
    tasks,
    jobs,
    outbox,
    imports,
    import_chunks,
    import_row_errors,
    activities,
    settings,
    promises,
    promise_invoices,
    payment_plans,
    payment_plan_invoices,
    plan_installments,
    disputes,
    dispute_invoices,
    schedule_runs,
    aging_snapshots,
    account_standings,
);
