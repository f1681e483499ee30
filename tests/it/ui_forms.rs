//! Forms as people use them (issue 15): line tables grow and shrink by a line at a time, and a
//! refused line is marked on its own row, in words.

use serde_json::json;

use crate::browser::Chrome;
use crate::common::{hidden_in, TestApp};
use crate::offline::World;

const WATER: &str = "00101-P-1-NA-N";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_added_and_removed_one_at_a_time() {
    let world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    let low = world.count(&format!("WITH set AS (UPDATE stock_levels SET reorder_level = quantity + 1 WHERE hub_id = {kin} AND variant_id = (SELECT id FROM product_variants WHERE full_sku = '{WATER}') RETURNING 1) SELECT count(*) AS n FROM set"))
        + world.count(&format!("SELECT count(*) AS n FROM stock_levels WHERE hub_id = {kin} AND quantity <= reorder_level AND reorder_level > 0 AND variant_id <> (SELECT id FROM product_variants WHERE full_sku = '{WATER}')"));
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    let rows = "return document.querySelectorAll('[data-line-table] tbody tr').length";
    assert!(
        chrome
            .wait_for(
                "!!document.querySelector('button.add-line')",
                std::time::Duration::from_secs(10)
            )
            .await
    );
    assert_eq!(chrome.js(rows, json!([])).await, json!(6));
    // The hub's tabs get their counts after the page has loaded.
    assert!(
        chrome
            .wait_for(
                &format!("document.querySelector('.subnav a').textContent === 'Stock ({low} low)'"),
                std::time::Duration::from_secs(10)
            )
            .await,
        "{}",
        chrome
            .js(
                "return document.querySelector('.subnav').textContent",
                json!([])
            )
            .await
    );
    chrome.click("button.add-line").await;
    assert_eq!(chrome.js(rows, json!([])).await, json!(7));
    assert_eq!(
        chrome
            .js("return document.activeElement.id", json!([]))
            .await,
        json!("sku-7"),
        "the new line has the focus"
    );
    // Remove the first line: the others move up and are numbered again.
    chrome.type_into("#sku-2", WATER).await;
    chrome.click("button.remove-line").await;
    assert_eq!(chrome.js(rows, json!([])).await, json!(6));
    assert_eq!(
        chrome
            .js("return [document.getElementById('sku-1').value, document.querySelector('label[for=sku-1]').textContent, document.querySelector('button.remove-line').getAttribute('aria-label')]", json!([]))
            .await,
        json!([WATER, "Item, line 1", "Remove line 1"])
    );
    chrome.type_into("#qty-1", "3").await;
    chrome.type_into("#donor", "Line table donor").await;
    let before = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    chrome
        .submit("form[data-offline-form='intake.create']", &[])
        .await;
    assert!(
        chrome.body_text().await.contains("Intake recorded"),
        "{}",
        chrome.body_text().await
    );
    let after = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    assert_eq!(after, before + 3);
}

