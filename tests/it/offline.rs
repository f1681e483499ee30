//! Offline mode end to end, in real headless Chromium against the real server process:
//! work while the server is down, come back, and everything arrives exactly once.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::browser::{Chrome, Server};
use crate::common::TestDb;

/// A seeded database and the real server process (shared with `offline_hardening`).
pub(crate) struct World {
    pub db: TestDb,
    pub server: Server,
    /// The server's log (RUST_LOG=info), for a failing test to show.
    log: crate::browser::TempDir,
}

impl World {
    pub fn start() -> World {
        let db = TestDb::migrated();
        outpost::demo::seed::seed(&mut db.conn()).unwrap();
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let log = crate::browser::TempDir(std::env::temp_dir().join(format!("outpost-{prefix}")));
        std::fs::create_dir_all(&log.0).unwrap();
        let server = Server::start_logged(&db.url, &prefix, &[], &log.0.join("server.log"));
        World { db, server, log }
    }

    /// The last lines of the server's log, requests and warnings among them.
    pub fn server_log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log.0.join("server.log")).unwrap_or_default();
        // A page reports its queue every 2 s while entries wait: those lines say nothing.
        let all: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("http.route=/api/v1/devices/report"))
            .collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql)
            .get_result::<N>(&mut self.db.conn())
            .unwrap()
            .n
    }

    pub fn text(&self, sql: &str) -> Option<String> {
        #[derive(QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            t: Option<String>,
        }
        diesel::sql_query(sql)
            .get_result::<T>(&mut self.db.conn())
            .ok()
            .and_then(|r| r.t)
    }

    pub fn hub_id(&self, code: &str) -> i64 {
        self.count(&format!("SELECT id AS n FROM hubs WHERE code = '{code}'"))
    }
}

const WATER: &str = "00101-P-1-NA-N";

