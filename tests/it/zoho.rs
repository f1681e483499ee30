//! The Zoho sync worker against a fake Zoho: the seed's sprint 2 check, token refresh, 429 and
//! 5xx handling, permanent errors, duplicate SKUs, several workers, a Redis restart, and the
//! SYSTEM_BOT database role.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::fake_zoho::{FakeZoho, Fault};

/// A demo-world app set up to talk to the fake Zoho.
pub(crate) fn builder_for(zoho: &FakeZoho) -> crate::common::TestAppBuilder {
    let mut builder = TestApp::builder().with_demo_world();
    for (name, value) in zoho.settings() {
        builder = builder.setting(name, &value);
    }
    builder
}

async fn app_with(zoho: &FakeZoho) -> TestApp {
    builder_for(zoho).start().await
}

/// A new variant through the API, as a sales rep makes one. Returns (id, sku).
async fn new_variant(app: &TestApp, color: &str) -> (i64, String) {
    let token = app.token("sales").await;
    let res = app.client.post(app.url("/api/v1/variants")).bearer_auth(&token).json(&json!({ "identity_id": 1, "color_code": color, "condition_code": "D", "listing_price": 12.5, "description": format!("Bottled water, {color} crate") })).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["zoho_sync_status"], "PENDING");
    (
        v["id"].as_i64().unwrap(),
        v["full_sku"].as_str().unwrap().to_string(),
    )
}

pub(crate) async fn sync(
    app: &TestApp,
    id: i64,
) -> Result<outpost::zoho_sync::Synced, outpost::error::AppError> {
    let http = outpost_jobs::zoho::ZohoClient::http_client(Duration::from_secs(5));
    outpost::zoho_sync::sync_variant(
        &app.state,
        app.state.settings.zoho.as_ref().unwrap(),
        &http,
        id,
    )
    .await
}

fn status(app: &TestApp, id: i64) -> (String, Option<String>, Option<String>) {
    use outpost::schema::product_variants as pv;
    pv::table
        .find(id)
        .select((pv::zoho_sync_status, pv::zoho_item_id, pv::zoho_last_error))
        .first(&mut app.conn())
        .unwrap()
}

