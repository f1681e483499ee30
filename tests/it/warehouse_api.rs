//! The USAV catalog and warehouse API: the seed document's own examples, its role rules, the
//! 404/409/422 paths, idempotency, and the OpenAPI document.

use serde_json::{json, Value};

use crate::common::TestApp;

pub(crate) struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = self.app.url(path);
        let req = match method {
            "GET" => self.app.client.get(url),
            "POST" => self.app.client.post(url),
            "PATCH" => self.app.client.patch(url),
            _ => self.app.client.delete(url),
        };
        let req = req.bearer_auth(&self.token);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub(crate) async fn as_user<'a>(app: &'a TestApp, username: &str) -> Api<'a> {
    Api {
        app,
        token: app.token(username).await,
    }
}

#[tokio::test]
async fn the_seed_examples_work_as_documented() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = as_user(&app, "admin").await;
    let (s, family) = admin
        .call(
            "POST",
            "/api/v1/families",
            Some(json!({ "product_id": 845, "base_name": "Bose 201 Series" })),
        )
        .await;
    assert_eq!(s, 201, "{family}");
    assert_eq!(family["base_name"], "Bose 201 Series");
    let (s, identity) = admin
        .call(
            "POST",
            "/api/v1/identities",
            Some(json!({ "product_id": 845, "type": "P", "lci": 1, "physical_class": "E" })),
        )
        .await;
    assert_eq!(s, 201, "{identity}");
    assert_eq!(identity["generated_upis_h"], "00845-P-1");
    assert_eq!(identity["hex_signature"].as_str().unwrap().len(), 64);
    let (s, looked_up) = admin
        .call("GET", "/api/v1/identities/00845-P-1", None)
        .await;
    assert_eq!((s, &looked_up["id"]), (200, &identity["id"]));

    let sales = as_user(&app, "sales").await;
    let (s, variant) = sales.call("POST", "/api/v1/variants", Some(json!({ "identity_id": identity["id"], "color_code": "WY", "condition_code": "N", "listing_price": 150.00 }))).await;
    assert_eq!(s, 201, "{variant}");
    assert_eq!(variant["full_sku"], "00845-P-1-WY-N");
    assert_eq!(variant["zoho_sync_status"], "PENDING");
    assert_eq!(variant["listing_price"], 150.0);

    let warehouse = as_user(&app, "warehouse").await;
    let (s, item) = warehouse.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "SN-998877", "variant_sku": "00845-P-1-WY-N", "location_code": "A1-S2", "cost_basis": 45.00 }))).await;
    assert_eq!(s, 201, "{item}");
    assert_eq!(item["serial_number"], "SN-998877");
    assert_eq!(item["sku"], "00845-P-1-WY-N");
    assert_eq!(item["location_code"], "A1-S2");
    assert_eq!(item["status"], "AVAILABLE");
    assert!(item["received_at"].is_string() && item["id"].is_number());
    let (s, dup) = warehouse.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "SN-998877", "variant_sku": "00845-P-1-WY-N", "location_code": "A1-S2" }))).await;
    assert_eq!(s, 409, "{dup}");
    let (s, _) = warehouse.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "SN-1", "variant_sku": "00999-X-1-NA-N", "location_code": "A1-S2" }))).await;
    assert_eq!(s, 404);

    // Sprint 3: a warehouse operator moves the item; an admin sees the move and who made it.
    let (s, moved) = warehouse
        .call(
            "POST",
            "/api/v1/inventory/move",
            Some(json!({ "serial_number": "SN-998877", "new_location": "B2-S1" })),
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["previous_location"], "A1-S2");
    assert_eq!(moved["new_location"], "B2-S1");
    assert!(moved["moved_at"].is_string());
    let (s, _) = warehouse
        .call(
            "POST",
            "/api/v1/inventory/move",
            Some(json!({ "serial_number": "SN-NOPE", "new_location": "B2-S1" })),
        )
        .await;
    assert_eq!(s, 404);
    let id = item["id"].as_i64().unwrap();
    let (s, log) = admin
        .call("GET", &format!("/api/v1/inventory/{id}/transactions"), None)
        .await;
    assert_eq!(s, 200);
    let mv = log
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["action"] == "MOVE")
        .expect("the move is in the log");
    assert_eq!(mv["username"], "warehouse");
    assert_eq!(
        (mv["from_location"].as_str(), mv["to_location"].as_str()),
        (Some("A1-S2"), Some("B2-S1"))
    );

    // Audit lookup: by serial, then by SKU, in the seed's { items, total_count } shape.
    let (s, by_serial) = admin
        .call("GET", "/api/v1/inventory/audit/SN-998877", None)
        .await;
    assert_eq!((s, by_serial["total_count"].as_i64()), (200, Some(1)));
    assert_eq!(by_serial["items"][0]["full_sku"], "00845-P-1-WY-N");
    let (s, by_sku) = admin
        .call("GET", "/api/v1/inventory/audit/00845-P-1-WY-N", None)
        .await;
    assert_eq!((s, by_sku["total_count"].as_i64()), (200, Some(1)));

    // Reserve, sell, and the guarded transitions.
    let (s, r) = sales
        .call("POST", &format!("/api/v1/inventory/{id}/reserve"), None)
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("RESERVED")));
    let (s, _) = sales
        .call("POST", &format!("/api/v1/inventory/{id}/reserve"), None)
        .await;
    assert_eq!(s, 409, "reserving twice is an illegal transition");
    let (s, sold) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{id}/sell"),
            Some(json!({ "sale_price": 150.00 })),
        )
        .await;
    assert_eq!(
        (s, sold["status"].as_str(), sold["sale_price"].as_f64()),
        (200, Some("SOLD"), Some(150.0))
    );
    let (s, _) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{id}/sell"),
            Some(json!({ "sale_price": 150.00 })),
        )
        .await;
    assert_eq!(s, 409);
    let (s, summary) = admin
        .call(
            "GET",
            &format!("/api/v1/inventory/summary/{}", variant["id"]),
            None,
        )
        .await;
    assert_eq!(
        (s, summary["sold"].as_i64(), summary["total"].as_i64()),
        (200, Some(1), Some(1))
    );

    // Every action wrote a transaction row with the user, and exactly one audit row per operation.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM inventory_transactions"),
        4
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM operations o WHERE status = 'applied' AND (SELECT count(*) FROM audit_log a WHERE a.operation_id = o.op_id AND a.action = o.kind) <> 1"), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn price_changes_mark_synced_variants_dirty() {
    let app = TestApp::builder().with_demo_world().start().await;
    let sales = as_user(&app, "sales").await;
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'z-1' WHERE full_sku = '00101-P-1-NA-N'"), &mut app.conn()).unwrap();
    let (s, v) = sales
        .call(
            "PATCH",
            "/api/v1/variants/00101-P-1-NA-N",
            Some(json!({ "listing_price": 13.99 })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["zoho_sync_status"].as_str(), v["listing_price"].as_f64()),
        (Some("DIRTY"), Some(13.99))
    );
    // Activating alone is not a critical change.
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE product_variants SET zoho_sync_status = 'SYNCED' WHERE full_sku = '00101-P-1-NA-N'"), &mut app.conn()).unwrap();
    let (_, v) = sales
        .call(
            "PATCH",
            "/api/v1/variants/00101-P-1-NA-N",
            Some(json!({ "active": true })),
        )
        .await;
    assert_eq!(v["zoho_sync_status"], "SYNCED");
    let (s, _) = sales
        .call(
            "PATCH",
            "/api/v1/variants/NOPE",
            Some(json!({ "active": true })),
        )
        .await;
    assert_eq!(s, 404);
    let (s, body) = sales
        .call(
            "PATCH",
            "/api/v1/variants/00101-P-1-NA-N",
            Some(json!({ "listing_price": -3 })),
        )
        .await;
    assert_eq!(s, 422);
    assert!(body["errors"][0]["field"] == "listing_price");
    app.shutdown().await;
}

