//! Offline mode end to end, in real headless Chromium against the real server process:
//! work while the server is down, come back, and everything arrives exactly once.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;

use crate::browser::{Chrome, Server};
use crate::common::TestDb;

struct World {
    db: TestDb,
    server: Server,
}

impl World {
    fn start() -> World {
        let db = TestDb::migrated();
        outpost::demo::seed::seed(&mut db.conn()).unwrap();
        let server = Server::start(&db.url, &format!("test-{}", uuid::Uuid::new_v4().simple()));
        World { db, server }
    }

    fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql).get_result::<N>(&mut self.db.conn()).unwrap().n
    }

    fn hub_id(&self, code: &str) -> i64 {
        self.count(&format!("SELECT id AS n FROM hubs WHERE code = '{code}'"))
    }
}

const WATER: &str = "00101-P-1-NA-N";

async fn pill(chrome: &Chrome) -> String {
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
    for path in ["/".to_string(), format!("/hubs/{kin}"), format!("/hubs/{kin}/intakes/new"), format!("/hubs/{kin}/distributions/new")] {
        chrome.goto(&path).await;
        assert!(chrome.wait_for("document.getElementById('status-pill').dataset.state === 'synced'", Duration::from_secs(10)).await, "{path}: {}", pill(&chrome).await);
    }
    let before = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));

    world.server.kill();

    // Three intakes and a distribution while the server is down.
    for donor in ["Red Cross Jamaica", "USAID", "Digicel Foundation"] {
        chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
        assert!(chrome.body_text().await.contains("Record an intake"), "the form opens from the cache");
        chrome.submit("form[data-offline-form='intake.create']", &[("donor", donor), ("line_sku", WATER), ("line_qty", "5")]).await;
        let text = chrome.body_text().await;
        assert!(text.contains("Saved on this device — will sync when connection is restored"), "{text}");
    }
    chrome.goto(&format!("/hubs/{kin}/distributions/new")).await;
    chrome.submit("form[data-offline-form='distribution.create']", &[("recipient", "Trench Town Community Shelter"), ("line_sku", WATER), ("line_qty", "2")]).await;
    assert!(chrome.body_text().await.contains("Saved on this device"));
    assert!(chrome.wait_for("document.getElementById('status-pill').dataset.state === 'offline'", Duration::from_secs(10)).await, "red pill: {}", pill(&chrome).await);
    assert!(pill(&chrome).await.contains("Offline – Working in offline mode"));

    // A cached page reloads offline and says how old it is.
    chrome.goto(&format!("/hubs/{kin}")).await;
    assert!(chrome.body_text().await.contains("Kingston Main Warehouse"));
    assert!(chrome.wait_for("!document.getElementById('last-synced').hidden", Duration::from_secs(10)).await);
    assert!(chrome.body_text().await.contains("Showing data last synced at"));
    assert!(chrome.wait_for("document.getElementById('status-pill').dataset.state === 'offline'", Duration::from_secs(10)).await);
    let queued = chrome.js_async("OutpostStore.countPending().then(arguments[0])", json!([])).await;
    assert_eq!(queued, json!(4));
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 0);

    // The server comes back: the pill goes yellow, then green, without anyone clicking.
    chrome.js("window.__states = []; setInterval(function () { var s = document.getElementById('status-pill').dataset.state; if (window.__states[window.__states.length - 1] !== s) window.__states.push(s); }, 20);", json!([])).await;
    world.server.restart();
    assert!(chrome.wait_for("document.getElementById('status-pill').dataset.state === 'synced'", Duration::from_secs(20)).await, "green: {}", pill(&chrome).await);
    let states = chrome.js("return window.__states", json!([])).await;
    assert!(states.as_array().unwrap().iter().any(|s| s == "syncing"), "went through yellow: {states}");

    // Each operation exactly once, audited as offline.
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 3);
    assert_eq!(world.count("SELECT count(*) AS n FROM distributions"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('intake.create', 'distribution.create') AND offline AND outcome = 'applied' AND role_at_capture = 'WarehouseOp'"), 4);
    assert_eq!(world.count("SELECT count(*) AS n FROM operations WHERE offline"), 4);
    let after = world.count(&format!("SELECT quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    assert_eq!(after, before + 15);
    assert!(outpost::inventory::ledger::mismatches(&mut world.db.conn()).unwrap().is_empty());
    assert_eq!(chrome.js_async("OutpostStore.countPending().then(arguments[0])", json!([])).await, json!(0));
}
