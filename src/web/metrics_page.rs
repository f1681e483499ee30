//! `GET /metrics`: what an operator watches, in the Prometheus (OpenMetrics) text format —
//! request latency by route, sync operations by outcome, the database pool (connections, waits,
//! timeouts), background queues and task failures, live viewers, the audit chain's unsealed
//! tail and the outbox's lag. The counters are this process's (`crate::metrics`); the rest is
//! read now, so every server of a deployment reports the shared figures the same.
//!
//! With `OUTPOST_METRICS_TOKEN` set it asks for that bearer token; without one it answers only
//! a scraper on this machine whose request came through no proxy (a proxy in front would make
//! every visitor look local).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").get(scrape));
}

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(refused) = refused(&req, &state) {
        return Ok(refused);
    }
    let mut registry = Registry::with_prefix("outpost");
    let counted = state.service::<crate::metrics::Metrics>();
    registry.register(
        "http_request_duration_seconds",
        "Time to answer a request (to its first byte), by route pattern, method and status",
        counted.requests.clone(),
    );
    registry.register(
        "sync_operations",
        "Operations the sync pipeline settled, by outcome",
        counted.operations.clone(),
    );
    registry.register(
        "db_pool_wait_seconds",
        "Time a database call waited for a connection",
        state.db.waits.clone(),
    );
    registry.register(
        "db_pool_timeouts",
        "Database calls that gave up waiting for a connection (answered 503)",
        state.db.timeouts.clone(),
    );
    let (open, idle) = state.db.connections();
    gauge(
        &mut registry,
        "db_pool_connections",
        "Database connections open in this process",
        open,
    );
    gauge(
        &mut registry,
        "db_pool_idle_connections",
        "Open database connections not in use",
        idle,
    );
    let viewers = state
        .service::<crate::live::follow::Live>()
        .viewers
        .load(std::sync::atomic::Ordering::Relaxed);
    gauge(
        &mut registry,
        "live_viewers",
        "Live pages (server-sent events) connected to this process",
        viewers,
    );
    queues(&mut registry, &state).await;
    tasks(&mut registry, &state).await;
    let database = crate::db::run(&state.db, |conn| Ok(backlog(conn)?)).await;
    gauge(
        &mut registry,
        "database_up",
        "Whether the database answered this scrape",
        database.is_ok(),
    );
    if let Ok(b) = database {
        gauge(
            &mut registry,
            "audit_unsealed_rows",
            "Audit rows written and not yet sealed into the hash chain",
            b.unsealed,
        );
        gauge(
            &mut registry,
            "outbox_unpublished",
            "Events committed and not yet published to Redis",
            b.unpublished,
        );
        let lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        lag.set(b.lag_seconds);
        registry.register(
            "outbox_lag_seconds",
            "Age of the oldest event not yet published (0 when none waits)",
            lag,
        );
    }
    let mut text = String::new();
    encode(&mut text, &registry)
        .map_err(|e| AppError::internal(anyhow::anyhow!("metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

/// The token when one is set (compared by digest, so the comparison's time says nothing);
/// else a scraper on this machine that came through no proxy. Refused in plain text: a
/// scraper, not a person, reads it (no sign-in page).
fn refused(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    use sha2::{Digest, Sha256};
    match &state.settings.metrics_token {
        Some(token) => {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            let right =
                Sha256::digest(given.as_bytes()) == Sha256::digest(token.expose().as_bytes());
            (!right).then(|| {
                HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"outpost-metrics\""))
                    .content_type("text/plain; charset=utf-8")
                    .body("Metrics need the bearer token set in OUTPOST_METRICS_TOKEN.\n")
            })
        }
        None => {
            let local = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
            let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
                .iter()
                .any(|h| req.headers().contains_key(*h));
            (!local || proxied).then(|| {
                HttpResponse::Forbidden()
                    .content_type("text/plain; charset=utf-8")
                    .body("Metrics answer only this machine; set OUTPOST_METRICS_TOKEN to scrape from elsewhere.\n")
            })
        }
    }
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: impl TryInto<i64>) {
    let g = Gauge::<i64>::default();
    g.set(value.try_into().unwrap_or(i64::MAX));
    registry.register(name, help, g);
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    state: &'static str,
}

/// The background queues' jobs by state (as `/admin/jobs` shows them).
async fn queues(registry: &mut Registry, state: &AppState) {
    let jobs = Family::<QueueLabels, Gauge>::default();
    for name in [
        outpost_jobs::queues::ZOHO_SYNC,
        outpost_jobs::queues::INVOICE_RENDER,
    ] {
        let q = crate::admin_jobs::queue_stats(state, name).await;
        for (label, n) in [
            ("pending", q.pending),
            ("running", q.running),
            ("failed", q.failed),
        ] {
            jobs.get_or_create(&QueueLabels {
                queue: q.name.clone(),
                state: label,
            })
            .set(n);
        }
    }
    registry.register("jobs", "Background jobs in each queue, by state", jobs);
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: &'static str,
    problem: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskName {
    task: &'static str,
}

/// Each background task's failures since it was first run (every worker process adds to them),
/// and whether it is late.
async fn tasks(registry: &mut Registry, state: &AppState) {
    let problems = Family::<TaskLabels, Gauge>::default();
    let late = Family::<TaskName, Gauge>::default();
    let now = chrono::Utc::now();
    for t in crate::task_health::read_all(state).await {
        for (problem, n) in [
            ("error", t.errors),
            ("panic", t.panics),
            ("restart", t.restarts),
        ] {
            problems
                .get_or_create(&TaskLabels {
                    task: t.name,
                    problem,
                })
                .set(n);
        }
        late.get_or_create(&TaskName { task: t.name })
            .set(i64::from(t.late(now)));
    }
    registry.register(
        "task_problems",
        "Failed runs of each background task, by kind",
        problems,
    );
    registry.register(
        "task_late",
        "1 when a periodic task missed three of its turns",
        late,
    );
}

#[derive(QueryableByName)]
struct Backlog {
    #[diesel(sql_type = BigInt)]
    unsealed: i64,
    #[diesel(sql_type = BigInt)]
    unpublished: i64,
    #[diesel(sql_type = Double)]
    lag_seconds: f64,
}

/// What waits in PostgreSQL, in one statement: the audit rows not yet sealed, and the outbox's
/// unpublished events with the age of the oldest (both read through their partial indexes).
fn backlog(conn: &mut PgConnection) -> QueryResult<Backlog> {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM audit_pending) AS unsealed, \
                count(*) AS unpublished, \
                coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS lag_seconds \
         FROM outbox WHERE published_at IS NULL",
    )
    .get_result(conn)
}