#[tokio::test]
async fn every_endpoint_follows_the_seed_role_rules() {
    let app = TestApp::builder().with_demo_world().start().await;
    // (method, path, body, roles allowed). The seed's ADMIN is our Admin; the others map directly.
    let writes: Vec<(&str, &str, Value, &[&str])> = vec![
        (
            "POST",
            "/api/v1/families",
            json!({ "product_id": 900, "base_name": "Test" }),
            &["admin"],
        ),
        (
            "POST",
            "/api/v1/identities",
            json!({ "product_id": 101, "type": "Z", "lci": 9 }),
            &["admin"],
        ),
        (
            "POST",
            "/api/v1/variants",
            json!({ "identity_id": 1, "color_code": "GY", "condition_code": "D", "listing_price": 1.0 }),
            &["admin", "sales"],
        ),
        (
            "PATCH",
            "/api/v1/variants/00101-P-1-NA-N",
            json!({ "description": "x" }),
            &["admin", "sales"],
        ),
        (
            "POST",
            "/api/v1/inventory/receive",
            json!({ "serial_number": "ROLE-{user}", "variant_sku": "00101-P-1-NA-N", "location_code": "R1", "hub_id": 1 }),
            &["admin", "warehouse"],
        ),
        (
            "GET",
            "/api/v1/inventory/value/total",
            Value::Null,
            &["admin"],
        ),
    ];
    for (method, path, body, allowed) in &writes {
        for user in ["admin", "warehouse", "sales", "driver", "auditor"] {
            let api = as_user(&app, user).await;
            let body = if body.is_null() {
                None
            } else {
                Some(serde_json::from_str(&body.to_string().replace("{user}", user)).unwrap())
            };
            let (s, answer) = api.call(method, path, body).await;
            if allowed.contains(&user) {
                // Past the role check: created, or refused for what it asks (a second identical create).
                assert!(s < 300 || s == 409, "{user} {method} {path} → {s} {answer}");
            } else {
                assert_eq!(s, 403, "{user} {method} {path} → {answer}");
            }
        }
    }
    // Reads: any authenticated user; nobody signed in gets 401.
    for path in [
        "/api/v1/inventory",
        "/api/v1/identities/00101-P-1",
        "/api/v1/variants/00101-P-1-NA-N",
        "/api/v1/inventory/audit/00101-P-1-NA-N",
    ] {
        for user in [
            "admin",
            "warehouse",
            "sales",
            "driver",
            "auditor",
            "customer",
        ] {
            let (s, _) = as_user(&app, user).await.call("GET", path, None).await;
            // Serialized items carry a hub's costs and prices: never for a customer.
            if user == "customer" && path.starts_with("/api/v1/inventory") {
                assert_eq!(s, 403, "{user} GET {path}");
            } else {
                assert!(s == 200 || s == 404, "{user} GET {path} → {s}");
            }
        }
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    // Item-level writes: warehouse moves and edits, sales reserves and sells, only admins delete.
    let admin = as_user(&app, "admin").await;
    let (_, item) = admin.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "ROLE-ITEM", "variant_sku": "00101-P-1-NA-N", "location_code": "R1", "hub_id": 1 }))).await;
    // Deleted while available (a sold item stays on record, issue 27).
    let (_, spare) = admin.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "ROLE-SPARE", "variant_sku": "00101-P-1-NA-N", "location_code": "R1", "hub_id": 1 }))).await;
    let spare = spare["id"].as_i64().unwrap();
    let id = item["id"].as_i64().unwrap();
    let item_rules: Vec<(&str, String, Value, &str, &str)> = vec![
        (
            "PATCH",
            format!("/api/v1/inventory/{id}"),
            json!({ "location_code": "R2" }),
            "sales",
            "warehouse",
        ),
        (
            "POST",
            "/api/v1/inventory/move".into(),
            json!({ "serial_number": "ROLE-ITEM", "new_location": "R3" }),
            "sales",
            "warehouse",
        ),
        (
            "POST",
            format!("/api/v1/inventory/{id}/reserve"),
            Value::Null,
            "warehouse",
            "sales",
        ),
        (
            "POST",
            format!("/api/v1/inventory/{id}/sell"),
            json!({ "sale_price": 10.0 }),
            "warehouse",
            "sales",
        ),
        (
            "DELETE",
            format!("/api/v1/inventory/{spare}"),
            Value::Null,
            "warehouse",
            "admin",
        ),
    ];
    for (method, path, body, denied, allowed) in item_rules {
        let b = (!body.is_null()).then(|| body.clone());
        let (s, _) = as_user(&app, denied)
            .await
            .call(method, &path, b.clone())
            .await;
        assert_eq!(s, 403, "{denied} {method} {path}");
        let (s, answer) = as_user(&app, allowed).await.call(method, &path, b).await;
        assert_eq!(s, 200, "{allowed} {method} {path}: {answer}");
    }
    let (s, _) = admin
        .call("GET", &format!("/api/v1/inventory/{spare}"), None)
        .await;
    assert_eq!(s, 404, "deleted");
    assert!(app.count("SELECT count(*) AS n FROM inventory_transactions WHERE serial_number = 'ROLE-SPARE' AND action = 'DELETE'") == 1, "the log outlives the item");
    app.shutdown().await;
}

