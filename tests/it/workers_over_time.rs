//! Issue 26: background jobs over time, not one fresh moment. A job used to die the first time
//! it published an event (`spawn_local` outside a `LocalSet`), so quotas were reset once after a
//! start and never again, and stations were never swept. Here one `outpost worker` process runs
//! through three reset periods and two station outages; a panicking task is reported on
//! /admin/jobs; and in `outpost demo` live events stay prompt after the cron jobs have run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use crate::badge_copies::{badge_with_quota, request, StationClient};
use crate::common::{TestApp, WorkerProcess};
use crate::live::{intake, token, Sse};
use crate::sales::customer;

fn run(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.conn()).unwrap();
}

/// Waits up to `within` for `sql` (a count) to reach `want`.
async fn until_count(app: &TestApp, sql: &str, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let n = app.count(sql);
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {n}, expected {want}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_resets_three_periods_running_and_sweeps_two_station_outages() {
    let app = TestApp::builder().with_demo_world().start().await;
    let shelter = customer(&app, "TT-SHELTER");
    badge_with_quota(&mut app.conn(), shelter, "04AB12CD345678", 5);
    run(&app, &format!("UPDATE badge_quotas SET period = 'day', period_start = date_trunc('day', now()), next_reset_at = date_trunc('day', now()) + interval '1 day' WHERE customer_id = {shelter}"));
    let station = app.id_of("SELECT id FROM nfc_stations WHERE code = 'KIN-BADGE-1'");
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let customer_token = app.token("customer").await;
    let _worker = WorkerProcess::start(&app.db.url, &app.prefix);
    let resets = "SELECT count(*) AS n FROM audit_log WHERE action = 'badge.quota_reset'";
    let offline = "SELECT count(*) AS n FROM outbox WHERE topic = 'station.offline' AND published_at IS NOT NULL";
    let abandoned = "SELECT count(*) AS n FROM badge_copies WHERE status = 'abandoned'";

    for round in 1..=3i64 {
        // A day passes: every stored time moves back one day, and the quota is used up.
        run(&app, &format!("UPDATE badge_quota_resets SET period_start = period_start - interval '1 day' WHERE customer_id = {shelter}"));
        run(&app, &format!("UPDATE badge_quotas SET remaining = 0, period_start = period_start - interval '1 day', next_reset_at = now() - interval '1 second' WHERE customer_id = {shelter}"));
        until_count(&app, resets, round, Duration::from_secs(40)).await;
        assert_eq!(
            app.count(&format!(
                "SELECT remaining::bigint AS n FROM badge_quotas WHERE customer_id = {shelter}"
            )),
            5,
            "round {round}: the allowance is back"
        );
        if round == 3 {
            break;
        }
        // A station outage: it leased a copy and went quiet; its last lease ran out.
        let res = request(&app, &customer_token, station).await;
        assert_eq!(
            res.status(),
            201,
            "round {round}: {}",
            res.text().await.unwrap()
        );
        let (status, job) = desk.next(2).await;
        assert_eq!(status, 200, "round {round}: {job}");
        run(&app, &format!(
            "UPDATE badge_copies SET attempts = {}, lease_until = now() - interval '1 second' WHERE status = 'leased'",
            outpost::badges::copies::MAX_LEASES
        ));
        run(
            &app,
            "UPDATE nfc_stations SET last_seen_at = now() - interval '5 minutes'",
        );
        until_count(&app, abandoned, round, Duration::from_secs(40)).await;
        until_count(&app, offline, round, Duration::from_secs(40)).await;
        assert_eq!(
            app.count(&format!(
                "SELECT remaining::bigint AS n FROM badge_quotas WHERE customer_id = {shelter}"
            )),
            5,
            "round {round}: the abandoned copy's quota came back"
        );
        // The station comes back.
        assert_eq!(desk.next(0).await.0, 204);
        assert_eq!(
            app.count("SELECT count(*) AS n FROM nfc_stations WHERE code = 'KIN-BADGE-1' AND announced_online"),
            1
        );
    }
    // Every reset and sweep was published by the worker (none left for later).
    until_count(
        &app,
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
        Duration::from_secs(20),
    )
    .await;

    // The jobs page shows each task running, with no problem.
    let admin = app.signed_in("admin").await;
    let page = admin.text("/admin/jobs").await;
    for task in ["quota-reset", "station-sweep", "outbox-sweep"] {
        let row = page
            .split(&format!("data-task=\"{task}\""))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("{task} is listed: {page}"));
        assert!(row.contains("Running"), "{task}: {row}");
        assert!(row.contains(">None<"), "{task}: {row}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_runs_again_and_is_reported_on_the_jobs_page() {
    let app = TestApp::builder().with_demo_world().start().await;
    let task = outpost::task_health::QUOTA_RESET;
    let panicked = outpost::task_health::supervise(&app.state, task, async {
        if true {
            panic!("the quota table is on fire");
        }
        Ok(())
    })
    .await;
    assert!(panicked.is_err());
    let admin = app.signed_in("admin").await;
    let row = |page: String| {
        page.split("data-task=\"quota-reset\"")
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap()
            .to_string()
    };
    let first = row(admin.text("/admin/jobs").await);
    assert!(first.contains("1 panic"), "{first}");
    assert!(
        first.contains("panicked: the quota table is on fire"),
        "{first}"
    );
    assert!(first.contains("Last run failed"), "{first}");
    // Its next turn succeeds: running again, the panic still counted.
    outpost::task_health::supervise(&app.state, task, async { Ok(()) })
        .await
        .unwrap();
    let then = row(admin.text("/admin/jobs").await);
    assert!(
        then.contains("Running") && then.contains("1 panic"),
        "{then}"
    );
    // A periodic task no worker runs shows as not running.
    let page = admin.text("/admin/jobs").await;
    let sweep = page
        .split("data-task=\"station-sweep\"")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(sweep.contains("Not running"), "{sweep}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_from_background_tasks_every_time() {
    let app = TestApp::builder().with_demo_world().start().await;
    // As the worker's cron jobs do: from tasks of the multi-threaded runtime, several times.
    for round in 0..3 {
        {
            let mut conn = app.conn();
            outpost::events::enqueue(&mut conn, "badge.quota_reset", json!({ "round": round }))
                .unwrap();
        }
        let state = app.state.clone();
        tokio::spawn(async move { outpost::events::publish_soon(&state) })
            .await
            .expect("publishing from a background task does not panic");
        until_count(
            &app,
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
            0,
            Duration::from_secs(5),
        )
        .await;
    }
    app.shutdown().await;
}

/// A task's field in the health record the workers keep in Redis.
async fn task_field(redis: &mut redis::aio::ConnectionManager, task: &str, field: &str) -> i64 {
    redis::cmd("HGET")
        .arg(format!("outpost:tasks:{task}"))
        .arg(field)
        .query_async::<Option<i64>>(redis)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_workers_come_back_after_redis_restarts_and_take_jobs_again() {
    use apalis::prelude::*;
    let mut redis = crate::live::PrivateRedis::start();
    let db = crate::common::TestDb::migrated();
    let _worker = WorkerProcess::start_with_redis(&db.url, &redis.url(), "outpost");
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Redis restarts and forgets everything, the workers' registrations included: the queue
    // workers' backends fail, and the monitor starts them again.
    redis.restart();
    let mut conn = outpost::redis_conn::connect(&redis.url()).await.unwrap();
    // A render queued now is taken (the invoice is unknown, so the run is all there is to see).
    let mut queue = apalis_redis::RedisStorage::new(conn.clone()).with_config(
        apalis_redis::Config::default()
            .queue(format!("outpost:{}", outpost_jobs::queues::INVOICE_RENDER)),
    );
    queue
        .push(outpost_jobs::InvoiceRender {
            invoice_id: uuid::Uuid::new_v4(),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    while task_field(&mut conn, "invoice-render", "runs").await < 1 {
        assert!(
            Instant::now() < deadline,
            "the restarted invoice worker took the job"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        task_field(&mut conn, "invoice-render", "restarts").await >= 1,
        "the restart is counted for /admin/jobs"
    );
    let problem: Option<String> = redis::cmd("HGET")
        .arg("outpost:tasks:invoice-render")
        .arg("last_problem")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(problem, None, "a restart is not a failed run");
}

/// `outpost demo` on the test's PostgreSQL and Redis, killed when dropped.
struct Demo {
    child: Child,
    port: u16,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_demo_live_events_stay_prompt_after_the_cron_jobs_have_published() {
    let db = crate::common::TestDb::migrated();
    let port = outpost::demo::launcher::free_port().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let data = std::env::temp_dir().join(format!("outpost-demo-{prefix}"));
    let demo = Demo {
        child: Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("demo")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OUTPOST_DATABASE_URL", &db.url)
            .env("OUTPOST_REDIS_URL", crate::common::redis_url())
            .env("OUTPOST_REDIS_PREFIX", &prefix)
            .env("OUTPOST_BIND", format!("127.0.0.1:{port}"))
            .env("OUTPOST_DATA_DIR", &data)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        port,
    };
    let base = format!("http://127.0.0.1:{}", demo.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/readyz"))
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the demo did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A quota falls due: the demo's quota reset publishes its event (the first publish of a
    // cron job was the one that took the jobs, and every later prompt event, down).
    let mut conn = db.conn();
    let shelter: i64 = outpost::schema::customers::table
        .filter(outpost::schema::customers::code.eq("TT-SHELTER"))
        .select(outpost::schema::customers::id)
        .first(&mut conn)
        .unwrap();
    // The demo for people comes with the shelter's badges and quota (`demo::showcase`).
    let due = diesel::sql_query(format!("UPDATE badge_quotas SET remaining = 0, period = 'day', period_start = now() - interval '1 day 1 second', next_reset_at = now() - interval '1 second' WHERE customer_id = {shelter}"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(due, 1, "the demo has the shelter's quota");
    let reset_published = "SELECT count(*) AS n FROM outbox WHERE topic = 'badge.quota_reset' AND published_at IS NOT NULL";
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n = diesel::sql_query(reset_published)
            .get_result::<N>(&mut conn)
            .unwrap()
            .n;
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the demo's quota reset ran");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Writes spaced over more than the outbox sweep's 10 s: each reaches a viewer at once,
    // not at the sweep's next turn.
    let kin: i64 = outpost::schema::hubs::table
        .filter(outpost::schema::hubs::code.eq("KIN-MAIN"))
        .select(outpost::schema::hubs::id)
        .first(&mut conn)
        .unwrap();
    let warehouse = token(&base, "warehouse").await;
    let mut viewer = Sse::connect(&base, &token(&base, "admin").await, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lags = Vec::new();
    for _ in 0..5 {
        let op = intake(&base, &warehouse, kin).await;
        // Written (committed and answered): from here the event is on its way.
        let sent = Instant::now();
        let seen: Option<_> = viewer
            .wait_for(Duration::from_secs(15), |e: &crate::live::SseEvent| {
                e.data["op_id"] == op.as_str()
            })
            .await;
        assert!(seen.is_some(), "the viewer saw the intake");
        lags.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
    assert!(
        lags.iter().all(|lag| *lag < Duration::from_secs(1)),
        "live events lag behind the writes: {lags:?}"
    );
    drop(demo);
    let _ = std::fs::remove_dir_all(data);
}
