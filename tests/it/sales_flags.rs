//! Issue 11, the sales flags part: `can_see_cost` hides every cost field from every JSON answer,
//! the audit views and the export; `can_change_price`, `can_sell_below_cost` and `can_add_foc`
//! are enforced when a sale is applied, through the REST API and the sync API alike, each
//! refusal audited. (Missing flags mean no.)

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::TestApp;
use crate::warehouse_api::as_user;

const SKU: &str = "00101-P-1-NA-N";

fn set_flags(app: &TestApp, username: &str, flags: Value) {
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE users SET permission_flags = '{flags}' WHERE username = '{username}'"
        )),
        &mut app.conn(),
    )
    .unwrap();
}

/// Receives a serialized item at Kingston with a cost; returns its id.
async fn receive(app: &TestApp, serial: &str, cost: f64) -> i64 {
    let warehouse = as_user(app, "warehouse").await;
    let (s, item) = warehouse
        .call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": serial, "variant_sku": SKU, "location_code": "A1", "cost_basis": cost })))
        .await;
    assert_eq!(s, 201, "{item}");
    item["id"].as_i64().unwrap()
}

fn list_price(app: &TestApp) -> f64 {
    app.count(&format!(
        "SELECT listing_price_cents AS n FROM product_variants WHERE full_sku = '{SKU}'"
    )) as f64
        / 100.0
}

#[tokio::test]
async fn without_can_see_cost_no_cost_appears_anywhere() {
    let app = TestApp::builder().with_demo_world().start().await;
    let cost = (list_price(&app) / 2.0).max(0.01);
    let id = receive(&app, "SN-COST-1", cost).await;
    let variant = app.count(&format!(
        "SELECT id AS n FROM product_variants WHERE full_sku = '{SKU}'"
    ));
    let sales = as_user(&app, "sales").await;
    let warehouse = as_user(&app, "warehouse").await;
    let routes = [
        "/api/v1/inventory".to_string(),
        format!("/api/v1/inventory/{id}"),
        "/api/v1/inventory/serial/SN-COST-1".into(),
        format!("/api/v1/inventory/audit/{SKU}"),
        format!("/api/v1/inventory/{id}/transactions"),
        format!("/api/v1/inventory/summary/{variant}"),
        "/api/v1/sync/pull?since=0".into(),
        format!("/api/v1/variants/{SKU}"),
        "/api/v1/me".into(),
    ];
    let mut warehouse_saw_cost = false;
    for path in &routes {
        let (s, body) = sales.call("GET", path, None).await;
        assert_eq!(s, 200, "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains("cost_basis")
                && !text.contains("cost_cents")
                && !text.contains("margin"),
            "{path} shows a cost to the sales rep: {text}"
        );
        let (_, body) = warehouse.call("GET", path, None).await;
        warehouse_saw_cost |= body.to_string().contains("\"cost_basis\":");
    }
    assert!(warehouse_saw_cost, "with the flag, the cost is there");
    // The sale's own answer, too.
    let price = list_price(&app);
    let (s, sold) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{id}/sell"),
            Some(json!({ "sale_price": price })),
        )
        .await;
    assert_eq!(s, 200, "{sold}");
    assert!(!sold.to_string().contains("cost"), "{sold}");

    // The audit log and its export: an auditor without the flag sees no cost; an admin does.
    let auditor = app.signed_in("auditor").await;
    let page = auditor.text("/audit?action=warehouse.receive").await;
    assert!(
        page.contains("warehouse.receive") && !page.contains("cost_basis"),
        "{page}"
    );
    let csv = auditor.text("/audit.csv").await;
    assert!(!csv.contains("cost_basis"), "{csv}");
    set_flags(&app, "auditor", json!({ "can_see_cost": true }));
    assert!(auditor.text("/audit.csv").await.contains("cost_basis"));
    // An auditor's flags are theirs alone; the me answer still names every flag.
    let (_, me) = sales.call("GET", "/api/v1/me", None).await;
    assert!(me.to_string().contains("can_see_cost"), "{me}");
    app.shutdown().await;
}

#[tokio::test]
async fn price_flags_are_enforced_on_every_sale_and_refusals_are_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let price = list_price(&app);
    let cost = (price - 1.0).max(0.5);
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(receive(&app, &format!("SN-FLAG-{i}"), cost).await);
    }
    let sales = as_user(&app, "sales").await;

    // Every flag off: the seed's rep selling at 1.00 is refused.
    set_flags(&app, "sales", json!({}));
    let (s, body) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/sell", ids[0]),
            Some(json!({ "sale_price": price + 5.0 })),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("You do not have permission to edit prices"),
        "{body}"
    );
    // At the list price it goes through.
    let (s, body) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/sell", ids[0]),
            Some(json!({ "sale_price": price })),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // Below cost and free of charge, by REST: refused even with can_change_price.
    set_flags(&app, "sales", json!({ "can_change_price": true }));
    let (s, body) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/sell", ids[1]),
            Some(json!({ "sale_price": cost - 0.25 })),
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("You do not have permission to sell below cost"),
        "{body}"
    );
    let (s, body) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/sell", ids[1]),
            Some(json!({ "sale_price": 0.0 })),
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("You do not have permission to add free-of-charge items"),
        "{body}"
    );
    let (s, _) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/sell", ids[1]),
            Some(json!({ "sale_price": price + 5.0 })),
        )
        .await;
    assert_eq!(s, 200, "a changed price above cost, with the flag");

    // The same rules through the sync API (as a device would send them).
    let token = app.token("sales").await;
    let sell = |item: i64, p: f64| json!({ "op_id": Uuid::new_v4(), "kind": "warehouse.sell", "captured_at": chrono::Utc::now(), "payload": { "item_id": item, "sale_price": p } });
    let (_, r) = app
        .sync(
            &token,
            json!({ "operations": [sell(ids[2], cost - 0.25), sell(ids[3], 0.0)] }),
        )
        .await;
    for (i, words) in [(0, "sell below cost"), (1, "free-of-charge")] {
        let result = &r["results"][i]["result"];
        assert_eq!(result["status"], "rejected", "{r}");
        assert!(result["reason"].as_str().unwrap().contains(words), "{r}");
    }
    // With the flags, they apply.
    set_flags(
        &app,
        "sales",
        json!({ "can_change_price": true, "can_sell_below_cost": true, "can_add_foc": true }),
    );
    let (_, r) = app
        .sync(
            &token,
            json!({ "operations": [sell(ids[2], cost - 0.25), sell(ids[3], 0.0)] }),
        )
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "applied", "{r}");
    assert_eq!(r["results"][1]["result"]["status"], "applied", "{r}");

    // Every refusal is in the audit log with its reason.
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'warehouse.sell' AND outcome = 'rejected' AND after::text LIKE '%You do not have permission%'"), 5);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM inventory_items WHERE status = 'SOLD'"),
        4
    );
    app.shutdown().await;
}
