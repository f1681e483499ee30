//! Issue 30, finding 2: Sync Issues close. A refused entry sent again corrected is settled by
//! the correction (only its own author's, only once it took effect); its author may set one
//! aside; the dashboard's count follows; a conflict's page says what each choice does.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::TestApp;

const WATER: &str = "00101-P-1-NA-N";

fn intake(kin: i64, donor: &str, sku: &str, corrects: Option<Uuid>) -> Value {
    let mut op = json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
        "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": donor, "lines": [{ "sku": sku, "quantity": 4 }] } });
    if let Some(id) = corrects {
        op["corrects"] = json!(id);
    }
    op
}

fn open_rows(app: &TestApp, donor: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) AS n FROM operations WHERE payload->>'donor' = '{donor}' AND status = 'rejected' AND resolved_at IS NULL"
    ))
}

#[tokio::test]
async fn a_refused_entry_closes_when_corrected_or_set_aside_by_its_author() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let warehouse = app.token("warehouse").await;
    let typo = intake(kin, "Typo Relief", "NO-SUCH-ITEM", None);
    let typo_id: Uuid = serde_json::from_value(typo["op_id"].clone()).unwrap();
    let other = intake(kin, "Harbour Mission", "NO-SUCH-ITEM", None);
    let (_, r) = app
        .sync(&warehouse, json!({ "operations": [typo, other] }))
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    let b = app.signed_in("warehouse").await;
    assert!(b
        .text("/")
        .await
        .contains("2 of your entries were not applied as sent"));

    // Another person's correction naming it settles nothing; nor does a correction that is
    // itself refused.
    let admin = app.token("admin").await;
    let (_, r) = app
        .sync(
            &admin,
            json!({ "operations": [intake(kin, "Typo Relief", WATER, Some(typo_id))] }),
        )
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "applied", "{r}");
    let (_, r) = app
        .sync(
            &warehouse,
            json!({ "operations": [intake(kin, "Typo Relief", "STILL-WRONG", Some(typo_id))] }),
        )
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    assert_eq!(
        open_rows(&app, "Typo Relief"),
        2,
        "the first refusal and the second"
    );

    // The author's correction that applies settles the refusal it names, and only that one.
    let (_, r) = app
        .sync(
            &warehouse,
            json!({ "operations": [intake(kin, "Typo Relief", WATER, Some(typo_id))] }),
        )
        .await;
    assert_eq!(r["results"][0]["result"]["status"], "applied", "{r}");
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM operations WHERE op_id = '{typo_id}' AND resolution = 'corrected' AND resolved_at IS NOT NULL")),
        1
    );
    assert_eq!(open_rows(&app, "Typo Relief"), 1);

    // Set aside from the page (no JavaScript): the row and the count go; the audit says who.
    let page = b.text("/sync-issues").await;
    assert!(page.contains("Set aside"), "{page}");
    let action = |page: &str, donor: &str| {
        let row = page
            .split("<tr data-op-id=")
            .find(|r| r.contains(donor))
            .expect("a row");
        row.split("action=\"/sync-issues/")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|rest| format!("/sync-issues/{rest}"))
            .expect("a set-aside form")
    };
    let harbour = action(&page, "Harbour Mission");
    // Someone else cannot close it: the answer does not say whose it is.
    let stranger = app.signed_in("driver").await;
    let res = stranger.post_form(&harbour, &[]).await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(open_rows(&app, "Harbour Mission"), 1);
    let res = b.post_form(&harbour, &[]).await;
    assert_eq!(crate::hub_pages::location(&res), "/sync-issues");
    assert_eq!(open_rows(&app, "Harbour Mission"), 0);
    let res = b.post_form(&action(&page, "STILL-WRONG"), &[]).await;
    assert_eq!(res.status().as_u16(), 303);
    let page = b.text("/sync-issues").await;
    assert!(
        page.contains("the server applied everything it received from you"),
        "{page}"
    );
    assert!(!b.text("/").await.contains("were not applied as sent"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'review.resolved' AND outcome = 'dismissed' AND actor_name = 'warehouse'"),
        2
    );
    // A bad id is a clear 404, not a 500.
    let res = b.post_form("/sync-issues/not-a-uuid/dismiss", &[]).await;
    assert_eq!(res.status().as_u16(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn a_conflicts_page_says_what_each_choice_does() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let id = Uuid::new_v4();
    let op = |kind: &str, base: Option<i32>, payload: Value| json!({ "op_id": Uuid::new_v4(), "kind": kind, "base_version": base, "captured_at": chrono::Utc::now(), "payload": payload });
    let (_, r) = app.sync(&depot, json!({ "operations": [
        op("distribution.create", None, json!({ "distribution_id": id, "hub_id": mbj, "recipient": "Shelter", "lines": [{ "sku": WATER, "quantity": 2 }] })),
        op("distribution.update", Some(1), json!({ "distribution_id": id, "hub_id": mbj, "notes": "Side gate" })),
        op("distribution.update", Some(1), json!({ "distribution_id": id, "hub_id": mbj, "notes": "Front office" })),
    ] })).await;
    assert_eq!(r["results"][2]["result"]["status"], "conflict", "{r}");
    let b = app.signed_in("depot").await;
    let queue = b.text("/review").await;
    let item = queue
        .split("href=\"/review/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a resolve link")
        .to_string();
    let page = b.text(&format!("/review/{item}")).await;
    assert!(
        page.contains("Side gate → Front office"),
        "accepting names the change it makes: {page}"
    );
    assert!(
        page.contains("Keep the server&#39;s version</strong>: changes nothing")
            || page.contains("Keep the server's version</strong>: changes nothing"),
        "{page}"
    );
    app.shutdown().await;
}

/// "Edit and resend" sent from the form and refused again: the form shown with the messages
/// still names the entry it corrects, so the attempt that applies closes the first refusal.
#[tokio::test]
async fn a_correction_refused_again_on_its_form_still_closes_the_first_refusal() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let typo = intake(kin, "Second Try Relief", "NO-SUCH-ITEM", None);
    let typo_id = typo["op_id"].as_str().unwrap().to_string();
    let (_, r) = app.sync(&token, json!({ "operations": [typo] })).await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    let b = app.signed_in("warehouse").await;
    let (form, action) = (
        format!("/hubs/{kin}/intakes/new"),
        format!("/hubs/{kin}/intakes"),
    );
    let again = |sku: &'static str| {
        [
            ("donor", "Second Try Relief"),
            ("line_sku", sku),
            ("line_qty", "4"),
        ]
    };
    let mut fields = again("STILL-WRONG").to_vec();
    fields.push(("corrects", &typo_id));
    let res = crate::hub_pages::submit(&b, &form, &action, &fields).await;
    assert_eq!(res.status().as_u16(), 422);
    let shown = res.text().await.unwrap();
    assert_eq!(
        crate::common::hidden_in(&shown, "corrects"),
        typo_id,
        "the form shown again keeps what it corrects"
    );
    // Sent from the form as shown (its hidden fields), now right: the first refusal closes.
    let token_field = crate::common::csrf_in(&shown);
    let mut fields: Vec<(&str, String)> = ["op_id", "record_id", "envelope", "corrects"]
        .iter()
        .map(|n| (*n, crate::common::hidden_in(&shown, n)))
        .collect();
    fields.push(("csrf_token", token_field));
    fields.extend(again(WATER).iter().map(|(k, v)| (*k, v.to_string())));
    let res = b
        .client
        .post(b.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM operations WHERE op_id = '{typo_id}' AND resolution = 'corrected'")),
        1
    );
    assert_eq!(open_rows(&app, "Second Try Relief"), 0);
    app.shutdown().await;
}

