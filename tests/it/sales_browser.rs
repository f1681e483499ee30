//! Issue 11 in real Chromium against the real server and worker processes: a sale made on a
//! phone while the server is down arrives once, confirmed; its invoice goes from "Rendering…" to
//! a download link without a reload; a user without a flag is told so by the page itself (no
//! server needed), and a price change replayed after the flag was taken away is refused and kept
//! in Sync Issues with the reason.

use std::time::Duration;

use serde_json::json;

use crate::browser::Chrome;
use crate::offline::World;

const WATER: &str = "00101-P-1-NA-N";

fn set_flags(world: &World, flags: serde_json::Value) {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "UPDATE users SET permission_flags = '{flags}' WHERE username = 'sales'"
    ))
    .execute(&mut world.db.conn())
    .unwrap();
}

async fn synced(chrome: &Chrome) -> bool {
    chrome.goto("/").await;
    chrome
        .wait_for(
            "document.getElementById('status-pill').dataset.state === 'synced'",
            Duration::from_secs(60),
        )
        .await
}

/// Fills the new-sale form's first line and presses one of its two buttons.
async fn fill_sale(chrome: &Chrome, customer: i64, item: &str, qty: &str, price: &str, then: &str) {
    let script = r#"
        const [customer, item, qty, price, then] = arguments;
        const form = document.querySelector("form[data-offline-form='sale.create']");
        if (!form) return 'no form';
        form.querySelector('[name=customer_id]').value = String(customer);
        form.querySelector('[name=line_item]').value = item;
        form.querySelector('[name=line_qty]').value = qty;
        form.querySelector('[name=line_price]').value = price;
        window.__leaving = true;
        form.querySelector('button[value=' + then + ']').click();
        return 'ok';
    "#;
    assert_eq!(
        chrome
            .js(script, json!([customer, item, qty, price, then]))
            .await,
        json!("ok")
    );
    chrome
        .wait_for(
            "!window.__leaving && document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_made_offline_on_a_phone_arrives_once_and_its_invoice_appears_without_a_reload() {
    let mut world = World::start();
    // `outpost worker` beside the test's server renders the invoice PDFs.
    let _worker = crate::common::WorkerProcess::start(&world.db.url, &world.server.redis_prefix());
    let kin = world.hub_id("KIN-MAIN");
    let shelter = world.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    let stock = |w: &World| {
        w.count(&format!("SELECT quantity AS n FROM stock_levels WHERE hub_id = {kin} AND variant_id = (SELECT id FROM product_variants WHERE full_sku = '{WATER}')"))
    };
    let before = stock(&world);
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome
        .screenshot(
            &std::env::temp_dir().join("outpost-sale-phone-start.png"),
            390,
        )
        .await;
    chrome.sign_in("sales").await;
    chrome.wait_for_service_worker().await;
    let new = format!("/hubs/{kin}/sales/new");
    chrome.goto(&new).await;
    world.server.kill();
    chrome.goto(&new).await;
    fill_sale(&chrome, shelter, WATER, "2", "", "confirm").await;
    assert!(
        chrome.body_text().await.contains("Saved on this device"),
        "{}",
        chrome.body_text().await
    );
    world.server.restart();
    assert!(synced(&chrome).await);
    assert_eq!(
        world.count("SELECT count(*) AS n FROM sales WHERE status = 'confirmed'"),
        1
    );
    assert_eq!(stock(&world), before - 2, "taken out exactly once");
    assert_eq!(world.count("SELECT count(*) AS n FROM operations WHERE kind IN ('sale.create', 'sale.confirm') AND status = 'applied' AND offline"), 2);

    // Online: generate the invoice; the page turns "Rendering…" into a link by itself.
    let sale = world.text("SELECT id::text AS t FROM sales").unwrap();
    chrome.goto(&format!("/hubs/{kin}/sales/{sale}")).await;
    chrome
        .submit("form[data-offline-form='invoice.issue']", &[])
        .await;
    // The invoice is listed (its "Invoice issued" notice was once missing in CI: the flash
    // taken by another request of the page's, a race noted in the session notes).
    assert!(
        chrome
            .wait_for(
                "document.body.innerText.indexOf('Invoice issued') >= 0 || document.body.innerText.indexOf('Invoice INV-') >= 0",
                Duration::from_secs(10)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    chrome
        .js("window.__same_page = true; return 1", json!([]))
        .await;
    assert!(
        chrome
            .wait_for(
                "!!document.querySelector('#invoices a[href$=\".pdf\"]')",
                Duration::from_secs(60)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    assert_eq!(
        chrome
            .js("return window.__same_page === true", json!([]))
            .await,
        json!(true),
        "no reload"
    );
    let text = chrome.body_text().await;
    assert!(text.contains("Download INV-"), "{text}");
    let width = chrome
        .js("return document.documentElement.scrollWidth", json!([]))
        .await
        .as_i64()
        .unwrap();
    assert!(
        width <= 390,
        "the cart fits a 390 px screen (scroll width {width})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_refuses_a_guarded_edit_by_itself_and_a_replay_after_the_flag_went_is_refused() {
    let mut world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let shelter = world.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    set_flags(&world, json!({}));
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("sales").await;
    chrome.wait_for_service_worker().await;
    // A draft cart at list price, made online.
    chrome.goto(&format!("/hubs/{kin}/sales/new")).await;
    fill_sale(&chrome, shelter, WATER, "1", "", "draft").await;
    let cart = chrome.path().await;
    assert!(cart.contains("/sales/"), "{cart}");
    // The server is gone: the page alone says the user may not edit prices.
    world.server.kill();
    chrome.goto(&cart).await;
    chrome
        .js(
            "document.querySelector('details.line-edit').open = true; return 1",
            json!([]),
        )
        .await;
    chrome.click("[data-edit-price]").await;
    let message = chrome
        .js(
            "var m = document.getElementById('flag-message'); return m.hidden ? '' : m.textContent",
            json!([]),
        )
        .await;
    assert_eq!(message, json!("You do not have permission to edit prices"));
    assert_eq!(
        chrome
            .js(
                "return document.querySelector('[name=price]').readOnly",
                json!([])
            )
            .await,
        json!(true)
    );
    chrome.click("input[name=foc]").await;
    let message = chrome
        .js(
            "return document.getElementById('flag-message').textContent",
            json!([]),
        )
        .await;
    assert_eq!(
        message,
        json!("You do not have permission to add free-of-charge items")
    );
    assert_eq!(
        chrome
            .js(
                "return document.querySelector('input[name=foc]').checked",
                json!([])
            )
            .await,
        json!(false)
    );

    // With the flag, a changed price captured offline…
    world.server.restart();
    set_flags(&world, json!({ "can_change_price": true }));
    chrome.goto(&format!("/hubs/{kin}/sales/new")).await;
    world.server.kill();
    chrome.goto(&format!("/hubs/{kin}/sales/new")).await;
    fill_sale(&chrome, shelter, WATER, "1", "999.00", "draft").await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    // …replayed after the flag was taken away is refused, and kept on the device with the reason.
    set_flags(&world, json!({}));
    world.server.restart();
    chrome.goto("/").await;
    chrome
        .wait_for(
            "document.getElementById('status-pill').dataset.state !== 'offline'",
            Duration::from_secs(60),
        )
        .await;
    chrome.goto("/sync-issues").await;
    assert!(
        chrome
            .wait_for(
                "document.body.innerText.indexOf('You do not have permission to edit prices') >= 0",
                Duration::from_secs(60)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM sales"),
        1,
        "only the online draft exists"
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM audit_log WHERE action = 'sale.create' AND outcome = 'rejected'"), 1);
}
