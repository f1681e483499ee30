//! Issue 30, finding 3: no workflow ends in a dead end. A needs list is submitted only when
//! someone can decide it, and its page names who; a transfer form with no hub to supply says so
//! and points to a needs list; a sales page without customers says why it offers no sale.

use diesel::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use crate::common::TestApp;

const WATER: &str = "00101-P-1-NA-N";

fn op(kind: &str, payload: serde_json::Value) -> serde_json::Value {
    json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": chrono::Utc::now() })
}

#[tokio::test]
async fn an_agencys_needs_list_goes_to_its_own_logistics_manager_or_says_why_it_cannot() {
    let app = TestApp::builder().with_demo_world().start().await;
    let hra = app.hub_id("HRA-PORT");
    let agency = app.token("agency").await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let (_, r) = app
        .sync(&agency, json!({ "operations": [
            op("needs_list.create", json!({ "needs_list_id": first, "hub_id": hra, "title": "Tarps", "lines": [{ "sku": WATER, "quantity": 5 }] })),
            op("needs_list.create", json!({ "needs_list_id": second, "hub_id": hra, "title": "Water", "lines": [{ "sku": WATER, "quantity": 9 }] })),
        ] }))
        .await;
    assert_eq!(r["results"][1]["result"]["status"], "applied", "{r}");
    let b = app.signed_in("agency").await;
    let page = b.text(&format!("/hubs/{hra}/needs-lists/{first}")).await;
    assert!(
        page.contains("Submitted lists are decided by Kemar Lewis."),
        "{page}"
    );
    assert!(page.contains("Submit for approval"), "{page}");

    // Submitted, it waits for the agency's own logistics manager, who decides it.
    let (_, r) = app
        .sync(&agency, json!({ "operations": [op("needs_list.submit", json!({ "needs_list_id": first, "hub_id": hra }))] }))
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "applied", "{r}");
    let lead = app.signed_in("agency-lead").await;
    assert!(lead.text("/").await.contains("Needs list to decide: Tarps"));
    // No government user sees it: the agency's hub is its own.
    let gov = app.signed_in("logistics").await;
    assert!(!gov.text("/").await.contains("Tarps"));
    let (_, r) = app
        .sync(&app.token("agency-lead").await, json!({ "operations": [op("needs_list.decide", json!({ "needs_list_id": first, "hub_id": hra, "decision": "approve" }))] }))
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "applied", "{r}");

    // Without anyone to decide (the lead has left), a list cannot be submitted, and both the
    // page and the refusal say what to do.
    diesel::sql_query("UPDATE users SET active = false WHERE username = 'agency-lead'")
        .execute(&mut app.conn())
        .unwrap();
    let page = b.text(&format!("/hubs/{hra}/needs-lists/{second}")).await;
    assert!(
        page.contains(
            "This list cannot be submitted: nobody can decide needs lists of this hub yet"
        ),
        "{page}"
    );
    assert!(!page.contains("Submit for approval"), "{page}");
    let (_, r) = app
        .sync(&agency, json!({ "operations": [op("needs_list.submit", json!({ "needs_list_id": second, "hub_id": hra }))] }))
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    assert!(
        r["results"][0]["result"]["reason"]
            .as_str()
            .unwrap()
            .contains("Admin › Users"),
        "{r}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM needs_lists WHERE id = '{second}' AND status = 'draft'"
        )),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_hub_with_no_supplier_or_no_customer_says_why_and_what_to_do() {
    let app = TestApp::builder().with_demo_world().start().await;
    let hra = app.hub_id("HRA-PORT");
    let b = app.signed_in("agency").await;
    let page = b.text(&format!("/hubs/{hra}/transfers/new")).await;
    assert!(page.contains("No hub can supply this one"), "{page}");
    assert!(
        page.contains(&format!("href=\"/hubs/{hra}/needs-lists/new\"")),
        "{page}"
    );
    assert!(!page.contains("Request transfer</button>"), "{page}");
    // A government depot has other hubs to ask: the form is there.
    let mbj = app.hub_id("MBJ-SUB");
    let depot = app.signed_in("depot").await;
    assert!(depot
        .text(&format!("/hubs/{mbj}/transfers/new"))
        .await
        .contains("Request transfer</button>"));

    // Sales: with its one customer, the agency may sell; without, the page says why not.
    let sales = b.text("/sales").await;
    assert!(
        sales.contains(&format!("href=\"/hubs/{hra}/sales/new\"")),
        "{sales}"
    );
    diesel::sql_query("UPDATE customers SET active = false WHERE code = 'PA-FISHERS'")
        .execute(&mut app.conn())
        .unwrap();
    let sales = app.signed_in("agency").await.text("/sales").await;
    assert!(!sales.contains("/sales/new\""), "{sales}");
    assert!(
        sales.contains("No customer of yours is served by your hubs yet"),
        "{sales}"
    );
    // An auditor reads sales and is offered neither.
    let auditor = app.signed_in("auditor").await;
    let sales = auditor.text("/sales").await;
    assert!(!sales.contains("/sales/new\"") && !sales.contains("No customer of yours"));
    // Nor a Counts tab it may not open (only those who count a location see it).
    let kin = app.hub_id("KIN-MAIN");
    let counts = format!("href=\"/hubs/{kin}/counts\"");
    assert!(!auditor
        .text(&format!("/hubs/{kin}"))
        .await
        .contains(&counts));
    let warehouse = app.signed_in("warehouse").await;
    assert!(warehouse
        .text(&format!("/hubs/{kin}"))
        .await
        .contains(&counts));
    app.shutdown().await;
}
