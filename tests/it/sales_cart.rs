//! Issue 11: the cart's rules on every path. Flags through the page form, htmx and the sync
//! API (refused and audited without the flag, applied with it); an offline confirmation waits
//! for a manager only when a flag-guarded change is in the cart; edits of different lines merge,
//! edits of the same line conflict; serialized items are reserved, released and sold.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{hidden_in, TestApp};
use crate::sales::{cart, confirm, op, send, set_flags, stocked, texts};

fn audited_refusals(app: &TestApp, words: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'sale.%' AND outcome = 'rejected' AND after->>'reason' LIKE '%{words}%'"
    ))
}

#[tokio::test]
async fn each_price_flag_is_enforced_through_the_sync_api_and_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let (sku, list) = items[0].clone();
    let cases = [
        (
            "can_change_price",
            json!({ "sku": sku, "quantity": 1, "unit_price_cents": list + 500 }),
            "edit prices",
        ),
        (
            "can_change_price",
            json!({ "sku": sku, "quantity": 1, "discount_bp": 1000 }),
            "edit prices",
        ),
        (
            "can_add_foc",
            json!({ "sku": sku, "quantity": 1, "foc": true }),
            "free-of-charge",
        ),
    ];
    for (flag, line, words) in cases {
        set_flags(&app, "sales", json!({}));
        let (_, r) = cart(&app, &token, json!([line])).await;
        assert_eq!(r["status"], "rejected", "{flag}: {r}");
        assert!(r["reason"].as_str().unwrap().contains(words), "{r}");
        set_flags(&app, "sales", json!({ flag: true }));
        let (_, r) = cart(&app, &token, json!([line])).await;
        assert_eq!(r["status"], "applied", "{flag}: {r}");
        assert!(
            !r.to_string().contains("cost"),
            "no cost without can_see_cost: {r}"
        );
    }
    // Below cost: give the variant a cost above its list price.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE product_variants SET cost_cents = {} WHERE full_sku = '{sku}'",
            list + 100
        )),
        &mut app.conn(),
    )
    .unwrap();
    set_flags(&app, "sales", json!({ "can_change_price": true }));
    let (_, r) = cart(&app, &token, json!([{ "sku": sku, "quantity": 1 }])).await;
    assert_eq!(r["status"], "rejected", "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("sell below cost"),
        "{r}"
    );
    set_flags(&app, "sales", json!({ "can_sell_below_cost": true }));
    assert_eq!(
        cart(&app, &token, json!([{ "sku": sku, "quantity": 1 }]))
            .await
            .1["status"],
        "applied"
    );
    assert!(audited_refusals(&app, "You do not have permission to edit prices") >= 2);
    assert!(
        audited_refusals(
            &app,
            "You do not have permission to add free-of-charge items"
        ) >= 1
    );
    assert!(audited_refusals(&app, "You do not have permission to sell below cost") >= 1);
    app.shutdown().await;
}

