//! Issue 14's faults, against real processes: the server killed in the middle of a long replay,
//! PostgreSQL restarted under a write load, and a graceful stop on SIGTERM. After each, every
//! operation is applied exactly once, the stock ledger and levels agree, every operation has
//! its one audit row, and the audit chain verifies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::browser::Server;
use crate::common::TestDb;

const WATER: &str = "00101-P-1-NA-N";

fn intakes(hub: i64, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
                "device_id": "fault-test", "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": hub,
                "donor": format!("Donor {i}"), "lines": [{ "sku": WATER, "quantity": 3 }] } })
        })
        .collect()
}

/// One batch to `POST /api/v1/sync`: the status, whether it said when to retry, and the body.
async fn post(base: &str, token: &str, ops: &[Value]) -> Result<(u16, bool, Value), String> {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/sync"))
        .bearer_auth(token)
        .json(&json!({ "operations": ops }))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let retry_after = res.headers().contains_key("retry-after");
    Ok((status, retry_after, res.json().await.unwrap_or_default()))
}

/// Sends `ops` again until every one is answered applied or duplicate (a client that never
/// learnt what happened to them resends them all).
async fn resend_until_settled(base: &str, token: &str, ops: &[Value]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for chunk in ops.chunks(100) {
        loop {
            assert!(Instant::now() < deadline, "the server did not recover");
            match post(base, token, chunk).await {
                Ok((200, _, body)) => {
                    for r in body["results"].as_array().unwrap() {
                        let status = r["result"]["status"].as_str().unwrap();
                        assert!(matches!(status, "applied" | "duplicate"), "{r}");
                    }
                    break;
                }
                Ok((503, true, _)) | Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                Ok((status, _, body)) => panic!("resend answered {status}: {body}"),
            }
        }
    }
}

/// The books after a fault: `ops` applied exactly once, each with one audit row; the level of
/// water at `hub` grew by 3 per operation from `before`; ledger and levels agree; the chain
/// (sealed now) verifies.
fn books_balance(url: &str, hub: i64, ops: &[Value], before: i64) {
    let mut conn = PgConnection::establish(url).unwrap();
    let ids: Vec<uuid::Uuid> = ops
        .iter()
        .map(|o| o["op_id"].as_str().unwrap().parse().unwrap())
        .collect();
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |conn: &mut PgConnection, sql: &str| -> i64 {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&ids)
            .get_result::<N>(conn)
            .unwrap()
            .n
    };
    let n = ops.len() as i64;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM operations WHERE op_id = ANY($1) AND status = 'applied'"
        ),
        n,
        "every operation applied, once"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM audit_log WHERE operation_id = ANY($1) AND action = 'intake.create'"),
        n,
        "one audit row per operation"
    );
    let level = count(
        &mut conn,
        &format!("SELECT l.quantity AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id \
                  WHERE l.hub_id = {hub} AND v.full_sku = '{WATER}' AND cardinality($1) >= 0"),
    );
    assert_eq!(level, before + 3 * n, "the level grew once per operation");
    assert!(outpost::inventory::ledger::mismatches(&mut conn)
        .unwrap()
        .is_empty());
    outpost::audit::seal::seal_all(&mut conn).unwrap();
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!((report.first_broken, report.unsealed), (None, 0));
}

fn water_level(url: &str, hub: i64) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!(
        "SELECT coalesce((SELECT l.quantity FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id \
           WHERE l.hub_id = {hub} AND v.full_sku = '{WATER}'), 0) AS n"
    ))
    .get_result::<N>(&mut PgConnection::establish(url).unwrap())
    .unwrap()
    .n
}

fn hub_id(url: &str, code: &str) -> i64 {
    use outpost::schema::hubs;
    hubs::table
        .filter(hubs::code.eq(code))
        .select(hubs::id)
        .first(&mut PgConnection::establish(url).unwrap())
        .unwrap()
}

fn seeded() -> (TestDb, i64) {
    let db = TestDb::migrated();
    outpost::demo::seed::seed(&mut db.conn()).unwrap();
    let hub = hub_id(&db.url, "KIN-MAIN");
    (db, hub)
}