#[tokio::test]
async fn two_concurrent_receives_of_one_serial_cannot_both_succeed() {
    let app = TestApp::builder().with_demo_world().start().await;
    let w = as_user(&app, "warehouse").await;
    let body = json!({ "serial_number": "SN-RACE", "variant_sku": "00101-P-1-NA-N", "location_code": "A1" });
    let (a, b) = tokio::join!(
        w.call("POST", "/api/v1/inventory/receive", Some(body.clone())),
        w.call("POST", "/api/v1/inventory/receive", Some(body.clone()))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    // Serials are unique whatever their case.
    let (s, _) = w.call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "sn-race", "variant_sku": "00101-P-1-NA-N", "location_code": "A1" }))).await;
    assert_eq!(s, 409);
    app.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retry_harmless() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let key = uuid::Uuid::new_v4().to_string();
    let send = || {
        app.client.post(app.url("/api/v1/inventory/receive")).bearer_auth(&token).header("Idempotency-Key", &key).json(&json!({ "serial_number": "SN-IDEM", "variant_sku": "00101-P-1-NA-N", "location_code": "A1" })).send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM inventory_items WHERE serial_number = 'SN-IDEM'"),
        1
    );
    // A refusal retried under its key is the same refusal: 404 for an unknown SKU, twice.
    let refused_key = uuid::Uuid::new_v4().to_string();
    for attempt in ["first", "retry"] {
        let refused = app.client.post(app.url("/api/v1/inventory/receive")).bearer_auth(&token).header("Idempotency-Key", &refused_key).json(&json!({ "serial_number": "SN-IDEM-2", "variant_sku": "00999-X-1-NA-N", "location_code": "A1" })).send().await.unwrap();
        assert_eq!(refused.status(), 404, "{attempt}");
    }
    let bad = app
        .client
        .post(app.url("/api/v1/inventory/receive"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "not-a-uuid")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx() {
    let app = TestApp::builder().with_demo_world().start().await;
    let w = as_user(&app, "warehouse").await;
    for (body, field) in [
        (
            json!({ "serial_number": "has space", "variant_sku": "00101-P-1-NA-N", "location_code": "A1" }),
            "serial_number",
        ),
        (
            json!({ "serial_number": "SN-2", "variant_sku": "00101-P-1-NA-N", "location_code": "" }),
            "location_code",
        ),
        (
            json!({ "serial_number": "SN-3", "variant_sku": "00101-P-1-NA-N", "location_code": "A1", "cost_basis": -5 }),
            "cost_basis",
        ),
    ] {
        let (s, answer) = w
            .call("POST", "/api/v1/inventory/receive", Some(body))
            .await;
        assert_eq!(s, 422, "{answer}");
        assert_eq!(answer["errors"][0]["field"], field);
    }
    let (s, answer) = w
        .call(
            "POST",
            "/api/v1/inventory/receive",
            Some(json!({ "serial_number": 5 })),
        )
        .await;
    assert_eq!(s, 422, "{answer}");
    let (s, _) = w.call("GET", "/api/v1/inventory?limit=0", None).await;
    assert_eq!(s, 400);
    let (s, _) = w.call("GET", "/api/v1/inventory/abc", None).await;
    assert_eq!(s, 404);
    let admin = as_user(&app, "admin").await;
    let (s, answer) = admin.call("POST", "/api/v1/variants", Some(json!({ "identity_id": 1, "color_code": "XX", "condition_code": "Q", "listing_price": 1 }))).await;
    assert_eq!(s, 422);
    assert_eq!(answer["errors"].as_array().unwrap().len(), 2);
    let (s, _) = admin
        .call(
            "POST",
            "/api/v1/identities",
            Some(json!({ "product_id": 77777, "type": "P", "lci": 1 })),
        )
        .await;
    assert_eq!(s, 404, "no such family");
    app.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::start().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/token", &["post"][..]),
        ("/api/v1/token/revoke", &["post"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/hubs", &["get"]),
        ("/api/v1/hubs/{hub_id}/stock", &["get"]),
        ("/api/v1/sync", &["post"]),
        ("/api/v1/sync/pull", &["get"]),
        ("/api/v1/devices/report", &["post"]),
        ("/api/v1/families", &["post"]),
        ("/api/v1/identities", &["post"]),
        ("/api/v1/identities/{upis_h}", &["get"]),
        ("/api/v1/variants", &["post"]),
        ("/api/v1/variants/{sku}", &["get", "patch"]),
        ("/api/v1/inventory", &["get"]),
        ("/api/v1/inventory/receive", &["post"]),
        ("/api/v1/inventory/move", &["post"]),
        ("/api/v1/inventory/audit/{sku_or_serial}", &["get"]),
        ("/api/v1/inventory/{item_id}", &["get", "patch", "delete"]),
        ("/api/v1/inventory/serial/{serial}", &["get"]),
        ("/api/v1/inventory/{item_id}/reserve", &["post"]),
        ("/api/v1/inventory/{item_id}/sell", &["post"]),
        ("/api/v1/inventory/{item_id}/transactions", &["get"]),
        ("/api/v1/inventory/summary/{variant_id}", &["get"]),
        ("/api/v1/inventory/value/total", &["get"]),
        ("/api/v1/badges/copies", &["post"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "{m} {path} missing from the OpenAPI document"
            );
        }
    }
    // Every referenced schema exists.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name} is referenced but missing"
        );
    }
    let page = app.get("/api/docs").await.text().await.unwrap();
    assert!(page.contains("/api/v1/inventory/receive") && page.contains("openapi.json"));
    app.shutdown().await;
}

