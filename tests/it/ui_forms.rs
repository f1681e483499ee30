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
