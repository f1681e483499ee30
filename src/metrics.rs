//! What this process counts for `/metrics` (served by `web::metrics_page`): the latency of
//! every request by route, and the operations the sync pipeline settled, by outcome. Kept per
//! server state (`AppState::service`), so each server of a test process counts its own. The
//! figures that live elsewhere (queues in Redis, the audit tail and the outbox in PostgreSQL,
//! the pools, live viewers) are read when the page is scraped, not kept here.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::state::AppState;

/// Seconds: from a cached page (1 ms) to a sync batch that waited its turn (10 s).
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    /// The route's pattern (`/hubs/{hub_id}/intakes`), never the path itself: a label per hub
    /// or per record would grow without end.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub status: &'static str,
}

pub struct Metrics {
    pub requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub operations: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Family::new_with_constructor(latency_histogram),
            operations: Family::default(),
        }
    }
}

/// Middleware: times every request under its route's pattern.
pub async fn time_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.service::<Metrics>());
    let method = method_label(req.method());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        metrics
            .requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: res.status().as_u16(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// A method as a label: the standard ones, and "other" for whatever else a client invents
/// (each would be a new series).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("other")
}

/// Counts operations the pipeline settled, by their outcome (`applied`, `duplicate`, …).
pub fn count_operations(state: &AppState, outcomes: impl IntoIterator<Item = &'static str>) {
    let metrics = state.service::<Metrics>();
    for status in outcomes {
        metrics
            .operations
            .get_or_create(&OutcomeLabels { status })
            .inc();
    }
}
