// @generated automatically by Diesel CLI.

diesel::table! {
    badge_copies (id) {
        id -> Uuid,
        customer_id -> Int8,
        hub_id -> Int8,
        station_id -> Int8,
        badge_uid -> Text,
        status -> Text,
        requested_by -> Nullable<Int8>,
        recorded_by -> Text,
        attempts -> Int4,
        lease_until -> Nullable<Timestamptz>,
        error_category -> Nullable<Text>,
        error -> Nullable<Text>,
        requested_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        recorded_offline -> Bool,
    }
}

diesel::table! {
    badge_dumps (id) {
        id -> Int8,
        copy_id -> Uuid,
        badge_uid -> Text,
        data -> Jsonb,
        sha256 -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    badge_quota_resets (customer_id, period_start) {
        customer_id -> Int8,
        period_start -> Timestamptz,
        skipped -> Int4,
        reset_at -> Timestamptz,
    }
}

diesel::table! {
    badge_quotas (customer_id) {
        customer_id -> Int8,
        copy_limit -> Int4,
        remaining -> Int4,
        period -> Text,
        period_start -> Timestamptz,
        next_reset_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    badges (id) {
        id -> Int8,
        customer_id -> Int8,
        uid -> Text,
        badge_type -> Text,
        label -> Text,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        kind -> Text,
        token_hash -> Text,
        user_id -> Nullable<Int8>,
        station_id -> Nullable<Int8>,
        family -> Uuid,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    app_meta (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor_id -> Nullable<Int8>,
        actor_name -> Nullable<Text>,
        role_at_capture -> Nullable<Text>,
        role_at_apply -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        offline -> Bool,
        operation_id -> Nullable<Uuid>,
        outcome -> Text,
        hub_id -> Nullable<Int8>,
        customer_id -> Nullable<Int8>,
        client_addr -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain (seq) {
        seq -> Int8,
        audit_id -> Int8,
        prev_hash -> Text,
        hash -> Text,
        sealed_at -> Timestamptz,
    }
}

diesel::table! {
    audit_pending (audit_id) {
        audit_id -> Int8,
    }
}

diesel::table! {
    customers (id) {
        id -> Int8,
        organisation_id -> Int8,
        hub_id -> Int8,
        code -> Text,
        name -> Text,
        contact_phone -> Nullable<Text>,
        created_at -> Timestamptz,
        active -> Bool,
    }
}

diesel::table! {
    daily_figures (day, hub_id, series, key, shard) {
        day -> Date,
        hub_id -> Int8,
        series -> Text,
        key -> Int8,
        shard -> Int4,
        n -> Int8,
    }
}

diesel::table! {
    device_arrivals (user_id, device_id) {
        user_id -> Int8,
        device_id -> Text,
        n -> Int8,
    }
}

diesel::table! {
    devices (user_id, id) {
        id -> Text,
        user_id -> Int8,
        pending_count -> Int4,
        highest_seq -> Int8,
        last_seen_at -> Timestamptz,
        flagged_at -> Nullable<Timestamptz>,
        flag_reason -> Nullable<Text>,
        discarded_count -> Int8,
        counted_before -> Int8,
        lost -> Int8,
    }
}

diesel::table! {
    distribution_lines (distribution_id, line_no) {
        distribution_id -> Uuid,
        line_no -> Int4,
        variant_id -> Int8,
        quantity -> Int8,
    }
}

diesel::table! {
    distributions (id) {
        id -> Uuid,
        hub_id -> Int8,
        recipient -> Text,
        notes -> Text,
        status -> Text,
        version -> Int4,
        created_by -> Int8,
        confirmed_by -> Nullable<Int8>,
        confirmed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    hubs (id) {
        id -> Int8,
        organisation_id -> Int8,
        code -> Text,
        name -> Text,
        kind -> Text,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    intake_lines (intake_id, line_no) {
        intake_id -> Uuid,
        line_no -> Int4,
        variant_id -> Int8,
        quantity -> Int8,
        expiry_on -> Nullable<Date>,
        lot -> Nullable<Text>,
    }
}

diesel::table! {
    intakes (id) {
        id -> Uuid,
        hub_id -> Int8,
        donor -> Text,
        reference -> Nullable<Text>,
        received_on -> Date,
        created_by -> Int8,
        operation_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_items (id) {
        id -> Int8,
        serial_number -> Text,
        variant_id -> Int8,
        hub_id -> Int8,
        location_code -> Text,
        status -> Text,
        cost_basis_cents -> Nullable<Int8>,
        sale_price_cents -> Nullable<Int8>,
        received_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_transactions (id) {
        id -> Int8,
        item_id -> Nullable<Int8>,
        serial_number -> Text,
        variant_id -> Int8,
        hub_id -> Int8,
        action -> Text,
        from_location -> Nullable<Text>,
        to_location -> Nullable<Text>,
        details -> Nullable<Jsonb>,
        user_id -> Int8,
        operation_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    needs_list_lines (needs_list_id, line_no) {
        needs_list_id -> Uuid,
        line_no -> Int4,
        variant_id -> Int8,
        requested_qty -> Int8,
        approved_qty -> Nullable<Int8>,
    }
}

diesel::table! {
    needs_lists (id) {
        id -> Uuid,
        hub_id -> Int8,
        title -> Text,
        status -> Text,
        version -> Int4,
        created_by -> Int8,
        submitted_at -> Nullable<Timestamptz>,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
        transfer_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    nfc_stations (id) {
        id -> Int8,
        hub_id -> Int8,
        code -> Text,
        name -> Text,
        reader_name -> Text,
        active -> Bool,
        last_seen_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        user_id -> Int8,
        announced_online -> Bool,
    }
}

diesel::table! {
    operations (id) {
        id -> Uuid,
        actor_id -> Int8,
        op_id -> Uuid,
        kind -> Text,
        payload -> Jsonb,
        hub_id -> Nullable<Int8>,
        record_id -> Nullable<Uuid>,
        base_version -> Nullable<Int4>,
        captured_at -> Timestamptz,
        received_at -> Timestamptz,
        device_id -> Nullable<Text>,
        offline -> Bool,
        role_at_capture -> Nullable<Text>,
        role_at_apply -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        server_id -> Nullable<Text>,
        server_state -> Nullable<Jsonb>,
        changed_fields -> Array<Nullable<Text>>,
        result_version -> Nullable<Int4>,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Int8>,
        resolution -> Nullable<Text>,
        field_errors -> Nullable<Jsonb>,
        refusal_code -> Nullable<Text>,
        corrects -> Nullable<Uuid>,
    }
}

diesel::table! {
    organisations (id) {
        id -> Int8,
        name -> Text,
        kind -> Text,
        created_at -> Timestamptz,
        sales_tax_bp -> Int4,
        currency -> Text,
        address -> Text,
        tax_id -> Text,
        payment_terms_days -> Int4,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        topic -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        claimed_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    product_families (product_id) {
        product_id -> Int4,
        base_name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    product_identities (id) {
        id -> Int8,
        product_id -> Int4,
        #[sql_name = "type"]
        type_ -> Text,
        lci -> Int4,
        physical_class -> Text,
        generated_upis_h -> Text,
        hex_signature -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    product_variants (id) {
        id -> Int8,
        identity_id -> Int8,
        color_code -> Text,
        condition_code -> Text,
        full_sku -> Text,
        description -> Text,
        unit -> Text,
        listing_price_cents -> Int8,
        cost_cents -> Nullable<Int8>,
        active -> Bool,
        zoho_sync_status -> Text,
        zoho_item_id -> Nullable<Text>,
        zoho_last_error -> Nullable<Text>,
        zoho_synced_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        zoho_attempts -> Int4,
    }
}

diesel::table! {
    stock_ledger (id) {
        id -> Int8,
        hub_id -> Int8,
        variant_id -> Int8,
        delta -> Int8,
        reason -> Text,
        operation_id -> Nullable<Uuid>,
        actor_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stock_adjustments (id) {
        id -> Uuid,
        hub_id -> Int8,
        variant_id -> Int8,
        counted_against -> Int8,
        counted -> Int8,
        delta -> Int8,
        reason -> Text,
        note -> Nullable<Text>,
        created_by -> Int8,
        operation_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stock_levels (hub_id, variant_id) {
        hub_id -> Int8,
        variant_id -> Int8,
        quantity -> Int8,
        reorder_level -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    transfer_lines (transfer_id, line_no) {
        transfer_id -> Uuid,
        line_no -> Int4,
        variant_id -> Int8,
        quantity -> Int8,
        dispatched_qty -> Int8,
        received_qty -> Int8,
    }
}

diesel::table! {
    transfer_line_items (transfer_id, item_id) {
        transfer_id -> Uuid,
        line_no -> Int4,
        item_id -> Int8,
        arrived -> Nullable<Bool>,
    }
}

diesel::table! {
    transfers (id) {
        id -> Uuid,
        from_hub_id -> Int8,
        to_hub_id -> Int8,
        status -> Text,
        needs_list_id -> Nullable<Uuid>,
        version -> Int4,
        requested_by -> Int8,
        approved_by -> Nullable<Int8>,
        dispatched_by -> Nullable<Int8>,
        received_by -> Nullable<Int8>,
        discrepancy_note -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    user_customers (user_id, customer_id) {
        user_id -> Int8,
        customer_id -> Int8,
    }
}

diesel::table! {
    user_hubs (user_id, hub_id) {
        user_id -> Int8,
        hub_id -> Int8,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        display_name -> Text,
        role -> Text,
        organisation_id -> Int8,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        permission_flags -> Jsonb,
        sessions_valid_after -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    invoice_series (organisation_id, kind, year) {
        organisation_id -> Int8,
        kind -> Text,
        year -> Int4,
        last_number -> Int4,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        organisation_id -> Int8,
        hub_id -> Int8,
        customer_id -> Int8,
        sale_id -> Uuid,
        kind -> Text,
        number -> Text,
        year -> Int4,
        seq -> Int4,
        credits_invoice_id -> Nullable<Uuid>,
        reason -> Text,
        total_cents -> Int8,
        document -> Jsonb,
        issued_by -> Int8,
        issued_at -> Timestamptz,
        render_status -> Text,
        render_attempts -> Int4,
        render_error -> Nullable<Text>,
        next_render_at -> Nullable<Timestamptz>,
        pdf -> Nullable<Bytea>,
        rendered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sale_lines (sale_id, line_no) {
        sale_id -> Uuid,
        line_no -> Int4,
        variant_id -> Int8,
        item_id -> Nullable<Int8>,
        quantity -> Int8,
        list_price_cents -> Int8,
        unit_price_cents -> Int8,
        discount_bp -> Int4,
        foc -> Bool,
    }
}

diesel::table! {
    sales (id) {
        id -> Uuid,
        organisation_id -> Int8,
        hub_id -> Int8,
        customer_id -> Int8,
        notes -> Text,
        status -> Text,
        tax_rate_bp -> Int4,
        version -> Int4,
        created_by -> Int8,
        confirmed_by -> Nullable<Int8>,
        confirmed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        number -> Text,
    }
}

diesel::joinable!(badge_copies -> customers (customer_id));
diesel::joinable!(badge_copies -> nfc_stations (station_id));
diesel::joinable!(badge_dumps -> badge_copies (copy_id));
diesel::joinable!(badge_quotas -> customers (customer_id));
diesel::joinable!(badges -> customers (customer_id));
diesel::joinable!(api_tokens -> nfc_stations (station_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(audit_log -> customers (customer_id));
diesel::joinable!(audit_log -> hubs (hub_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(customers -> hubs (hub_id));
diesel::joinable!(customers -> organisations (organisation_id));
diesel::joinable!(devices -> users (user_id));
diesel::joinable!(distribution_lines -> distributions (distribution_id));
diesel::joinable!(distribution_lines -> product_variants (variant_id));
diesel::joinable!(distributions -> hubs (hub_id));
diesel::joinable!(hubs -> organisations (organisation_id));
diesel::joinable!(intake_lines -> intakes (intake_id));
diesel::joinable!(intake_lines -> product_variants (variant_id));
diesel::joinable!(intakes -> hubs (hub_id));
diesel::joinable!(intakes -> operations (operation_id));
diesel::joinable!(intakes -> users (created_by));
diesel::joinable!(inventory_items -> hubs (hub_id));
diesel::joinable!(inventory_items -> product_variants (variant_id));
diesel::joinable!(inventory_transactions -> hubs (hub_id));
diesel::joinable!(inventory_transactions -> inventory_items (item_id));
diesel::joinable!(inventory_transactions -> operations (operation_id));
diesel::joinable!(inventory_transactions -> product_variants (variant_id));
diesel::joinable!(inventory_transactions -> users (user_id));
diesel::joinable!(needs_list_lines -> needs_lists (needs_list_id));
diesel::joinable!(needs_list_lines -> product_variants (variant_id));
diesel::joinable!(needs_lists -> hubs (hub_id));
diesel::joinable!(nfc_stations -> hubs (hub_id));
diesel::joinable!(transfer_line_items -> inventory_items (item_id));
diesel::joinable!(nfc_stations -> users (user_id));
diesel::joinable!(operations -> hubs (hub_id));
diesel::joinable!(product_identities -> product_families (product_id));
diesel::joinable!(product_variants -> product_identities (identity_id));
diesel::joinable!(stock_ledger -> hubs (hub_id));
diesel::joinable!(stock_ledger -> operations (operation_id));
diesel::joinable!(stock_ledger -> product_variants (variant_id));
diesel::joinable!(stock_ledger -> users (actor_id));
diesel::joinable!(stock_adjustments -> hubs (hub_id));
diesel::joinable!(stock_adjustments -> operations (operation_id));
diesel::joinable!(stock_adjustments -> product_variants (variant_id));
diesel::joinable!(stock_adjustments -> users (created_by));
diesel::joinable!(stock_levels -> hubs (hub_id));
diesel::joinable!(stock_levels -> product_variants (variant_id));
diesel::joinable!(transfer_lines -> product_variants (variant_id));
diesel::joinable!(transfer_lines -> transfers (transfer_id));
diesel::joinable!(transfers -> needs_lists (needs_list_id));
diesel::joinable!(user_customers -> customers (customer_id));
diesel::joinable!(user_customers -> users (user_id));
diesel::joinable!(user_hubs -> hubs (hub_id));
diesel::joinable!(user_hubs -> users (user_id));
diesel::joinable!(users -> organisations (organisation_id));

diesel::joinable!(invoices -> customers (customer_id));
diesel::joinable!(invoices -> sales (sale_id));
diesel::joinable!(sale_lines -> inventory_items (item_id));
diesel::joinable!(sale_lines -> product_variants (variant_id));
diesel::joinable!(sale_lines -> sales (sale_id));
diesel::joinable!(sales -> customers (customer_id));
diesel::joinable!(sales -> hubs (hub_id));

diesel::allow_tables_to_appear_in_same_query!(
    badge_copies,
    badge_dumps,
    badge_quota_resets,
    badge_quotas,
    badges,
    invoice_series,
    invoices,
    sale_lines,
    sales,
    api_tokens,
    app_meta,
    audit_chain,
    audit_log,
    audit_pending,
    customers,
    daily_figures,
    device_arrivals,
    devices,
    distribution_lines,
    distributions,
    hubs,
    intake_lines,
    intakes,
    inventory_items,
    inventory_transactions,
    needs_list_lines,
    needs_lists,
    nfc_stations,
    operations,
    organisations,
    outbox,
    product_families,
    product_identities,
    product_variants,
    stock_adjustments,
    stock_ledger,
    stock_levels,
    transfer_line_items,
    transfer_lines,
    transfers,
    user_customers,
    user_hubs,
    users,
);
