//! The sync-ingest load of `scripts/bench` (issue 14): clients post batches of intakes to
//! `POST /api/v1/sync` of a running server for a fixed time, and the bench prints operations
//! applied per second, batch latency (p50/p99) and how many answers were 5xx. It asserts
//! nothing; `scripts/bench` starts the server and puts these figures next to pgbench's.
//!
//! Settings: `OUTPOST_BENCH_URL` (the server), `OUTPOST_BENCH_HUB` (hub id the user works at;
//! several, comma-separated, are shared out among the clients), `OUTPOST_BENCH_USER`
//! (warehouse), `OUTPOST_BENCH_CLIENTS` (1,4,16), `OUTPOST_BENCH_SECONDS` (10),
//! `OUTPOST_BENCH_BATCH` (100), `OUTPOST_BENCH_OPS` (stop each run once this many operations
//! were sent, whatever the time: `scripts/bench-grow` grows a database with it).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[derive(Default)]
struct Tally {
    applied: u64,
    refused: u64,
    server_errors: u64,
    latencies_ms: Vec<f64>,
}

fn batch(hub: i64, size: usize) -> Value {
    let operations: Vec<Value> = (0..size)
        .map(|_| {
            json!({ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
                "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": hub, "donor": "Bench donor",
                    "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 3 }] } })
        })
        .collect();
    json!({ "operations": operations })
}

async fn client(
    base: String,
    token: String,
    hub: i64,
    size: usize,
    until: Instant,
    budget: std::sync::Arc<std::sync::atomic::AtomicI64>,
) -> Tally {
    let http = reqwest::Client::new();
    let mut tally = Tally::default();
    while Instant::now() < until
        && budget.fetch_sub(size as i64, std::sync::atomic::Ordering::Relaxed) > 0
    {
        let body = batch(hub, size);
        let start = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/sync"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        tally
            .latencies_ms
            .push(start.elapsed().as_secs_f64() * 1000.0);
        let Ok(res) = res else {
            tally.server_errors += 1;
            continue;
        };
        if res.status().is_server_error() {
            tally.server_errors += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let answer: Value = res.json().await.unwrap_or_default();
        for result in answer["results"].as_array().into_iter().flatten() {
            if result["result"]["status"] == "applied" {
                tally.applied += 1;
            } else {
                tally.refused += 1;
            }
        }
    }
    tally
}

#[tokio::main]
async fn main() {
    let base = env("OUTPOST_BENCH_URL", "http://127.0.0.1:8099");
    let hubs: Vec<i64> = env("OUTPOST_BENCH_HUB", "1")
        .split(',')
        .map(|h| h.trim().parse().unwrap())
        .collect();
    // Unset or empty: no limit but the time.
    let most: i64 = match env("OUTPOST_BENCH_OPS", "").trim() {
        "" => i64::MAX,
        n => n.parse().expect("OUTPOST_BENCH_OPS is a number"),
    };
    let user = env("OUTPOST_BENCH_USER", "warehouse");
    let seconds: u64 = env("OUTPOST_BENCH_SECONDS", "10").parse().unwrap();
    let size: usize = env("OUTPOST_BENCH_BATCH", "100").parse().unwrap();
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user.as_str()),
            ("password", outpost::demo::seed::DEMO_PASSWORD),
        ])
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .unwrap();
    let token = token["access_token"]
        .as_str()
        .expect("a token for the bench user")
        .to_string();
    for clients in env("OUTPOST_BENCH_CLIENTS", "1,4,16")
        .split(',')
        .map(|c| c.trim().parse::<usize>().unwrap())
    {
        let start = Instant::now();
        let until = start + Duration::from_secs(seconds);
        let budget = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(most));
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let hub = hubs[i % hubs.len()];
                tokio::spawn(client(
                    base.clone(),
                    token.clone(),
                    hub,
                    size,
                    until,
                    budget.clone(),
                ))
            })
            .collect();
        let mut total = Tally::default();
        for task in tasks {
            let t = task.await.unwrap();
            total.applied += t.applied;
            total.refused += t.refused;
            total.server_errors += t.server_errors;
            total.latencies_ms.extend(t.latencies_ms);
        }
        let elapsed = start.elapsed().as_secs_f64();
        total.latencies_ms.sort_by(f64::total_cmp);
        println!(
            "BENCH ingest clients={clients} ops_per_s={:.0} applied={} refused={} batches={} batch_p50_ms={:.0} batch_p99_ms={:.0} http_5xx={}",
            total.applied as f64 / elapsed,
            total.applied,
            total.refused,
            total.latencies_ms.len(),
            percentile(&total.latencies_ms, 0.5),
            percentile(&total.latencies_ms, 0.99),
            total.server_errors
        );
    }
}
