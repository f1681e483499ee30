//! Issue 27 (one stock truth): a database rule broken by one operation refuses that operation
//! only. A reused invoice id answered 500 for the whole `POST /api/v1/sync` batch, rolled back
//! every other operation in it, and did the same at every resend: an offline device's queue was
//! stuck behind it for ever.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::TestApp;
use crate::sales::{cart, confirm, invoice, op, stocked};
use crate::warehouse_api::{as_user, Api};

/// Receives a serial-numbered item at the caller's hub through the REST API; returns its id.
async fn receive_serial(api: &Api<'_>, serial: &str, sku: &str, cost: Option<f64>) -> i64 {
    let mut body = json!({ "serial_number": serial, "variant_sku": sku, "location_code": "A1" });
    if let Some(cost) = cost {
        body["cost_basis"] = json!(cost);
    }
    let (status, item) = api
        .call("POST", "/api/v1/inventory/receive", Some(body))
        .await;
    assert_eq!(status, 201, "{item}");
    item["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_reused_invoice_id_refuses_that_operation_and_the_other_nine_apply() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let kin = app.hub_id("KIN-MAIN");
    let line = json!([{ "sku": items[0].0, "quantity": 1 }]);
    let (first, _) = cart(&app, &token, line.clone()).await;
    assert_eq!(confirm(&app, &token, first).await["status"], "applied");
    let (taken, _) = invoice(&app, &token, first).await;
    let (second, _) = cart(&app, &token, line.clone()).await;
    assert_eq!(confirm(&app, &token, second).await["status"], "applied");

    // Nine new carts and, in the middle, the second sale's invoice under the first's id.
    let mut ops: Vec<Value> = (0..9)
        .map(|_| {
            op(
                "sale.create",
                json!({ "sale_id": Uuid::new_v4(), "hub_id": kin, "customer_id": crate::sales::customer(&app, "TT-SHELTER"), "lines": line }),
            )
        })
        .collect();
    ops.insert(
        4,
        op(
            "invoice.issue",
            json!({ "invoice_id": taken, "sale_id": second, "hub_id": kin }),
        ),
    );
    let batch = json!({ "operations": ops });
    let (status, body) = app.sync(&token, batch.clone()).await;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "applied").count(),
        9,
        "{body}"
    );
    let refused = &body["results"][4]["result"];
    assert_eq!(refused["status"], "rejected", "{body}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("already uses this identifier"), "{reason}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM invoices WHERE sale_id = '{second}'"
        )),
        0,
        "nothing of the refused invoice is kept"
    );

    // Sent again (the device never heard the answer): each keeps its first outcome.
    let (status, again) = app.sync(&token, batch).await;
    assert_eq!(status, 200, "{again}");
    for (i, r) in again["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["result"]["status"], "duplicate", "{i}: {again}");
        let first = if i == 4 { "rejected" } else { "applied" };
        assert_eq!(r["result"]["original_status"], first, "{i}: {again}");
        // The refusal keeps its reason in words and in code, as the first answer gave them.
        assert_eq!(
            r["result"]["code"], body["results"][i]["result"]["code"],
            "{i}"
        );
    }
    assert_eq!(again["results"][4]["result"]["code"], "clash", "{again}");
    // The operation and its refusal are on record, like any other refusal.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE kind = 'invoice.issue' AND status = 'rejected'"),
        1
    );
}

/// Issued invoices, the stock ledger and the operations log refuse TRUNCATE, as the audit log
/// does; a row's UPDATE or DELETE was already refused where a record must not change.
#[tokio::test]
async fn records_refuse_truncate() {
    use diesel::RunQueryDsl;
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let (sale, _) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 1 }])).await;
    confirm(&app, &token, sale).await;
    invoice(&app, &token, sale).await;
    for table in ["invoices", "stock_ledger", "operations"] {
        let before = app.count(&format!("SELECT count(*) AS n FROM {table}"));
        assert!(before > 0, "{table} has rows to lose");
        let err = diesel::sql_query(format!("TRUNCATE {table} CASCADE"))
            .execute(&mut app.conn())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be truncated"), "{table}: {err}");
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM {table}")),
            before
        );
    }
}

