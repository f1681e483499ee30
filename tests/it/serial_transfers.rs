//! Issue 27: a serial-numbered SKU travels between hubs by serial number only. The dispatcher
//! names the items (the page asks for them), they are in transit between the two levels, and
//! the receiver says which arrived; the rest are missing, and the discrepancy note names them.

use serde_json::json;
use uuid::Uuid;

use crate::common::TestApp;
use crate::hub_pages::{location, submit};
use crate::sales::{op, send, stocked, texts};
use crate::warehouse_api::as_user;

fn status_of(app: &TestApp, serial: &str) -> String {
    texts(
        app,
        &format!("SELECT status || ' ' || h.code || ' ' || location_code AS t FROM inventory_items i JOIN hubs h ON h.id = i.hub_id WHERE serial_number = '{serial}'"),
    )
    .remove(0)
}

#[tokio::test]
async fn serial_numbered_items_travel_by_serial_number() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let sku = stocked(&app).remove(0).0;
    let warehouse_api = as_user(&app, "warehouse").await;
    for n in 1..=4 {
        let body = json!({ "serial_number": format!("SN-TR-{n}"), "variant_sku": sku, "location_code": "A1" });
        let (s, b) = warehouse_api
            .call("POST", "/api/v1/inventory/receive", Some(body))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let item4 = app.id_of("SELECT id FROM inventory_items WHERE serial_number = 'SN-TR-4'");
    let (s, b) = as_user(&app, "sales")
        .await
        .call(
            "POST",
            &format!("/api/v1/inventory/{item4}/reserve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (kin_before, mbj_before) = (app.stock("KIN-MAIN", &sku), app.stock("MBJ-SUB", &sku));

    // Montego Bay asks for 4; logistics approves.
    let t = Uuid::new_v4();
    let depot_token = app.token("depot").await;
    let r = send(
        &app,
        &depot_token,
        op(
            "transfer.request",
            json!({ "transfer_id": t, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": sku, "quantity": 4 }] }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    let r = send(
        &app,
        &app.token("logistics").await,
        op(
            "transfer.approve",
            json!({ "transfer_id": t, "hub_id": kin }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");

    // What a dispatcher may not name: one item twice, an item of another hub's or a reserved
    // one, more items than units.
    let wh_token = app.token("warehouse").await;
    for (serials, qty, says) in [
        (json!(["SN-TR-1", "sn-tr-1"]), 4, "named twice"),
        (json!(["SN-TR-4"]), 4, "reserved"),
        (
            json!(["SN-NOWHERE"]),
            4,
            "no item with serial number SN-NOWHERE",
        ),
        (
            json!(["SN-TR-1", "SN-TR-2", "SN-TR-3"]),
            2,
            "3 serial numbers named for 2 units",
        ),
    ] {
        let r = send(
            &app,
            &wh_token,
            op(
                "transfer.dispatch",
                json!({ "transfer_id": t, "hub_id": kin, "lines": [{ "line_no": 1, "quantity": qty, "serial_numbers": serials }] }),
            ),
        )
        .await;
        assert_ne!(r["status"], "applied", "{serials}: {r}");
        assert!(
            r["reason"].as_str().unwrap_or_default().contains(says),
            "{says}: {r}"
        );
    }
    // A line the transfer does not have, or one named twice, is refused: what was named for
    // it is never dropped in silence.
    for (lines, says) in [
        (
            json!([{ "line_no": 5, "quantity": 1, "serial_numbers": ["SN-TR-1"] }]),
            "no line 5",
        ),
        (
            json!([{ "line_no": 1, "quantity": 1, "serial_numbers": ["SN-TR-1"] }, { "line_no": 1, "quantity": 1 }]),
            "line 1 is named twice",
        ),
    ] {
        let r = send(
            &app,
            &wh_token,
            op(
                "transfer.dispatch",
                json!({ "transfer_id": t, "hub_id": kin, "lines": lines }),
            ),
        )
        .await;
        assert!(
            r["reason"].as_str().unwrap_or_default().contains(says),
            "{says}: {r}"
        );
    }
    assert_eq!(
        status_of(&app, "SN-TR-1"),
        "AVAILABLE KIN-MAIN A1",
        "nothing moved"
    );

    // Through the page: it asks for serial numbers where the hub holds some, and the
    // dispatcher scans two of them; the other two units go without one.
    let warehouse = app.signed_in("warehouse").await;
    let kin_detail = format!("/hubs/{kin}/transfers/{t}");
    let page = warehouse.text(&kin_detail).await;
    assert!(page.contains("name=\"serials_1\""), "{page}");
    assert!(page.contains("(3 available here)"), "{page}");
    let res = submit(
        &warehouse,
        &kin_detail,
        &format!("/hubs/{kin}/actions/transfer.dispatch"),
        &[
            ("line_no", "1"),
            ("qty_1", "4"),
            ("serials_1", "SN-TR-1\r\nsn-tr-2"),
        ],
    )
    .await;
    assert_eq!(location(&res), kin_detail);
    assert!(warehouse
        .text(&kin_detail)
        .await
        .contains("Transfer dispatched"));
    assert_eq!(app.stock("KIN-MAIN", &sku), kin_before - 4);
    assert_eq!(status_of(&app, "SN-TR-1"), "IN_TRANSIT KIN-MAIN A1");
    assert_eq!(status_of(&app, "SN-TR-2"), "IN_TRANSIT KIN-MAIN A1");
    assert!(app.ledger_agrees(), "in transit, every figure agrees");
    // An item on its way has no shelf: moving it is refused.
    let (s, b) = warehouse_api
        .call(
            "POST",
            "/api/v1/inventory/move",
            Some(json!({ "serial_number": "SN-TR-1", "new_location": "B2" })),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let item1 = app.id_of("SELECT id FROM inventory_items WHERE serial_number = 'SN-TR-1'");
    let (s, b) = as_user(&app, "sales")
        .await
        .call(
            "POST",
            &format!("/api/v1/inventory/{item1}/sell"),
            Some(json!({ "sale_price": 999.0 })),
        )
        .await;
    assert_eq!(s, 409, "an item in transit is not sold: {b}");

    // Montego Bay: the page lists what was sent; SN-TR-2 and one unit did not arrive.
    let depot = app.signed_in("depot").await;
    let mbj_detail = format!("/hubs/{mbj}/transfers/{t}");
    let page = depot.text(&mbj_detail).await;
    assert!(page.contains("Serial numbers: SN-TR-1, SN-TR-2"), "{page}");
    assert!(page.contains(">SN-TR-1\nSN-TR-2</textarea>"), "{page}");
    // A serial number that was not sent is refused.
    let r = send(
        &app,
        &depot_token,
        op(
            "transfer.receive",
            json!({ "transfer_id": t, "hub_id": mbj, "note": "x", "lines": [{ "line_no": 1, "quantity": 2, "serial_numbers": ["SN-TR-3"] }] }),
        ),
    )
    .await;
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("SN-TR-3 was not sent"),
        "{r}"
    );
    // Two received but neither serial named: more units without a serial number than were sent.
    let r = send(
        &app,
        &depot_token,
        op(
            "transfer.receive",
            json!({ "transfer_id": t, "hub_id": mbj, "note": "x", "lines": [{ "line_no": 1, "quantity": 3, "serial_numbers": [] }] }),
        ),
    )
    .await;
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("name the serial numbers that arrived"),
        "{r}"
    );
    let res = submit(
        &depot,
        &mbj_detail,
        &format!("/hubs/{mbj}/actions/transfer.receive"),
        &[
            ("line_no", "1"),
            ("qty_1", "2"),
            ("serials_1", "SN-TR-1"),
            ("location_code", "C3"),
            ("note", "one carton opened"),
        ],
    )
    .await;
    assert_eq!(location(&res), mbj_detail);
    let page = depot.text(&mbj_detail).await;
    assert!(page.contains("Receipt recorded"), "{page}");
    assert!(page.contains("short by 2 (missing: SN-TR-2)"), "{page}");
    assert!(page.contains("missing: SN-TR-2</strong>"), "{page}");
    assert_eq!(app.stock("MBJ-SUB", &sku), mbj_before + 2);
    assert_eq!(app.stock("KIN-MAIN", &sku), kin_before - 4);
    assert_eq!(status_of(&app, "SN-TR-1"), "AVAILABLE MBJ-SUB C3");
    assert_eq!(status_of(&app, "SN-TR-2"), "MISSING KIN-MAIN A1");
    // Each item's history says where it went.
    let trail = texts(
        &app,
        "SELECT string_agg(action, ' ' ORDER BY t.id) AS t FROM inventory_transactions t WHERE serial_number IN ('SN-TR-1', 'SN-TR-2') GROUP BY serial_number ORDER BY serial_number",
    );
    assert_eq!(
        trail,
        [
            "RECEIVE TRANSFER_OUT TRANSFER_IN",
            "RECEIVE TRANSFER_OUT LOST"
        ]
    );
    assert!(app.ledger_agrees());
    // At Montego Bay the item is part of the level: a bulk decrease cannot take it.
    let serials_here = app.count(&format!(
        "SELECT count(*) AS n FROM inventory_items WHERE hub_id = {mbj} AND status IN ('AVAILABLE', 'RESERVED') AND serial_number LIKE 'SN-TR-%'"
    ));
    assert_eq!(serials_here, 1);
}

/// The stock check names an item whose transfer and status disagree.
#[tokio::test]
async fn the_stock_check_names_items_lost_between_transfer_and_status() {
    let app = TestApp::builder().with_demo_world().start().await;
    let sku = stocked(&app).remove(0).0;
    let warehouse_api = as_user(&app, "warehouse").await;
    let body = json!({ "serial_number": "SN-ODD", "variant_sku": sku, "location_code": "A1" });
    let (s, _) = warehouse_api
        .call("POST", "/api/v1/inventory/receive", Some(body))
        .await;
    assert_eq!(s, 201);
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "UPDATE inventory_items SET status = 'IN_TRANSIT' WHERE serial_number = 'SN-ODD'",
    )
    .execute(&mut app.conn())
    .unwrap();
    let found = outpost::inventory::check::disagreements(&mut app.conn()).unwrap();
    assert!(
        found
            .iter()
            .any(|f| f.contains("SN-ODD is in transit but no dispatched transfer carries it")),
        "{found:?}"
    );
}
