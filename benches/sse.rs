//! `cargo bench --bench sse`: holds many Server-Sent-Events viewers on one `outpost serve`
//! (release build) while events flow, and reports the memory each connection costs and how long
//! an event takes from the request that raised it to each viewer (p50/p99). It asserts nothing.
//!
//! Settings: `OUTPOST_BENCH_DATABASE_URL` (a PostgreSQL the bench may create a database on;
//! default postgres://postgres@127.0.0.1:5432/postgres), `OUTPOST_BENCH_REDIS_URL` (default
//! redis://127.0.0.1:6379), `OUTPOST_BENCH_VIEWERS` (500), `OUTPOST_BENCH_EVENTS` (40).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let admin_url = env(
        "OUTPOST_BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let redis_url = env("OUTPOST_BENCH_REDIS_URL", "redis://127.0.0.1:6379");
    let viewers: usize = env("OUTPOST_BENCH_VIEWERS", "500").parse().unwrap();
    let events: usize = env("OUTPOST_BENCH_EVENTS", "40").parse().unwrap();
    let db = "outpost_bench_sse";
    let base_db = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url)
        .to_string();
    let psql = |sql: &str| {
        Command::new("psql")
            .args([&admin_url, "-qAtc", sql])
            .stdout(Stdio::null())
            .status()
            .unwrap();
    };
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {db}"));
    let db_url = format!("{base_db}/{db}");
    let bin = env!("CARGO_BIN_EXE_outpost");
    let port = 18_000 + (std::process::id() % 1000) as u16;
    let prefix = format!("bench-sse-{}", std::process::id());
    let run = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("OUTPOST_DATABASE_URL", &db_url)
            .env("OUTPOST_REDIS_URL", &redis_url)
            .env("OUTPOST_REDIS_PREFIX", &prefix)
            .env("OUTPOST_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn");
        cmd
    };
    assert!(run(&["migrate"]).status().unwrap().success());
    assert!(run(&["seed-demo"])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success());
    let mut server = run(&["serve"]).stdout(Stdio::null()).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = |user: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let res: Value = http
                .post(format!("{base}/api/v1/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", "outpost-demo-2026"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            res["access_token"].as_str().unwrap().to_string()
        }
    };
    let (viewer_token, writer_token) = (token("logistics").await, token("warehouse").await);
    let kin: i64 = {
        let out = Command::new("psql")
            .args([
                &db_url,
                "-qAtc",
                "SELECT id FROM hubs WHERE code = 'KIN-MAIN'",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    // Warm the server (first requests allocate), then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(server.id());

    // The viewers: one connection each; every event seen is timed against when it was raised.
    let sent: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Default::default();
    let samples: Arc<Mutex<Vec<f64>>> = Default::default();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..viewers {
        let client = reqwest::Client::builder().build().unwrap();
        let (url, token, sent, samples, ready) = (
            format!("{base}/events"),
            viewer_token.clone(),
            sent.clone(),
            samples.clone(),
            ready_tx.clone(),
        );
        tokio::spawn(async move {
            let mut res = client.get(url).bearer_auth(token).send().await.unwrap();
            let _ = ready.send(());
            let mut buf = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    let Some(op) = v["op_id"].as_str() else {
                        continue;
                    };
                    if let Some(t0) = sent.lock().await.get(op) {
                        samples
                            .lock()
                            .await
                            .push(now.duration_since(*t0).as_secs_f64() * 1e3);
                    }
                }
            }
        });
    }
    for _ in 0..viewers {
        ready_rx.recv().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected = rss_kib(server.id());

    for _ in 0..events {
        let op_id = uuid::Uuid::new_v4().to_string();
        sent.lock().await.insert(op_id.clone(), Instant::now());
        let body = json!({ "operations": [{ "op_id": op_id, "kind": "intake.create", "captured_at": chrono::Utc::now(),
            "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": kin, "donor": "Bench", "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 1 }] } }] });
        let res = http
            .post(format!("{base}/api/v1/sync"))
            .bearer_auth(&writer_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let busy = rss_kib(server.id());
    let mut all = samples.lock().await.clone();
    all.sort_by(|a, b| a.total_cmp(b));
    let expected = viewers * events;
    println!(
        "viewers: {viewers}, events: {events}, deliveries: {} of {expected}",
        all.len()
    );
    println!("RSS of serve: idle {:.1} MiB, with {viewers} viewers {:.1} MiB, after the events {:.1} MiB", idle as f64 / 1024.0, connected as f64 / 1024.0, busy as f64 / 1024.0);
    println!(
        "memory per connection: {:.1} KiB",
        (connected.saturating_sub(idle)) as f64 / viewers as f64
    );
    println!("delivery latency (request sent → viewer received): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", percentile(&all, 0.5), percentile(&all, 0.99), all.last().copied().unwrap_or(f64::NAN));
    let _ = server.kill();
    let _ = server.wait();
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
