//! Stock counts (issue 28's proof kind, the USAV seed's "AUDIT physical inventory"): a warehouse
//! operator scans what is on a location and the records follow the shelf — moved here, found
//! again, missing — with the level, the item history and the audit log agreeing; bad counts are
//! refused with nothing written; a count saved offline waits for a manager.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{hidden_in, TestApp};
use crate::hub_pages::location;
use crate::sales::{stocked, texts};
use crate::warehouse_api::as_user;

fn item(app: &TestApp, serial: &str) -> String {
    texts(
        app,
        &format!("SELECT status || ' ' || location_code AS t FROM inventory_items WHERE serial_number = '{serial}'"),
    )
    .remove(0)
}

#[tokio::test]
async fn a_count_makes_the_records_follow_the_shelf() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let sku = stocked(&app).remove(0).0;
    let api = as_user(&app, "warehouse").await;
    for (serial, at) in [
        ("SN-CT-1", "A1"),
        ("SN-CT-2", "A1"),
        ("SN-CT-3", "A1"),
        ("SN-CT-4", "B2"),
        ("SN-CT-5", "A1"),
    ] {
        let body = json!({ "serial_number": serial, "variant_sku": sku, "location_code": at });
        let (s, b) = api
            .call("POST", "/api/v1/inventory/receive", Some(body))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let item5 = app.id_of("SELECT id FROM inventory_items WHERE serial_number = 'SN-CT-5'");
    let (s, b) = as_user(&app, "sales")
        .await
        .call(
            "POST",
            &format!("/api/v1/inventory/{item5}/reserve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let level = app.stock("KIN-MAIN", &sku);

    let operator = app.signed_in("warehouse").await;
    let page = operator.text(&format!("/hubs/{kin}/counts")).await;
    assert!(
        page.contains("Count a location") && page.contains("data-offline-form=\"stock.count\""),
        "{page}"
    );
    let post = |page: String,
                location: &'static str,
                serials: &'static str,
                extra: Vec<(&'static str, &'static str)>| {
        let operator = &operator;
        async move {
            let mut fields = vec![
                ("csrf_token", hidden_in(&page, "csrf_token")),
                ("op_id", hidden_in(&page, "op_id")),
                ("record_id", hidden_in(&page, "record_id")),
                ("envelope", hidden_in(&page, "envelope")),
                ("location_code", location.to_string()),
                ("serial_numbers", serials.to_string()),
            ];
            fields.extend(extra.into_iter().map(|(k, v)| (k, v.to_string())));
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            operator
                .post_form(&format!("/hubs/{kin}/counts"), &fields)
                .await
        }
    };

    // Bad counts: the page says why and nothing changes.
    for (at, serials, says) in [
        ("A1", "", "say that nothing is there"),
        ("A 1!", "SN-CT-1", "letters, digits"),
        ("A1", "SN-CT-1\nsn-ct-1", "scanned twice"),
        ("A1", "SN-CT-1\u{0}", "control character"),
        ("A1", "SN-CT-1\nSN-NOWHERE", "not recorded at this hub"),
        // The same form sent again after that refusal: still refused, never "already saved".
        ("A1", "SN-CT-1", "not recorded at this hub"),
    ] {
        let res = post(page.clone(), at, serials, vec![]).await;
        assert_eq!(res.status(), 422, "{at:?} {serials:?}");
        let text = res.text().await.unwrap();
        assert!(text.contains(says), "{says}: {text}");
    }
    assert_eq!(item(&app, "SN-CT-2"), "AVAILABLE A1");
    assert_eq!(app.stock("KIN-MAIN", &sku), level);

    // A1 holds 1, 2, 3 and the reserved 5; the operator finds 1 and 4 (left on B2 by mistake).
    let page = operator.text(&format!("/hubs/{kin}/counts")).await;
    let res = post(
        page.clone(),
        "A1",
        "SN-CT-1\r\nsn-ct-4\n",
        vec![("note", "cycle count")],
    )
    .await;
    assert_eq!(location(&res), format!("/hubs/{kin}/counts"));
    let shown = operator.text(&format!("/hubs/{kin}/counts")).await;
    for says in [
        "A1 counted: 1 in place",
        "1 moved here (SN-CT-4)",
        "2 now missing (SN-CT-2, SN-CT-3)",
        "1 reserved but not found",
    ] {
        assert!(shown.contains(says), "{says}: {shown}");
    }
    assert_eq!(item(&app, "SN-CT-4"), "AVAILABLE A1");
    assert_eq!(item(&app, "SN-CT-2"), "MISSING A1");
    assert_eq!(item(&app, "SN-CT-5"), "RESERVED A1", "a sale holds it");
    assert_eq!(
        app.stock("KIN-MAIN", &sku),
        level - 2,
        "missing items leave the level"
    );
    // Sent again (a double click): applied once.
    post(page.clone(), "A1", "SN-CT-1\r\nsn-ct-4\n", vec![]).await;
    assert_eq!(app.stock("KIN-MAIN", &sku), level - 2);

    // SN-CT-2 turns up on the next count; the empty B2 is counted as empty.
    let page = operator.text(&format!("/hubs/{kin}/counts")).await;
    let res = post(page, "A1", "SN-CT-1 SN-CT-2 SN-CT-4 SN-CT-5", vec![]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(item(&app, "SN-CT-2"), "AVAILABLE A1");
    assert_eq!(item(&app, "SN-CT-3"), "MISSING A1");
    assert_eq!(app.stock("KIN-MAIN", &sku), level - 1);
    let page = operator.text(&format!("/hubs/{kin}/counts")).await;
    assert_eq!(
        post(page, "B2", "", vec![("empty", "1")]).await.status(),
        303
    );

    // Every figure agrees, and the trail says what the counts did.
    let found = outpost::inventory::check::disagreements(&mut app.conn()).unwrap();
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        texts(&app, "SELECT string_agg(action, ',' ORDER BY id) AS t FROM inventory_transactions WHERE serial_number = 'SN-CT-2'"),
        ["RECEIVE,LOST,UPDATE"]
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'stock.count' AND outcome = 'applied'"), 3);
    let activity = app.signed_in("admin").await.text("/audit").await;
    assert!(activity.contains("Location counted"), "{activity}");

    // A driver may not count; another hub's shelf is not there for the operator.
    let driver = app.signed_in("driver").await;
    assert_eq!(
        driver.get(&format!("/hubs/{kin}/counts")).await.status(),
        403
    );
    let mbj = app.hub_id("MBJ-SUB");
    assert_eq!(
        operator.get(&format!("/hubs/{mbj}/counts")).await.status(),
        404
    );
    app.shutdown().await;
}

/// A count is a form a device may queue: the service worker queues its address, and replayed
/// from the queue it waits for a manager's review (the shelf may have changed since).
#[tokio::test]
async fn a_count_saved_offline_waits_for_a_manager() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let operator = app.signed_in("warehouse").await;
    let sw = operator.text("/sw.js").await;
    assert!(
        sw.contains("|counts|") || sw.contains("(counts|") || sw.contains("|counts)"),
        "{sw}"
    );
    let page = operator.text(&format!("/hubs/{kin}/counts")).await;
    let offline_js = page
        .split("src=\"")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.contains("/assets/offline."))
        .expect("the page loads offline.js")
        .to_string();
    let words = operator.text(&offline_js).await;
    assert!(
        words.contains("\"stock.count\":\"Location count\""),
        "the device's lists use the kind's words"
    );
    let body = serde_urlencoded::to_string([
        ("op_id", Uuid::new_v4().to_string()),
        ("record_id", Uuid::new_v4().to_string()),
        (
            "envelope",
            app.envelope("warehouse", "stock.count", kin, 60),
        ),
        ("captured_at", chrono::Utc::now().to_rfc3339()),
        ("device_id", "dev-count".to_string()),
        ("location_code", "C3".to_string()),
        ("empty", "1".to_string()),
    ])
    .unwrap();
    let res = operator
        .client
        .post(operator.url("/api/v1/sync"))
        .header("X-Outpost-Replay", "1")
        .json(&json!({ "operations": [{ "form": { "action": format!("/hubs/{kin}/counts"), "body": body } }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["results"][0]["result"]["status"], "pending_review",
        "{answer:#}"
    );
    app.shutdown().await;
}

/// The count page before and after a count, at phone and desktop widths, for people to look at
/// (`cargo test … -- --ignored count_screenshots`; PNGs in $OUTPOST_SCREENSHOTS or
/// /tmp/outpost-shots).
#[tokio::test]
#[ignore = "screenshots for people to look at"]
async fn count_screenshots() {
    let dir = std::path::PathBuf::from(
        std::env::var("OUTPOST_SCREENSHOTS").unwrap_or_else(|_| "/tmp/outpost-shots".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let world = crate::offline::World::start();
    let kin = world.hub_id("KIN-MAIN");
    let url = world.server.url();
    let client = reqwest::Client::new();
    let warehouse = crate::live::token(&url, "warehouse").await;
    for (serial, at) in [
        ("SN-SHOT-1", "A1"),
        ("SN-SHOT-2", "A1"),
        ("SN-SHOT-3", "B2"),
    ] {
        let res = client
            .post(format!("{url}/api/v1/inventory/receive"))
            .bearer_auth(&warehouse)
            .json(&json!({ "serial_number": serial, "variant_sku": "00140-E-1-NA-N", "location_code": at }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let chrome = crate::browser::Chrome::start(&url, true).await;
    chrome.sign_in("warehouse").await;
    chrome.goto(&format!("/hubs/{kin}/counts")).await;
    for (suffix, width) in [("desktop", 1280), ("phone", 390)] {
        chrome
            .screenshot(&dir.join(format!("count-{suffix}.png")), width)
            .await;
    }
    chrome
        .submit(
            "form[data-offline-form]",
            &[
                ("location_code", "A1"),
                ("serial_numbers", "SN-SHOT-1\nSN-SHOT-3"),
            ],
        )
        .await;
    assert!(chrome.body_text().await.contains("A1 counted"));
    for (suffix, width) in [("desktop", 1280), ("phone", 390)] {
        chrome
            .screenshot(&dir.join(format!("count-done-{suffix}.png")), width)
            .await;
    }
}