#[tokio::test]
async fn the_cart_page_and_its_htmx_edits_obey_the_flags() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let (sku, list) = stocked(&app)[0].clone();
    let (sale, _) = cart(&app, &token, json!([{ "sku": sku, "quantity": 2 }])).await;
    let kin = app.hub_id("KIN-MAIN");
    let page_path = format!("/hubs/{kin}/sales/{sale}");
    let rep = app.signed_in("sales").await;
    set_flags(&app, "sales", json!({}));
    let page = rep.text(&page_path).await;
    assert!(
        page.contains("data-flags=\"\"") && page.contains("✎"),
        "the edit control stays visible"
    );
    assert!(
        !page.contains("Cost") && !page.contains("Margin"),
        "no cost without can_see_cost"
    );
    let form = |page: &str, price: &str| {
        vec![
            ("csrf_token".to_string(), hidden_in(page, "csrf_token")),
            ("op_id".to_string(), Uuid::new_v4().to_string()),
            ("record_id".to_string(), sale.to_string()),
            ("op_kind".to_string(), "sale.update".to_string()),
            ("base_version".to_string(), "1".to_string()),
            ("line_no".to_string(), "1".to_string()),
            ("orig_qty".to_string(), "2".to_string()),
            ("qty".to_string(), "2".to_string()),
            (
                "orig_price".to_string(),
                format!("{}.{:02}", list / 100, list % 100),
            ),
            ("price".to_string(), price.to_string()),
            ("orig_discount".to_string(), String::new()),
            ("discount".to_string(), String::new()),
            ("orig_foc".to_string(), String::new()),
        ]
    };
    let new_price = format!("{}.{:02}", (list + 250) / 100, (list + 250) % 100);
    // Without JavaScript: refused, with the seed's words, the price unchanged.
    let res = rep
        .client
        .post(rep.url(&format!("{page_path}/line")))
        .form(&form(&page, &new_price))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let after = rep.text(&page_path).await;
    assert!(
        after.contains("You do not have permission to edit prices"),
        "{after}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT unit_price_cents AS n FROM sale_lines WHERE sale_id = '{sale}'"
        )),
        list
    );
    // htmx: only the message comes back, retargeted, so the form keeps what was typed.
    let res = rep
        .client
        .post(rep.url(&format!("{page_path}/line")))
        .header("HX-Request", "true")
        .form(&form(&page, &new_price))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["HX-Retarget"], "#cart-message");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("You do not have permission to edit prices"));
    // With the flag: "Price updated" and the new cart, through htmx.
    set_flags(&app, "sales", json!({ "can_change_price": true }));
    let page = rep.text(&page_path).await;
    let res = rep
        .client
        .post(rep.url(&format!("{page_path}/line")))
        .header("HX-Request", "true")
        .form(&form(&page, &new_price))
        .send()
        .await
        .unwrap();
    let fragment = res.text().await.unwrap();
    assert!(
        fragment.contains("Price updated") && fragment.contains("id=\"cart\""),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert_eq!(
        app.count(&format!(
            "SELECT unit_price_cents AS n FROM sale_lines WHERE sale_id = '{sale}'"
        )),
        list + 250
    );
    assert!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'sale.update' AND outcome = 'rejected'") >= 2);
    // With can_see_cost the page shows cost and margin.
    set_flags(
        &app,
        "sales",
        json!({ "can_change_price": true, "can_see_cost": true }),
    );
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE product_variants SET cost_cents = 100 WHERE full_sku = '{sku}'"
        )),
        &mut app.conn(),
    )
    .unwrap();
    let page = rep.text(&page_path).await;
    assert!(page.contains("Margin"), "{page}");
    app.shutdown().await;
}

#[tokio::test]
async fn an_offline_confirmation_waits_for_a_manager_only_when_prices_were_changed() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let (sku, list) = stocked(&app)[0].clone();
    let kin = app.hub_id("KIN-MAIN");
    let before = app.stock("KIN-MAIN", &sku);
    let offline_confirm = |sale: Uuid| {
        let mut o = op("sale.confirm", json!({ "sale_id": sale, "hub_id": kin }));
        o["offline"] = json!(true);
        o["envelope"] = json!(app.envelope("sales", "sale.confirm", kin, 60));
        o
    };
    // At list prices: final offline.
    let (plain, _) = cart(&app, &token, json!([{ "sku": sku, "quantity": 1 }])).await;
    let r = send(&app, &token, offline_confirm(plain)).await;
    assert_eq!(r["status"], "applied", "{r}");
    // With a changed price: pending review, no stock moved, until a manager accepts it.
    let (special, _) = cart(
        &app,
        &token,
        json!([{ "sku": sku, "quantity": 2, "unit_price_cents": list + 100 }]),
    )
    .await;
    let r = send(&app, &token, offline_confirm(special)).await;
    assert_eq!(r["status"], "pending_review", "{r}");
    assert_eq!(app.stock("KIN-MAIN", &sku), before - 1);
    let review_id = app.id_of_uuid(&format!(
        "SELECT id FROM operations WHERE record_id = '{special}' AND status = 'pending_review'"
    ));
    let admin = app.signed_in("admin").await;
    let page = admin.text(&format!("/review/{review_id}")).await;
    let res = admin
        .post_form(
            &format!("/review/{review_id}"),
            &[("action", "accept"), ("op_id", &hidden_in(&page, "op_id"))],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.stock("KIN-MAIN", &sku), before - 3);
    assert_eq!(
        texts(
            &app,
            &format!("SELECT status AS t FROM sales WHERE id = '{special}'")
        ),
        vec!["confirmed"]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn edits_of_different_lines_merge_and_of_the_same_line_conflict() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let admin = app.token("admin").await;
    let items = stocked(&app);
    let (sale, _) = cart(
        &app,
        &token,
        json!([{ "sku": items[0].0, "quantity": 1 }, { "sku": items[1].0, "quantity": 1 }]),
    )
    .await;
    let kin = app.hub_id("KIN-MAIN");
    let edit = |line: i32, qty: i64| {
        let mut o = op(
            "sale.update",
            json!({ "sale_id": sale, "hub_id": kin, "edit_lines": [{ "line_no": line, "quantity": qty }] }),
        );
        o["base_version"] = json!(1);
        o
    };
    assert_eq!(send(&app, &token, edit(1, 4)).await["status"], "applied");
    assert_eq!(
        send(&app, &admin, edit(2, 6)).await["status"],
        "applied",
        "another line merges"
    );
    let r = send(&app, &admin, edit(1, 9)).await;
    assert_eq!(
        r["status"], "conflict",
        "the same line, from another person: {r}"
    );
    let quantities = texts(
        &app,
        &format!(
            "SELECT quantity::text AS t FROM sale_lines WHERE sale_id = '{sale}' ORDER BY line_no"
        ),
    );
    assert_eq!(quantities, vec!["4", "6"]);
    app.shutdown().await;
}