#[tokio::test]
async fn a_refused_line_is_marked_on_its_row_in_words() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let form = b.text(&format!("/hubs/{kin}/intakes/new")).await;
    // The item picker shows what the hub has of each item.
    let on_hand = crate::common::grouped(app.stock("KIN-MAIN", WATER));
    let option = form
        .split("<option value=\"00101-P-1-NA-N\">")
        .nth(1)
        .and_then(|rest| rest.split("</option>").next())
        .expect("water in the picker");
    assert!(
        option.ends_with(&format!("· {on_hand} on hand")),
        "{option}"
    );
    // The first row left empty, the second with a quantity that is not a number.
    let res = b
        .post_form(
            &format!("/hubs/{kin}/intakes"),
            &[
                ("op_id", &hidden_in(&form, "op_id")),
                ("record_id", &hidden_in(&form, "record_id")),
                ("envelope", &hidden_in(&form, "envelope")),
                ("donor", "Row errors"),
                ("line_sku", ""),
                ("line_qty", ""),
                ("line_sku", WATER),
                ("line_qty", "2"),
                ("line_sku", WATER),
                ("line_qty", "lots"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    // Shown again without the blank row: the bad line is line 2, and says so on its row.
    assert!(page.contains("Line 2, quantity"), "{page}");
    assert!(!page.contains("lines["), "no internal field names: {page}");
    let row = page
        .split("<tr")
        .find(|r| r.contains("class=\"row-error\""))
        .expect("a marked row");
    assert!(
        row.contains("id=\"sku-2\"") && row.contains("aria-invalid=\"true\""),
        "{row}"
    );
    assert!(
        row.contains("Line 2 — quantity: enter a whole number"),
        "{row}"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM intakes WHERE donor = 'Row errors'"),
        0
    );
    app.shutdown().await;
}

/// Sync Issues say what each refused entry was, in words, and what can be done; a manager's
/// own decision made offline is confirmed in one step from there.
#[tokio::test]
async fn sync_issues_show_the_entry_in_words_and_a_manager_confirms_their_own_in_one_step() {
    use uuid::Uuid;
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let mbj = app.hub_id("MBJ-SUB");
    let now = chrono::Utc::now();
    let op = |kind: &str, payload: serde_json::Value| json!({ "op_id": Uuid::new_v4(), "kind": kind, "captured_at": now, "payload": payload });
    // A warehouse operator's intake naming an item that does not exist: not applied.
    let token = app.token("warehouse").await;
    app.sync(&token, json!({ "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "Harbour Mission", "lines": [{ "sku": "NO-SUCH-ITEM", "quantity": 4 }] }))] }))
        .await;
    let b = app.signed_in("warehouse").await;
    let page = b.text("/sync-issues").await;
    for expected in [
        "<strong>Intake</strong>",
        "Donor: Harbour Mission",
        "NO-SUCH-ITEM × 4",
        "Not applied",
        // Opens the form naming the entry it corrects, so saving it closes this row.
        &format!("href=\"/hubs/{kin}/intakes/new?corrects="),
        "kind=intake.create\">Enter it again</a>",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(
        !page.contains("<code class=\"muted\">intake.create"),
        "{page}"
    );

    // A logistics manager's approval captured offline waits for confirmation; they confirm it
    // from their own Sync Issues, in one step, and are brought back there.
    let depot = app.token("depot").await;
    let list = Uuid::new_v4();
    app.sync(&depot, json!({ "operations": [
        op("needs_list.create", json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 48", "lines": [{ "sku": WATER, "quantity": 30 }] })),
        op("needs_list.submit", json!({ "needs_list_id": list, "hub_id": mbj })),
    ] })).await;
    let lm = app.token("logistics").await;
    let (_, r) = app
        .sync(&lm, json!({ "operations": [{ "op_id": Uuid::new_v4(), "kind": "needs_list.decide", "offline": true, "captured_at": now,
            "envelope": app.envelope("logistics", "needs_list.decide", mbj, 60),
            "payload": { "needs_list_id": list, "hub_id": mbj, "decision": "approve" } }] }))
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "pending_review", "{r}");
    let manager = app.signed_in("logistics").await;
    let page = manager.text("/sync-issues").await;
    assert!(page.contains("Waits for confirmation"), "{page}");
    let id = page
        .split("action=\"/review/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a one-step confirmation form")
        .to_string();
    let attempt = page
        .split("name=\"op_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let res = manager
        .post_form(
            &format!("/review/{id}"),
            &[
                ("action", "accept"),
                ("op_id", &attempt),
                ("back", "/sync-issues"),
            ],
        )
        .await;
    assert_eq!(crate::hub_pages::location(&res), "/sync-issues");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM needs_lists WHERE id = '{list}' AND status = 'approved'"
        )),
        1
    );
    assert!(!manager
        .text("/sync-issues")
        .await
        .contains("Waits for confirmation"));
    app.shutdown().await;
}

/// The serialized items of one's hubs as a list: filtered, paged, and never another hub's.
#[tokio::test]
async fn serialized_items_are_listed_filtered_and_scoped() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let warehouse = crate::warehouse_api::as_user(&app, "warehouse").await;
    let mut ids = Vec::new();
    for (serial, location) in [
        ("SN-LIST-1", "A-01"),
        ("SN-LIST-2", "A-02"),
        ("SN-LIST-3", "B-07"),
    ] {
        let (s, item) = warehouse
            .call(
                "POST",
                "/api/v1/inventory/receive",
                Some(json!({ "serial_number": serial, "variant_sku": WATER, "location_code": location, "hub_id": kin })),
            )
            .await;
        assert_eq!(s, 201, "{item}");
        ids.push(item["id"].as_i64().unwrap());
    }
    let sales = crate::warehouse_api::as_user(&app, "sales").await;
    let (s, reserved) = sales
        .call(
            "POST",
            &format!("/api/v1/inventory/{}/reserve", ids[1]),
            None,
        )
        .await;
    assert_eq!(s, 200, "{reserved}");
    let b = app.signed_in("warehouse").await;
    let all = b.text("/warehouse/items").await;
    assert!(all.contains("3 items"), "{all}");
    assert!(
        all.contains(&format!("href=\"/warehouse/items/{}\"", ids[0])),
        "{all}"
    );
    let in_a = b.text("/warehouse/items?location=a-0").await;
    assert!(
        in_a.contains("2 items") && !in_a.contains("SN-LIST-3"),
        "{in_a}"
    );
    let found = b.text("/warehouse/items?q=list-3").await;
    assert!(
        found.contains("1 item.") && found.contains("B-07"),
        "{found}"
    );
    let reserved = b.text("/warehouse/items?status=RESERVED").await;
    assert!(
        reserved.contains("SN-LIST-2")
            && !reserved.contains("SN-LIST-1")
            && reserved.contains(">Reserved<"),
        "{reserved}"
    );
    // Montego Bay's depot manager sees none of Kingston's, even by asking for its hub.
    let depot = app.signed_in("depot").await;
    let other = depot.text(&format!("/warehouse/items?hub={kin}")).await;
    assert!(
        other.contains("0 items") && !other.contains("SN-LIST"),
        "{other}"
    );
    app.shutdown().await;
}

/// A camera and a barcode reader for a browser that has neither (headless Chromium on Linux):
/// the camera is a canvas stream, the reader "sees" `SN-CAM-1` on the second look.
const FAKE_CAMERA: &str = r#"
window.BarcodeDetector = class { constructor() { this.looks = 0; } detect() { this.looks += 1; return Promise.resolve(this.looks < 2 ? [] : [{ rawValue: " SN-CAM-1 " }]); } };
navigator.mediaDevices.getUserMedia = function () { var c = document.createElement("canvas"); c.width = 64; c.height = 48; c.getContext("2d").fillRect(0, 0, 64, 48); return Promise.resolve(c.captureStream(5)); };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_number_is_scanned_with_the_camera_where_the_browser_can_read_barcodes() {
    let world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    // No barcode reader in this browser: no scan button, typing as ever.
    chrome.goto("/warehouse/receive").await;
    assert!(
        chrome
            .wait_for(
                "document.readyState === 'complete'",
                std::time::Duration::from_secs(10)
            )
            .await
    );
    assert_eq!(
        chrome
            .js(
                "return document.querySelectorAll('.scan-button').length",
                json!([])
            )
            .await,
        json!(0)
    );
    chrome
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": FAKE_CAMERA }),
        )
        .await;
    chrome.goto("/warehouse/receive").await;
    assert!(
        chrome
            .wait_for(
                "document.querySelectorAll('.scan-button').length === 2",
                std::time::Duration::from_secs(10)
            )
            .await
    );
    assert_eq!(
        chrome.js("return document.querySelector('#serial_number + .scan-button').getAttribute('aria-label')", json!([])).await,
        json!("Scan the serial number with the camera")
    );
    chrome.click("#serial_number + .scan-button").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('serial_number').value === 'SN-CAM-1'",
                std::time::Duration::from_secs(10)
            )
            .await,
        "the code seen fills the field"
    );
    assert_eq!(
        chrome
            .js("return [document.querySelectorAll('.scan-panel').length, window.outpostScanStream.getTracks().every(t => t.readyState === 'ended'), document.activeElement.id]", json!([]))
            .await,
        json!([0, true, "serial_number"]),
        "the camera is let go and the field has the focus"
    );
    chrome.type_into("#variant_sku", WATER).await;
    chrome.type_into("#location_code", "A-07").await;
    chrome
        .submit("form[action='/warehouse/receive']", &[])
        .await;
    assert!(
        chrome
            .wait_for("document.body.textContent.includes('SN-CAM-1') && document.getElementById('serial_number').value === ''", std::time::Duration::from_secs(10))
            .await,
        "{}",
        chrome.body_text().await
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM inventory_items WHERE serial_number = 'SN-CAM-1' AND location_code = 'A-07'"),
        1
    );
}

