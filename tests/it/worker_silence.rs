//! A service worker that stops answering (WebKitGTK on a starved machine ended one and never
//! started it again for the page's messages: the queue then waited with nothing sent). The page
//! says so in its status pill, offers a reload in place of "Sync now", and the reload brings
//! the worker back. The worker's silence is made here by dropping the page's messages to it.

use std::time::Duration;

use serde_json::json;

use crate::browser::Chrome;
use crate::offline::World;

const WATER: &str = "00101-P-1-NA-N";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_service_worker_is_said_and_a_reload_brings_it_back() {
    let mut world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    let form = format!("/hubs/{kin}/intakes/new");
    chrome.goto(&form).await;
    chrome.wait_until_stored(&form).await;
    // One entry waits: saved while the server is away.
    world.server.kill();
    chrome.goto(&form).await;
    chrome
        .submit(
            "form[data-offline-form='intake.create']",
            &[
                ("donor", "Quiet Worker Trust"),
                ("line_sku", WATER),
                ("line_qty", "2"),
            ],
        )
        .await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    chrome.goto(&form).await;
    // From now on nothing this page posts reaches the worker.
    chrome
        .js(
            "ServiceWorker.prototype.postMessage = function () {};",
            json!([]),
        )
        .await;
    world.server.restart();
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'stalled'",
                Duration::from_secs(90)
            )
            .await,
        "{}",
        crate::offline::pill(&chrome).await
    );
    let pill = crate::offline::pill(&chrome).await;
    assert!(
        pill.contains("Storage not answering – reload the page"),
        "{pill}"
    );
    assert_eq!(
        chrome
            .js(
                "var b = document.getElementById('sync-now'); return b.hidden ? '' : b.textContent",
                json!([])
            )
            .await,
        json!("Reload")
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM intakes WHERE donor = 'Quiet Worker Trust'"),
        0,
        "nothing could be sent"
    );
    // The person reloads: the worker answers again and the entry goes, once.
    chrome.click("#sync-now").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await,
        "{}",
        crate::offline::pill(&chrome).await
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM intakes WHERE donor = 'Quiet Worker Trust'"),
        1
    );
}
