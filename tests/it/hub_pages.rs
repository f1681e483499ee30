//! Every kind of operation driven through the HTML pages, as people use them, without JS.

use crate::common::{hidden_in, Browser, TestApp};

const WATER: &str = "00101-P-1-NA-N";

/// Posts the form at `form_path` (found by its action) with extra fields.
pub(crate) async fn submit(
    b: &Browser,
    page_path: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let html = b.text(page_path).await;
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("{page_path} has a form posting to {action}:\n{html}"));
    let form = &html[start..html[start..].find("</form>").map(|e| start + e).unwrap()];
    let mut fields: Vec<(String, String)> = [
        "csrf_token",
        "op_id",
        "record_id",
        "envelope",
        "base_version",
        "new_transfer_id",
        "corrects",
    ]
    .iter()
    .filter(|n| form.contains(&format!("name=\"{n}\"")))
    .map(|n| (n.to_string(), hidden_in(form, n)))
    .collect();
    fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.client
        .post(b.url(action))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

pub(crate) fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect");
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn every_kind_works_through_the_pages() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let depot = app.signed_in("depot").await;
    let mbj_before = app.stock("MBJ-SUB", WATER);

    // Distribution: draft, edit, confirm.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/distributions/new"),
        &format!("/hubs/{mbj}/distributions"),
        &[
            ("recipient", "Montego Bay Primary School Shelter"),
            ("line_sku", WATER),
            ("line_qty", "3"),
        ],
    )
    .await;
    let detail = location(&res);
    let res = submit(
        &depot,
        &detail,
        &format!("/hubs/{mbj}/actions/distribution.update"),
        &[
            ("recipient", "MoBay Primary — Hall"),
            ("notes", ""),
            ("line_sku", WATER),
            ("line_qty", "3"),
        ],
    )
    .await;
    assert_eq!(location(&res), detail);
    assert!(depot.text(&detail).await.contains("MoBay Primary — Hall"));
    let res = submit(
        &depot,
        &detail,
        &format!("/hubs/{mbj}/actions/distribution.confirm"),
        &[],
    )
    .await;
    assert_eq!(location(&res), detail);
    let page = depot.text(&detail).await;
    assert!(page.contains("stock has been taken out") && page.contains("status-confirmed"));
    assert_eq!(app.stock("MBJ-SUB", WATER), mbj_before - 3);

    // Needs list: create, submit; the logistics manager decides and raises a transfer.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/needs-lists/new"),
        &format!("/hubs/{mbj}/needs-lists"),
        &[
            ("title", "Week 48 shelter supplies"),
            ("line_sku", WATER),
            ("line_qty", "20"),
        ],
    )
    .await;
    let list = location(&res);
    let res = submit(
        &depot,
        &list,
        &format!("/hubs/{mbj}/actions/needs_list.submit"),
        &[],
    )
    .await;
    assert_eq!(location(&res), list);
    let lm = app.signed_in("logistics").await;
    let kin_s = kin.to_string();
    let res = submit(
        &lm,
        &list,
        &format!("/hubs/{mbj}/actions/needs_list.decide"),
        &[
            ("decision", "approve"),
            ("line_no", "1"),
            ("qty_1", "15"),
            ("transfer_from_hub_id", &kin_s),
        ],
    )
    .await;
    assert_eq!(location(&res), list);
    let page = lm.text(&list).await;
    assert!(
        page.contains("status-approved") && page.contains(">15<"),
        "{page}"
    );
    let transfer_link = page
        .split("href=\"")
        .find(|s| s.contains("/transfers/"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let transfer_id = transfer_link.rsplit('/').next().unwrap().to_string();

    // Transfer: the main warehouse dispatches, the sub-hub receives.
    let warehouse = app.signed_in("warehouse").await;
    let kin_detail = format!("/hubs/{kin}/transfers/{transfer_id}");
    let res = submit(
        &warehouse,
        &kin_detail,
        &format!("/hubs/{kin}/actions/transfer.dispatch"),
        &[("line_no", "1"), ("qty_1", "15")],
    )
    .await;
    assert_eq!(location(&res), kin_detail);
    let mbj_detail = format!("/hubs/{mbj}/transfers/{transfer_id}");
    let res = submit(
        &depot,
        &mbj_detail,
        &format!("/hubs/{mbj}/actions/transfer.receive"),
        &[("line_no", "1"), ("qty_1", "15")],
    )
    .await;
    assert_eq!(location(&res), mbj_detail);
    assert_eq!(app.stock("MBJ-SUB", WATER), mbj_before - 3 + 15);

    // Transfer request by the depot, approved by logistics (online).
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/transfers/new"),
        &format!("/hubs/{mbj}/transfers"),
        &[
            ("from_hub_id", &kin_s),
            ("line_sku", WATER),
            ("line_qty", "5"),
        ],
    )
    .await;
    let requested = location(&res);
    let id = requested.rsplit('/').next().unwrap();
    let res = submit(
        &lm,
        &format!("/hubs/{kin}/transfers/{id}"),
        &format!("/hubs/{kin}/actions/transfer.approve"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM transfers WHERE id = '{id}' AND status = 'approved'"
        )),
        1
    );

    // A refused action comes back to the page with the reason.
    let res = submit(
        &depot,
        &format!("/hubs/{mbj}/distributions/new"),
        &format!("/hubs/{mbj}/distributions"),
        &[
            ("recipient", "Too much"),
            ("line_sku", WATER),
            ("line_qty", "999999"),
        ],
    )
    .await;
    let big = location(&res);
    let res = submit(
        &depot,
        &big,
        &format!("/hubs/{mbj}/actions/distribution.confirm"),
        &[],
    )
    .await;
    assert_eq!(location(&res), big);
    assert!(depot
        .text(&big)
        .await
        .contains("Not done: not enough stock"));

    // Every applied operation has exactly one audit row; the ledger agrees with the levels.
    assert_eq!(app.count("SELECT count(*) AS n FROM operations o WHERE status = 'applied' AND (SELECT count(*) FROM audit_log a WHERE a.operation_id = o.op_id AND a.action = o.kind) <> 1"), 0);
    assert!(app.ledger_agrees());
    // The dashboard shows the chart and recent activity for the depot manager.
    let dash = depot.text("/").await;
    assert!(
        dash.contains("<svg")
            && dash.contains("Units in stock per hub")
            && dash.contains("Activity")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn review_keep_server_and_edit_and_apply() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("depot").await;
    let mbj = app.hub_id("MBJ-SUB");
    let id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let edit = |notes: &str| serde_json::json!({ "op_id": uuid::Uuid::new_v4(), "kind": "distribution.update", "base_version": 1, "captured_at": now, "payload": { "distribution_id": id, "hub_id": mbj, "notes": notes } });
    app.sync(&token, serde_json::json!({ "operations": [
        { "op_id": uuid::Uuid::new_v4(), "kind": "distribution.create", "captured_at": now, "payload": { "distribution_id": id, "hub_id": mbj, "recipient": "R", "lines": [{ "sku": WATER, "quantity": 1 }] } },
        edit("first"), edit("second"), edit("third"),
    ] })).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM operations WHERE status = 'conflict'"),
        2
    );
    let depot = app.signed_in("depot").await;
    let items: Vec<uuid::Uuid> = {
        use diesel::prelude::*;
        use outpost::schema::operations;
        operations::table
            .filter(operations::status.eq("conflict"))
            .order(operations::received_at)
            .select(operations::id)
            .load(&mut app.conn())
            .unwrap()
    };
    // Keep the server's version: nothing changes, the item leaves the queue.
    assert_eq!(
        depot
            .post_form(&format!("/review/{}", items[0]), &[("action", "keep")])
            .await
            .status(),
        303
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM distributions WHERE id = '{id}' AND notes = 'first'"
        )),
        1
    );
    // Edit and apply: the manager's edited entry wins.
    let edited =
        serde_json::json!({ "distribution_id": id, "hub_id": mbj, "notes": "agreed by phone" })
            .to_string();
    assert_eq!(
        depot
            .post_form(
                &format!("/review/{}", items[1]),
                &[
                    ("action", "edit"),
                    ("payload", &edited),
                    ("op_id", &uuid::Uuid::new_v4().to_string())
                ]
            )
            .await
            .status(),
        303
    );
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM distributions WHERE id = '{id}' AND notes = 'agreed by phone'")), 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM operations WHERE status = 'conflict' AND resolved_at IS NULL"), 0);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'review.resolved'"),
        2
    );
    // Someone of another hub cannot see or resolve these.
    let other = app.signed_in("driver").await;
    assert_eq!(
        other.get(&format!("/review/{}", items[1])).await.status(),
        403
    );
    app.shutdown().await;
}

