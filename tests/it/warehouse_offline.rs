//! Issue 30, finding 5: the warehouse's scanner pages work in the basement. Receive, move, the
//! items list and the lookup are stored after sign-in; a scan saved there with no connection
//! waits on the device and arrives once, in order, when the server is back.

use std::time::Duration;

use serde_json::json;

use crate::browser::Chrome;
use crate::offline::{pill, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_saved_in_the_basement_arrive_once_in_order() {
    let mut world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    // Stored after sign-in, without being opened (the working set names them).
    for page in [
        "/warehouse/receive",
        "/warehouse/move",
        "/warehouse/items",
        "/warehouse/lookup",
    ] {
        chrome.wait_until_stored(page).await;
    }

    world.server.kill();
    for (page, title) in [
        ("/warehouse/items", "Serialized items"),
        ("/warehouse/lookup", "Look up"),
        ("/warehouse/receive", "Receive items"),
    ] {
        chrome.goto(page).await;
        let text = chrome.body_text().await;
        assert!(
            text.contains(title) && !text.contains("not stored on this device"),
            "{page} opens offline: {text}"
        );
    }
    // An item of the catalog, as the stored page offers it.
    let sku = chrome
        .js(
            "return document.querySelector('#catalog-skus option').value",
            json!([]),
        )
        .await;
    let sku = sku.as_str().expect("the stored form lists the catalog");
    chrome
        .submit(
            "form[data-offline-form='warehouse.receive']",
            &[
                ("variant_sku", sku),
                ("location_code", "A1-S2"),
                ("serial_number", "SN-BASEMENT-1"),
            ],
        )
        .await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("Saved on this device — will sync when connection is restored"),
        "{}",
        chrome.body_text().await
    );
    assert!(chrome.body_text().await.contains("Scan the next one"));
    chrome.goto("/warehouse/move").await;
    chrome
        .submit(
            "form[data-offline-form='warehouse.move']",
            &[
                ("serial_number", "SN-BASEMENT-1"),
                ("new_location", "B2-S1"),
            ],
        )
        .await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    assert_eq!(
        chrome
            .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
            .await,
        json!(2)
    );

    world.server.restart();
    chrome.goto("/").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await,
        "{}\n{}",
        pill(&chrome).await,
        chrome.replay_trace().await
    );
    assert_eq!(
        world.text("SELECT location_code AS t FROM inventory_items WHERE serial_number = 'SN-BASEMENT-1'"),
        Some("B2-S1".to_string()),
        "received, then moved: in the order they were scanned; {:?}",
        world.text("SELECT string_agg(kind || ' ' || status || ' ' || coalesce(reason, ''), '; ') AS t FROM operations WHERE kind LIKE 'warehouse.%'")
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM inventory_transactions WHERE serial_number = 'SN-BASEMENT-1'"),
        2
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM operations WHERE kind IN ('warehouse.receive', 'warehouse.move') AND offline AND status = 'applied'"),
        2
    );
    chrome.assert_console_clean();
}