async fn wait_for_status(app: &TestApp, id: i64, want: &str) -> bool {
    for _ in 0..200 {
        if status(app, id).0 == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sprint_2_create_then_update_through_the_running_worker() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let (id, sku) = new_variant(&app, "GY").await;
    assert!(
        wait_for_status(&app, id, "SYNCED").await,
        "the worker synced the new variant: {:?}",
        status(&app, id)
    );
    let (_, item_id, _) = status(&app, id);
    let items = zoho.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["sku"], sku.as_str());
    assert_eq!(items[0]["rate"], 12.5);
    assert_eq!(
        Some(items[0]["item_id"].as_str().unwrap().to_string()),
        item_id
    );

    // A price change marks it DIRTY; the worker sends the update.
    let token = app.token("sales").await;
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/variants/{sku}")))
        .bearer_auth(&token)
        .json(&json!({ "listing_price": 14.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["zoho_sync_status"],
        "DIRTY"
    );
    assert!(wait_for_status(&app, id, "SYNCED").await);
    assert_eq!(zoho.items()[0]["rate"], 14.0);
    assert!(zoho.calls().iter().any(|c| c.starts_with("PUT /items/")));
    // Audited under the SYSTEM_BOT user.
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE actor_name = 'zoho-bot' AND object_id = '{id}' AND action IN ('zoho.item.created', 'zoho.item.updated')")), 2);
    let _ = stop_tx.send(());
    worker.await.unwrap().unwrap();
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_refreshed_once_and_again_when_zoho_refuses_it() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let (a, _) = new_variant(&app, "GY").await;
    let (b, _) = new_variant(&app, "SL").await;
    sync(&app, a).await.unwrap();
    sync(&app, b).await.unwrap();
    assert_eq!(
        zoho.tokens_issued(),
        1,
        "the cached token served both (shared in Redis)"
    );
    // Zoho drops the token: the client refreshes and the call goes through.
    zoho.inject(Fault::ExpireToken);
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE product_variants SET zoho_sync_status = 'DIRTY' WHERE id = {a}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    sync(&app, a).await.unwrap();
    assert_eq!(zoho.tokens_issued(), 2);
    assert_eq!(status(&app, a).0, "SYNCED");
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_with_backoff() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let (id, _) = new_variant(&app, "GY").await;
    zoho.inject(Fault::TooManyRequests);
    zoho.inject(Fault::ServerError);
    let started = std::time::Instant::now();
    sync(&app, id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    assert_eq!(status(&app, id).0, "SYNCED");
    assert_eq!(
        zoho.calls().iter().filter(|c| *c == "POST /items").count(),
        3,
        "429, 500, then success"
    );
    assert_eq!(zoho.items().len(), 1);
    assert_eq!(status(&app, id).2, None, "the error is cleared on success");
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_leaves_the_variant_in_error_for_admins_to_see() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let (id, sku) = new_variant(&app, "GY").await;
    zoho.inject(Fault::Refuse(4, "Invalid value passed for rate"));
    zoho.inject(Fault::Refuse(4, "Invalid value passed for rate"));
    zoho.inject(Fault::Refuse(4, "Invalid value passed for rate"));
    zoho.inject(Fault::Refuse(4, "Invalid value passed for rate"));
    assert!(matches!(
        sync(&app, id).await,
        Ok(outpost::zoho_sync::Synced::Failed(_))
    ));
    let (st, _, error) = status(&app, id);
    assert_eq!(st, "ERROR");
    assert!(error.unwrap().contains("Invalid value passed for rate"));
    assert_eq!(
        zoho.calls().iter().filter(|c| *c == "POST /items").count(),
        4,
        "OUTPOST_ZOHO_MAX_ATTEMPTS times, then no more"
    );
    let admin = app.signed_in("admin").await;
    let page = admin.text("/admin/jobs").await;
    assert!(
        page.contains(&sku) && page.contains("Invalid value passed for rate"),
        "{page}"
    );
    // Retrying from the page puts it back in the queue, audited.
    let res = admin
        .post_form("/admin/jobs/retry", &[("variant_id", &id.to_string())])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(status(&app, id).0, "PENDING");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'job.retried'"),
        1
    );
    sync(&app, id).await.unwrap();
    assert_eq!(status(&app, id).0, "SYNCED");
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_sku_is_found_and_linked() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let (id, sku) = new_variant(&app, "GY").await;
    zoho.books
        .lock()
        .unwrap()
        .items
        .push(json!({ "item_id": "777", "sku": sku, "name": "made by hand in Zoho", "rate": 1.0 }));
    assert_eq!(
        sync(&app, id).await.unwrap(),
        outpost::zoho_sync::Synced::Linked("777".into())
    );
    assert_eq!(
        status(&app, id),
        ("SYNCED".into(), Some("777".into()), None)
    );
    assert_eq!(zoho.items().len(), 1, "no second item");
    assert_eq!(zoho.items()[0]["rate"], 12.5, "brought up to date");
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_create_each_item_once() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    let mut ids = Vec::new();
    for color in ["GY", "SL", "RD", "GN", "BR"] {
        ids.push(new_variant(&app, color).await.0);
    }
    // Only these five wait for Zoho: the other variants' syncs, which the workers' minute
    // sweep would send if the test runs across a minute, are not what this test counts.
    {
        use diesel::RunQueryDsl;
        let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
        diesel::sql_query(format!(
            "UPDATE product_variants SET zoho_sync_status = 'SYNCED' WHERE id NOT IN ({})",
            listed.join(",")
        ))
        .execute(&mut app.conn())
        .unwrap();
    }
    // Slow answers widen the window in which two workers could collide.
    for _ in 0..5 {
        zoho.inject(Fault::Slow(Duration::from_millis(150)));
    }
    let (stop_a, rx_a) = tokio::sync::oneshot::channel::<()>();
    let (stop_b, rx_b) = tokio::sync::oneshot::channel::<()>();
    let a = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = rx_a.await;
    }));
    let b = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = rx_b.await;
    }));
    // Both also get every job twice, as after a double enqueue.
    for id in &ids {
        outpost::jobs::enqueue_zoho(&app.state, *id).await.unwrap();
        outpost::jobs::enqueue_zoho(&app.state, *id).await.unwrap();
    }
    for id in &ids {
        assert!(
            wait_for_status(&app, *id, "SYNCED").await,
            "{id}: {:?}",
            status(&app, *id)
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(zoho.items().len(), 5);
    let (created, refused) = {
        let b = zoho.books.lock().unwrap();
        (b.created, b.duplicates_refused)
    };
    assert_eq!(
        (created, refused),
        (5, 0),
        "each created exactly once, never even attempted twice: {:?}",
        zoho.calls()
    );
    assert_eq!(zoho.tokens_issued(), 1, "one token for both workers");
    let _ = (stop_a.send(()), stop_b.send(()));
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_lost_with_redis_are_made_again_from_the_database() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    // The demo catalog counts as already in Zoho; only the two new variants wait.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'seed'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    let (a, _) = new_variant(&app, "GY").await;
    let (b, _) = new_variant(&app, "SL").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Redis restarts without its data: every queued job is gone.
    let mut redis = app.state.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:zoho-sync*", app.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the jobs were queued");
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut redis)
        .await
        .unwrap();
    // The worker's sweep finds both variants still waiting in PostgreSQL and queues them again.
    assert_eq!(
        outpost::zoho_sync::requeue_waiting(&app.state)
            .await
            .unwrap(),
        2
    );
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = rx.await;
    }));
    assert!(wait_for_status(&app, a, "SYNCED").await && wait_for_status(&app, b, "SYNCED").await);
    assert_eq!(zoho.items().len(), 2);
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    app.shutdown().await;
    zoho.stop().await;
}

