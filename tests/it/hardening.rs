//! Regression tests for what trying Outpost as its users and as an attacker found (issue 10):
//! nothing a user typed or queued is lost or recorded wrong, nothing leaks. The browser items
//! are in `offline_hardening`.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{hidden_in, TestApp};
use crate::hub_pages::{location, submit};

const WATER: &str = "00101-P-1-NA-N";

fn op(kind: &str, payload: Value) -> Value {
    json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": chrono::Utc::now() })
}

fn result(body: &Value, i: usize) -> &Value {
    &body["results"][i]["result"]
}

/// Item 1: a refused step comes back with what the user typed, for every action form.
#[tokio::test]
async fn refused_forms_come_back_with_what_was_typed() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let depot = app.signed_in("depot").await;
    let warehouse = app.signed_in("warehouse").await;
    let lm = app.signed_in("logistics").await;
    let kin_s = kin.to_string();

    // A transfer of 40 is requested, approved and dispatched.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/transfers/new"),
        &format!("/hubs/{mbj}/transfers"),
        &[
            ("from_hub_id", &kin_s),
            ("line_sku", WATER),
            ("line_qty", "40"),
        ],
    )
    .await;
    let id = location(&res).rsplit('/').next().unwrap().to_string();
    let (kin_detail, mbj_detail) = (
        format!("/hubs/{kin}/transfers/{id}"),
        format!("/hubs/{mbj}/transfers/{id}"),
    );
    submit(
        &lm,
        &kin_detail,
        &format!("/hubs/{kin}/actions/transfer.approve"),
        &[],
    )
    .await;
    submit(
        &warehouse,
        &kin_detail,
        &format!("/hubs/{kin}/actions/transfer.dispatch"),
        &[("line_no", "1"), ("qty_1", "40")],
    )
    .await;

    // 38 arrived and the note is forgotten: refused, and the page shows 38, not 40.
    let res = submit(
        &depot,
        &mbj_detail,
        &format!("/hubs/{mbj}/actions/transfer.receive"),
        &[("line_no", "1"), ("qty_1", "38")],
    )
    .await;
    assert_eq!(location(&res), mbj_detail);
    let page = depot.text(&mbj_detail).await;
    assert!(page.contains("Not done"), "{page}");
    assert!(
        page.contains("name=\"qty_1\" type=\"number\" min=\"0\" max=\"1000000\" value=\"38\""),
        "{page}"
    );
    // With the note added, 38 is what is recorded.
    submit(
        &depot,
        &mbj_detail,
        &format!("/hubs/{mbj}/actions/transfer.receive"),
        &[
            ("line_no", "1"),
            ("qty_1", "38"),
            ("note", "2 cartons crushed"),
        ],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT received_qty::bigint AS n FROM transfer_lines WHERE transfer_id = '{id}'"
        )),
        38
    );
    // The page shown after success has the defaults again (the echo is used once).
    assert!(!depot
        .text(&mbj_detail)
        .await
        .contains("2 cartons crushed\""));

    // A needs list decision refused (reject needs a note) keeps decision and quantities.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/needs-lists/new"),
        &format!("/hubs/{mbj}/needs-lists"),
        &[
            ("title", "Week 49"),
            ("line_sku", WATER),
            ("line_qty", "20"),
        ],
    )
    .await;
    let list = location(&res);
    submit(
        &depot,
        &list,
        &format!("/hubs/{mbj}/actions/needs_list.submit"),
        &[],
    )
    .await;
    submit(
        &lm,
        &list,
        &format!("/hubs/{mbj}/actions/needs_list.decide"),
        &[
            ("decision", "reject"),
            ("line_no", "1"),
            ("qty_1", "7"),
            ("transfer_from_hub_id", &kin_s),
        ],
    )
    .await;
    let page = lm.text(&list).await;
    assert!(page.contains("Not done"), "{page}");
    assert!(page.contains("value=\"reject\" selected"), "{page}");
    assert!(page.contains("value=\"7\""), "{page}");
    assert!(
        page.contains(&format!("value=\"{kin}\" selected")),
        "{page}"
    );

    // A draft distribution edit that is refused keeps the recipient and the lines typed.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/distributions/new"),
        &format!("/hubs/{mbj}/distributions"),
        &[
            ("recipient", "Shelter A"),
            ("line_sku", WATER),
            ("line_qty", "1"),
        ],
    )
    .await;
    let dist = location(&res);
    submit(
        &depot,
        &dist,
        &format!("/hubs/{mbj}/actions/distribution.update"),
        &[
            ("recipient", "Shelter B"),
            ("line_sku", "NO-SUCH-SKU"),
            ("line_qty", "3"),
        ],
    )
    .await;
    let page = depot.text(&dist).await;
    assert!(page.contains("Not done"), "{page}");
    assert!(page.contains("value=\"Shelter B\""), "{page}");
    assert!(page.contains("value=\"NO-SUCH-SKU\""), "{page}");

    // Admin forms: a hub whose code is taken comes back with the name typed.
    let admin = app.signed_in("admin").await;
    let orgs = admin.text("/admin/organisations").await;
    let org = hidden_in(&orgs, "organisation_id");
    let res = admin
        .post_form(
            "/admin/hubs",
            &[
                ("organisation_id", &org),
                ("form", "hub"),
                ("code", "KIN-MAIN"),
                ("name", "Spanish Town Depot"),
                ("kind", "sub"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("value=\"Spanish Town Depot\""), "{page}");
    assert!(page.contains("value=\"KIN-MAIN\""), "{page}");
    app.shutdown().await;
}

/// Item 2: each resolution attempt is its own operation; a refused attempt never turns into
/// "applied" on the next one.
#[tokio::test]
async fn a_refused_resolution_is_never_reported_as_applied() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.token("depot").await;
    let (mbj, kin) = (app.hub_id("MBJ-SUB"), app.hub_id("KIN-MAIN"));
    let transfer = Uuid::new_v4();
    let request = json!({ "op_id": Uuid::new_v4(), "kind": "transfer.request", "offline": true,
        "envelope": app.envelope("depot", "transfer.request", mbj, 600), "captured_at": chrono::Utc::now(),
        "payload": { "transfer_id": transfer, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": WATER, "quantity": 4 }] } });
    let (_, r) = app.sync(&depot, json!({ "operations": [request] })).await;
    assert_eq!(result(&r, 0)["status"], "pending_review");
    let item = app.id_of_uuid("SELECT id FROM operations WHERE status = 'pending_review'");
    let lm = app.signed_in("logistics").await;
    let page = lm.text(&format!("/review/{item}")).await;
    let attempt = hidden_in(&page, "op_id");

    // Edit and apply with an unknown SKU: not applied.
    let bad = json!({ "transfer_id": transfer, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": "NO-SUCH-SKU", "quantity": 4 }] }).to_string();
    let edit = [
        ("action", "edit"),
        ("payload", bad.as_str()),
        ("op_id", attempt.as_str()),
    ];
    let res = lm.post_form(&format!("/review/{item}"), &edit).await;
    assert_eq!(location(&res), format!("/review/{item}"));
    assert!(lm
        .text(&format!("/review/{item}"))
        .await
        .contains("Not applied"));
    // Told on the item being resolved, not left as a Sync Issue of the resolver's own.
    assert!(!lm.text("/sync-issues").await.contains("NO-SUCH-SKU"));
    // The same form sent twice (a double click): still not applied, never "applied".
    let res = lm.post_form(&format!("/review/{item}"), &edit).await;
    assert_eq!(location(&res), format!("/review/{item}"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transfers WHERE id = '{transfer}'"
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM operations WHERE id = '{item}' AND resolved_at IS NULL"
        )),
        1
    );

    // Accept from a fresh view of the page: its own operation, which really applies.
    let page = lm.text(&format!("/review/{item}")).await;
    let second = hidden_in(&page, "op_id");
    assert_ne!(second, attempt);
    let res = lm
        .post_form(
            &format!("/review/{item}"),
            &[("action", "accept"), ("op_id", second.as_str())],
        )
        .await;
    assert_eq!(location(&res), "/review");
    assert!(lm.text("/review").await.contains("The entry was applied."));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transfers WHERE id = '{transfer}' AND status = 'requested'"
        )),
        1
    );
    app.shutdown().await;
}

/// Item 7: NUL (or any control character) in any text field is a per-operation refusal
/// naming the field; the rest of the batch applies, and the refusal is audited.
#[tokio::test]
async fn control_characters_are_refused_per_field_and_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let bad = op(
        "intake.create",
        json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "a\u{0}b", "lines": [{ "sku": WATER, "quantity": 1, "lot": "L\u{7}1" }] }),
    );
    let good = op(
        "intake.create",
        json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "UNICEF", "lines": [{ "sku": WATER, "quantity": 2 }] }),
    );
    // Invisible ones too: a donor that is only a zero-width space, and a reversed note.
    let hidden = op(
        "intake.create",
        json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "\u{200B}", "notes": "ok \u{202E}txet", "lines": [{ "sku": WATER, "quantity": 1 }] }),
    );
    let bad_id = bad["op_id"].as_str().unwrap().to_string();
    let (status, r) = app
        .sync(&token, json!({ "operations": [bad, good, hidden] }))
        .await;
    let invisible: Vec<&str> = result(&r, 2)["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(invisible, ["donor", "notes"], "{r}");
    assert_eq!(status, 200, "{r}");
    assert_eq!(result(&r, 0)["status"], "rejected");
    let fields: Vec<&str> = result(&r, 0)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["donor", "lines[1].lot"]);
    assert_eq!(result(&r, 1)["status"], "applied");
    // Kept (made storable) for Sync Issues, and audited.
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM operations WHERE op_id = '{bad_id}' AND status = 'rejected' AND field_errors IS NOT NULL AND payload->>'donor' = 'a\u{FFFD}b'")), 1);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE operation_id = '{bad_id}' AND outcome = 'rejected'")), 1);
    // Its author sees it in Sync Issues with what was sent and why.
    let b = app.signed_in("warehouse").await;
    let issues = b.text("/sync-issues").await;
    assert!(
        issues.contains("a\u{FFFD}b") && issues.contains("lines[1].lot"),
        "{issues}"
    );
    // The same batch again: the bad one is refused the same way (not a 500), the good one is a duplicate.
    let (status, _) = app.sync(&token, json!({ "operations": [{ "op_id": bad_id, "kind": "intake.create", "captured_at": chrono::Utc::now(), "payload": { "donor": "\u{0}" } }] })).await;
    assert_eq!(status, 200);

    // The REST API: 422 naming the field, audited.
    let admin = app.token("admin").await;
    let res = app
        .client
        .post(app.url("/api/v1/families"))
        .bearer_auth(&admin)
        .json(&json!({ "product_id": 9876, "base_name": "Tarp\u{0}aulin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "base_name", "{body}");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'catalog.family_create' AND outcome = 'rejected'"), 1);
    // A kind name with NUL is refused too, not a 500.
    let (status, r) = app
        .sync(
            &token,
            json!({ "operations": [op("intake\u{0}create", json!({}))] }),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(result(&r, 0)["status"], "rejected");
    app.shutdown().await;
}

/// Item 9: a deactivated hub accepts nothing, online or at replay; the refusal is audited.
#[tokio::test]
async fn a_deactivated_hub_refuses_intakes_and_distributions() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("UPDATE hubs SET active = false WHERE id = {kin}")),
        &mut app.conn(),
    )
    .unwrap();
    let online = op(
        "intake.create",
        json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "UNICEF", "lines": [{ "sku": WATER, "quantity": 2 }] }),
    );
    let replay = json!({ "op_id": Uuid::new_v4(), "kind": "distribution.create", "offline": true,
        "envelope": app.envelope("warehouse", "distribution.create", kin, 600), "captured_at": chrono::Utc::now(),
        "payload": { "distribution_id": Uuid::new_v4(), "hub_id": kin, "recipient": "Shelter", "lines": [{ "sku": WATER, "quantity": 1 }] } });
    let (_, r) = app
        .sync(&token, json!({ "operations": [online, replay] }))
        .await;
    for i in 0..2 {
        assert_eq!(result(&r, i)["status"], "rejected", "{r}");
        assert!(
            result(&r, i)["reason"]
                .as_str()
                .unwrap()
                .contains("Kingston Main Warehouse is deactivated"),
            "{r}"
        );
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM intakes"), 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM distributions"), 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('intake.create', 'distribution.create') AND outcome = 'rejected'"), 2);
    // The form says so in words too.
    let b = app.signed_in("warehouse").await;
    let form = b.text(&format!("/hubs/{kin}/intakes/new")).await;
    let res = b
        .post_form(
            &format!("/hubs/{kin}/intakes"),
            &[
                ("op_id", &hidden_in(&form, "op_id")),
                ("record_id", &hidden_in(&form, "record_id")),
                ("envelope", &hidden_in(&form, "envelope")),
                ("donor", "USAID"),
                ("line_sku", WATER),
                ("line_qty", "1"),
            ],
        )
        .await;
    // Not allowed there any more: 403, as the API answers it.
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("deactivated"));
    app.shutdown().await;
}