#[tokio::test]
async fn serialized_items_are_reserved_by_the_cart_released_by_cancel_and_sold_by_confirm() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = crate::warehouse_api::as_user(&app, "warehouse").await;
    for serial in ["SN-SALE-1", "SN-SALE-2"] {
        let (s, body) = warehouse
            .call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": serial, "variant_sku": "00101-P-1-NA-N", "location_code": "A1", "cost_basis": 1.0 })))
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let status = |serial: &str| {
        texts(
            &app,
            &format!("SELECT status AS t FROM inventory_items WHERE serial_number = '{serial}'"),
        )
        .remove(0)
    };
    let token = app.token("sales").await;
    let (a, r) = cart(&app, &token, json!([{ "serial": "SN-SALE-1" }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(status("SN-SALE-1"), "RESERVED");
    // Another cart cannot take a reserved item.
    let (_, r) = cart(&app, &token, json!([{ "serial": "SN-SALE-1" }])).await;
    assert_eq!(r["status"], "rejected", "{r}");
    let kin = app.hub_id("KIN-MAIN");
    assert_eq!(
        send(
            &app,
            &token,
            op("sale.cancel", json!({ "sale_id": a, "hub_id": kin }))
        )
        .await["status"],
        "applied"
    );
    assert_eq!(status("SN-SALE-1"), "AVAILABLE");
    let (b, _) = cart(
        &app,
        &token,
        json!([{ "serial": "SN-SALE-1" }, { "serial": "SN-SALE-2" }]),
    )
    .await;
    assert_eq!(confirm(&app, &token, b).await["status"], "applied");
    assert_eq!(
        (status("SN-SALE-1"), status("SN-SALE-2")),
        ("SOLD".into(), "SOLD".into())
    );
    let actions = texts(&app, "SELECT action AS t FROM inventory_transactions t JOIN inventory_items i ON i.id = t.item_id WHERE i.serial_number = 'SN-SALE-1' ORDER BY t.id");
    assert_eq!(
        actions,
        vec!["RECEIVE", "RESERVE", "RELEASE", "RESERVE", "SELL"]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_sales_rep_sells_only_to_their_own_customers_and_bad_input_is_a_clear_refusal() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let (sku, _) = stocked(&app)[0].clone();
    let kin = app.hub_id("KIN-MAIN");
    // Montego Bay's school is not the rep's customer (nor at the rep's hub).
    let school = crate::sales::customer(&app, "MBJ-SCHOOL");
    let r = send(
        &app,
        &token,
        op(
            "sale.create",
            json!({ "sale_id": Uuid::new_v4(), "hub_id": kin, "customer_id": school, "lines": [] }),
        ),
    )
    .await;
    assert_eq!(r["status"], "rejected", "{r}");
    for bad in [
        json!({ "sku": sku, "quantity": 0 }),
        json!({ "sku": sku, "quantity": 1, "unit_price_cents": -5 }),
        json!({ "sku": sku, "quantity": 1, "discount_bp": 20000 }),
        json!({ "serial": "X", "quantity": 3 }),
        json!({ "quantity": 1 }),
        json!({ "sku": "no such thing at all", "quantity": 1 }),
    ] {
        let (_, r) = cart(&app, &token, json!([bad])).await;
        assert_eq!(r["status"], "rejected", "{bad}: {r}");
    }
    let (_, r) = cart(
        &app,
        &token,
        json!([{ "sku": format!("{sku}\u{0}"), "quantity": 1 }]),
    )
    .await;
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(app.count("SELECT count(*) AS n FROM sales"), 0);
    app.shutdown().await;
}

/// FOC and below cost through the cart page, with and without JavaScript (htmx), each refused
/// without its flag and applied with it.
#[tokio::test]
async fn free_of_charge_and_below_cost_obey_their_flags_on_the_page_and_through_htmx() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let (sku, list) = stocked(&app)[0].clone();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE product_variants SET cost_cents = {} WHERE full_sku = '{sku}'",
            list - 10
        )),
        &mut app.conn(),
    )
    .unwrap();
    let kin = app.hub_id("KIN-MAIN");
    let rep = app.signed_in("sales").await;
    let below = format!("{}.{:02}", (list - 50) / 100, (list - 50) % 100);
    let list_text = format!("{}.{:02}", list / 100, list % 100);
    // (what is posted, the flags that allow it, the refusal without them, the success message)
    type Case<'a> = (&'a [(&'a str, &'a str)], Value, &'a str, &'a str);
    let cases: [Case; 2] = [
        (
            &[("foc", "1")],
            json!({ "can_add_foc": true }),
            "You do not have permission to add free-of-charge items",
            "Marked free of charge",
        ),
        (
            &[("price", &below)],
            json!({ "can_change_price": true, "can_sell_below_cost": true }),
            "You do not have permission to sell below cost",
            "Price updated",
        ),
    ];
    for (htmx, (changes, flags, refusal, done)) in [false, true]
        .into_iter()
        .flat_map(|h| cases.clone().into_iter().map(move |c| (h, c)))
    {
        let (sale, _) = cart(&app, &token, json!([{ "sku": sku, "quantity": 1 }])).await;
        let path = format!("/hubs/{kin}/sales/{sale}");
        let post = |page: String| {
            let mut fields: Vec<(String, String)> = vec![
                ("csrf_token".into(), hidden_in(&page, "csrf_token")),
                ("op_id".into(), Uuid::new_v4().to_string()),
                ("record_id".into(), sale.to_string()),
                ("op_kind".into(), "sale.update".into()),
                ("base_version".into(), "1".into()),
                ("line_no".into(), "1".into()),
                ("orig_qty".into(), "1".into()),
                ("qty".into(), "1".into()),
                ("orig_price".into(), list_text.clone()),
                ("orig_discount".into(), String::new()),
                ("discount".into(), String::new()),
                ("orig_foc".into(), String::new()),
            ];
            if !changes.iter().any(|(k, _)| *k == "price") {
                fields.push(("price".into(), list_text.clone()));
            }
            fields.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let mut req = rep
                .client
                .post(rep.url(&format!("{path}/line")))
                .form(&fields);
            if htmx {
                req = req.header("HX-Request", "true");
            }
            req.send()
        };
        // Below-cost needs the price flag to get that far; FOC needs nothing else.
        set_flags(
            &app,
            "sales",
            if refusal.contains("below cost") {
                json!({ "can_change_price": true })
            } else {
                json!({})
            },
        );
        let res = post(rep.text(&path).await).await.unwrap();
        let shown = if htmx {
            res.text().await.unwrap()
        } else {
            rep.text(&path).await
        };
        assert!(shown.contains(refusal), "htmx {htmx}: {shown}");
        assert_eq!(app.count(&format!("SELECT count(*) AS n FROM sale_lines WHERE sale_id = '{sale}' AND (foc OR unit_price_cents <> {list})")), 0);
        set_flags(&app, "sales", flags.clone());
        let res = post(rep.text(&path).await).await.unwrap();
        let shown = if htmx {
            res.text().await.unwrap()
        } else {
            rep.text(&path).await
        };
        assert!(shown.contains(done), "htmx {htmx}: {shown}");
        assert_eq!(app.count(&format!("SELECT count(*) AS n FROM sale_lines WHERE sale_id = '{sale}' AND (foc OR unit_price_cents <> {list})")), 1);
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'sale.update' AND outcome = 'rejected'"), 4);
    app.shutdown().await;
}