#[test]
fn the_sync_bot_database_role_cannot_change_a_price() {
    let db = crate::common::TestDb::migrated();
    let mut conn = db.conn();
    outpost::demo::seed::seed(&mut conn).unwrap();
    let err = conn
        .transaction::<(), diesel::result::Error, _>(|conn| {
            diesel::sql_query("SET LOCAL ROLE outpost_sync_bot").execute(conn)?;
            diesel::sql_query("UPDATE product_variants SET listing_price_cents = 1")
                .execute(conn)?;
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    // It can write the sync columns.
    conn.transaction::<(), diesel::result::Error, _>(|conn| {
        diesel::sql_query("SET LOCAL ROLE outpost_sync_bot").execute(conn)?;
        diesel::sql_query("UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'x' WHERE id = 1").execute(conn)?;
        Ok(())
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_is_shared_and_respected() {
    // The quota is per UTC day: a run that straddles midnight would find a fresh day's quota
    // for its third request (seen once, in a CI run at 23:59). Start it in the new day instead.
    let into_day = chrono::Utc::now().timestamp_millis().rem_euclid(86_400_000);
    let left = 86_400_000 - into_day;
    if left < 60_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 1_000)).await;
    }
    let zoho = FakeZoho::start().await;
    let app = builder_for(&zoho)
        .setting("OUTPOST_ZOHO_REQUESTS_PER_DAY", "2")
        .start()
        .await;
    let (a, _) = new_variant(&app, "GY").await;
    let (b, _) = new_variant(&app, "SL").await;
    let (c, _) = new_variant(&app, "RD").await;
    sync(&app, a).await.unwrap();
    sync(&app, b).await.unwrap();
    assert!(matches!(
        sync(&app, c).await,
        Ok(outpost::zoho_sync::Synced::Waiting(_))
    ));
    let (st, _, error) = status(&app, c);
    assert_eq!(st, "PENDING", "waits for the next day rather than failing");
    assert!(error.unwrap().contains("quota"));
    assert_eq!(zoho.items().len(), 2);
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_a_redis_restart() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'seed'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    // A Redis of our own with an append-only file, as production Redis should run.
    let dir = std::env::temp_dir().join(format!("outpost-redis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = outpost::demo::launcher::free_port().unwrap();
    let start = || {
        std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
            ])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let url = format!("redis://127.0.0.1:{port}");
    let connect = || async {
        for _ in 0..100 {
            if let Ok(Ok(c)) =
                tokio::time::timeout(Duration::from_secs(2), outpost::redis_conn::connect(&url))
                    .await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("redis did not come up");
    };
    let mut redis = start();
    let mut state = app.state.clone();
    state.redis = connect().await;
    // Two variants queued while no worker runs (made directly, so only this Redis holds the jobs).
    let (a, _) = new_variant(&app, "GY").await;
    let (b, _) = new_variant(&app, "SL").await;
    for id in [a, b] {
        tokio::time::timeout(
            Duration::from_secs(5),
            outpost::jobs::enqueue_zoho(&state, id),
        )
        .await
        .unwrap()
        .unwrap();
    }
    // Redis stops and starts again.
    unsafe { libc::kill(redis.id() as i32, libc::SIGTERM) };
    redis.wait().unwrap();
    let mut redis = start();
    state.redis = connect().await;
    // Both jobs are still there after the restart (before any worker or sweep could re-make them).
    let mut private = state.redis.clone();
    let queued: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:zoho-sync*", app.prefix))
        .query_async(&mut private)
        .await
        .unwrap();
    let data_key = queued
        .iter()
        .find(|k| k.ends_with(":data"))
        .unwrap_or_else(|| panic!("job data survived: {queued:?}"))
        .clone();
    let jobs: i64 = redis::cmd("HLEN")
        .arg(&data_key)
        .query_async(&mut private)
        .await
        .unwrap();
    assert_eq!(jobs, 2, "{queued:?}");
    // The app's own queue must not be what syncs them: empty it.
    let mut main = app.state.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:zoho-sync*", app.prefix))
        .query_async(&mut main)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut main)
            .await
            .unwrap();
    }
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(state.clone(), async move {
        let _ = rx.await;
    }));
    let synced =
        wait_for_status(&app, a, "SYNCED").await && wait_for_status(&app, b, "SYNCED").await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), worker).await;
    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        synced,
        "jobs queued before the restart were processed: {:?} {:?}",
        status(&app, a),
        status(&app, b)
    );
    assert_eq!(zoho.items().len(), 2);
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_in_flight_finishes_when_the_worker_is_stopped() {
    let zoho = FakeZoho::start().await;
    let app = app_with(&zoho).await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'seed'",
        ),
        &mut app.conn(),
    )
    .unwrap();
    zoho.inject(Fault::Slow(Duration::from_millis(1500)));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = rx.await;
    }));
    let (id, _) = new_variant(&app, "GY").await;
    // Wait until Zoho is answering (slowly) the worker's request, then ask the worker to stop.
    for _ in 0..100 {
        if zoho.calls().iter().any(|c| c == "POST /items") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        zoho.calls().iter().any(|c| c == "POST /items"),
        "the job started"
    );
    assert_ne!(status(&app, id).0, "SYNCED");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops within its shutdown timeout")
        .unwrap()
        .unwrap();
    assert_eq!(
        status(&app, id).0,
        "SYNCED",
        "the in-flight job was allowed to finish"
    );
    assert_eq!(zoho.items().len(), 1);
    app.shutdown().await;
    zoho.stop().await;
}