/// Item 12: only a same-site path is followed after sign-in.
#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = TestApp::builder().with_demo_world().start().await;
    for next in [
        "/\t/evil.example",
        "/\t\\evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "//evil.example",
    ] {
        let b = app.browser();
        let csrf = b.csrf().await;
        let res = b
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("username", "warehouse"),
                    ("password", outpost::demo::seed::DEMO_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], "/", "{next:?}");
    }
    // Signed in, GET /login?next=… redirects at once: same rule, and a newline is no 500.
    let b = app.signed_in("warehouse").await;
    for next in ["/%09/evil.example", "/%0A/x", "/%5Cevil.example"] {
        let res = b.get(&format!("/login?next={next}")).await;
        assert_eq!(res.status(), 303, "{next}");
        assert_eq!(res.headers()["location"], "/", "{next}");
    }
    let res = b.get("/login?next=/audit%3Fpage%3D2").await;
    assert_eq!(res.headers()["location"], "/audit?page=2");
    app.shutdown().await;
}

/// Item 13: a customer user sees their own account and nothing of the warehouse.
#[tokio::test]
async fn customer_users_see_only_their_own_account() {
    let app = TestApp::builder().with_demo_world().start().await;
    // Activity at the hub that serves the customer.
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    app.sync(&token, json!({ "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "Secret Donor Ltd", "lines": [{ "sku": WATER, "quantity": 2 }] }))] })).await;
    let customer = app.token("customer").await;
    for path in [
        "/api/v1/inventory",
        "/api/v1/inventory/summary/1",
        "/api/v1/inventory/audit/00101-P-1-NA-N",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&customer)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        me.to_string().contains("Trench Town Community Shelter")
            || me["hubs"].as_array().is_none_or(|h| h.is_empty()),
        "{me}"
    );
    let b = app.signed_in("customer").await;
    let home = b.text("/").await;
    assert!(
        home.contains("Trench Town Community Shelter"),
        "the header names the customer: {home}"
    );
    assert!(!home.contains("Kingston Main Warehouse"), "{home}");
    assert!(
        !home.contains("intake.create") && !home.contains("Intake recorded"),
        "no hub activity: {home}"
    );
    // Staff of the hub see it, in words.
    let staff = app.signed_in("warehouse").await.text("/").await;
    assert!(staff.contains("Intake recorded"), "{staff}");
    assert_ne!(b.get("/warehouse/lookup?q=SN").await.status(), 200);
    assert_ne!(b.get(&format!("/hubs/{kin}")).await.status(), 200);
    let pull: Value = app
        .client
        .get(app.url("/api/v1/sync/pull?since=0"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pull["stock"], json!([]));
    app.shutdown().await;
}

/// Item 14: a password reset from the command line ends the old sessions and API tokens, and
/// every user or stock change made there is audited.
#[tokio::test]
async fn command_line_changes_end_sessions_and_are_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let url = app.server_database_url();
    let env = [("OUTPOST_DATABASE_URL", url.as_str())];
    let b = app.signed_in("warehouse").await;
    let token = app.token("warehouse").await;
    assert_eq!(b.get("/").await.status(), 200);
    let out = crate::cli::outpost(
        &["user", "passwd", "warehouse"],
        &env,
        Some("a-brand-new-passphrase\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b.get("/").await.status(), 303, "the old session is over");
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the old token is revoked");
    // Signing in with the new password works (sessions after the reset are fine).
    let fresh = app.browser();
    let csrf = fresh.csrf().await;
    let res = fresh
        .post_raw(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "warehouse"),
                ("password", "a-brand-new-passphrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(fresh.get("/").await.status(), 200);

    let out = crate::cli::outpost(
        &[
            "user",
            "add",
            "--username",
            "clerk",
            "--name",
            "New Clerk",
            "--role",
            "WarehouseOp",
            "--organisation",
            "National Emergency Management Office",
            "--hub",
            "KIN-MAIN",
        ],
        &env,
        Some("clerk-passphrase-2026\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crate::cli::outpost(&["user", "disable", "clerk"], &env, None);
    assert!(out.status.success());
    let out = crate::cli::outpost(&["stock", "rebuild"], &env, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same action names the web writes (issue 28: an auditor filtering by one name missed
    // the other side).
    for action in [
        "user.password.reset",
        "user.created",
        "user.deactivated",
        "stock.rebuild",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = '{action}' AND actor_name = 'command line'")),
            1,
            "{action}"
        );
    }
    app.shutdown().await;
}

/// Item 15: every cell of the audit export is inert in a spreadsheet.
#[tokio::test]
async fn the_audit_export_neutralises_formulas_in_every_cell() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.browser();
    let csrf = b.csrf().await;
    let evil = "=HYPERLINK(\"http://evil.example\",\"x\")";
    b.post_raw(
        "/login",
        &[
            ("csrf_token", &csrf),
            ("username", evil),
            ("password", "wrong"),
        ],
    )
    .await;
    let auditor = app.signed_in("auditor").await;
    let csv = auditor.text("/audit.csv").await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut seen = false;
    for row in reader.records() {
        for cell in row.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "live formula in the export: {cell}"
            );
            seen |= cell.contains("HYPERLINK");
        }
    }
    assert!(seen, "the failed sign-in is in the export: {csv}");
    app.shutdown().await;
}

/// Item 16: a device belongs to its user; reporting someone else's device id changes nothing
/// of theirs.
#[tokio::test]
async fn a_device_record_cannot_be_taken_over() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = app.token("warehouse").await;
    let depot = app.token("depot").await;
    let report = |token: String, body: Value| {
        let client = app.client.clone();
        let url = app.url("/api/v1/devices/report");
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        report(
            warehouse.clone(),
            json!({ "device_id": "dev-tablet-0001", "pending_count": 3, "highest_seq": 3 })
        )
        .await,
        204
    );
    assert_eq!(
        report(
            depot.clone(),
            json!({ "device_id": "dev-tablet-0001", "pending_count": 0, "highest_seq": 0 })
        )
        .await,
        204
    );
    let wh = app.id_of("SELECT id FROM users WHERE username = 'warehouse'");
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM devices WHERE id = 'dev-tablet-0001' AND user_id = {wh} AND pending_count = 3 AND flagged_at IS NULL")), 1);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM devices WHERE flagged_at IS NOT NULL"),
        0
    );
    app.shutdown().await;
}

/// Item 17: an operation that arrives long after its capture is treated as captured offline,
/// whatever the client says: it needs its capture envelope, and approvals wait for review.
#[tokio::test]
async fn a_late_operation_is_offline_whatever_it_says() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let late = json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "offline": false, "captured_at": an_hour_ago,
        "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "UNICEF", "lines": [{ "sku": WATER, "quantity": 1 }] } });
    let (_, r) = app.sync(&token, json!({ "operations": [late] })).await;
    assert_eq!(result(&r, 0)["status"], "rejected", "{r}");
    assert!(
        result(&r, 0)["reason"]
            .as_str()
            .unwrap()
            .contains("envelope"),
        "{r}"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE offline"),
        1
    );

    // A logistics manager's approval captured an hour ago, with a genuine envelope: it waits.
    let lm = app.token("logistics").await;
    let depot = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let list = Uuid::new_v4();
    app.sync(&depot, json!({ "operations": [
        op("needs_list.create", json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 48", "lines": [{ "sku": WATER, "quantity": 30 }] })),
        op("needs_list.submit", json!({ "needs_list_id": list, "hub_id": mbj })),
    ] })).await;
    let decide = json!({ "op_id": Uuid::new_v4(), "kind": "needs_list.decide", "offline": false, "captured_at": an_hour_ago,
        "envelope": app.envelope("logistics", "needs_list.decide", mbj, 3700),
        "payload": { "needs_list_id": list, "hub_id": mbj, "decision": "approve" } });
    let (_, r) = app.sync(&lm, json!({ "operations": [decide] })).await;
    assert_eq!(result(&r, 0)["status"], "pending_review", "{r}");
    // A fresh online one is online.
    let (_, r) = app.sync(&token, json!({ "operations": [op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "USAID", "lines": [{ "sku": WATER, "quantity": 1 }] }))] })).await;
    assert_eq!(result(&r, 0)["status"], "applied");
    app.shutdown().await;
}