#[tokio::test]
async fn the_receive_page_stays_open_for_the_next_scan_and_lookup_shows_history() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let form = b.text("/warehouse/receive").await;
    assert!(form.contains("id=\"serial_number\"") && form.contains("autofocus"));
    let kin = app.hub_id("KIN-MAIN").to_string();
    let post = |serial: &'static str, html: String| {
        let b = &b;
        let kin = kin.clone();
        async move {
            let fields = [
                ("csrf_token", crate::common::hidden_in(&html, "csrf_token")),
                ("op_id", crate::common::hidden_in(&html, "op_id")),
                ("envelope", crate::common::hidden_in(&html, "envelope")),
                ("hub_id", kin),
                ("variant_sku", "00101-P-1-NA-N".to_string()),
                ("location_code", "A1-S2".to_string()),
                ("serial_number", serial.to_string()),
            ];
            b.client
                .post(b.url("/warehouse/receive"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let res = post("SCAN-0001", form).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Received SCAN-0001 at A1-S2."));
    assert!(
        page.contains("value=\"A1-S2\"") && page.contains("value=\"00101-P-1-NA-N\""),
        "SKU and location kept for the next scan"
    );
    assert!(
        page.contains(
            "id=\"serial_number\" name=\"serial_number\" type=\"text\" required value=\"\""
        ),
        "serial cleared"
    );
    let res = post("SCAN-0002", page).await;
    let page = res.text().await.unwrap();
    assert!(
        page.contains("SCAN-0001") && page.contains("SCAN-0002"),
        "running list of what was received"
    );
    // A duplicate scan says so and keeps the serial for correction.
    let res = post("SCAN-0002", page).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("already exists"));
    let lookup = b.text("/warehouse/lookup?q=SCAN-0001").await;
    assert!(lookup.contains("RECEIVE") && lookup.contains("warehouse"));
    let catalog = b.text("/catalog?q=water").await;
    assert!(catalog.contains("00101-P-1-NA-N"));
    app.shutdown().await;
}
