//! The operation pipeline through its three entry points: online HTML forms, replayed forms,
//! and `POST /api/v1/sync`.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{hidden_in, TestApp};

const WATER: &str = "00101-P-1-NA-N";

fn op(kind: &str, payload: Value) -> Value {
    json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": chrono::Utc::now() })
}

fn result(body: &Value, i: usize) -> &Value {
    &body["results"][i]["result"]
}

#[tokio::test]
async fn an_intake_through_the_html_form_moves_stock_once_and_is_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let before = app.stock("KIN-MAIN", WATER);
    let form = b.text(&format!("/hubs/{kin}/intakes/new")).await;
    assert!(form.contains("data-offline-form=\"intake.create\""));
    let fields = [
        ("csrf_token", hidden_in(&form, "csrf_token")),
        ("op_id", hidden_in(&form, "op_id")),
        ("record_id", hidden_in(&form, "record_id")),
        ("envelope", hidden_in(&form, "envelope")),
        ("donor", "Rotary Club of Kingston".into()),
        ("received_on", "2026-11-20".into()),
        ("line_sku", WATER.into()),
        ("line_qty", "40".into()),
        ("line_sku", "".into()),
        ("line_qty", "".into()),
    ];
    let res = b
        .client
        .post(b.url(&format!("/hubs/{kin}/intakes")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("/hubs/{kin}/intakes/")));
    assert_eq!(app.stock("KIN-MAIN", WATER), before + 40);
    let detail = b.text(&location).await;
    assert!(detail.contains("Rotary Club of Kingston") && detail.contains("Intake recorded"));

    // The same form posted again (double click, retry): a duplicate, stock unchanged.
    let res = b
        .client
        .post(b.url(&format!("/hubs/{kin}/intakes")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.stock("KIN-MAIN", WATER), before + 40);
    assert!(b
        .text(res.headers()["location"].to_str().unwrap())
        .await
        .contains("already saved"));

    // Exactly one audit row for the applied operation, with both roles and the offline flag.
    let op_id = &fields[1].1;
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE operation_id = '{op_id}' AND action = 'intake.create' AND outcome = 'applied' AND role_at_capture = 'WarehouseOp' AND role_at_apply = 'WarehouseOp' AND NOT offline")), 1);
    assert!(app.ledger_agrees());
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_duplicates_apply_once() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let before = app.stock("KIN-MAIN", WATER);
    let the_op = op(
        "intake.create",
        json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "WFP", "lines": [{ "sku": WATER, "quantity": 7 }] }),
    );
    let body = json!({ "operations": [the_op] });
    let (a, b, c) = tokio::join!(
        app.sync(&token, body.clone()),
        app.sync(&token, body.clone()),
        app.sync(&token, body.clone())
    );
    let statuses: Vec<String> = [a, b, c]
        .iter()
        .map(|(s, body)| {
            assert_eq!(*s, 200);
            result(body, 0)["status"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "applied").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "duplicate").count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(app.stock("KIN-MAIN", WATER), before + 7);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'intake.create'"),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn op_ids_are_scoped_to_their_actor() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let shared = Uuid::new_v4();
    let make = |donor: &str| json!({ "operations": [{ "op_id": shared, "kind": "intake.create", "captured_at": chrono::Utc::now(), "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": donor, "lines": [{ "sku": WATER, "quantity": 1 }] } }] });
    let (_, a) = app.sync(&app.token("warehouse").await, make("A")).await;
    let (_, b) = app.sync(&app.token("admin").await, make("B")).await;
    assert_eq!(result(&a, 0)["status"], "applied");
    assert_eq!(
        result(&b, 0)["status"],
        "applied",
        "another user's op id never answers with their result"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn distributions_edit_merge_conflict_confirm_and_refuse_negative_stock() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let have = app.stock("MBJ-SUB", WATER);
    let id = Uuid::new_v4();
    let (_, r) = app.sync(&depot, json!({ "operations": [op("distribution.create", json!({ "distribution_id": id, "hub_id": mbj, "recipient": "Montego Bay Primary School Shelter", "lines": [{ "sku": WATER, "quantity": 2 }] }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");

    // Two devices edit version 1: different fields merge; the same field conflicts.
    let edit = |payload: Value| json!({ "op_id": Uuid::new_v4(), "kind": "distribution.update", "base_version": 1, "captured_at": chrono::Utc::now(), "payload": payload });
    let (_, r) = app.sync(&depot, json!({ "operations": [
        edit(json!({ "distribution_id": id, "hub_id": mbj, "notes": "Deliver to the side gate" })),
        edit(json!({ "distribution_id": id, "hub_id": mbj, "recipient": "MoBay Primary — Block B" })),
        edit(json!({ "distribution_id": id, "hub_id": mbj, "notes": "Deliver to the front office" })),
    ] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");
    assert_eq!(
        result(&r, 1)["status"],
        "applied",
        "a non-overlapping field merges: {}",
        result(&r, 1)
    );
    assert_eq!(result(&r, 2)["status"], "conflict");
    assert!(result(&r, 2)["reason"].as_str().unwrap().contains("notes"));
    assert_eq!(
        result(&r, 2)["server_state"]["notes"],
        "Deliver to the side gate"
    );
    // The conflict waits in the depot's review queue; the server's data was not overridden.
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM operations WHERE status = 'conflict' AND resolved_at IS NULL AND hub_id = {mbj}")), 1);
    let queue = app.signed_in("depot").await.text("/review").await;
    assert!(queue.contains("Distribution change"));

    // Confirming asks for more than the hub has: refused, nothing moves.
    let big = Uuid::new_v4();
    let (_, r) = app.sync(&depot, json!({ "operations": [
        op("distribution.create", json!({ "distribution_id": big, "hub_id": mbj, "recipient": "Too many", "lines": [{ "sku": WATER, "quantity": have + 1000 }] })),
        op("distribution.confirm", json!({ "distribution_id": big, "hub_id": mbj })),
        op("distribution.confirm", json!({ "distribution_id": id, "hub_id": mbj })),
    ] })).await;
    assert_eq!(result(&r, 1)["status"], "rejected");
    assert!(result(&r, 1)["reason"]
        .as_str()
        .unwrap()
        .contains("not enough stock"));
    assert_eq!(result(&r, 2)["status"], "applied");
    assert_eq!(app.stock("MBJ-SUB", WATER), have - 2);

    // Editing after confirmation is refused, as is confirming twice; deletion vs update likewise.
    let (_, r) = app.sync(&depot, json!({ "operations": [
        json!({ "op_id": Uuid::new_v4(), "kind": "distribution.update", "base_version": 4, "captured_at": chrono::Utc::now(), "payload": { "distribution_id": id, "hub_id": mbj, "notes": "late" } }),
        op("distribution.confirm", json!({ "distribution_id": id, "hub_id": mbj })),
        op("distribution.cancel", json!({ "distribution_id": big, "hub_id": mbj })),
        json!({ "op_id": Uuid::new_v4(), "kind": "distribution.update", "base_version": 1, "captured_at": chrono::Utc::now(), "payload": { "distribution_id": big, "hub_id": mbj, "notes": "after cancel" } }),
    ] })).await;
    assert!(result(&r, 0)["reason"]
        .as_str()
        .unwrap()
        .contains("confirmed"));
    assert_eq!(result(&r, 1)["status"], "rejected");
    assert_eq!(result(&r, 2)["status"], "applied");
    assert_eq!(result(&r, 3)["status"], "rejected");
    assert!(result(&r, 3)["reason"]
        .as_str()
        .unwrap()
        .contains("cancelled"));
    assert!(app.ledger_agrees());
    app.shutdown().await;
}

#[tokio::test]
async fn a_rejected_operation_rejects_its_dependents_and_nothing_else() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let bad = Uuid::new_v4();
    let bad_op = op(
        "distribution.create",
        json!({ "distribution_id": bad, "hub_id": mbj, "recipient": "X", "lines": [{ "sku": "NO-SUCH-SKU", "quantity": 1 }] }),
    );
    let bad_op_id = bad_op["op_id"].as_str().unwrap().to_string();
    let (_, r) = app.sync(&depot, json!({ "operations": [
        bad_op,
        op("distribution.confirm", json!({ "distribution_id": bad, "hub_id": mbj })),
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": mbj, "donor": "Food For The Poor", "lines": [{ "sku": WATER, "quantity": 3 }] })),
    ] })).await;
    assert_eq!(result(&r, 0)["status"], "rejected");
    assert!(result(&r, 0)["reason"]
        .as_str()
        .unwrap()
        .contains("unknown item NO-SUCH-SKU"));
    assert_eq!(result(&r, 1)["status"], "rejected");
    assert!(
        result(&r, 1)["reason"]
            .as_str()
            .unwrap()
            .contains(&bad_op_id),
        "names the operation it depended on: {}",
        result(&r, 1)
    );
    assert_eq!(
        result(&r, 2)["status"],
        "applied",
        "an unrelated operation still applies"
    );
    // Nothing of the refused distribution was half-written.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM distributions WHERE id = '{bad}'"
        )),
        0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn out_of_scope_operations_are_rejected_and_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let driver = app.token("driver").await;
    let hra = app.hub_id("HRA-PORT");
    let kin = app.hub_id("KIN-MAIN");
    let (_, r) = app.sync(&driver, json!({ "operations": [
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": hra, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] })),
        op("distribution.create", json!({ "distribution_id": Uuid::new_v4(), "hub_id": kin, "recipient": "X", "lines": [{ "sku": WATER, "quantity": 1 }] })),
    ] })).await;
    assert_eq!(result(&r, 0)["status"], "rejected");
    assert!(
        result(&r, 0)["reason"]
            .as_str()
            .unwrap()
            .contains("may not"),
        "drivers do not record intakes: {}",
        result(&r, 0)
    );
    assert_eq!(result(&r, 1)["status"], "rejected");
    assert!(result(&r, 1)["reason"]
        .as_str()
        .unwrap()
        .contains("outside your scope"));
    assert!(!r.to_string().contains("Port Antonio"));
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE actor_name = 'driver' AND outcome = 'rejected' AND action IN ('intake.create', 'distribution.create')"), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn approvals_captured_offline_wait_for_online_confirmation() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.token("depot").await;
    let logistics = app.token("logistics").await;
    let (mbj, kin) = (app.hub_id("MBJ-SUB"), app.hub_id("KIN-MAIN"));
    let list = Uuid::new_v4();
    let (_, r) = app.sync(&depot, json!({ "operations": [
        op("needs_list.create", json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 48", "lines": [{ "sku": WATER, "quantity": 30 }] })),
        op("needs_list.submit", json!({ "needs_list_id": list, "hub_id": mbj })),
    ] })).await;
    assert_eq!(result(&r, 1)["status"], "applied");

    // The logistics manager approves while offline: accepted as pending review, nothing changes.
    let transfer = Uuid::new_v4();
    let decide = json!({ "op_id": Uuid::new_v4(), "kind": "needs_list.decide", "offline": true, "envelope": app.envelope("logistics", "needs_list.decide", mbj, 3600),
        "captured_at": chrono::Utc::now(), "payload": { "needs_list_id": list, "hub_id": mbj, "decision": "approve", "transfer_from_hub_id": kin, "transfer_id": transfer } });
    let (_, r) = app
        .sync(&logistics, json!({ "operations": [decide] }))
        .await;
    assert_eq!(result(&r, 0)["status"], "pending_review");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM needs_lists WHERE id = '{list}' AND status = 'submitted'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transfers WHERE id = '{transfer}'"
        )),
        0
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'needs_list.decide' AND outcome = 'pending_review' AND offline"), 1);

    // Online, the manager confirms it from the review queue: now it takes effect.
    let lm = app.signed_in("logistics").await;
    let item = app.id_of_uuid("SELECT id FROM operations WHERE status = 'pending_review'");
    let res = lm
        .post_form(
            &format!("/review/{item}"),
            &[
                ("action", "accept"),
                ("op_id", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM needs_lists WHERE id = '{list}' AND status = 'approved'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transfers WHERE id = '{transfer}' AND status = 'approved'"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'review.resolved' AND outcome = 'accepted'"), 1);

    // A second decision on an already approved list is refused (a dependent-operation conflict).
    let again = op(
        "needs_list.decide",
        json!({ "needs_list_id": list, "hub_id": mbj, "decision": "reject", "note": "changed my mind" }),
    );
    let (_, r) = app.sync(&logistics, json!({ "operations": [again] })).await;
    assert_eq!(result(&r, 0)["status"], "rejected");
    assert!(result(&r, 0)["reason"]
        .as_str()
        .unwrap()
        .contains("approved"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_transfer_goes_from_dispatch_to_partial_receipt_with_stock_in_transit() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let (kin_before, mbj_before) = (app.stock("KIN-MAIN", WATER), app.stock("MBJ-SUB", WATER));
    let depot = app.token("depot").await;
    let logistics = app.token("logistics").await;
    let warehouse = app.token("warehouse").await;
    let t = Uuid::new_v4();
    let (_, r) = app.sync(&depot, json!({ "operations": [op("transfer.request", json!({ "transfer_id": t, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": WATER, "quantity": 10 }] }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");
    let (_, r) = app.sync(&logistics, json!({ "operations": [op("transfer.approve", json!({ "transfer_id": t, "hub_id": kin }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");
    let (_, r) = app.sync(&warehouse, json!({ "operations": [op("transfer.dispatch", json!({ "transfer_id": t, "hub_id": kin }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied", "{}", result(&r, 0));
    assert_eq!(app.stock("KIN-MAIN", WATER), kin_before - 10);
    // In transit, visible at both ends.
    let depot_page = app
        .signed_in("depot")
        .await
        .text(&format!("/hubs/{mbj}/transfers"))
        .await;
    assert!(
        depot_page.contains("dispatched") && depot_page.contains(">10<"),
        "{depot_page}"
    );
    // A status reads the same on the detail page as in the list: a word, capitalised.
    let detail = app
        .signed_in("depot")
        .await
        .text(&format!("/hubs/{mbj}/transfers/{t}"))
        .await;
    assert!(
        detail.contains("status-dispatched\">Dispatched<"),
        "{detail}"
    );
    // Receipt of 8: without a note it is refused; with one it records the discrepancy.
    let (_, r) = app.sync(&depot, json!({ "operations": [op("transfer.receive", json!({ "transfer_id": t, "hub_id": mbj, "lines": [{ "line_no": 1, "quantity": 8 }] }))] })).await;
    assert_eq!(result(&r, 0)["status"], "rejected");
    let (_, r) = app.sync(&depot, json!({ "operations": [op("transfer.receive", json!({ "transfer_id": t, "hub_id": mbj, "lines": [{ "line_no": 1, "quantity": 8 }], "note": "two cases crushed" }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");
    assert_eq!(app.stock("MBJ-SUB", WATER), mbj_before + 8);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM transfers WHERE id = '{t}' AND status = 'received' AND discrepancy_note LIKE '%short by 2%'")), 1);
    assert!(app.ledger_agrees());
    // Issue 27, finding 3: the two that never arrived are short, not "in transit" under a
    // received transfer, on its page and in the list.
    let depot = app.signed_in("depot").await;
    let detail = depot.text(&format!("/hubs/{mbj}/transfers/{t}")).await;
    assert!(!detail.contains("In transit"), "{detail}");
    assert!(
        detail.contains(">Short<") && detail.contains("<td class=\"num\">2</td>"),
        "{detail}"
    );
    let list = depot.text(&format!("/hubs/{mbj}/transfers")).await;
    assert!(!list.contains("class=\"num\">2<"), "{list}");
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_per_operation_and_writes_nothing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let intakes_before = app.count("SELECT count(*) AS n FROM intakes");
    let ledger_before = app.count("SELECT count(*) AS n FROM stock_ledger");
    let (status, r) = app.sync(&token, json!({ "operations": [
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": -5 }] })),
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 5_000_000 }] })),
        op("intake.create", json!({ "intake_id": "not-a-uuid", "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] })),
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": "kingston", "donor": "X", "lines": [] })),
        op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }, { "sku": "00999-Z-9-NA-N", "quantity": 1 }] })),
        { "op_id": "nope", "kind": "intake.create" },
        op("teleport.create", json!({})),
    ] })).await;
    assert_eq!(status, 200);
    let reasons: Vec<String> = (0..7)
        .map(|i| {
            result(&r, i)["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for i in 0..7 {
        assert_eq!(
            result(&r, i)["status"],
            "rejected",
            "{i}: {}",
            result(&r, i)
        );
    }
    assert!(reasons[0].contains("more than zero"), "{}", reasons[0]);
    assert!(reasons[1].contains("at most 1000000"), "{}", reasons[1]);
    assert!(
        reasons[2].contains("UUID") || reasons[2].contains("uuid"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("invalid type"), "{}", reasons[3]);
    assert!(
        reasons[4].contains("unknown item 00999-Z-9-NA-N"),
        "{}",
        reasons[4]
    );
    assert!(
        reasons[6].contains("unknown operation kind"),
        "{}",
        reasons[6]
    );
    // The half-good intake (one good line, one unknown) left nothing behind.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM intakes"),
        intakes_before
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM stock_ledger"),
        ledger_before
    );

    // An oversized batch is refused whole with a problem document.
    let many: Vec<Value> = (0..201).map(|_| op("intake.create", json!({}))).collect();
    let (status, body) = app.sync(&token, json!({ "operations": many })).await;
    assert_eq!(status, 422);
    assert!(body["detail"].as_str().unwrap().contains("at most 200"));
    // Not JSON at all.
    let res = app
        .client
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    app.shutdown().await;
}

#[tokio::test]
async fn replays_need_a_genuine_recent_envelope_of_the_same_user() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let replay = |envelope: Option<String>| {
        json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "offline": true, "envelope": envelope, "captured_at": chrono::Utc::now(),
        "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] } })
    };
    let (_, r) = app
        .sync(
            &token,
            json!({ "operations": [
        replay(None),
        replay(Some(app.envelope("sales", "intake.create", kin, 60))),
        replay(Some(app.envelope("warehouse", "intake.create", kin, 8 * 86400))),
        replay(Some(app.envelope("warehouse", "distribution.create", kin, 60))),
        replay(Some(format!("{}x", app.envelope("warehouse", "intake.create", kin, 60)))),
        replay(Some(app.envelope("warehouse", "intake.create", kin, 60))),
    ] }),
        )
        .await;
    let reasons: Vec<String> = (0..6)
        .map(|i| {
            result(&r, i)["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(reasons[0].contains("missing"), "{reasons:?}");
    assert!(reasons[1].contains("another user"), "{reasons:?}");
    assert!(reasons[2].contains("older than 7 days"), "{reasons:?}");
    assert!(reasons[3].contains("another kind"), "{reasons:?}");
    assert!(reasons[4].contains("not genuine"), "{reasons:?}");
    assert_eq!(result(&r, 5)["status"], "applied");
    // The audit row keeps the role at capture (from the envelope) and marks it offline.
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'intake.create' AND outcome = 'applied' AND offline AND role_at_capture = 'WarehouseOp'"), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_replayed_form_needs_no_csrf_token_but_its_envelope() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let form = b.text(&format!("/hubs/{kin}/intakes/new")).await;
    let fields = |envelope: &str| {
        vec![
            ("op_id", Uuid::new_v4().to_string()),
            ("record_id", Uuid::new_v4().to_string()),
            ("envelope", envelope.to_string()),
            (
                "captured_at",
                (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
            ),
            ("donor", "Offline donor".to_string()),
            ("line_sku", WATER.to_string()),
            ("line_qty", "2".to_string()),
        ]
    };
    // Without the replay header and without a CSRF token: refused.
    let res = b
        .client
        .post(b.url(&format!("/hubs/{kin}/intakes")))
        .form(&fields(&hidden_in(&form, "envelope")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // With the header but a forged envelope: rejected by the pipeline.
    let res = b
        .client
        .post(b.url(&format!("/hubs/{kin}/intakes")))
        .header("X-Outpost-Replay", "1")
        .form(&fields("forged.00"))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "rejected");
    // With the header and the form's envelope: applied, and answered as JSON for the service worker.
    let res = b
        .client
        .post(b.url(&format!("/hubs/{kin}/intakes")))
        .header("X-Outpost-Replay", "1")
        .form(&fields(&hidden_in(&form, "envelope")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "applied");
    assert_eq!(app.count("SELECT count(*) AS n FROM operations WHERE offline AND status = 'applied' AND captured_at < now() - interval '2 hours'"), 1);
    // Admin pages never accept the replay header in place of a CSRF token.
    let res = b
        .client
        .post(b.url("/logout"))
        .header("X-Outpost-Replay", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.shutdown().await;
}

/// The service worker sends a queue as the forms it saved, many per request, through the sync
/// API: each is read as its page reads it, in order, each answered where it stands.
#[tokio::test]
async fn a_device_sends_its_saved_forms_in_one_batch_through_the_sync_api() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let mbj = app.hub_id("MBJ-SUB");
    let before = app.stock("KIN-MAIN", WATER);
    let mbj_before = app.stock("MBJ-SUB", WATER);
    let page = b.text(&format!("/hubs/{kin}/intakes/new")).await;
    let envelope = hidden_in(&page, "envelope");
    let captured = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    let intake = |donor: &str, qty: &str| {
        serde_urlencoded::to_string([
            ("op_id", Uuid::new_v4().to_string()),
            ("record_id", Uuid::new_v4().to_string()),
            ("envelope", envelope.clone()),
            ("captured_at", captured.clone()),
            ("device_id", "dev-batch".to_string()),
            ("donor", donor.to_string()),
            ("line_sku", WATER.to_string()),
            ("line_qty", qty.to_string()),
        ])
        .unwrap()
    };
    let form = |action: String, body: String| json!({ "form": { "action": action, "body": body } });
    let items = vec![
        form(format!("/hubs/{kin}/intakes"), intake("Batch donor 1", "5")),
        form(
            format!("/hubs/{kin}/intakes"),
            intake("Bad quantity", "two"),
        ),
        form(format!("/hubs/{kin}/nowhere"), intake("Nowhere", "1")),
        // Another hub's form, with this hub's envelope: refused by scope and envelope.
        form(format!("/hubs/{mbj}/intakes"), intake("Other hub", "1")),
        op(
            "intake.create",
            json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "Plain", "lines": [{ "sku": WATER, "quantity": 1 }] }),
        ),
        form(
            format!("/hubs/{kin}/intakes"),
            intake("Batch donor \u{0}2", "7"),
        ),
        form(
            format!("/hubs/{kin}/intakes"),
            intake("Batch donor 3", "11"),
        ),
    ];
    let send = |items: Vec<Value>, replay: bool| {
        let mut req = b
            .client
            .post(b.url("/api/v1/sync"))
            .json(&json!({ "operations": items }));
        if replay {
            req = req.header("X-Outpost-Replay", "1");
        }
        req.send()
    };
    // Neither a CSRF token nor the replay header: refused whole.
    assert_eq!(send(items.clone(), false).await.unwrap().status(), 403);
    let res = send(items.clone(), true).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let statuses: Vec<&str> = (0..7)
        .map(|i| result(&body, i)["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
        ["applied", "rejected", "rejected", "rejected", "rejected", "rejected", "applied"],
        "{body:#}"
    );
    let said = |i: usize| result(&body, i).to_string();
    assert!(said(1).contains("lines[1].quantity"), "{}", said(1));
    assert!(
        said(2).contains("not a form that can be saved offline"),
        "{}",
        said(2)
    );
    assert!(said(4).contains("sends the forms it saved"), "{}", said(4));
    assert!(said(5).contains("control"), "{}", said(5));
    assert_eq!(app.stock("KIN-MAIN", WATER), before + 16);
    assert_eq!(app.stock("MBJ-SUB", WATER), mbj_before);
    assert_eq!(app.count("SELECT count(*) AS n FROM operations WHERE kind = 'intake.create' AND status = 'applied' AND offline AND device_id = 'dev-batch' AND captured_at < now() - interval '2 hours'"), 2);
    // Sent again (the answer was lost): the same answers, nothing applied twice.
    let again: Value = send(items, true).await.unwrap().json().await.unwrap();
    assert_eq!(result(&again, 0)["status"], "duplicate");
    assert_eq!(result(&again, 0)["original_status"], "applied");
    assert_eq!(app.stock("KIN-MAIN", WATER), before + 16);
    app.shutdown().await;
}

/// A sale saved and confirmed in one offline entry: the confirmation is sent only when the cart
/// was saved, in a batch as online.
#[tokio::test]
async fn a_batched_sale_is_confirmed_only_when_its_cart_was_saved() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("sales").await;
    let kin = app.hub_id("KIN-MAIN");
    let shelter = app.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    let before = app.stock("KIN-MAIN", WATER);
    let page = b.text(&format!("/hubs/{kin}/sales/new")).await;
    let sale = |customer: String, qty: &str| {
        let body = serde_urlencoded::to_string([
            ("op_id", Uuid::new_v4().to_string()),
            ("record_id", Uuid::new_v4().to_string()),
            ("envelope", hidden_in(&page, "envelope")),
            ("confirm_envelope", hidden_in(&page, "confirm_envelope")),
            ("captured_at", chrono::Utc::now().to_rfc3339()),
            ("customer_id", customer),
            ("line_item", WATER.to_string()),
            ("line_qty", qty.to_string()),
            ("then", "confirm".to_string()),
        ])
        .unwrap();
        json!({ "form": { "action": format!("/hubs/{kin}/sales"), "body": body } })
    };
    let res = b
        .client
        .post(b.url("/api/v1/sync"))
        .header("X-Outpost-Replay", "1")
        .json(&json!({ "operations": [
            sale(String::new(), "1"),
            sale(shelter.to_string(), "3"),
            sale(shelter.to_string(), "2"),
        ] }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(result(&body, 0)["status"], "rejected", "{body:#}");
    assert_eq!(result(&body, 1)["status"], "applied", "{body:#}");
    assert_eq!(result(&body, 2)["status"], "applied", "{body:#}");
    assert_eq!(app.stock("KIN-MAIN", WATER), before - 5);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM sales WHERE status = 'confirmed'"),
        2
    );
    // The refused cart's confirmation was never sent.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE kind = 'sale.confirm'"),
        2
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_html_form_shows_errors_and_keeps_what_was_typed() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let form = b.text(&format!("/hubs/{mbj}/distributions/new")).await;
    let res = b
        .client
        .post(b.url(&format!("/hubs/{mbj}/distributions")))
        .form(&[
            ("csrf_token", hidden_in(&form, "csrf_token")),
            ("op_id", hidden_in(&form, "op_id")),
            ("record_id", hidden_in(&form, "record_id")),
            ("envelope", hidden_in(&form, "envelope")),
            ("recipient", "Savanna-la-Mar Community Kitchen".into()),
            ("line_sku", "00999-Z-9-NA-N".into()),
            ("line_qty", "4".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Nothing was saved") && html.contains("unknown item 00999-Z-9-NA-N"));
    assert!(
        html.contains("value=\"Savanna-la-Mar Community Kitchen\"")
            && html.contains("value=\"00999-Z-9-NA-N\"")
    );
    // A fresh op id for the corrected submission (the refused one is spent).
    assert_ne!(hidden_in(&html, "op_id"), hidden_in(&form, "op_id"));
    assert_eq!(hidden_in(&html, "record_id"), hidden_in(&form, "record_id"));
    app.shutdown().await;
}

#[tokio::test]
async fn pull_gives_a_scoped_delta() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("depot").await;
    let res = app
        .client
        .get(app.url("/api/v1/sync/pull?since=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let all: Value = res.json().await.unwrap();
    let mbj = app.hub_id("MBJ-SUB");
    assert!(!all["stock"].as_array().unwrap().is_empty());
    assert!(
        all["stock"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["hub_id"] == mbj),
        "only the depot's hub"
    );
    let since = all["server_time"].as_str().unwrap().to_string();
    app.sync(&token, json!({ "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": mbj, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] }))] })).await;
    let delta: Value = app
        .client
        .get(app.url(&format!(
            "/api/v1/sync/pull?since={}",
            since.replace('+', "%2B")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delta["stock"].as_array().unwrap().len(), 1);
    assert_eq!(delta["operations"][0]["status"], "applied");
    let bad = app
        .client
        .get(app.url("/api/v1/sync/pull?since=yesterday"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.shutdown().await;
}

/// A pull since 0 after a long time comes a page at a time: each of the caller's operations
/// once, in order, across the pages; the whole sections (stock) in the first only; one
/// `server_time` for them all; a bad limit or cursor is a 400.
#[tokio::test]
async fn a_pull_pages_the_callers_operations_each_once() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let batch: Vec<Value> = (0..7)
        .map(|n| op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": mbj, "donor": format!("Donor {n}"), "lines": [{ "sku": WATER, "quantity": 1 }] })))
        .collect();
    let sent: Vec<Value> = batch.iter().map(|o| o["op_id"].clone()).collect();
    let (s, _) = app.sync(&token, json!({ "operations": batch })).await;
    assert_eq!(s, 200);
    let get = |path: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let res = app
                .client
                .get(app.url(&path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or_default())
        }
    };
    let (mut seen, mut pages, mut times) = (Vec::new(), 0, Vec::new());
    let mut next = Some("/api/v1/sync/pull?since=0&limit=3".to_string());
    while let Some(path) = next {
        let (s, answer) = get(path).await;
        assert_eq!(s, 200, "{answer}");
        assert!(
            answer["operations"].as_array().unwrap().len() <= 3,
            "{answer}"
        );
        assert_eq!(
            answer["stock"].as_array().unwrap().is_empty(),
            pages > 0,
            "{answer}"
        );
        seen.extend(
            answer["operations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["op_id"].clone()),
        );
        times.push(answer["server_time"].clone());
        next = answer["next"].as_str().map(str::to_string);
        assert_eq!(answer["more"], next.is_some(), "{answer}");
        pages += 1;
        assert!(pages < 10, "the pages end");
    }
    assert_eq!(pages, 3, "7 operations, 3 a page");
    let sorted = |v: &[Value]| {
        let mut v: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&seen), sorted(&sent), "each once");
    assert!(times.windows(2).all(|w| w[0] == w[1]), "{times:?}");
    // limit=0: the whole sections alone (what a station asks for).
    let (s, bare) = get("/api/v1/sync/pull?since=0&limit=0".into()).await;
    assert_eq!(s, 200);
    assert!(
        bare["operations"].as_array().unwrap().is_empty() && bare["more"] == true,
        "{bare}"
    );
    assert!(!bare["stock"].as_array().unwrap().is_empty());
    for bad in [
        "limit=-1",
        "limit=1001",
        "limit=many",
        "after=%7Bnope",
        "after=%00",
    ] {
        let (s, problem) = get(format!("/api/v1/sync/pull?since=0&{bad}")).await;
        assert_eq!(s, 400, "{bad}: {problem}");
        assert!(problem["detail"].as_str().is_some(), "{bad}: {problem}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_device_whose_queue_vanished_is_flagged_for_admins() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let device = "dev-tablet-0001";
    let (s, _) = app
        .sync(
            &token,
            json!({ "device_id": device, "pending_count": 3, "highest_seq": 3, "operations": [] }),
        )
        .await;
    assert_eq!(s, 200);
    // One of the three arrives; the device then says it holds none: two vanished.
    app.sync(&token, json!({ "device_id": device, "pending_count": 0, "highest_seq": 3, "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] }))] })).await;
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM devices WHERE id = '{device}' AND flagged_at IS NOT NULL AND flag_reason LIKE '2 queued%'")), 1);
    let admin = app.signed_in("admin").await;
    assert!(admin
        .text("/")
        .await
        .contains("Device dev-tablet-0001 of warehouse: 2 queued entries disappeared"));
    // A device that reports honestly is not flagged.
    app.sync(&token, json!({ "device_id": "dev-phone-0002", "pending_count": 1, "highest_seq": 1, "operations": [] })).await;
    app.sync(&token, json!({ "device_id": "dev-phone-0002", "pending_count": 0, "highest_seq": 1, "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "Y", "lines": [{ "sku": WATER, "quantity": 1 }] }))] })).await;
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM devices WHERE id = 'dev-phone-0002' AND flagged_at IS NULL"
        ),
        1
    );
    // The arrivals the reports compare with are kept as operations are recorded, and agree with
    // the operations themselves.
    let disagreeing = app.count(
        "SELECT count(*) AS n FROM ( \
           (SELECT user_id, device_id, n FROM device_arrivals WHERE n <> 0 \
            EXCEPT SELECT actor_id, device_id, count(*) FROM operations \
              WHERE device_id IS NOT NULL GROUP BY 1, 2) \
           UNION ALL \
           (SELECT actor_id, device_id, count(*) FROM operations \
              WHERE device_id IS NOT NULL GROUP BY 1, 2 \
            EXCEPT SELECT user_id, device_id, n FROM device_arrivals)) d",
    );
    assert_eq!(disagreeing, 0);
    assert_eq!(
        app.count("SELECT n FROM device_arrivals WHERE device_id = 'dev-tablet-0001'"),
        1
    );
    app.shutdown().await;
}

/// Intakes in a batch raise stock levels at the end of their chunk (`ledger::Deferral`), so
/// devices of one hub do not queue on its levels' locks. Whatever reads a level in between sees
/// every increase before it, and a refused intake's increase goes with its savepoint: here a
/// count made after an intake counts against the level including that intake, and not the
/// refused one's.
#[tokio::test]
async fn levels_raised_in_a_batch_are_seen_by_the_next_operations_and_refused_ones_leave_nothing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("depot").await;
    let hub = app.first_hub_of("depot");
    let level = || {
        app.count(&format!(
            "SELECT coalesce(sum(quantity), 0)::bigint AS n FROM stock_levels l \
             JOIN product_variants v ON v.id = l.variant_id \
             WHERE l.hub_id = {hub} AND v.full_sku = '{WATER}'"
        ))
    };
    let before = level();
    let intake = |lines: Value| {
        json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
            "payload": { "intake_id": Uuid::new_v4(), "hub_id": hub, "donor": "Batch donor", "lines": lines } })
    };
    let count = json!({ "op_id": Uuid::new_v4(), "kind": "stock.adjust", "captured_at": chrono::Utc::now(),
        "base_version": before + 5,
        "payload": { "adjustment_id": Uuid::new_v4(), "hub_id": hub, "sku": WATER, "counted": 2, "reason": "count" } });
    let ops = json!([
        intake(json!([{ "sku": WATER, "quantity": 5 }])),
        intake(json!([{ "sku": WATER, "quantity": 7 }, { "sku": "NO-SUCH-SKU-1", "quantity": 1 }])),
        count,
        intake(json!([{ "sku": WATER, "quantity": 4 }])),
    ]);
    let (status, body) = app.sync(&token, json!({ "operations": ops })).await;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<&str> = (0..4)
        .map(|i| result(&body, i)["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["applied", "rejected", "applied", "applied"],
        "{body}"
    );
    assert_eq!(level(), 2 + 4);
    assert!(app.ledger_agrees());
    app.shutdown().await;
}

/// Issue 28: a write the role may not make at all is refused as forbidden before its payload
/// is read. With a NUL in the payload it answered 422 (a validation error), and the attempt
/// never read as a denial in the audit log.
#[tokio::test]
async fn a_forbidden_write_is_refused_as_forbidden_whatever_its_payload_holds() {
    let app = TestApp::builder().with_demo_world().start().await;
    let driver = app.token("driver").await;
    let kin = app.hub_id("KIN-MAIN");
    let (status, r) = app.sync(&driver, json!({ "operations": [op("stock.adjust", json!({ "adjustment_id": Uuid::new_v4(), "hub_id": kin, "sku": WATER, "counted": 1, "reason": "count", "note": "bad\u{0}note" }))] })).await;
    assert_eq!(status, 200, "{r}");
    let result = result(&r, 0);
    assert_eq!(result["status"], "rejected", "{result}");
    assert!(
        result["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("may not"),
        "{result}"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'stock.adjust' AND actor_name = 'driver' AND outcome = 'rejected'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE kind = 'stock.adjust' AND payload::text LIKE '%\\\\u0000%'"),
        0,
        "the stored payload holds no NUL"
    );
}

/// Issue 30: an empty review queue told a manager "Everything you sent has been applied" —
/// Sync Issues' words, about the manager's own entries, not the hub's decisions.
#[tokio::test]
async fn an_empty_review_queue_speaks_of_decisions() {
    let app = TestApp::builder().with_demo_world().start().await;
    let page = app.signed_in("logistics").await.text("/review").await;
    assert!(
        page.contains("Nothing waits for a decision at your hubs."),
        "{page}"
    );
    assert!(!page.contains("Everything you sent"), "{page}");
}