/// Item 8: sixteen clients pushing batches at once, on the default pool of ten connections:
/// every batch is answered (back-pressure, not failure), nothing deadlocks, every operation
/// applies exactly once. Measured on the real server process, whose log is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_at_once_get_no_5xx_and_no_deadlock() {
    use diesel::prelude::*;
    const CLIENTS: usize = 16;
    const BATCHES: usize = 3;
    const PER_BATCH: usize = 100;
    let db = crate::common::TestDb::migrated();
    outpost::demo::seed::seed(&mut db.conn()).unwrap();
    let log = std::env::temp_dir().join(format!("outpost-load-{}.log", Uuid::new_v4().simple()));
    let server = crate::browser::Server::start_logged(
        &db.url,
        &format!("test-{}", Uuid::new_v4().simple()),
        &[],
        &log,
    );
    let base = server.url();
    let client = reqwest::Client::new();
    let token = crate::live::token(&base, "warehouse").await;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |sql: &str| {
        diesel::sql_query(sql)
            .get_result::<N>(&mut db.conn())
            .unwrap()
            .n
    };
    let kin = count("SELECT id AS n FROM hubs WHERE code = 'KIN-MAIN'");
    let before = count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for b in 0..BATCHES {
                let ops: Vec<Value> = (0..PER_BATCH)
                    .map(|i| op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": format!("Client {c} batch {b} #{i}"), "lines": [{ "sku": WATER, "quantity": 1 }] })))
                    .collect();
                let res = client
                    .post(format!("{base}/api/v1/sync"))
                    .bearer_auth(&token)
                    .timeout(std::time::Duration::from_secs(120))
                    .json(&json!({ "device_id": format!("load-client-{c:02}"), "operations": ops }))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or_default();
                let applied = body["results"].as_array().map_or(0, |r| r.iter().filter(|x| x["result"]["status"] == "applied").count());
                statuses.push((status, applied));
            }
            statuses
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "every batch answered 200: {answers:?}"
    );
    assert!(
        answers.iter().all(|(_, a)| *a == PER_BATCH),
        "every operation applied: {answers:?}"
    );
    let total = (CLIENTS * BATCHES * PER_BATCH) as i64;
    assert_eq!(count("SELECT count(*) AS n FROM intakes"), total);
    let after = count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    assert_eq!(after, before + total);
    // Every event reaches the outbox's publisher in the end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL") > 0 {
        assert!(std::time::Instant::now() < deadline, "the outbox drains");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    for bad in [
        "deadlock",
        "database unavailable",
        "timed out waiting for connection",
        "outbox publish deferred",
    ] {
        assert!(
            !text.contains(bad),
            "'{bad}' in the server log:\n{}",
            text.lines()
                .filter(|l| l.contains(bad))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        text.contains("INFO") || text.contains("info"),
        "the log was captured: {text}"
    );
}