pub(crate) async fn pill(chrome: &Chrome) -> String {
    chrome.js("var p = document.getElementById('status-pill'); return p && !p.hidden ? p.dataset.state + '|' + p.textContent : ''", json!([])).await.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_offline_then_everything_arrives_exactly_once() {
    let mut world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    // Visit what will be needed in the field, so it is cached.
    for path in [
        "/".to_string(),
        format!("/hubs/{kin}"),
        format!("/hubs/{kin}/intakes/new"),
        format!("/hubs/{kin}/distributions/new"),
    ] {
        chrome.goto(&path).await;
        assert!(
            chrome
                .wait_for(
                    "document.getElementById('status-pill').dataset.state === 'synced'",
                    Duration::from_secs(10)
                )
                .await,
            "{path}: {}",
            pill(&chrome).await
        );
    }
    let before = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));

    world.server.kill();

    // Three intakes and a distribution while the server is down.
    for (n, donor) in ["Red Cross Jamaica", "USAID", "Digicel Foundation"]
        .into_iter()
        .enumerate()
    {
        chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
        assert!(
            chrome.body_text().await.contains("Record an intake"),
            "the form opens from the cache"
        );
        chrome
            .submit(
                "form[data-offline-form='intake.create']",
                &[("donor", donor), ("line_sku", WATER), ("line_qty", "5")],
            )
            .await;
        let text = chrome.body_text().await;
        assert!(
            text.contains("Saved on this device — will sync when connection is restored"),
            "{text}"
        );
        // It says how many wait, and offers the next empty form.
        let waiting = match n + 1 {
            1 => "1 entry waits on this device".to_string(),
            k => format!("{k} entries wait on this device"),
        };
        assert!(text.contains(&waiting), "{text}");
        let again = chrome
            .js("var a = [].find.call(document.querySelectorAll('a'), function (a) { return a.textContent === 'Enter another'; }); return a ? a.getAttribute('href') : '';", json!([]))
            .await;
        assert_eq!(again, json!(format!("/hubs/{kin}/intakes/new")));
    }
    chrome.goto(&format!("/hubs/{kin}/distributions/new")).await;
    chrome
        .submit(
            "form[data-offline-form='distribution.create']",
            &[
                ("recipient", "Trench Town Community Shelter"),
                ("line_sku", WATER),
                ("line_qty", "2"),
            ],
        )
        .await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'offline'",
                Duration::from_secs(10)
            )
            .await,
        "red pill: {}",
        pill(&chrome).await
    );
    assert!(
        pill(&chrome)
            .await
            .contains("Offline – 4 entries saved on this device"),
        "{}",
        pill(&chrome).await
    );

    // A cached page reloads offline and says how old it is.
    chrome.goto(&format!("/hubs/{kin}")).await;
    assert!(chrome.body_text().await.contains("Kingston Main Warehouse"));
    assert!(
        chrome
            .wait_for(
                "!document.getElementById('last-synced').hidden",
                Duration::from_secs(10)
            )
            .await
    );
    assert!(chrome
        .body_text()
        .await
        .contains("Showing data last synced at"));
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'offline'",
                Duration::from_secs(10)
            )
            .await
    );
    let queued = chrome
        .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
        .await;
    assert_eq!(queued, json!(4));
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 0);

    // The server comes back: the pill goes yellow, then green, without anyone clicking.
    chrome.js("window.__states = []; setInterval(function () { var s = document.getElementById('status-pill').dataset.state; if (window.__states[window.__states.length - 1] !== s) window.__states.push(s); }, 20);", json!([])).await;
    world.server.restart();
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await,
        "green: {}",
        pill(&chrome).await
    );
    let states = chrome.js("return window.__states", json!([])).await;
    assert!(
        states.as_array().unwrap().iter().any(|s| s == "syncing"),
        "went through yellow: {states}"
    );

    // Each operation exactly once, audited as offline.
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 3);
    assert_eq!(world.count("SELECT count(*) AS n FROM distributions"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('intake.create', 'distribution.create') AND offline AND outcome = 'applied' AND role_at_capture = 'WarehouseOp'"), 4);
    assert_eq!(
        world.count("SELECT count(*) AS n FROM operations WHERE offline"),
        4
    );
    let after = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    assert_eq!(after, before + 15);
    assert!(outpost::inventory::ledger::mismatches(&mut world.db.conn())
        .unwrap()
        .is_empty());
    assert_eq!(
        chrome
            .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
            .await,
        json!(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_queue_replayed_twice_applies_once() {
    let mut world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    world.server.kill();
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    chrome
        .submit(
            "form[data-offline-form='intake.create']",
            &[("donor", "UNICEF"), ("line_sku", WATER), ("line_qty", "9")],
        )
        .await;
    // The same queued operation twice (a tab that replayed while another did, a restored backup).
    let copied = chrome.js_async("const done = arguments[0]; OutpostStore.listPending().then(ops => { const op = ops[0]; const secret = op.secret; delete op.seq; delete op.secret; delete op.sealed; return OutpostStore.addPending(op, secret); }).then(() => OutpostStore.countPending()).then(done)", json!([])).await;
    assert_eq!(copied, json!(2));
    world.server.restart();
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM operations"), 1);
    assert_eq!(
        chrome
            .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
            .await,
        json!(0)
    );
    assert_eq!(
        chrome
            .js_async(
                "OutpostStore.listIssues().then(i => arguments[0](i.length))",
                json!([])
            )
            .await,
        json!(0),
        "a duplicate is not an issue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_edit_lands_in_sync_issues_and_the_review_queue() {
    let mut world = World::start();
    let mbj = world.hub_id("MBJ-SUB");
    let depot_id = world.count("SELECT id AS n FROM users WHERE username = 'depot'");
    let dist = uuid::Uuid::new_v4();
    {
        // A draft made earlier today, online.
        let mut conn = world.db.conn();
        diesel::sql_query(format!("INSERT INTO operations (id, actor_id, op_id, kind, payload, captured_at, role_at_apply, status) VALUES ('{dist}', {depot_id}, gen_random_uuid(), 'seed', '{{}}', now(), 'DepotManager', 'applied')")).execute(&mut conn).unwrap();
        diesel::sql_query(format!("INSERT INTO distributions (id, hub_id, recipient, created_by) VALUES ('{dist}', {mbj}, 'Mandeville Church Relief Centre', {depot_id})")).execute(&mut conn).unwrap();
        diesel::sql_query(format!("INSERT INTO distribution_lines VALUES ('{dist}', 1, (SELECT id FROM product_variants WHERE full_sku = '{WATER}'), 4)")).execute(&mut conn).unwrap();
    }
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("depot").await;
    chrome.wait_for_service_worker().await;
    let detail = format!("/hubs/{mbj}/distributions/{dist}");
    chrome.goto(&detail).await;
    assert!(chrome.body_text().await.contains("Edit this draft"));

    // Someone else changes the notes (version 1 → 2) while this page still shows version 1.
    let token = crate::live::token(&world.server.url(), "admin").await;
    let body = json!({ "operations": [{ "op_id": uuid::Uuid::new_v4(), "kind": "distribution.update", "base_version": 1, "captured_at": chrono::Utc::now(), "payload": { "distribution_id": dist, "hub_id": mbj, "notes": "Use the church hall entrance" } }] });
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/sync", world.server.url()))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["result"]["status"], "applied");

    world.server.kill();
    chrome.goto(&detail).await;
    chrome
        .js("document.querySelector('details').open = true", json!([]))
        .await;
    chrome
        .submit(
            "form[data-offline-form='distribution.update']",
            &[("notes", "Leave with the pastor")],
        )
        .await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    world.server.restart();
    chrome.goto("/sync-issues").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await,
        "{}",
        pill(&chrome).await
    );
    chrome.goto("/sync-issues").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('device-issues').dataset.read === '1'",
                Duration::from_secs(10)
            )
            .await,
        "the device holds the conflict"
    );
    // Listed once: in the server's table, where Compare and resolve is, not again as a card.
    let listed: Value = chrome
        .js("return [document.querySelectorAll('#device-issues li.device-issue').length, document.getElementById('device-issues').hidden, Array.from(document.querySelectorAll('tr[data-op-id]:not([hidden])')).map(r => r.innerText)]", json!([]))
        .await;
    assert_eq!(listed[0], 0, "{listed}");
    assert_eq!(listed[1], true, "{listed}");
    let rows = listed[2].as_array().unwrap();
    assert!(
        rows.len() == 1
            && rows[0].as_str().unwrap().contains("Distribution change")
            && rows[0].as_str().unwrap().contains("Compare and resolve"),
        "{listed}"
    );
    // The server did not override its data, and the conflict waits for the manager.
    assert_eq!(world.count(&format!("SELECT count(*) AS n FROM distributions WHERE id = '{dist}' AND notes = 'Use the church hall entrance'")), 1);
    chrome.goto("/review").await;
    assert!(chrome.body_text().await.contains("Distribution change"));
    // Resolved on the server, the conflict leaves the device too: it does not come back in
    // "On this device" once the table no longer lists it.
    chrome.click("tr[data-op-id] a.button").await;
    chrome.click("form[data-settles] button.secondary").await;
    assert!(
        chrome
            .wait_for("location.pathname === '/review'", Duration::from_secs(10))
            .await
    );
    chrome.goto("/sync-issues").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('device-issues').dataset.read === '0'",
                Duration::from_secs(10)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    assert_eq!(world.count(&format!("SELECT count(*) AS n FROM distributions WHERE id = '{dist}' AND notes = 'Use the church hall entrance'")), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_captured_offline_awaits_online_confirmation() {
    let mut world = World::start();
    let mbj = world.hub_id("MBJ-SUB");
    let depot_id = world.count("SELECT id AS n FROM users WHERE username = 'depot'");
    let list = uuid::Uuid::new_v4();
    {
        let mut conn = world.db.conn();
        diesel::sql_query(format!("INSERT INTO needs_lists (id, hub_id, title, status, created_by, submitted_at) VALUES ('{list}', {mbj}, 'Hurricane week supplies', 'submitted', {depot_id}, now())")).execute(&mut conn).unwrap();
        diesel::sql_query(format!("INSERT INTO needs_list_lines VALUES ('{list}', 1, (SELECT id FROM product_variants WHERE full_sku = '{WATER}'), 50, NULL)")).execute(&mut conn).unwrap();
    }
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("logistics").await;
    chrome.wait_for_service_worker().await;
    let detail = format!("/hubs/{mbj}/needs-lists/{list}");
    chrome.goto(&detail).await;
    world.server.kill();
    chrome.goto(&detail).await;
    chrome
        .submit(
            "form[data-offline-form='needs_list.decide']",
            &[("decision", "approve")],
        )
        .await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("needs online confirmation"),
        "{}",
        chrome.body_text().await
    );
    world.server.restart();
    chrome.goto("/").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM operations WHERE kind = 'needs_list.decide' AND status = 'pending_review' AND offline"), 1);
    assert_eq!(
        world.count(&format!(
            "SELECT count(*) AS n FROM needs_lists WHERE id = '{list}' AND status = 'submitted'"
        )),
        1,
        "nothing decided yet"
    );
    chrome.goto("/review").await;
    assert!(chrome.body_text().await.contains("Needs list decision"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_signed_in_cannot_open_anything_offline() {
    let mut world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.goto("/login").await;
    chrome.wait_for_service_worker().await;
    world.server.kill();
    chrome.goto("/").await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("Offline access not available. Please connect at least once."),
        "{}",
        chrome.body_text().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_forms_post_normally_online() {
    let world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), false).await;
    chrome.goto("/login").await;
    chrome.type_into("#username", "warehouse").await;
    chrome
        .type_into("#password", outpost::demo::seed::DEMO_PASSWORD)
        .await;
    chrome.click("form.stack button[type=submit]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    chrome.type_into("#donor", "Church of God in Jamaica").await;
    chrome.type_into("#sku-1", WATER).await;
    chrome.type_into("#qty-1", "6").await;
    chrome
        .click("form[data-offline-form] button[type=submit]")
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(chrome
        .source()
        .await
        .contains("Intake recorded and stock updated."));
    assert_eq!(
        world.count("SELECT count(*) AS n FROM intakes WHERE donor = 'Church of God in Jamaica'"),
        1
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM operations WHERE NOT offline"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_one_hub_never_finds_another_hubs_data_on_the_device() {
    let mut world = World::start();
    let (mbj, kin) = (world.hub_id("MBJ-SUB"), world.hub_id("KIN-MAIN"));
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("depot").await;
    chrome.wait_for_service_worker().await;
    for path in [
        "/".to_string(),
        format!("/hubs/{mbj}"),
        format!("/hubs/{mbj}/intakes/new"),
        "/hubs".into(),
        format!("/hubs/{kin}"),
    ] {
        chrome.goto(&path).await;
    }
    world.server.kill();
    chrome.goto(&format!("/hubs/{mbj}/intakes/new")).await;
    chrome
        .submit(
            "form[data-offline-form='intake.create']",
            &[
                ("donor", "Local church"),
                ("line_sku", WATER),
                ("line_qty", "1"),
            ],
        )
        .await;
    chrome.goto(&format!("/hubs/{mbj}")).await;
    let stored = chrome.device_storage().await;
    assert!(
        stored.contains(&format!("/hubs/{mbj}")),
        "own hub cached: {}",
        &stored[..stored.len().min(500)]
    );
    assert!(
        stored.contains("donor=Local+church"),
        "the queued entry is on the device"
    );
    for foreign in [
        "Kingston Main Warehouse",
        "KIN-MAIN",
        "Harbour Relief",
        "HRA-PORT",
        &format!("/hubs/{kin}\n"),
    ] {
        assert!(
            !stored.contains(foreign),
            "found '{foreign}' on the device of a Montego Bay user"
        );
    }
    assert!(!stored.contains(&format!("\"hub_id\":{kin}")));
    // Signing out (online) wipes the device after the unsynced warning.
    world.server.restart();
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'synced'",
                Duration::from_secs(60)
            )
            .await
    );
    chrome.goto("/").await;
    // Clicked after the script returns: chromedriver otherwise waits on the navigation the click
    // starts (one CI run hung there); the wait below still bounds the sign-out itself.
    chrome.js("window.confirm = function () { return true; }; setTimeout(function () { document.querySelector('form[action=\"/logout\"] button').click(); }, 0)", json!([])).await;
    assert!(
        chrome
            .wait_for("location.pathname === '/login'", Duration::from_secs(10))
            .await
    );
    let left = chrome.js_async("caches.keys().then(k => arguments[0](k.filter(n => n.startsWith('outpost-pages')).length))", json!([])).await;
    assert_eq!(left, json!(0), "no user pages left after sign-out");
}

/// Benchmark, not a test: how long after the server is reachable again the first queued
/// operation arrives, and how long a queue of 1,000 takes to drain. Run with
/// `scripts/bench-offline`; it prints the figures and asserts nothing about time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_offline_replay() {
    let n: usize = std::env::var("OUTPOST_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut world = World::start();
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    world.server.kill();
    let script = r#"
        const [n, hub, sku] = arguments; const done = arguments[arguments.length - 1];
        const form = document.querySelector("form[data-offline-form='intake.create']");
        const base = new URLSearchParams(new FormData(form));
        (async () => {
            const user = await OutpostStore.getMeta('current_user');
            for (let i = 0; i < n; i++) {
                const body = new URLSearchParams(base);
                const op = crypto.randomUUID();
                body.set('op_id', op); body.set('record_id', crypto.randomUUID());
                body.set('donor', 'Bench donor ' + i); body.set('line_sku', sku); body.set('line_qty', '1');
                await OutpostStore.addPending({ op_id: op, kind: 'intake.create', user_id: user, hub_id: hub, captured_at: new Date().toISOString(), needs_online: false },
                                              { url: '/hubs/' + hub + '/intakes', body: body.toString() });
            }
            return OutpostStore.countPending();
        })().then(done, e => done('ERROR ' + e));
    "#;
    // Only the first row of the form's line table is filled; the others stay blank.
    let queued = chrome.js_async(script, json!([n, kin, WATER])).await;
    assert_eq!(queued, json!(n));
    // As after queueing through the form: the page knows it holds entries and the server is away.
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('status-pill').dataset.state === 'offline'",
                Duration::from_secs(10)
            )
            .await
    );
    world.server.restart();
    let started = world.count("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS n");
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while world.count("SELECT count(*) AS n FROM operations") < n as i64 {
        assert!(std::time::Instant::now() < deadline, "queue did not drain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = world
        .count("SELECT (extract(epoch from min(received_at)) * 1000)::bigint AS n FROM operations")
        - started;
    let last = world
        .count("SELECT (extract(epoch from max(received_at)) * 1000)::bigint AS n FROM operations")
        - started;
    let applied = world.count("SELECT count(*) AS n FROM operations WHERE status = 'applied'");
    println!("BENCH offline replay: {n} queued operations; first arrived {first} ms after the server was reachable; all {applied} applied after {last} ms ({:.1} ops/s)", n as f64 * 1000.0 / last.max(1) as f64);
    // Where the time went: each transaction (a chunk of a batch) starts at its operations'
    // received_at; the steps between starts are chunk times, and the longer ones at batch
    // boundaries hold the device's turn (answer, settle, next request).
    #[derive(QueryableByName)]
    struct Timeline {
        #[diesel(sql_type = diesel::sql_types::Text)]
        steps: String,
    }
    let timeline = diesel::sql_query(
        "SELECT string_agg(format('%s:%s', n, ms), ' ' ORDER BY t) AS steps FROM ( \
           SELECT t, n, coalesce((extract(epoch FROM t - lag(t) OVER (ORDER BY t)) * 1000)::int, 0) AS ms \
           FROM (SELECT received_at AS t, count(*) AS n FROM operations GROUP BY 1) c) s",
    )
    .get_result::<Timeline>(&mut world.db.conn())
    .unwrap();
    println!(
        "BENCH offline replay timeline (operations:ms since the previous transaction began): {}",
        timeline.steps
    );
}
