//! Stock adjustments and reorder levels (issue 15): a count sets the level, on the pipeline and
//! audited; a count overtaken by other work goes to the review queue; reorder levels are saved
//! from the stock page; bad input is refused with nothing written.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{hidden_in, TestApp};
use crate::hub_pages::location;
use crate::sales::texts;

const WATER: &str = "00101-P-1-NA-N";

/// The value of the selected option of the item picker (`SKU@level`).
fn chosen_item(html: &str) -> String {
    let at = html.find(" selected>").expect("an item is chosen");
    let start = html[..at].rfind("value=\"").unwrap() + "value=\"".len();
    html[start..at].trim_end_matches('"').to_string()
}

#[tokio::test]
async fn a_count_sets_the_level_and_a_count_overtaken_by_other_work_goes_to_review() {
    let app = TestApp::builder().with_demo_world().start().await;
    let mbj = app.hub_id("MBJ-SUB");
    let depot = app.signed_in("depot").await;
    let before = app.stock("MBJ-SUB", WATER);
    assert!(before >= 3, "the demo world stocks water at Montego Bay");

    // The form offers the hub's items with the level shown; the stock page's link picks one.
    let page = depot
        .text(&format!("/hubs/{mbj}/adjustments/new?sku={WATER}"))
        .await;
    assert_eq!(chosen_item(&page), format!("{WATER}@{before}"));
    assert!(page.contains(&format!("{before} on hand")), "{page}");
    let counted = (before - 3).to_string();
    let form = |page: &str, counted: &str, note: &str| {
        vec![
            ("op_id", hidden_in(page, "op_id")),
            ("record_id", hidden_in(page, "record_id")),
            ("envelope", hidden_in(page, "envelope")),
            ("item", chosen_item(page)),
            ("counted", counted.to_string()),
            ("reason", "damaged".to_string()),
            ("note", note.to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let depot = &depot;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            depot
                .post_form(&format!("/hubs/{mbj}/adjustments"), &fields)
                .await
        }
    };

    // Bad input: a clear message on the form, nothing written.
    for (bad_counted, note, says) in [
        ("-1", "", "from 0 to"),
        ("twelve", "", "whole number"),
        ("4", "wet\u{0}cartons", "control character"),
    ] {
        let res = post(form(&page, bad_counted, note)).await;
        assert_eq!(res.status(), 422, "{bad_counted:?} {note:?}");
        let text = res.text().await.unwrap();
        assert!(text.contains(says), "{says}: {text}");
        assert!(text.contains("Nothing was saved"), "{text}");
    }
    let mut no_reason = form(&page, "4", "");
    no_reason[5].1 = "because".into();
    assert_eq!(post(no_reason).await.status(), 422);
    assert_eq!(app.stock("MBJ-SUB", WATER), before);
    assert_eq!(app.count("SELECT count(*) AS n FROM stock_adjustments"), 0);

    // A count: the level becomes what was counted, with a ledger row and an audit row.
    let res = post(form(&page, &counted, "two cartons wet")).await;
    assert_eq!(location(&res), format!("/hubs/{mbj}/adjustments"));
    assert_eq!(app.stock("MBJ-SUB", WATER), before - 3);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM stock_ledger WHERE reason = 'adjustment' AND delta = -3"
        ),
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'stock.adjust' AND outcome = 'applied'"), 1);
    let list = depot.text(&format!("/hubs/{mbj}/adjustments")).await;
    for expected in ["Damaged", "two cartons wet", "-3", "1 adjustment,"] {
        assert!(list.contains(expected), "{expected}: {list}");
    }
    // Sent again (a double click, a replay): applied once.
    post(form(&page, &counted, "two cartons wet")).await;
    assert_eq!(app.stock("MBJ-SUB", WATER), before - 3);

    // A count made against a level that other work has since changed: not applied, but
    // compared by a manager, who accepts it — the level becomes the count.
    let stale = depot
        .text(&format!("/hubs/{mbj}/adjustments/new?sku={WATER}"))
        .await;
    let token = app.token("depot").await;
    let (status, _) = app
        .sync(&token, json!({ "operations": [{ "op_id": Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
            "payload": { "intake_id": Uuid::new_v4(), "hub_id": mbj, "donor": "Late truck", "lines": [{ "sku": WATER, "quantity": 5 }] } }] }))
        .await;
    assert_eq!(status, 200);
    let res = post(form(&stale, "10", "")).await;
    assert_eq!(location(&res), "/sync-issues");
    assert_eq!(app.stock("MBJ-SUB", WATER), before + 2, "not changed twice");
    let item = texts(
        &app,
        "SELECT id::text AS t FROM operations WHERE kind = 'stock.adjust' AND status = 'conflict'",
    )
    .pop()
    .expect("a conflict to review");
    let review = depot.text(&format!("/review/{item}")).await;
    assert!(review.contains("changed from"), "{review}");
    let res = depot
        .post_form(
            &format!("/review/{item}"),
            &[
                ("action", "accept"),
                ("op_id", &hidden_in(&review, "op_id")),
            ],
        )
        .await;
    assert_eq!(location(&res), "/review");
    assert_eq!(app.stock("MBJ-SUB", WATER), 10);
    assert_eq!(app.count("SELECT count(*) AS n FROM stock_adjustments"), 2);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM stock_levels l JOIN (SELECT hub_id, variant_id, sum(delta) AS s FROM stock_ledger GROUP BY 1, 2) g USING (hub_id, variant_id) WHERE l.quantity <> g.s"),
        0,
        "ledger and levels agree"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_those_who_may_adjust_see_the_form_and_their_adjustments_are_refused_elsewhere() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let mbj = app.hub_id("MBJ-SUB");
    // A warehouse operator audits physical inventory (the USAV seed): they count and adjust.
    let warehouse = app.signed_in("warehouse").await;
    assert_eq!(
        warehouse
            .get(&format!("/hubs/{kin}/adjustments/new"))
            .await
            .status(),
        200
    );
    // A driver reads stock but does not adjust it.
    let man = app.hub_id("MAN-SUB");
    let driver = app.signed_in("driver").await;
    assert_eq!(
        driver
            .get(&format!("/hubs/{man}/adjustments/new"))
            .await
            .status(),
        403
    );
    let stock = driver.text(&format!("/hubs/{man}")).await;
    assert!(!stock.contains("name=\"reorder_level\""));
    assert!(driver
        .text(&format!("/hubs/{man}/adjustments"))
        .await
        .contains("No adjustments yet"));
    let token = app.token("driver").await;
    let (_, body) = app
        .sync(&token, json!({ "operations": [{ "op_id": Uuid::new_v4(), "kind": "stock.adjust", "captured_at": chrono::Utc::now(), "base_version": 0,
            "payload": { "adjustment_id": Uuid::new_v4(), "hub_id": man, "sku": WATER, "counted": 0, "reason": "lost" } }] }))
        .await;
    assert_eq!(body["results"][0]["result"]["status"], "rejected");
    // A depot manager of Montego Bay cannot adjust Kingston's stock, even by the API.
    let token = app.token("depot").await;
    let (_, body) = app
        .sync(&token, json!({ "operations": [{ "op_id": Uuid::new_v4(), "kind": "stock.adjust", "captured_at": chrono::Utc::now(), "base_version": 0,
            "payload": { "adjustment_id": Uuid::new_v4(), "hub_id": kin, "sku": WATER, "counted": 0, "reason": "lost" } }] }))
        .await;
    assert_eq!(body["results"][0]["result"]["status"], "rejected");
    let depot = app.signed_in("depot").await;
    assert_eq!(
        depot
            .get(&format!("/hubs/{kin}/adjustments/new"))
            .await
            .status(),
        404
    );
    // Without the level counted against, the API is told what is missing.
    let (_, body) = app
        .sync(&token, json!({ "operations": [{ "op_id": Uuid::new_v4(), "kind": "stock.adjust", "captured_at": chrono::Utc::now(),
            "payload": { "adjustment_id": Uuid::new_v4(), "hub_id": mbj, "sku": WATER, "counted": 0, "reason": "lost" } }] }))
        .await;
    let said: &Value = &body["results"][0]["result"];
    assert_eq!(said["status"], "rejected");
    assert!(said.to_string().contains("base_version"), "{said}");
    assert_eq!(app.count("SELECT count(*) AS n FROM stock_adjustments"), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn reorder_levels_are_saved_from_the_stock_page_and_only_the_changed_ones() {
    let app = TestApp::builder().with_demo_world().start().await;
    let mbj = app.hub_id("MBJ-SUB");
    let depot = app.signed_in("depot").await;
    let page = depot.text(&format!("/hubs/{mbj}?q={WATER}")).await;
    assert!(page.contains("name=\"reorder_level\""), "{page}");
    let shown = app.count(&format!("SELECT reorder_level AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id JOIN hubs h ON h.id = l.hub_id WHERE h.code = 'MBJ-SUB' AND v.full_sku = '{WATER}'"));
    let others_before = app.count("SELECT sum(reorder_level)::bigint AS n FROM stock_levels");
    let fields = |level: &str| {
        vec![
            ("op_id", hidden_in(&page, "op_id")),
            ("record_id", hidden_in(&page, "record_id")),
            ("envelope", hidden_in(&page, "envelope")),
            ("sku", WATER.to_string()),
            ("orig_reorder_level", shown.to_string()),
            ("reorder_level", level.to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let depot = &depot;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            depot
                .post_form(&format!("/hubs/{mbj}/reorder-levels"), &fields)
                .await
        }
    };
    // Bad input: told on the stock page, nothing saved.
    let res = post(fields("lots")).await;
    assert_eq!(location(&res), format!("/hubs/{mbj}"));
    assert_eq!(
        app.count("SELECT sum(reorder_level)::bigint AS n FROM stock_levels"),
        others_before
    );
    let res = post(fields(&(shown + 40).to_string())).await;
    assert_eq!(location(&res), format!("/hubs/{mbj}"));
    assert_eq!(
        app.count("SELECT sum(reorder_level)::bigint AS n FROM stock_levels"),
        others_before + 40
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'stock.reorder_levels' AND outcome = 'applied'"), 1);
    // Nothing changed: nothing sent.
    let res = post(fields(&shown.to_string())).await;
    assert_eq!(location(&res), format!("/hubs/{mbj}"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE kind = 'stock.reorder_levels'"),
        1
    );
    app.shutdown().await;
}

/// Saved offline, a count arrives with the batch replay as the form it was.
#[tokio::test]
async fn a_count_saved_offline_arrives_in_a_batch() {
    let app = TestApp::builder().with_demo_world().start().await;
    let mbj = app.hub_id("MBJ-SUB");
    let depot = app.signed_in("depot").await;
    let before = app.stock("MBJ-SUB", WATER);
    let page = depot
        .text(&format!("/hubs/{mbj}/adjustments/new?sku={WATER}"))
        .await;
    let body = serde_urlencoded::to_string([
        ("op_id", hidden_in(&page, "op_id")),
        ("record_id", hidden_in(&page, "record_id")),
        ("envelope", hidden_in(&page, "envelope")),
        ("captured_at", chrono::Utc::now().to_rfc3339()),
        ("item", chosen_item(&page)),
        ("counted", (before + 7).to_string()),
        ("reason", "found".to_string()),
    ])
    .unwrap();
    let res = depot
        .client
        .post(depot.url("/api/v1/sync"))
        .header("X-Outpost-Replay", "1")
        .json(&json!({ "operations": [{ "form": { "action": format!("/hubs/{mbj}/adjustments"), "body": body } }] }))
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["results"][0]["result"]["status"], "applied",
        "{answer}"
    );
    assert_eq!(app.stock("MBJ-SUB", WATER), before + 7);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE kind = 'stock.adjust' AND offline"),
        1
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_made_offline_in_the_browser_is_applied_once_when_the_server_is_back() {
    use std::time::Duration;
    let mut world = crate::offline::World::start();
    let mbj = world.hub_id("MBJ-SUB");
    let level = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {mbj} AND v.full_sku = '{WATER}'"));
    assert!(level >= 2);
    let chrome = crate::browser::Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("depot").await;
    chrome.wait_for_service_worker().await;
    // The form is cached while online, with the level each item is counted against.
    chrome.goto(&format!("/hubs/{mbj}/adjustments/new")).await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(10)
            )
            .await,
        "{}",
        crate::offline::pill(&chrome).await
    );
    world.server.kill();

    chrome.goto(&format!("/hubs/{mbj}/adjustments/new")).await;
    assert!(
        chrome.body_text().await.contains("Adjust stock"),
        "the form opens from the cache"
    );
    let counted = (level - 2).to_string();
    chrome
        .submit(
            "form[data-offline-form='stock.adjust']",
            &[
                ("item", &format!("{WATER}@{level}")),
                ("counted", &counted),
                ("reason", "damaged"),
                ("note", "two cases crushed"),
            ],
        )
        .await;
    let text = chrome.body_text().await;
    assert!(text.contains("Saved on this device"), "{text}");
    assert_eq!(
        world.count("SELECT count(*) AS n FROM stock_adjustments"),
        0
    );

    world.server.restart();
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
        world.count(
            "SELECT count(*) AS n FROM stock_adjustments WHERE reason = 'damaged' AND delta = -2"
        ),
        1
    );
    assert_eq!(
        world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {mbj} AND v.full_sku = '{WATER}'")),
        level - 2
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM audit_log WHERE action = 'stock.adjust' AND offline AND outcome = 'applied' AND role_at_capture = 'DepotManager'"), 1);
    assert!(outpost::inventory::ledger::mismatches(&mut world.db.conn())
        .unwrap()
        .is_empty());
}