#[tokio::test]
async fn stock_rebuild_check_finds_and_fixes_a_drifted_level() {
    let app = TestApp::builder().with_demo_world().start().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(args)
            .env("OUTPOST_DATABASE_URL", &app.db.url)
            .output()
            .unwrap()
    };
    assert!(run(&["stock", "rebuild", "--check"]).status.success());
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE stock_levels SET quantity = quantity + 5 WHERE hub_id = (SELECT min(hub_id) FROM stock_levels) AND variant_id = (SELECT min(variant_id) FROM stock_levels)"), &mut app.conn()).unwrap();
    let out = run(&["stock", "rebuild", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("but the ledger adds up to"));
    let out = run(&["stock", "rebuild"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 level(s) corrected"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(run(&["stock", "rebuild", "--check"]).status.success());
    app.shutdown().await;
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_redis_is_down() {
    let app = TestApp::builder().with_demo_world().start().await;
    // A private Redis we can stop and start again.
    let port = outpost::demo::launcher::free_port().unwrap();
    let start = || {
        std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut redis = start();
    let url = format!("redis://127.0.0.1:{port}");
    let mut conn = None;
    for _ in 0..50 {
        if let Ok(c) = outpost::redis_conn::connect(&url).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut state = app.state.clone();
    state.redis = conn.expect("private redis");
    let token = app.token("warehouse").await;
    let kin = app.hub_id("KIN-MAIN");
    redis.kill().unwrap();
    redis.wait().unwrap();
    app.sync(&token, serde_json::json!({ "operations": [{ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(), "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": kin, "donor": "X", "lines": [{ "sku": WATER, "quantity": 1 }] } }] })).await;
    // The app's own publisher uses the shared Redis; let it publish this operation's events
    // first (it may be slow under load), so that only our copy then publishes.
    for _ in 0..100 {
        if app.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL") == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE outbox SET published_at = NULL, claimed_until = NULL"),
        &mut app.conn(),
    )
    .unwrap();
    let waiting = app.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL");
    assert!(waiting >= 2, "{waiting}");
    assert!(
        outpost::events::publish_pending(&state).await.is_err(),
        "Redis is down"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"),
        waiting,
        "nothing lost, nothing marked"
    );
    let mut redis = start();
    let mut published = 0;
    for _ in 0..50 {
        if let Ok(n) = outpost::events::publish_pending(&state).await {
            published = n;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(published as i64, waiting);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"),
        0
    );
    redis.kill().unwrap();
    let _ = redis.wait();
    app.shutdown().await;
}

/// Issue 15 defects: a refusal answered on the form is not left as a Sync Issue (a replayed or
/// synced one is); a driver's draft says who confirms it; a 403 keeps the signed-in header;
/// a hub worker needs a hub and a non-seller takes no sales flags.
#[tokio::test]
async fn form_refusals_stay_on_the_form_and_pages_say_the_right_thing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let man = app.hub_id("MAN-SUB");
    let warehouse = app.signed_in("warehouse").await;
    // An item that does not exist: refused by the server, shown on the form.
    let res = submit(
        &warehouse,
        &format!("/hubs/{kin}/intakes/new"),
        &format!("/hubs/{kin}/intakes"),
        &[
            ("donor", "WFP"),
            ("line_sku", "NO-SUCH-SKU"),
            ("line_qty", "3"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422, "{}", res.text().await.unwrap());
    assert_eq!(app.count("SELECT count(*) AS n FROM operations WHERE status = 'rejected' AND resolution = 'shown_on_form'"), 1);
    assert!(!warehouse.text("/sync-issues").await.contains("NO-SUCH-SKU"));
    // The same refusal through the sync API stays a Sync Issue.
    let token = app.token("warehouse").await;
    let (_, body) = app
        .sync(&token, serde_json::json!({ "operations": [{ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
            "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": kin, "donor": "WFP", "lines": [{ "sku": "NO-SUCH-SKU-2", "quantity": 1 }] } }] }))
        .await;
    assert_eq!(body["results"][0]["result"]["status"], "rejected", "{body}");
    assert!(warehouse
        .text("/sync-issues")
        .await
        .contains("NO-SUCH-SKU-2"));

    // A driver is not told to confirm what only a manager confirms.
    let driver = app.signed_in("driver").await;
    let res = submit(
        &driver,
        &format!("/hubs/{man}/distributions/new"),
        &format!("/hubs/{man}/distributions"),
        &[
            ("recipient", "Mandeville clinic"),
            ("line_sku", WATER),
            ("line_qty", "1"),
        ],
    )
    .await;
    let detail = location(&res);
    let page = driver.text(&detail).await;
    assert!(
        page.contains("A depot manager confirms it") && !page.contains("Confirm it when"),
        "{page}"
    );

    // A refusal keeps the header of who is signed in (and names no hub).
    let res = warehouse.get("/audit").await;
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Sign out")
            && !page.contains(">Sign in<")
            && !page.contains("Kingston Main Warehouse"),
        "{page}"
    );

    // A driver needs a hub; sales flags are for those who sell.
    let admin = app.signed_in("admin").await;
    let form = admin.text("/admin/users/new").await;
    let org = hidden_or_first_option(&form, "organisation_id");
    for (fields, expected) in [
        (
            vec![
                ("username", "newdriver"),
                ("display_name", "New Driver"),
                ("role", "Driver"),
                ("organisation_id", org.as_str()),
                ("password", "a-long-enough-password-1"),
            ],
            "works at a hub",
        ),
        (
            vec![
                ("username", "newdriver"),
                ("display_name", "New Driver"),
                ("role", "Driver"),
                ("organisation_id", org.as_str()),
                ("hub", &man.to_string()),
                ("can_add_foc", "on"),
                ("password", "a-long-enough-password-1"),
            ],
            "Sales permissions do not apply to a driver",
        ),
    ] {
        let res = admin.post_form("/admin/users", &fields).await;
        let text = res.text().await.unwrap();
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE username = 'newdriver'"),
        0
    );
    app.shutdown().await;
}

fn hidden_or_first_option(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).expect(name);
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("value") + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn looking_up_a_sku_shows_its_stock_and_its_serialized_items() {
    let app = TestApp::builder().with_demo_world().start().await;
    let sales = app.signed_in("sales").await;
    // Water is counted, not serialized: the SKU from the catalog answers with the stock at
    // the rep's hub instead of "no item".
    let page = sales.text("/warehouse/lookup?q=00101-P-1-NA-N").await;
    assert!(page.contains("Kingston Main Warehouse"), "{page}");
    assert!(page.contains("in stock"));
    assert!(page.contains("counted, not tracked by serial number"));
    assert!(!page.contains("No item at your hubs"));
    // A serialized SKU lists its items, each linking to its own history.
    let (_, api) = crate::warehouse_api::as_user(&app, "warehouse").await.call(
        "POST",
        "/api/v1/inventory/receive",
        Some(serde_json::json!({ "serial_number": "SN-LOOKUP-1", "variant_sku": "00101-P-1-NA-N", "location_code": "A1-S2" })),
    ).await;
    assert!(api["id"].is_number(), "{api}");
    let (sku, serial) = ("00101-P-1-NA-N", "SN-LOOKUP-1");
    let warehouse = app.signed_in("warehouse").await;
    let page = warehouse.text(&format!("/warehouse/lookup?q={sku}")).await;
    assert!(
        page.contains(&format!("href=\"/warehouse/items/{}\"", api["id"])),
        "{page}"
    );
    let item = warehouse
        .text(&format!("/warehouse/lookup?q={serial}"))
        .await;
    assert!(item.contains(&format!("History of {serial}")));
    // Unknown text still says so.
    let none = warehouse.text("/warehouse/lookup?q=NOPE-123").await;
    assert!(none.contains("No item at your hubs"));
    app.shutdown().await;
}

/// Issue 15: lists go a page at a time and say how many there are, instead of stopping at 100.
#[tokio::test]
async fn long_lists_are_paged_and_counted() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let before = app.count(&format!(
        "SELECT count(*) AS n FROM intakes WHERE hub_id = {kin}"
    ));
    let ops: Vec<serde_json::Value> = (0..120)
        .map(|i| serde_json::json!({ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
            "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": kin, "donor": format!("Paged donor {i:03}"), "lines": [{ "sku": WATER, "quantity": 1 }] } }))
        .collect();
    let (status, _) = app
        .sync(&token, serde_json::json!({ "operations": ops }))
        .await;
    assert_eq!(status, 200);
    let total = before + 120;
    let b = app.signed_in("warehouse").await;
    let first = b.text(&format!("/hubs/{kin}/intakes")).await;
    assert!(first.contains(&format!("{total} in all")), "{first}");
    let pages = (total + 49) / 50;
    // Paged by keyset (issue 29): "Older →" carries the last row's key; every intake is on
    // exactly one page (a batch shares one time; the id orders it), the last page holds the rest.
    let older = |html: &str| crate::long_lists::link(html, "next");
    assert!(
        older(&first)
            .unwrap()
            .starts_with(&format!("/hubs/{kin}/intakes?after=")),
        "{first}"
    );
    let (mut seen, mut html, mut walked) = (Vec::new(), first, 1);
    loop {
        seen.extend(
            html.match_indices("Paged donor ")
                .map(|(i, _)| html[i..i + 15].to_string()),
        );
        let Some(next) = older(&html) else { break };
        html = b.text(&next).await;
        walked += 1;
    }
    assert_eq!(walked, pages);
    let rows_on_last = html
        .matches("<tr><td data-label=\"Received\"><a href=")
        .count() as i64;
    assert_eq!(rows_on_last, total - 50 * (pages - 1), "{html}");
    assert!(html.contains("rel=\"prev\">← Newer</a>"), "{html}");
    seen.sort();
    let n = seen.len();
    seen.dedup();
    assert_eq!((n, seen.len()), (120, 120));
    // A page far beyond the end is empty, not an error.
    assert_eq!(
        b.get(&format!("/hubs/{kin}/intakes?page=999999999"))
            .await
            .status(),
        200
    );
    app.shutdown().await;
}

#[tokio::test]
async fn waiting_work_is_listed_across_hubs_and_counted_in_each_hubs_tabs() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj, man) = (
        app.hub_id("KIN-MAIN"),
        app.hub_id("MBJ-SUB"),
        app.hub_id("MAN-SUB"),
    );
    let now = chrono::Utc::now();
    let op = |kind: &str, payload: serde_json::Value| serde_json::json!({ "op_id": uuid::Uuid::new_v4(), "kind": kind, "captured_at": now, "payload": payload });
    let list = uuid::Uuid::new_v4();
    let (status, body) = app
        .sync(
            &app.token("depot").await,
            serde_json::json!({ "operations": [
                op("transfer.request", serde_json::json!({ "transfer_id": uuid::Uuid::new_v4(), "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": WATER, "quantity": 4 }] })),
                op("needs_list.create", serde_json::json!({ "needs_list_id": list, "hub_id": mbj, "title": "Week 48", "lines": [{ "sku": WATER, "quantity": 30 }] })),
                op("needs_list.submit", serde_json::json!({ "needs_list_id": list, "hub_id": mbj })),
                op("distribution.create", serde_json::json!({ "distribution_id": uuid::Uuid::new_v4(), "hub_id": mbj, "recipient": "Shelter", "lines": [{ "sku": WATER, "quantity": 1 }] })),
            ] }),
        )
        .await;
    assert_eq!(status, 200);
    for i in 0..4 {
        assert_eq!(body["results"][i]["result"]["status"], "applied", "{body}");
    }
    let low_at_man = app.count(&format!("SELECT count(*) AS n FROM stock_levels WHERE hub_id = {man} AND quantity <= reorder_level AND reorder_level > 0"));

    // The logistics manager sees the work of every hub, in words, each linking where it is done.
    let lm = app.signed_in("logistics").await;
    let page = lm.text("/hubs").await;
    for expected in [
        format!("<a href=\"/hubs/{kin}/transfers\">1 transfer to approve</a>"),
        format!("<a href=\"/hubs/{mbj}/needs-lists\">1 needs list to decide</a>"),
        format!("<a href=\"/hubs/{mbj}/distributions\">1 distribution draft to confirm</a>"),
    ] {
        assert!(page.contains(&expected), "{expected}: {page}");
    }
    if low_at_man > 0 {
        assert!(
            page.contains(&format!(
                "<a href=\"/hubs/{man}\">{} item",
                crate::common::grouped(low_at_man)
            )),
            "{page}"
        );
    }
    // A hub's tabs carry its own counts (fetched after the page; never stored).
    let res = lm.get(&format!("/hubs/{mbj}/tab-counts")).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let counts = res.text().await.unwrap();
    assert!(
        counts.contains("id=\"tab-count-needs\" hx-swap-oob=\"true\"> (1 to decide)"),
        "{counts}"
    );
    assert!(
        counts.contains("id=\"tab-count-distributions\" hx-swap-oob=\"true\"> (1 to confirm)"),
        "{counts}"
    );
    assert!(
        counts.contains("id=\"tab-count-transfers\" hx-swap-oob=\"true\"></span>"),
        "the transfer waits at Kingston: {counts}"
    );
    let at_kin = lm.text(&format!("/hubs/{kin}/tab-counts")).await;
    assert!(at_kin.contains("(1 waiting)"), "{at_kin}");
    assert!(lm
        .text(&format!("/hubs/{mbj}"))
        .await
        .contains(&format!("hx-get=\"/hubs/{mbj}/tab-counts\"")));

    // Only the work a person may do, at their own hubs.
    let driver = app.signed_in("driver").await;
    let page = driver.text("/hubs").await;
    assert!(
        !page.contains("to confirm") && !page.contains("to approve") && !page.contains("to decide"),
        "{page}"
    );
    let depot = app.signed_in("depot").await;
    let page = depot.text("/hubs").await;
    assert!(
        !page.contains("to approve") && !page.contains("Kingston"),
        "{page}"
    );
    assert!(page.contains("1 distribution draft to confirm"), "{page}");
    assert_eq!(
        depot.get(&format!("/hubs/{kin}/tab-counts")).await.status(),
        404
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_stock_list_sorts_by_any_of_its_columns_and_keeps_its_filters() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let b = app.signed_in("warehouse").await;
    let on_hand = |page: &str| -> Vec<i64> {
        page.split("data-label=\"On hand\" class=\"num\"><div>")
            .skip(1)
            .map(|cell| {
                cell.split(' ')
                    .next()
                    .unwrap()
                    .replace(',', "")
                    .parse()
                    .unwrap()
            })
            .collect()
    };
    let page = b.text(&format!("/hubs/{kin}?sort=-quantity")).await;
    let most_first = on_hand(&page);
    assert!(most_first.len() > 10, "{page}");
    assert!(
        most_first.windows(2).all(|w| w[0] >= w[1]),
        "{most_first:?}"
    );
    assert!(page.contains("aria-sort=\"descending\""), "{page}");
    // The header turns the order around; the pager keeps the order for the next page.
    assert!(
        page.contains(&format!("href=\"/hubs/{kin}?sort=quantity\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("/hubs/{kin}?sort=-quantity&#38;page=1")),
        "{page}"
    );
    let fewest_first = on_hand(&b.text(&format!("/hubs/{kin}?sort=quantity")).await);
    assert!(
        fewest_first.windows(2).all(|w| w[0] <= w[1]),
        "{fewest_first:?}"
    );
    // With a search: sorting keeps it; nonsense sorts by name, as the page does by default.
    let rice = b.text(&format!("/hubs/{kin}?q=rice&sort=-quantity")).await;
    assert!(
        rice.contains(&format!("href=\"/hubs/{kin}?q=rice&#38;sort=name\"")),
        "{rice}"
    );
    let odd = b.text(&format!("/hubs/{kin}?sort=%27%3Bdrop")).await;
    let skus = |page: &str| -> Vec<String> {
        page.split("<td data-label=\"SKU\">")
            .skip(1)
            .map(|cell| {
                cell.split("<code>")
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        skus(&odd),
        skus(&b.text(&format!("/hubs/{kin}")).await),
        "the default order"
    );
    assert_ne!(skus(&odd), skus(&page));
    app.shutdown().await;
}

#[tokio::test]
async fn hub_lists_are_searched_and_filtered_by_status() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (kin, mbj) = (app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB"));
    let now = chrono::Utc::now();
    let op = |kind: &str, payload: serde_json::Value| serde_json::json!({ "op_id": uuid::Uuid::new_v4(), "kind": kind, "captured_at": now, "payload": payload });
    let (sent, kept) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let line = serde_json::json!([{ "sku": WATER, "quantity": 2 }]);
    let (status, body) = app
        .sync(
            &app.token("depot").await,
            serde_json::json!({ "operations": [
                op("distribution.create", serde_json::json!({ "distribution_id": uuid::Uuid::new_v4(), "hub_id": mbj, "recipient": "Mount Salem Shelter", "lines": line })),
                op("distribution.create", serde_json::json!({ "distribution_id": uuid::Uuid::new_v4(), "hub_id": mbj, "recipient": "100% Church Kitchen", "lines": line })),
                op("needs_list.create", serde_json::json!({ "needs_list_id": sent, "hub_id": mbj, "title": "Week 48 water", "lines": line })),
                op("needs_list.submit", serde_json::json!({ "needs_list_id": sent, "hub_id": mbj })),
                op("needs_list.create", serde_json::json!({ "needs_list_id": kept, "hub_id": mbj, "title": "Week 49 rice", "lines": line })),
                op("transfer.request", serde_json::json!({ "transfer_id": uuid::Uuid::new_v4(), "hub_id": mbj, "from_hub_id": kin, "lines": line })),
                op("intake.create", serde_json::json!({ "intake_id": uuid::Uuid::new_v4(), "hub_id": mbj, "donor": "Rotary Club of Montego Bay", "lines": line })),
            ] }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"]["status"] == "applied"),
        "{body}"
    );
    let depot = app.signed_in("depot").await;

    let all = depot.text(&format!("/hubs/{mbj}/distributions")).await;
    assert!(
        all.contains("Mount Salem Shelter")
            && all.contains("100% Church Kitchen")
            && all.contains("2 in all"),
        "{all}"
    );
    // "%" is a character searched for, not a wildcard.
    let found = depot
        .text(&format!("/hubs/{mbj}/distributions?q=100%25"))
        .await;
    assert!(
        found.contains("100% Church Kitchen")
            && !found.contains("Mount Salem")
            && found.contains("1 match"),
        "{found}"
    );
    let none = depot
        .text(&format!("/hubs/{mbj}/distributions?status=confirmed"))
        .await;
    assert!(
        none.contains("0 match") && none.contains("No distributions"),
        "{none}"
    );

    // Sorted by a column, the filter kept in its links.
    let by_name = depot
        .text(&format!("/hubs/{mbj}/distributions?sort=recipient"))
        .await;
    assert!(
        by_name.find("100% Church").unwrap() < by_name.find("Mount Salem").unwrap(),
        "{by_name}"
    );
    let reversed = depot
        .text(&format!("/hubs/{mbj}/distributions?sort=-recipient"))
        .await;
    assert!(
        reversed.find("100% Church").unwrap() > reversed.find("Mount Salem").unwrap(),
        "{reversed}"
    );
    assert!(reversed.contains("aria-sort=\"descending\""), "{reversed}");
    let filtered = depot
        .text(&format!("/hubs/{mbj}/needs-lists?status=draft&sort=title"))
        .await;
    assert!(
        filtered.contains(&format!(
            "href=\"/hubs/{mbj}/needs-lists?status=draft&#38;sort=-title\""
        )),
        "{filtered}"
    );
    let titles = depot
        .text(&format!("/hubs/{mbj}/needs-lists?sort=-title"))
        .await;
    assert!(
        titles.find("Week 49 rice").unwrap() < titles.find("Week 48 water").unwrap(),
        "{titles}"
    );

    let submitted = depot
        .text(&format!("/hubs/{mbj}/needs-lists?status=submitted"))
        .await;
    assert!(
        submitted.contains("Week 48 water") && !submitted.contains("Week 49 rice"),
        "{submitted}"
    );
    assert!(
        submitted.contains("<option value=\"submitted\" selected>"),
        "{submitted}"
    );
    // A status the list does not offer is no filter at all.
    let any = depot
        .text(&format!("/hubs/{mbj}/needs-lists?status=%27or%201%3D1"))
        .await;
    assert!(
        any.contains("Week 48 water") && any.contains("Week 49 rice") && any.contains("2 in all"),
        "{any}"
    );

    let to_kingston = depot
        .text(&format!(
            "/hubs/{mbj}/transfers?q=kingston&status=requested"
        ))
        .await;
    assert!(
        to_kingston.contains("Kingston Main Warehouse") && to_kingston.contains("1 match"),
        "{to_kingston}"
    );
    let elsewhere = depot
        .text(&format!("/hubs/{mbj}/transfers?q=mandeville"))
        .await;
    assert!(elsewhere.contains("0 match"), "{elsewhere}");

    // A list nobody has decided has no "Approved" column; the manager deciding sees "Approve".
    let draft = depot.text(&format!("/hubs/{mbj}/needs-lists/{kept}")).await;
    assert!(
        draft.contains("Week 49 rice")
            && !draft.contains("Approved</th>")
            && !draft.contains("Approve</th>"),
        "{draft}"
    );
    let deciding = app
        .signed_in("logistics")
        .await
        .text(&format!("/hubs/{mbj}/needs-lists/{sent}"))
        .await;
    assert!(
        deciding.contains("Approve</th>") && !deciding.contains("Approved</th>"),
        "{deciding}"
    );

    let rotary = depot.text(&format!("/hubs/{mbj}/intakes?q=rotary")).await;
    assert!(
        rotary.contains("Rotary Club of Montego Bay") && rotary.contains("1 match"),
        "{rotary}"
    );
    // The pager keeps the filter.
    assert!(
        rotary.contains("action=\"/hubs/") && rotary.contains("value=\"rotary\""),
        "{rotary}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_hubs_stock_downloads_as_csv_with_the_lists_filters_and_order() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let b = app.signed_in("warehouse").await;
    let page = b.text(&format!("/hubs/{kin}?q=water&sort=-quantity")).await;
    let href = format!("/hubs/{kin}/stock.csv?q=water&#38;sort=-quantity");
    assert!(page.contains(&href), "{page}");
    let res = b
        .get(&format!("/hubs/{kin}/stock.csv?q=water&sort=-quantity"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("stock-kin-main.csv"));
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("sku,item,description,unit,on_hand,reorder_level")
    );
    let quantities: Vec<i64> = lines
        .map(|l| l.rsplit(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        !quantities.is_empty() && quantities.windows(2).all(|w| w[0] >= w[1]),
        "{csv}"
    );
    assert!(
        csv.to_lowercase().matches("water").count() >= quantities.len(),
        "{csv}"
    );
    // Every line of the hub, not one page of it.
    let all = b.text(&format!("/hubs/{kin}/stock.csv")).await;
    let lines = app.count(&format!(
        "SELECT count(*) AS n FROM stock_levels WHERE hub_id = {kin}"
    ));
    assert!(lines > 50, "more than a page");
    assert_eq!(all.lines().count() as i64, lines + 1);
    // Another hub's stock is not downloadable.
    let depot = app.signed_in("depot").await;
    assert_eq!(
        depot.get(&format!("/hubs/{kin}/stock.csv")).await.status(),
        404
    );
    app.shutdown().await;
}
