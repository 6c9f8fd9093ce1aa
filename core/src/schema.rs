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
);