/// Item 1, the create forms: refused (an unknown item), each comes back with every value typed.
#[tokio::test]
async fn refused_create_forms_keep_every_value() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let depot = app.signed_in("depot").await;
    let warehouse = app.signed_in("warehouse").await;
    let kin_s = kin.to_string();
    // (who, the form, where it posts, what is typed)
    type Case<'a> = (
        &'a crate::common::Browser,
        String,
        String,
        Vec<(&'a str, &'a str)>,
    );
    let cases: [Case; 4] = [
        (
            &warehouse,
            format!("/hubs/{kin}/intakes/new"),
            format!("/hubs/{kin}/intakes"),
            vec![
                ("donor", "Typed Donor Ltd"),
                ("reference", "WB-778"),
                ("line_sku", "NO-SUCH-SKU"),
                ("line_qty", "17"),
                ("line_lot", "LOT-9"),
            ],
        ),
        (
            &depot,
            format!("/hubs/{mbj}/distributions/new"),
            format!("/hubs/{mbj}/distributions"),
            vec![
                ("recipient", "Typed Recipient"),
                ("notes", "typed notes"),
                ("line_sku", "NO-SUCH-SKU"),
                ("line_qty", "17"),
            ],
        ),
        (
            &depot,
            format!("/hubs/{mbj}/needs-lists/new"),
            format!("/hubs/{mbj}/needs-lists"),
            vec![
                ("title", "Typed Title"),
                ("line_sku", "NO-SUCH-SKU"),
                ("line_qty", "17"),
            ],
        ),
        (
            &depot,
            format!("/hubs/{mbj}/transfers/new"),
            format!("/hubs/{mbj}/transfers"),
            vec![
                ("from_hub_id", kin_s.as_str()),
                ("line_sku", "NO-SUCH-SKU"),
                ("line_qty", "17"),
            ],
        ),
    ];
    for (who, form_path, action, fields) in cases {
        let form = who.text(&form_path).await;
        let mut posted: Vec<(String, String)> = ["csrf_token", "op_id", "record_id", "envelope"]
            .iter()
            .filter(|n| form.contains(&format!("name=\"{n}\"")))
            .map(|n| (n.to_string(), hidden_in(&form, n)))
            .collect();
        posted.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = posted
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = who.post_raw(&action, &pairs).await;
        assert_eq!(res.status(), 422, "{action}");
        let page = res.text().await.unwrap();
        for (name, value) in &fields {
            if *name == "from_hub_id" {
                assert!(
                    page.contains(&format!("value=\"{value}\" selected")),
                    "{action}: {name}"
                );
            } else {
                assert!(
                    page.contains(&format!("value=\"{value}\"")),
                    "{action} lost {name}={value}"
                );
            }
        }
    }
    app.shutdown().await;
}