/// Finding 7, the other half: the server connects as `outpost_app`, which owns nothing, so it
/// cannot truncate the records, nor switch off or drop the triggers that guard them; the owner
/// who ran the migrations still can.
#[tokio::test]
async fn the_servers_role_cannot_switch_the_protection_off() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let app = TestApp::builder().with_demo_world().start().await;
    let url = app.server_database_url();
    assert!(
        url.contains("://outpost_app@"),
        "the test server connects as outpost_app: {url}"
    );
    let mut server = PgConnection::establish(&url).unwrap();
    for statement in [
        "TRUNCATE invoices CASCADE",
        "TRUNCATE audit_log CASCADE",
        "ALTER TABLE invoices DISABLE TRIGGER USER",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER invoices_no_truncate ON invoices",
        "DROP TABLE stock_ledger CASCADE",
        "SET session_replication_role = replica",
        "CREATE TABLE smuggled (id int)",
        "DELETE FROM __diesel_schema_migrations",
        "DELETE FROM operations",
        "DELETE FROM inventory_transactions",
        "UPDATE audit_log SET action = 'x'",
    ] {
        let err = diesel::sql_query(statement)
            .execute(&mut server)
            .expect_err(statement)
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{statement}: {err}"
        );
    }
    // Nor lock the audit log against its writers.
    let err = server
        .transaction(|c| {
            diesel::sql_query("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE").execute(c)
        })
        .expect_err("lock")
        .to_string();
    assert!(err.contains("permission denied"), "{err}");
    // What an operation captured stays, whoever asks; its outcome may change.
    let r = crate::sales::send(
        &app,
        &app.token("admin").await,
        op(
            "intake.create",
            json!({ "intake_id": Uuid::new_v4(), "hub_id": app.hub_id("KIN-MAIN"), "donor": "Records", "lines": [{ "sku": stocked(&app)[0].0, "quantity": 1 }] }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    for who in [&mut server, &mut app.conn()] {
        let err = diesel::sql_query("UPDATE operations SET payload = '{\"forged\": 1}'")
            .execute(who)
            .expect_err("forged payload")
            .to_string();
        assert!(err.contains("cannot be changed"), "{err}");
    }
    diesel::sql_query("UPDATE operations SET reason = reason")
        .execute(&mut server)
        .unwrap();
    // The owner is who can: the protection is the owner's to keep.
    diesel::sql_query("ALTER TABLE invoices DISABLE TRIGGER invoices_no_truncate")
        .execute(&mut app.conn())
        .unwrap();
    diesel::sql_query("ALTER TABLE invoices ENABLE TRIGGER invoices_no_truncate")
        .execute(&mut app.conn())
        .unwrap();
}

/// Finding 4: the serialized item page showed "Cost 4,321.09" to a sales rep without
/// `can_see_cost`; every other page, answer and export hid it. With the flag it is shown.
#[tokio::test]
async fn the_item_page_shows_cost_only_with_can_see_cost() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = app.signed_in("warehouse").await;
    let sku = stocked(&app).remove(0).0;
    let receiver = as_user(&app, "warehouse").await;
    let id = receive_serial(&receiver, "SN-COST-PAGE", &sku, Some(4321.09)).await;
    let path = format!("/warehouse/items/{id}");

    let sales = app.signed_in("sales").await;
    let page = sales.text(&path).await;
    assert!(page.contains("SN-COST-PAGE"), "{page}");
    assert!(
        !page.contains("4,321.09") && !page.contains("4321.09"),
        "{page}"
    );
    assert!(!page.contains("<dt>Cost</dt>"), "{page}");

    let page = warehouse.text(&path).await;
    assert!(
        page.contains("4,321.09"),
        "with the flag the cost is shown: {page}"
    );
}

/// Finding 2: an item a rep's draft cart holds (RESERVED) was sold at the warehouse, then the
/// rep cancelled the draft and the item went back to AVAILABLE from SOLD, to be sold again.
/// Now only the cart that holds it sells it; the warehouse may sell it once the cart let go,
/// and a release never moves an item out of SOLD.
#[tokio::test]
async fn an_item_held_by_a_cart_is_never_sold_twice() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let sku = stocked(&app).remove(0).0;
    let warehouse = as_user(&app, "warehouse").await;
    let rep = as_user(&app, "sales").await;
    let sales = app.token("sales").await;
    let id = receive_serial(&warehouse, "SN-TWICE", &sku, Some(1.0)).await;
    let price = app.count(&format!(
        "SELECT listing_price_cents AS n FROM product_variants WHERE full_sku = '{sku}'"
    )) as f64
        / 100.0;
    let sell_path = format!("/api/v1/inventory/{id}/sell");
    let sell = || rep.call("POST", &sell_path, Some(json!({ "sale_price": price })));

    let (sale, r) = cart(&app, &sales, json!([{ "serial": "SN-TWICE" }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    let status = |app: &TestApp| {
        crate::sales::texts(
            app,
            &format!("SELECT status AS t FROM inventory_items WHERE id = {id}"),
        )
        .remove(0)
    };
    assert_eq!(status(&app), "RESERVED");

    // The item page says so and offers no Sell; nobody sells it past the cart that holds it
    // (REST sell, as at the warehouse's counter).
    let page = app
        .signed_in("sales")
        .await
        .text(&format!("/warehouse/items/{id}"))
        .await;
    assert!(page.contains("Held by a sale in progress"), "{page}");
    assert!(!page.contains("/sell\""), "{page}");
    let (s, body) = sell().await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("sale in progress"), "{body}");
    assert_eq!(status(&app), "RESERVED");

    // The cart lets go of it; then it is sold at the counter, once.
    let r = crate::sales::send(
        &app,
        &sales,
        op("sale.cancel", json!({ "sale_id": sale, "hub_id": kin })),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(status(&app), "AVAILABLE");
    let (s, body) = sell().await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(status(&app), "SOLD");
    let (s, _) = sell().await;
    assert_eq!(s, 409, "sold once");

    // Its history never leaves SOLD.
    let history = crate::sales::texts(
        &app,
        &format!("SELECT action AS t FROM inventory_transactions WHERE item_id = {id} ORDER BY id"),
    );
    let sold_at = history.iter().position(|a| a == "SELL").unwrap();
    assert_eq!(history.len(), sold_at + 1, "{history:?}");
}

/// Finding 4, free of charge: a cart line at 0.00 or with a 100 % discount was confirmed
/// without `can_add_foc` (a REST sale at 0.00 was refused: two rules). One rule now: both
/// are free of charge, refused to the sales rep, who may change prices but not give goods away.
#[tokio::test]
async fn a_zero_price_or_a_full_discount_in_a_cart_needs_can_add_foc() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let sku = stocked(&app).remove(0).0;
    for line in [
        json!([{ "sku": sku, "quantity": 1, "unit_price_cents": 0 }]),
        json!([{ "sku": sku, "quantity": 1, "discount_bp": 10000 }]),
    ] {
        let (_, r) = cart(&app, &token, line.clone()).await;
        assert_eq!(r["status"], "rejected", "{line}: {r}");
        assert!(
            r["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("free-of-charge"),
            "{r}"
        );
    }
    // A price change the rep may make still goes.
    let (_, r) = cart(
        &app,
        &token,
        json!([{ "sku": sku, "quantity": 1, "discount_bp": 500 }]),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
}

/// Finding 4, below cost: an item received without its own cost basis sold below its
/// variant's cost through REST sell while the cart refused the same sale. Both reckon the
/// item's cost, else the variant's, now.
#[tokio::test]
async fn an_item_without_its_own_cost_is_not_sold_below_its_variants_cost() {
    let app = TestApp::builder().with_demo_world().start().await;
    let sku = stocked(&app).remove(0).0;
    let cost = app.count(&format!(
        "SELECT coalesce(cost_cents, 0) AS n FROM product_variants WHERE full_sku = '{sku}'"
    ));
    assert!(cost > 1, "the variant has a cost");
    let id = receive_serial(&as_user(&app, "warehouse").await, "SN-NO-COST", &sku, None).await;
    let below = (cost - 1) as f64 / 100.0;
    let (status, body) = as_user(&app, "sales")
        .await
        .call(
            "POST",
            &format!("/api/v1/inventory/{id}/sell"),
            Some(json!({ "sale_price": below })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("below cost"), "{body}");
}

/// Finding 4, `can_change_price`: a sales rep without it edited the catalog list price and then
/// sold "at list price", so the flag meant nothing. The list price changes only with the flag
/// (or for an administrator); the rep may still edit the description, as the USAV design says.
#[tokio::test]
async fn a_rep_without_can_change_price_cannot_move_the_list_price() {
    let app = TestApp::builder().with_demo_world().start().await;
    let sku = stocked(&app).remove(0).0;
    let list = |app: &TestApp| {
        app.count(&format!(
            "SELECT listing_price_cents AS n FROM product_variants WHERE full_sku = '{sku}'"
        ))
    };
    let before = list(&app);
    crate::sales::set_flags(&app, "sales", json!({}));
    let rep = as_user(&app, "sales").await;
    let variant = format!("/api/v1/variants/{sku}");
    let raised = (before + 10_000) as f64 / 100.0;
    let (status, body) = rep
        .call("PATCH", &variant, Some(json!({ "listing_price": raised })))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("change prices"), "{body}");
    assert_eq!(list(&app), before, "nothing written");
    // The same price (as the variant page posts it) and a new description go.
    let same = before as f64 / 100.0;
    let (status, body) = rep
        .call(
            "PATCH",
            &variant,
            Some(json!({ "listing_price": same, "description": "Reworded by the rep" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The variant page shows the price read-only and says why.
    let page = app
        .signed_in("sales")
        .await
        .text(&format!("/catalog/variants/{sku}"))
        .await;
    assert!(
        page.contains("readonly aria-describedby=\"price-locked\""),
        "{page}"
    );
    // An administrator may.
    let (status, body) = as_user(&app, "admin")
        .await
        .call("PATCH", &variant, Some(json!({ "listing_price": raised })))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(list(&app), before + 10_000);
}

/// Finding 6: lines each within their limits whose sum the arithmetic cannot hold showed
/// Total = Subtotal beside a tax. Such a cart is refused with the limit in words, by create and
/// by an edit that adds lines; nothing of it is kept.
#[tokio::test]
async fn a_cart_whose_total_overflows_is_refused() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let sku = stocked(&app).remove(0).0;
    let huge = json!({ "sku": sku, "quantity": 1_000_000, "unit_price_cents": 100_000_000_000i64 });
    let lines: Vec<Value> = (0..100).map(|_| huge.clone()).collect();
    let (sale, r) = cart(&app, &token, json!(lines)).await;
    assert_eq!(r["status"], "rejected", "{r}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("999,999,999,999.99"), "{reason}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM sales WHERE id = '{sale}'"
        )),
        0
    );
    // A cart within the limit, then an edit that would take it past.
    let half = json!({ "sku": sku, "quantity": 500, "unit_price_cents": 100_000_000_000i64 });
    let (sale, r) = cart(&app, &token, json!([half])).await;
    assert_eq!(r["status"], "applied", "{r}");
    let more = vec![half.clone(), half];
    let r = crate::sales::send(
        &app,
        &token,
        crate::sales::op(
            "sale.update",
            json!({ "sale_id": sale, "hub_id": app.hub_id("KIN-MAIN"), "add_lines": more }),
        ),
    )
    .await;
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM sale_lines WHERE sale_id = '{sale}'"
        )),
        1
    );
}

/// `outpost stock rebuild --check` names every kind of disagreement, not only a level that
/// differs from the ledger: a draft sale holding an item that is no longer RESERVED, an item
/// sold twice, a dispatched transfer with something already received.
#[tokio::test]
async fn the_stock_check_names_held_items_double_sales_and_transfers_that_disagree() {
    let app = TestApp::builder().with_demo_world().start().await;
    let check = || outpost::inventory::check::disagreements(&mut app.conn()).unwrap();
    assert_eq!(check(), Vec::<String>::new(), "the demo world agrees");
    let sku = stocked(&app).remove(0).0;
    receive_serial(
        &as_user(&app, "warehouse").await,
        "SN-CHECK-1",
        &sku,
        Some(1.0),
    )
    .await;
    let sales = app.token("sales").await;
    let (_, r) = cart(&app, &sales, json!([{ "serial": "SN-CHECK-1" }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(check(), Vec::<String>::new());
    let sql = |q: &str| {
        diesel::RunQueryDsl::execute(diesel::sql_query(q), &mut app.conn()).unwrap();
    };
    // Drift made by hand, as a bug or a manual fix would leave it.
    sql("UPDATE inventory_items SET status = 'AVAILABLE' WHERE serial_number = 'SN-CHECK-1'");
    sql("INSERT INTO inventory_transactions (item_id, serial_number, variant_id, hub_id, action, user_id) \
         SELECT i.id, i.serial_number, i.variant_id, i.hub_id, 'SELL', u.id FROM inventory_items i, users u \
         WHERE i.serial_number = 'SN-CHECK-1' AND u.username IN ('sales', 'admin')");
    let found = check().join("\n");
    assert!(
        found.contains("serial SN-CHECK-1 is on draft sale")
            && found.contains("is AVAILABLE, not RESERVED"),
        "{found}"
    );
    assert!(
        found.contains("serial SN-CHECK-1 was sold 2 times"),
        "{found}"
    );
    assert!(!app.ledger_agrees());
}

/// Finding 1: two inventories that never met. Receiving serial-numbered items left the hub's
/// level of their SKU unchanged (three receives at Kingston, `/api/v1/hubs/1/stock` still
/// said 268), and selling or deleting one did not lower it. A level is now bulk units plus the
/// items in stock: receive +1, reserve 0, sell −1, delete −1, a restocking credit note +1; and a
/// bulk sale can take only what is not serial-numbered.
#[tokio::test]
async fn serial_numbered_items_are_part_of_their_hubs_level() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (sku, list) = stocked(&app).remove(0);
    let level = |app: &TestApp| app.stock("KIN-MAIN", &sku);
    let bulk = level(&app);
    let warehouse = as_user(&app, "warehouse").await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(receive_serial(&warehouse, &format!("SN-LEVEL-{n}"), &sku, Some(0.01)).await);
    }
    assert_eq!(level(&app), bulk + 3, "three received");
    let kin = app.hub_id("KIN-MAIN");
    let (_, stock) = warehouse
        .call("GET", &format!("/api/v1/hubs/{kin}/stock"), None)
        .await;
    assert!(
        stock.to_string().contains(&format!("{}", bulk + 3)),
        "the hub's stock API says so too: {stock}"
    );
    let sales = app.token("sales").await;
    let rep = as_user(&app, "sales").await;
    let admin = as_user(&app, "admin").await;
    let item = |n: usize| format!("/api/v1/inventory/{}", ids[n - 1]);
    let (s, body) = rep
        .call("POST", &format!("{}/reserve", item(1)), Some(json!({})))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(level(&app), bulk + 3, "a reserved item is still here");
    let (s, body) = rep
        .call(
            "POST",
            &format!("{}/sell", item(1)),
            Some(json!({ "sale_price": list as f64 / 100.0 })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(level(&app), bulk + 2, "a sold item is gone");
    let (s, body) = admin.call("DELETE", &item(2), None).await;
    assert!((200..300).contains(&s), "{s} {body}");
    assert_eq!(level(&app), bulk + 1, "a deleted item is gone");
    // A sold item stays on record: deleting it would take the sale's trail with it.
    let (s, _) = admin.call("DELETE", &item(1), None).await;
    assert_eq!(s, 409);
    assert_eq!(level(&app), bulk + 1);
    // The sale form's picker says how much of what is on hand goes by serial number.
    let form = app
        .signed_in("sales")
        .await
        .text(&format!("/hubs/{kin}/sales/new"))
        .await;
    let on_hand = crate::common::grouped(bulk + 1);
    assert!(
        form.contains(&format!("{on_hand} on hand (1 by serial number)"))
            || form.contains(&format!("{} on hand (1 by serial number)", bulk + 1)),
        "{form}"
    );

    // A bulk sale may take the bulk units, never the serial-numbered one left.
    let (_, r) = cart(&app, &sales, json!([{ "sku": sku, "quantity": bulk + 1 }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    let sale = Uuid::parse_str(r["server_id"].as_str().unwrap_or_default()).unwrap_or_default();
    let r = confirm(&app, &sales, sale).await;
    assert_eq!(r["status"], "rejected", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("serial-numbered"),
        "{r}"
    );
    // Sold by serial, with a credit note that restocks: back in the level.
    let (sale, r) = cart(&app, &sales, json!([{ "serial": "SN-LEVEL-3" }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(confirm(&app, &sales, sale).await["status"], "applied");
    assert_eq!(level(&app), bulk);
    let (invoice_id, _) = invoice(&app, &sales, sale).await;
    let r = crate::sales::send(
        &app,
        &app.token("admin").await,
        crate::sales::op(
            "invoice.credit",
            json!({ "credit_note_id": Uuid::new_v4(), "invoice_id": invoice_id, "hub_id": kin, "reason": "Returned", "restock": true }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(level(&app), bulk + 1, "restocked");
    assert!(app.ledger_agrees());
}

/// Stock figures where decisions are made: a transfer being decided shows each line's level at
/// both hubs (each only to someone who works there), a needs list being decided shows its
/// hub's level and every hub that could supply it, and the item pickers mark what a hub does
/// not hold.
#[tokio::test]
async fn decisions_show_the_stock_they_move() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let sku = stocked(&app).remove(0).0;
    let level = |hub: &str| app.stock(hub, &sku);
    let grouped = |n: i64| outpost::ui::chart::grouped(n);
    let depot = app.token("depot").await;
    let t = Uuid::new_v4();
    let r = crate::sales::send(
        &app,
        &depot,
        crate::sales::op(
            "transfer.request",
            json!({ "transfer_id": t, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": sku, "quantity": 3 }] }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    let logistics = app.signed_in("logistics").await;
    let page = logistics.text(&format!("/hubs/{kin}/transfers/{t}")).await;
    assert!(
        page.contains("At Kingston") && page.contains("At Montego"),
        "{page}"
    );
    let cells = format!(
        "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
        grouped(level("KIN-MAIN")),
        grouped(level("MBJ-SUB"))
    );
    assert!(page.contains(&cells), "{cells} in {page}");
    // The depot manager of Montego Bay sees Montego Bay's level, not Kingston's.
    let page = app
        .signed_in("depot")
        .await
        .text(&format!("/hubs/{mbj}/transfers/{t}"))
        .await;
    assert!(page.contains("not shown"), "{page}");

    let list = Uuid::new_v4();
    for op in [
        crate::sales::op(
            "needs_list.create",
            json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 49", "lines": [{ "sku": sku, "quantity": 30 }] }),
        ),
        crate::sales::op(
            "needs_list.submit",
            json!({ "needs_list_id": list, "hub_id": mbj }),
        ),
    ] {
        assert_eq!(
            crate::sales::send(&app, &depot, op).await["status"],
            "applied"
        );
    }
    let page = logistics
        .text(&format!("/hubs/{mbj}/needs-lists/{list}"))
        .await;
    assert!(
        page.contains("At Montego") && page.contains("At Kingston"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<td class=\"num\">{}</td>",
            grouped(level("KIN-MAIN"))
        )),
        "{page}"
    );

    // A picker names what the hub holds and marks what it does not.
    let form = logistics
        .text(&format!("/hubs/{mbj}/distributions/new"))
        .await;
    assert!(form.contains("on hand</option>"), "{form}");
    assert!(form.contains("none here</option>"), "{form}");
}

/// Screenshots of the pages where stock decisions are made, at phone and desktop widths, for
/// people to look at (`cargo test … -- --ignored decision_screenshots`; PNGs in
/// $OUTPOST_SCREENSHOTS or /tmp/outpost-shots).
#[tokio::test]
#[ignore = "screenshots for people to look at"]
async fn decision_screenshots() {
    let dir = std::path::PathBuf::from(
        std::env::var("OUTPOST_SCREENSHOTS").unwrap_or_else(|_| "/tmp/outpost-shots".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let world = crate::offline::World::start();
    let (kin, mbj) = (world.hub_id("KIN-MAIN"), world.hub_id("MBJ-SUB"));
    let url = world.server.url();
    let client = reqwest::Client::new();
    let token = crate::live::token(&url, "depot").await;
    let (t, list) = (Uuid::new_v4(), Uuid::new_v4());
    let lines = json!([{ "sku": "00101-P-1-NA-N", "quantity": 30 }, { "sku": "00140-E-1-NA-N", "quantity": 4 }]);
    let ops = json!({ "operations": [
        crate::sales::op("transfer.request", json!({ "transfer_id": t, "hub_id": mbj, "from_hub_id": kin, "lines": lines })),
        crate::sales::op("needs_list.create", json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 49", "lines": lines })),
        crate::sales::op("needs_list.submit", json!({ "needs_list_id": list, "hub_id": mbj })),
    ] });
    let res = client
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(&token)
        .json(&ops)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let chrome = crate::browser::Chrome::start(&url, true).await;
    chrome.sign_in("logistics").await;
    for (name, path) in [
        ("transfer-decide", format!("/hubs/{kin}/transfers/{t}")),
        ("needs-decide", format!("/hubs/{mbj}/needs-lists/{list}")),
    ] {
        chrome.goto(&path).await;
        for (suffix, width) in [("desktop", 1280), ("phone", 390)] {
            chrome
                .screenshot(&dir.join(format!("{name}-{suffix}.png")), width)
                .await;
        }
    }
    // Approved, with serial-numbered items of the second line at Kingston: the dispatch form
    // asks for their serial numbers.
    let warehouse = crate::live::token(&url, "warehouse").await;
    for n in 1..=3 {
        let res = client
            .post(format!("{url}/api/v1/inventory/receive"))
            .bearer_auth(&warehouse)
            .json(&json!({ "serial_number": format!("SN-SHOT-{n}"), "variant_sku": "00140-E-1-NA-N", "location_code": "A1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let approve = json!({ "operations": [crate::sales::op("transfer.approve", json!({ "transfer_id": t, "hub_id": kin }))] });
    let res = client
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(crate::live::token(&url, "logistics").await)
        .json(&approve)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    chrome.goto(&format!("/hubs/{kin}/transfers/{t}")).await;
    for (suffix, width) in [("desktop", 1280), ("phone", 390)] {
        chrome
            .screenshot(
                &dir.join(format!("transfer-dispatch-serials-{suffix}.png")),
                width,
            )
            .await;
    }
}
