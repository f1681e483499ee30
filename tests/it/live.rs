//! Issue 13: live events. Two `outpost serve` processes share PostgreSQL and a Redis of this
//! test's own (so it can be restarted without disturbing other tests); viewers connect to the
//! second with `GET /events` while work is done through the first.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::browser::Server;
use crate::common::TestDb;

/// A Redis server of the test's own, on a free port, keeping nothing on disk.
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let mut r = PrivateRedis {
            child: None,
            port: outpost::demo::launcher::free_port().unwrap(),
        };
        r.restart();
        r
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// A viewer's event stream, read in the background.
pub struct Sse {
    rx: mpsc::UnboundedReceiver<SseEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Sse {
    pub async fn connect(base: &str, token: &str, last_id: Option<&str>) -> Sse {
        let mut req = reqwest::Client::new()
            .get(format!("{base}/events"))
            .bearer_auth(token);
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let mut res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut ev = SseEvent {
                        id: String::new(),
                        event: "message".into(),
                        data: Value::Null,
                    };
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id: ") {
                            ev.id = v.into();
                        } else if let Some(v) = line.strip_prefix("event: ") {
                            ev.event = v.into();
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            ev.data = serde_json::from_str(v).unwrap_or(Value::Null);
                        }
                    }
                    if !ev.data.is_null() && tx.send(ev).is_err() {
                        return;
                    }
                }
            }
        });
        Sse { rx, task }
    }

    /// The first event (in order) that `want` accepts, within `within`.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        want: impl Fn(&SseEvent) -> bool,
    ) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ev)) if want(&ev) => return Some(ev),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }

    /// Everything received within `within`.
    pub async fn collect(&mut self, within: Duration) -> Vec<SseEvent> {
        let mut all = Vec::new();
        while let Some(ev) = self.wait_for(within, |_| true).await {
            all.push(ev);
        }
        all
    }
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn token(base: &str, username: &str) -> String {
    let res: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", outpost::demo::seed::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["access_token"].as_str().unwrap().to_string()
}