#[tokio::test]
async fn the_catalog_and_the_items_list_sort_by_their_columns() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let prices = |page: &str| -> Vec<f64> {
        page.split("data-label=\"Price\" class=\"num\">")
            .skip(1)
            .map(|c| {
                c.split('<')
                    .next()
                    .unwrap()
                    .replace(',', "")
                    .parse()
                    .unwrap()
            })
            .collect()
    };
    let dear_first = prices(&b.text("/catalog?sort=-price").await);
    assert!(
        dear_first.len() == 50 && dear_first.windows(2).all(|w| w[0] >= w[1]),
        "{dear_first:?}"
    );
    let page = b.text("/catalog?q=water&sort=price").await;
    let cheap_first = prices(&page);
    assert!(
        cheap_first.windows(2).all(|w| w[0] <= w[1]),
        "{cheap_first:?}"
    );
    assert!(
        page.contains("href=\"/catalog?q=water&#38;sort=-price\"")
            && page.contains("aria-sort=\"ascending\""),
        "{page}"
    );

    // Items: newest first by default; by location when asked, the filters kept.
    let kin = app.hub_id("KIN-MAIN");
    let api = crate::warehouse_api::as_user(&app, "warehouse").await;
    for (serial, location) in [("SN-S-1", "C-03"), ("SN-S-2", "A-01"), ("SN-S-3", "B-02")] {
        let (s, _) = api
            .call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": serial, "variant_sku": WATER, "location_code": location, "hub_id": kin })))
            .await;
        assert_eq!(s, 201);
    }
    let order = |page: &str| -> Vec<String> {
        page.split("<td data-label=\"Serial number\">")
            .skip(1)
            .map(|c| {
                c.split("<code>")
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        order(&b.text("/warehouse/items").await),
        ["SN-S-3", "SN-S-2", "SN-S-1"]
    );
    let by_place = b.text("/warehouse/items?q=SN-S&sort=location").await;
    assert_eq!(order(&by_place), ["SN-S-2", "SN-S-3", "SN-S-1"]);
    assert!(
        by_place.contains("href=\"/warehouse/items?q=SN-S&#38;sort=-location\""),
        "{by_place}"
    );
    app.shutdown().await;
}