/// Issue 15 (the item picker): a line may name its item by SKU or by (part of) its name; a name
/// that fits several items lists them, one that fits none says so.
#[tokio::test]
async fn items_are_found_by_name_as_well_as_by_sku() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let intake = |text: &str| {
        op(
            "intake.create",
            json!({ "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "By name", "lines": [{ "sku": text, "quantity": 3 }] }),
        )
    };
    let exact: String = {
        #[derive(diesel::QueryableByName)]
        struct D {
            #[diesel(sql_type = diesel::sql_types::Text)]
            d: String,
        }
        diesel::RunQueryDsl::get_result::<D>(
            diesel::sql_query(
                "SELECT description AS d FROM product_variants WHERE full_sku = '00102-P-1-NA-N'",
            ),
            &mut app.conn(),
        )
        .unwrap()
        .d
    };
    let (_, r) = app
        .sync(&token, json!({ "operations": [intake(&exact), intake(&exact.to_lowercase()), intake("bottled water"), intake("no such thing at all"), intake("00101-p-1-na-n")] }))
        .await;
    assert_eq!(result(&r, 0)["status"], "applied", "{r}");
    assert_eq!(
        result(&r, 1)["status"],
        "applied",
        "case does not matter: {r}"
    );
    assert_eq!(result(&r, 2)["status"], "rejected");
    let several = result(&r, 2)["reason"].as_str().unwrap();
    assert!(
        several.contains("matches several items") && several.contains("00101-"),
        "{several}"
    );
    assert!(
        result(&r, 3)["reason"]
            .as_str()
            .unwrap()
            .contains("unknown item no such thing at all: no SKU or item name matches"),
        "{r}"
    );
    assert_eq!(result(&r, 4)["status"], "applied", "a SKU in any case: {r}");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM intake_lines l JOIN product_variants v ON v.id = l.variant_id WHERE v.full_sku = '00102-P-1-NA-N'"),
        2
    );
    app.shutdown().await;
}