/// An intake of 3 bottles of water at `hub` through the sync API; its op id.
pub async fn intake(base: &str, token: &str, hub: i64) -> String {
    let op_id = uuid::Uuid::new_v4().to_string();
    let body = json!({ "operations": [{ "op_id": op_id, "kind": "intake.create", "captured_at": chrono::Utc::now(),
        "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": hub, "donor": "WFP", "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 3 }] } }] });
    let res: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/sync"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["results"][0]["result"]["status"], "applied", "{res}");
    op_id
}

fn is_op(op: &str) -> impl Fn(&SseEvent) -> bool + '_ {
    move |e| e.data["op_id"] == op
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_viewers_in_scope_on_every_instance_after_reconnects_and_a_redis_restart() {
    let mut redis = PrivateRedis::start();
    let db = TestDb::migrated();
    outpost::demo::seed::seed(&mut db.conn()).unwrap();
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let settings = [("OUTPOST_REDIS_URL", redis.url())];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = Server::start_with(&db.url, &prefix, &settings);
    let second = Server::start_with(&db.url, &prefix, &settings);
    let (a, b) = (first.url(), second.url());
    let kin = {
        use diesel::prelude::*;
        outpost::schema::hubs::table
            .filter(outpost::schema::hubs::code.eq("KIN-MAIN"))
            .select(outpost::schema::hubs::id)
            .first::<i64>(&mut db.conn())
            .unwrap()
    };
    let warehouse = token(&a, "warehouse").await;
    let admin = token(&b, "admin").await;
    let mut admin_feed = Sse::connect(&b, &admin, None).await;
    let mut depot_feed = Sse::connect(&b, &token(&b, "depot").await, None).await;
    let mut agency_feed = Sse::connect(&b, &token(&b, "agency").await, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Raised through the first instance, seen on the second, with what a person needs to read it.
    let op = intake(&a, &warehouse, kin).await;
    let seen = admin_feed
        .wait_for(Duration::from_secs(10), is_op(&op))
        .await
        .expect("the admin sees the intake");
    assert_eq!(seen.event, "activity");
    assert_eq!(seen.data["kind"], "intake.create");
    assert_eq!(seen.data["status"], "applied");
    assert_eq!(seen.data["hub_id"], kin);
    assert!(
        seen.data["actor"].as_str().is_some_and(|a| !a.is_empty()),
        "{:?}",
        seen.data
    );
    assert!(
        admin_feed
            .wait_for(Duration::from_secs(5), |e| e.event == "changed"
                && e.data["hub_id"] == kin)
            .await
            .is_some(),
        "stock moved"
    );
    // A depot manager of another hub, and another agency, see nothing of Kingston's.
    for feed in [&mut depot_feed, &mut agency_feed] {
        let got = feed.collect(Duration::from_millis(1500)).await;
        assert!(got.iter().all(|e| e.data["hub_id"] != kin), "{got:?}");
    }

    // A viewer that went away and comes back with Last-Event-ID gets what it missed, once.
    let last = admin_feed
        .collect(Duration::from_millis(500))
        .await
        .last()
        .map_or(seen.id.clone(), |e| e.id.clone());
    drop(admin_feed);
    let missed = [
        intake(&a, &warehouse, kin).await,
        intake(&a, &warehouse, kin).await,
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = Sse::connect(&b, &admin, Some(&last)).await;
    let caught: Vec<SseEvent> = again.collect(Duration::from_millis(1500)).await;
    let ops: Vec<&str> = caught
        .iter()
        .filter_map(|e| e.data["op_id"].as_str())
        .collect();
    assert_eq!(
        ops,
        missed.iter().map(String::as_str).collect::<Vec<_>>(),
        "{caught:?}"
    );

    // Redis restarts (and forgets everything): the viewer's stream stays open and new events
    // arrive again once both instances have their connections back.
    redis.restart();
    let mut arrived = false;
    for _ in 0..30 {
        let op = intake(&a, &warehouse, kin).await;
        if again
            .wait_for(Duration::from_secs(2), is_op(&op))
            .await
            .is_some()
        {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "events flow again after the Redis restart");
    // A brand-new viewer after the restart is served too.
    let mut fresh = Sse::connect(&b, &admin, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let op = intake(&a, &warehouse, kin).await;
    assert!(fresh
        .wait_for(Duration::from_secs(10), is_op(&op))
        .await
        .is_some());
}

/// The dashboard open in one browser, an intake submitted in another; the hub's figures and
/// the activity log change without the page reloading, and the swap breaks no rule of the
/// page's Content Security Policy (issue 30, finding 13), in Chromium and in Firefox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_updates_itself_when_an_intake_is_recorded_elsewhere() {
    dashboard_updates_itself(crate::browser::Engine::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_firefox_the_dashboard_updates_itself_within_its_content_security_policy() {
    dashboard_updates_itself(crate::browser::Engine::Firefox).await;
}

async fn dashboard_updates_itself(engine: crate::browser::Engine) {
    use crate::browser::Chrome;
    let world = crate::offline::World::start();
    let kin = world.hub_id("KIN-MAIN");
    let viewer = Chrome::start_in(engine, &world.server.url()).await;
    viewer.sign_in("logistics").await;
    viewer.goto("/").await;
    assert!(
        viewer
            .wait_for(
                "!document.querySelector('[data-live-note]').hidden",
                Duration::from_secs(15)
            )
            .await,
        "the event stream opens"
    );
    // Anything the page's Content Security Policy refuses from here on is kept.
    viewer
        .js("window.__refused = []; document.addEventListener('securitypolicyviolation', e => window.__refused.push(e.violatedDirective + ' ' + (e.blockedURI || '')));", json!([]))
        .await;
    let units = "(() => { const c = [...document.querySelectorAll('.hub-card')].find(c => c.innerText.includes('KIN-MAIN')); return c ? c.querySelector('.stats span:nth-child(2) b').innerText : ''; })()";
    let before = viewer.js(&format!("return {units}"), json!([])).await;
    viewer.js("window.__samePage = true", json!([])).await;
    let worker = Chrome::start(&world.server.url(), true).await;
    worker.sign_in("warehouse").await;
    worker.goto(&format!("/hubs/{kin}/intakes/new")).await;
    worker
        .submit(
            "form[data-offline-form='intake.create']",
            &[
                ("donor", "Live Relief Fund"),
                ("line_sku", "00101-P-1-NA-N"),
                ("line_qty", "1200"),
            ],
        )
        .await;
    let changed = viewer
        .wait_for(
            "window.__samePage === true && document.getElementById('activity-log').innerText.includes('Intake recorded')",
            Duration::from_secs(20),
        )
        .await;
    assert!(changed, "{}", viewer.body_text().await);
    let after = viewer.js(&format!("return {units}"), json!([])).await;
    let n = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .replace([',', ' '], "")
            .parse::<i64>()
            .unwrap_or(-1)
    };
    assert_eq!(n(&after), n(&before) + 1200, "{before} → {after}");
    assert_eq!(
        viewer.js("return window.__refused", json!([])).await,
        json!([]),
        "{engine:?}: the live swap needs nothing the policy refuses"
    );
    viewer.assert_console_clean();
    if engine != crate::browser::Engine::Chromium {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    viewer
        .screenshot(&dir.join("dashboard-live.png"), 1366)
        .await;
    viewer
        .js(
            "document.getElementById('activity-title').scrollIntoView()",
            json!([]),
        )
        .await;
    viewer
        .screenshot(&dir.join("dashboard-live-activity.png"), 1366)
        .await;
}

/// A viewer who closes the tab frees what the server held for them; a customer user sees only
/// their own account's badge copies; someone signed out gets no stream at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_streams_are_freed_and_customers_see_only_their_own_copies() {
    use std::sync::atomic::Ordering;
    let app = crate::common::TestApp::builder()
        .with_demo_world()
        .start()
        .await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anonymous.get(app.url("/events")).send().await.unwrap();
    assert!(
        matches!(res.status().as_u16(), 303 | 401),
        "{}",
        res.status()
    );
    let customer = app.token("customer").await;
    let admin = app.token("admin").await;
    let mut own = Sse::connect(&app.address, &customer, None).await;
    let watcher = Sse::connect(&app.address, &admin, None).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while app
        .state
        .service::<outpost::live::follow::Live>()
        .viewers
        .load(Ordering::SeqCst)
        < 2
    {
        assert!(Instant::now() < deadline, "two viewers connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A copy for the customer's account, and an intake at a hub.
    let shelter = crate::sales::customer(&app, "TT-SHELTER");
    let station = app.id_of("SELECT id FROM nfc_stations WHERE code = 'KIN-BADGE-1'");
    crate::badge_copies::badge_with_quota(&mut app.conn(), shelter, "04AB12CD", 5);
    let res = app
        .client
        .post(app.url("/api/v1/badges/copies"))
        .bearer_auth(&customer)
        .json(&json!({ "customer_id": shelter, "badge_uid": "04AB12CD", "station_id": station }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let warehouse = app.token("warehouse").await;
    let op = intake(&app.address, &warehouse, app.hub_id("KIN-MAIN")).await;
    let got = own.collect(Duration::from_millis(1500)).await;
    assert!(
        got.iter()
            .any(|e| e.data["topic"] == "copy.requested" && e.data["customer_id"] == shelter),
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|e| e.data["op_id"] != op.as_str() && e.data["topic"] != "stock"),
        "nothing of the hub's own work: {got:?}"
    );
    // The admin closes the tab: writing to it soon fails (the first write after a close may
    // still land in the kernel's buffer), and the server lets go.
    drop(watcher);
    let mut freed = false;
    for _ in 0..20 {
        intake(&app.address, &warehouse, app.hub_id("KIN-MAIN")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if app
            .state
            .service::<outpost::live::follow::Live>()
            .viewers
            .load(Ordering::SeqCst)
            == 1
        {
            freed = true;
            break;
        }
    }
    assert!(freed, "the closed stream was not freed");
    app.shutdown().await;
}