fn prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_replay_applies_every_entry_exactly_once() {
    let (db, hub) = seeded();
    let mut server = Server::start(&db.url, &prefix());
    let before = water_level(&db.url, hub);
    let token = crate::live::token(&server.url(), "warehouse").await;
    let ops = Arc::new(intakes(hub, 1000));
    // The replay: batches of 50 in captured order, one after another.
    let answered = Arc::new(AtomicUsize::new(0));
    let replay = {
        let (base, token, ops, answered) =
            (server.url(), token.clone(), ops.clone(), answered.clone());
        tokio::spawn(async move {
            for chunk in ops.chunks(50) {
                if !matches!(post(&base, &token, chunk).await, Ok((200, _, _))) {
                    return;
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while answered.load(Ordering::SeqCst) < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill(); // SIGKILL, with the fifth batch in flight.
    replay.await.unwrap();
    let answered = answered.load(Ordering::SeqCst);
    assert!(
        answered < 20,
        "the kill landed before the replay ended ({answered} batches)"
    );
    server.restart();
    resend_until_settled(&server.url(), &token, &ops).await;
    books_balance(&db.url, hub, &ops, before);
}

#[tokio::test]
async fn a_sigterm_finishes_the_request_in_flight_refuses_new_ones_and_seals_the_audit_log() {
    let (db, hub) = seeded();
    let mut server = Server::start(&db.url, &prefix());
    let before = water_level(&db.url, hub);
    let token = crate::live::token(&server.url(), "warehouse").await;
    let ops = intakes(hub, 200);
    let in_flight = {
        let (base, token, ops) = (server.url(), token.clone(), ops.clone());
        tokio::spawn(async move { post(&base, &token, &ops).await })
    };
    // Wait until the server is applying the batch (a transaction of its has written), then
    // ask it to stop.
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut conn = PgConnection::establish(&url).unwrap();
        while diesel::sql_query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL",
        )
        .execute(&mut conn)
        .unwrap()
            == 0
        {
            assert!(Instant::now() < deadline, "the batch never started");
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap();
    let base = server.url();
    let stopping = tokio::task::spawn_blocking(move || {
        let status = server.terminate(Duration::from_secs(25));
        (server, status)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A new request is refused while the old one finishes.
    let late = post(&base, &token, &intakes(hub, 1)).await;
    assert!(
        !matches!(late, Ok((200, _, _))),
        "a request after SIGTERM was served: {late:?}"
    );
    let (status, _, body) = in_flight
        .await
        .unwrap()
        .expect("the batch in flight is answered");
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| r["result"]["status"] == "applied"));
    let (_server, exit) = stopping.await.unwrap();
    let exit = exit.expect("the server exits within the 25 s grace period");
    assert!(exit.success(), "{exit:?}");
    // The sequencer's last round sealed everything written before the exit.
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let pending: i64 = outpost::schema::audit_pending::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(pending, 0, "audit rows left unsealed at exit");
    books_balance(&db.url, hub, &ops, before);
}

#[tokio::test]
async fn a_postgres_restart_under_write_load_gives_clean_503s_and_recovers_by_itself() {
    let dir = std::env::temp_dir().join(format!("outpost-faults-{}", uuid::Uuid::new_v4()));
    let services = Arc::new(
        tokio::task::spawn_blocking(move || {
            outpost::demo::launcher::PrivateServices::start(&dir).expect("private PostgreSQL")
        })
        .await
        .unwrap(),
    );
    let url = services.database_url.clone();
    {
        let mut conn = PgConnection::establish(&url).unwrap();
        outpost::db::migrate(&mut conn).unwrap();
        outpost::demo::seed::seed(&mut conn).unwrap();
    }
    let hub = hub_id(&url, "KIN-MAIN");
    let server = Server::start(&url, &prefix());
    let before = water_level(&url, hub);
    let token = crate::live::token(&server.url(), "warehouse").await;
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<(u16, bool)>::new()));
    let until = Instant::now() + Duration::from_secs(7);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, token, statuses) = (server.url(), token.clone(), statuses.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                while Instant::now() < until {
                    let batch = intakes(hub, 10);
                    match post(&base, &token, &batch).await {
                        Ok((status, retry, _)) => statuses.lock().unwrap().push((status, retry)),
                        Err(e) => panic!("the server stopped answering: {e}"),
                    }
                    sent.extend(batch);
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pg = services.clone();
    tokio::task::spawn_blocking(move || pg.restart_postgres(Duration::from_secs(2)).unwrap())
        .await
        .unwrap();
    let mut ops = Vec::new();
    for c in clients {
        ops.extend(c.await.unwrap());
    }
    let statuses = statuses.lock().unwrap().clone();
    let unavailable = statuses.iter().filter(|s| s.0 == 503).count();
    assert!(
        statuses.iter().all(|s| s.0 == 200 || (s.0 == 503 && s.1)),
        "only 200s and 503s with Retry-After: {statuses:?}"
    );
    assert!(unavailable > 0, "the restart was noticed");
    assert!(
        statuses.last().is_some_and(|s| s.0 == 200),
        "writes flow again by themselves"
    );
    // What the 503s refused is sent again: nothing was half-written.
    resend_until_settled(&server.url(), &token, &ops).await;
    books_balance(&url, hub, &ops, before);
    drop(server);
}