/// A correction refused in turn and corrected again: the attempt that applies closes the whole
/// chain, not only the refusal it names (an independent tester's finding).
#[tokio::test]
async fn a_chain_of_corrections_closes_when_the_last_one_applies() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let mut previous: Option<Uuid> = None;
    for sku in ["NO-SUCH-ITEM", "STILL-WRONG", WATER] {
        let op = intake(kin, "Chain Relief", sku, previous);
        let (_, r) = app
            .sync(&token, json!({ "operations": [op.clone()] }))
            .await;
        let want = if sku == WATER { "applied" } else { "rejected" };
        assert_eq!(r["results"][0]["result"]["status"], want, "{r}");
        previous = serde_json::from_value(op["op_id"].clone()).ok();
    }
    assert_eq!(open_rows(&app, "Chain Relief"), 0, "both refusals closed");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE payload->>'donor' = 'Chain Relief' AND resolution = 'corrected'"),
        2
    );
    app.shutdown().await;
}

/// "Enter it again" on a server's Sync Issues row opens the form naming the entry it corrects,
/// so entering it again closes the row (an independent tester found it stayed).
#[tokio::test]
async fn entering_it_again_from_its_row_closes_the_row() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let typo = intake(kin, "Row Again Relief", "NO-SUCH-ITEM", None);
    let typo_id = typo["op_id"].as_str().unwrap().to_string();
    let (_, r) = app.sync(&token, json!({ "operations": [typo] })).await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    let b = app.signed_in("warehouse").await;
    let page = b.text("/sync-issues").await;
    let href = page
        .split("<tr data-op-id=")
        .find(|row| row.contains("Row Again Relief"))
        .and_then(|row| row.split("Nothing was changed. <a href=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("an Enter it again link")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(href.contains(&format!("corrects={typo_id}")), "{href}");
    let form = b.text(&href).await;
    assert_eq!(
        crate::common::hidden_in(&form, "corrects"),
        typo_id,
        "{form}"
    );
    let res = crate::hub_pages::submit(
        &b,
        &href,
        &format!("/hubs/{kin}/intakes"),
        &[
            ("donor", "Row Again Relief"),
            ("line_sku", WATER),
            ("line_qty", "4"),
        ],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(open_rows(&app, "Row Again Relief"), 0);
    app.shutdown().await;
}
