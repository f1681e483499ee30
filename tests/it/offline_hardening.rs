//! Issue 10's browser items, in real headless Chromium against the real server process (and a
//! real proxy process in front of it where a load balancer matters): outages behind a proxy,
//! shared devices, refused entries, queue accounting, the offline working set, the cost of a
//! long queue and the words shown when offline access has ended.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;

use crate::browser::{Chrome, Proxy, Server};
use crate::common::TestDb;

const WATER: &str = "00101-P-1-NA-N";

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
        diesel::sql_query(sql)
            .get_result::<N>(&mut self.db.conn())
            .unwrap()
            .n
    }

    fn text(&self, sql: &str) -> Option<String> {
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

    fn hub_id(&self, code: &str) -> i64 {
        self.count(&format!("SELECT id AS n FROM hubs WHERE code = '{code}'"))
    }
}

fn pill_is(state: &str) -> String {
    format!("document.getElementById('status-pill').dataset.state === '{state}'")
}

async fn queue_intake(chrome: &Chrome, kin: i64, donor: &str, sku: &str) {
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    assert!(
        chrome.body_text().await.contains("Record an intake"),
        "the form opens: {}",
        chrome.body_text().await
    );
    chrome
        .submit(
            "form[data-offline-form='intake.create']",
            &[("donor", donor), ("line_sku", sku), ("line_qty", "5")],
        )
        .await;
    let text = chrome.body_text().await;
    assert!(text.contains("Saved on this device"), "{text}");
}

const SECS: Duration = Duration::from_secs(30);

/// Items 4 and 6: behind a proxy, the server's absence is a 502; that is an outage like any
/// other (entries queue, cached pages show). A 503 or a 500 in the middle of a replay does not
/// stall the queue: it resumes by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_an_outage_queues_entries_and_replay_survives_5xx() {
    let mut world = World::start();
    let proxy = Proxy::start(world.server.port);
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&proxy.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    for path in [format!("/hubs/{kin}"), format!("/hubs/{kin}/intakes/new")] {
        chrome.goto(&path).await;
        assert!(chrome.wait_for(&pill_is("synced"), SECS).await);
    }

    world.server.kill();
    // The proxy answers 502 now; the cached page is shown instead.
    assert_eq!(
        reqwest::get(format!("{}/login", proxy.url()))
            .await
            .unwrap()
            .status(),
        502
    );
    chrome.goto(&format!("/hubs/{kin}")).await;
    let text = chrome.body_text().await;
    assert!(
        text.contains("Kingston Main Warehouse") && !text.contains("502"),
        "{text}"
    );
    queue_intake(&chrome, kin, "Behind the proxy 1", WATER).await;
    queue_intake(&chrome, kin, "Behind the proxy 2", WATER).await;
    assert!(!chrome.body_text().await.contains("Bad Gateway"));
    assert!(chrome.wait_for(&pill_is("offline"), SECS).await);
    assert_eq!(
        chrome
            .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
            .await,
        json!(2)
    );

    // Back, but the gateway fails the first replayed post with 503 and the next with 500.
    proxy.fail("POST", "/hubs/", 503, 1).await;
    proxy.fail("POST", "/hubs/", 500, 1).await;
    world.server.restart();
    assert!(
        chrome
            .wait_for(&pill_is("synced"), Duration::from_secs(60))
            .await,
        "replay resumed by itself: {}",
        chrome.body_text().await
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM intakes WHERE donor LIKE 'Behind the proxy%'"),
        2
    );
    assert_eq!(
        chrome
            .js_async("OutpostStore.countPending().then(arguments[0])", json!([]))
            .await,
        json!(0)
    );
}

/// Item 5: on a shared device, queued entries belong to whoever saved them. The sign-in page
/// says whose they are, a colleague's session leaves them alone, and they go in their
/// author's next session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_on_the_same_device_never_sends_anothers_entries() {
    let mut world = World::start();
    let proxy = Proxy::start(world.server.port);
    let kin = world.hub_id("KIN-MAIN");
    let chrome = Chrome::start(&proxy.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    chrome.goto(&format!("/hubs/{kin}/intakes/new")).await;
    world.server.kill();
    queue_intake(&chrome, kin, "Shared device donor", WATER).await;
    // Back online, but every replayed post fails at the gateway: the entry stays queued
    // while its author signs out and a colleague signs in.
    proxy.fail("POST", "/hubs/", 503, 100_000).await;
    world.server.restart();
    chrome.goto("/").await;
    chrome.sign_out().await;
    assert!(
        chrome
            .wait_for("document.getElementById('waiting-owners')", SECS)
            .await,
        "{}",
        chrome.body_text().await
    );
    let note = chrome.body_text().await;
    assert!(note.contains("1 entry saved by warehouse"), "{note}");
    assert!(chrome.wait_for(&pill_is("syncing"), SECS).await);
    assert!(chrome.body_text().await.contains("Sign in to sync (1)"));

    chrome.sign_in("logistics").await;
    proxy.reset().await;
    // Several ping rounds: nothing of warehouse's is sent in the colleague's session.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes"), 0);
    assert_eq!(
        world.count("SELECT count(*) AS n FROM operations"),
        0,
        "nothing replayed under the colleague"
    );
    assert!(
        chrome.wait_for(&pill_is("synced"), SECS).await,
        "the colleague has nothing waiting"
    );
    chrome.goto("/sync-issues").await;
    assert!(!chrome.body_text().await.contains("Shared device donor"));
    chrome.sign_out().await;

    // The author signs in again: their entry goes, under their name.
    chrome.sign_in("warehouse").await;
    assert!(chrome.wait_for(&pill_is("synced"), SECS).await);
    assert_eq!(world.count("SELECT count(*) AS n FROM intakes i JOIN users u ON u.id = i.created_by WHERE u.username = 'warehouse' AND i.donor = 'Shared device donor'"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM operations o JOIN users u ON u.id = o.actor_id WHERE u.username <> 'warehouse'"), 0);
}

/// A sign-out made while the server is down takes effect when it is back, before anything
/// else: the next person does not find the session open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_made_offline_reaches_the_server_first() {
    let mut world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("warehouse").await;
    chrome.wait_for_service_worker().await;
    world.server.kill();
    chrome.sign_out_offline().await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("You are signed out on this device"),
        "{}",
        chrome.body_text().await
    );
    chrome.goto("/").await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("You signed out on this device"),
        "{}",
        chrome.body_text().await
    );
    world.server.restart();
    chrome.goto("/").await;
    assert!(
        chrome
            .wait_for("location.pathname === '/login'", SECS)
            .await,
        "the session is over: {}",
        chrome.body_text().await
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.logout'"),
        1
    );
}
