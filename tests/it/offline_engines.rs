//! Issue 32: offline work in each engine staff carry: Chromium, Firefox ESR, and WebKit
//! (Safari's engine). WebKit lost every offline save: the page kept for the Back button froze an
//! IndexedDB read it had started while being hidden, and every later write to the queue waited
//! behind it; the save hung for 70 s and ended on "Could not connect". The scenario quits the
//! browser while entries wait (WebKit runs in a small shell with its profile on disk,
//! tests/it/webkit_shell.py) and ends with the console clean.

use std::time::Duration;

use serde_json::json;

use crate::browser::{Chrome, Engine};
use crate::offline::{pill, World};

const WATER: &str = "00101-P-1-NA-N";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_webkit_intakes_saved_offline_outlive_a_browser_restart_and_arrive_once() {
    intakes_saved_offline_arrive_exactly_once(Engine::WebKit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_firefox_intakes_saved_offline_outlive_a_browser_restart_and_arrive_once() {
    intakes_saved_offline_arrive_exactly_once(Engine::Firefox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_intakes_saved_offline_outlive_a_browser_restart_and_arrive_once() {
    intakes_saved_offline_arrive_exactly_once(Engine::Chromium).await;
}

/// Sign in, visit the pages, save three intakes with the server down, quit the browser and
/// open it again (still offline: the entries are there), and see each applied exactly once
/// when the server is back and the person has signed in again.
async fn intakes_saved_offline_arrive_exactly_once(engine: Engine) {
    let mut world = World::start();
    let browser = Chrome::start_in(engine, &world.server.url()).await;
    let kin = world.hub_id("KIN-MAIN");
    browser.sign_in("warehouse").await;
    browser.wait_for_service_worker().await;
    // Several pages visited (each left for the next, as a person does), the form among them.
    for path in [
        "/".to_string(),
        format!("/hubs/{kin}"),
        format!("/hubs/{kin}/intakes/new"),
    ] {
        browser.goto(&path).await;
        assert!(
            browser
                .wait_for(
                    "document.getElementById('status-pill').dataset.state === 'synced'",
                    Duration::from_secs(15)
                )
                .await,
            "{path}: {}",
            pill(&browser).await
        );
    }
    browser
        .wait_until_stored(&format!("/hubs/{kin}/intakes/new"))
        .await;
    let before = world.count("SELECT count(*) AS n FROM intakes");

    world.server.kill();
    for (n, donor) in ["Red Cross Jamaica", "USAID", "Digicel Foundation"]
        .into_iter()
        .enumerate()
    {
        browser.goto(&format!("/hubs/{kin}/intakes/new")).await;
        assert!(
            browser.body_text().await.contains("Record an intake"),
            "the form opens from the cache"
        );
        browser
            .submit(
                "form[data-offline-form='intake.create']",
                &[("donor", donor), ("line_sku", WATER), ("line_qty", "5")],
            )
            .await;
        let text = browser.body_text().await;
        assert!(
            text.contains("Saved on this device — will sync when connection is restored"),
            "entry {}: {text}",
            n + 1
        );
    }
    let queued = browser
        .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
        .await;
    assert_eq!(queued, json!(3));
    the_risk_is_said_when_storage_is_not_kept(&browser).await;

    // The browser is quit while the server is still down, and opened again.
    let browser = browser.reopen().await;
    browser.goto(&format!("/hubs/{kin}/intakes/new")).await;
    assert!(
        browser
            .wait_for(
                "document.getElementById('status-pill').textContent.indexOf('3 entries saved on this device') >= 0",
                Duration::from_secs(15)
            )
            .await,
        "the queue outlived the restart: {}",
        pill(&browser).await
    );
    assert!(browser.body_text().await.contains("Record an intake"));

    // Back online. The browser's session cookie went with the restart: the person signs in
    // again and the entries go.
    world.server.restart();
    browser.goto("/").await;
    assert!(
        browser
            .wait_for("location.pathname === '/login'", Duration::from_secs(15))
            .await,
        "{}",
        browser.body_text().await
    );
    browser.sign_in("warehouse").await;
    // Within two minutes: on a loaded CI machine the first replay after the restart was once
    // held past the worker's 60 s limit (in WebKit and in Firefox, never alone), and the queue
    // then goes on the resend. WebKitGTK, starved, was also seen ending the service worker and
    // never starting it again for the page's messages: the page then says "Storage not
    // answering – reload the page", and the person reloads it. The server's log and the
    // worker's replay steps are shown if it does not end.
    let synced = "document.getElementById('status-pill').dataset.state === 'synced'";
    let stalled = "document.getElementById('status-pill').dataset.state === 'stalled'";
    browser
        .wait_for(&format!("{synced} || {stalled}"), Duration::from_secs(120))
        .await;
    if browser.js(&format!("return {stalled}"), json!([])).await == json!(true) {
        eprintln!("{engine:?}: the page said its storage stopped answering; reloading it");
        browser.goto("/").await;
    } else if browser.js(&format!("return {synced}"), json!([])).await != json!(true) {
        // Neither: the page went quiet (Firefox, once even running alone, after its restart:
        // no contact with the server and a worker that did not answer; an open defect whose
        // cause is not known yet). A person facing "Syncing…" for two minutes reloads.
        eprintln!(
            "{engine:?}: no replay and no word from the page for 120 s; reloading it. Its worker's replays:\n{}",
            browser.replay_trace().await
        );
        browser.goto("/").await;
    }
    assert!(
        browser.wait_for(synced, Duration::from_secs(120)).await,
        "green: {}\n--- the service worker's replays ---\n{}\n--- server log, last lines ---\n{}",
        pill(&browser).await,
        browser.replay_trace().await,
        world.server_log_tail(40)
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM intakes"),
        before + 3,
        "each entry applied exactly once"
    );
    let queued = browser
        .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
        .await;
    assert_eq!(queued, json!(0));
    browser.assert_console_clean();
}

/// On the Saved page: when the browser has not agreed to keep the site's storage for good
/// (each engine decides; Firefox asks the person; WebKitGTK cannot say), the page and the pill
/// say the waiting entries may be deleted; when it has, neither does.
async fn the_risk_is_said_when_storage_is_not_kept(browser: &Chrome) {
    let kept = browser
        .js_async(
            "var done = arguments[0]; (navigator.storage && navigator.storage.persisted ? navigator.storage.persisted() : Promise.resolve(false)).then(done, function () { done(null); })",
            json!([]),
        )
        .await;
    let risky = "document.getElementById('status-pill').textContent.indexOf('(at risk)') >= 0 && !!document.getElementById('storage-risk') && !document.getElementById('storage-risk').hidden";
    if kept == json!(false) {
        assert!(
            browser.wait_for(risky, Duration::from_secs(10)).await,
            "{}",
            browser.body_text().await
        );
        let text = browser.body_text().await;
        assert!(
            text.contains("Safari after 7 days without a visit"),
            "{text}"
        );
    } else {
        assert_eq!(kept, json!(true));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            browser.js(&format!("return {risky}"), json!([])).await,
            json!(false)
        );
    }
}
