//! How the background tasks are doing, for `/admin/jobs`. Every run of a worker task goes
//! through [`supervise`], which catches a panic (the task runs again at its next turn instead of
//! taking its apalis worker down for the life of the process) and records the outcome in Redis,
//! where every worker process writes and every server reads: when it last ran, last succeeded,
//! how often it failed, panicked or had its worker restarted, and the last problem in words.
//! A task that stopped running shows as late, so no worker can be gone silently (issue 26).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use apalis::prelude::BoxDynError;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use redis::AsyncCommands;

use crate::state::AppState;

/// One background task: its name (the apalis worker's base name), what it does in words, and
/// how often it runs (`None` for queue workers, which run when a job comes).
pub struct TaskSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub every_secs: Option<u64>,
}

pub const QUOTA_RESET: &str = "quota-reset";
pub const STATION_SWEEP: &str = "station-sweep";
pub const INVOICE_SWEEP: &str = "invoice-sweep";
pub const OUTBOX_SWEEP: &str = "outbox-sweep";
pub const ZOHO_SWEEP: &str = "zoho-sweep";
pub const ZOHO_SYNC: &str = "zoho-sync";
pub const INVOICE_RENDER: &str = "invoice-render";
pub const HEARTBEAT: &str = "heartbeat";

/// Every task `outpost worker` runs, in the order `/admin/jobs` lists them.
pub const TASKS: [TaskSpec; 8] = [
    TaskSpec {
        name: QUOTA_RESET,
        label: "Badge copy quotas reset",
        every_secs: Some(15),
    },
    TaskSpec {
        name: STATION_SWEEP,
        label: "NFC station leases and presence",
        every_secs: Some(15),
    },
    TaskSpec {
        name: OUTBOX_SWEEP,
        label: "Live events left unpublished",
        every_secs: Some(10),
    },
    TaskSpec {
        name: INVOICE_SWEEP,
        label: "Invoice PDFs due again",
        every_secs: Some(15),
    },
    TaskSpec {
        name: ZOHO_SWEEP,
        label: "Catalog items waiting for Zoho",
        every_secs: Some(60),
    },
    TaskSpec {
        name: HEARTBEAT,
        label: "Worker heartbeat",
        every_secs: Some(outpost_jobs::queues::HEARTBEAT_EVERY_SECS),
    },
    TaskSpec {
        name: ZOHO_SYNC,
        label: "Zoho sync jobs",
        every_secs: None,
    },
    TaskSpec {
        name: INVOICE_RENDER,
        label: "Invoice PDF renders",
        every_secs: None,
    },
];

/// Runs one turn of `task`, recording how it ended. A panic becomes an error of this turn.
pub async fn supervise<F>(state: &AppState, task: &'static str, run: F) -> Result<(), BoxDynError>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let (result, problem) = match AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(())) => (Ok(()), None),
        Ok(Err(e)) => {
            let why = format!("{e:#}");
            tracing::warn!(task, error = %why, "background task failed; it runs again at its next turn");
            (Err(why.clone().into()), Some(("errors", why)))
        }
        Err(panic) => {
            let why = format!("panicked: {}", panic_message(panic.as_ref()));
            tracing::error!(task, error = %why, "background task panicked; it runs again at its next turn");
            (Err(why.clone().into()), Some(("panics", why)))
        }
    };
    record(state, task, problem).await;
    result
}

/// Records that a worker ended with `error` and was started again (`Monitor::should_restart`).
/// A restart is not a failed run: the task's state stays what its runs say. Restarts while
/// Redis itself is away cannot be recorded (the log has them).
pub fn note_restart(state: &AppState, worker_name: &str, error: String) {
    let task = worker_name
        .split('@')
        .next()
        .unwrap_or(worker_name)
        .to_string();
    tracing::error!(task, %error, "background worker stopped; starting it again");
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        let key = health_key(&state, &task);
        let mut conn = state.redis.clone();
        let write = async {
            redis::pipe()
                .hincr(&key, "restarts", 1)
                .hset(&key, "last_restart", &error)
                .hset(&key, "last_restart_at", Utc::now().to_rfc3339())
                .query_async::<()>(&mut conn)
                .await
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), write).await;
    });
}

/// The Redis hash holding one task's health.
fn health_key(state: &AppState, task: &str) -> String {
    state.redis_key(&format!("tasks:{task}"))
}

/// Best effort: a Redis that is down must not fail the task it reports on.
async fn record(state: &AppState, task: &str, problem: Option<(&str, String)>) {
    let key = health_key(state, task);
    let now = Utc::now().to_rfc3339();
    let mut pipe = redis::pipe();
    pipe.hset(&key, "last_run_at", &now).hincr(&key, "runs", 1);
    match &problem {
        None => {
            pipe.hset(&key, "last_ok_at", &now);
        }
        Some((counter, why)) => {
            pipe.hincr(&key, *counter, 1)
                .hset(&key, "last_problem", why)
                .hset(&key, "last_problem_at", &now);
        }
    }
    let mut conn = state.redis.clone();
    let write = pipe.query_async::<()>(&mut conn);
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(2), write).await {
        tracing::debug!(task, error = %e, "task health not recorded");
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an unknown panic".into())
}

/// A task's health as `/admin/jobs` shows it.
pub struct TaskHealth {
    pub label: &'static str,
    pub name: &'static str,
    pub every_secs: Option<u64>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub runs: i64,
    pub errors: i64,
    pub panics: i64,
    pub restarts: i64,
    pub last_problem: Option<String>,
    pub last_problem_at: Option<DateTime<Utc>>,
    pub last_restart: Option<String>,
    pub last_restart_at: Option<DateTime<Utc>>,
}

impl TaskHealth {
    /// A periodic task that missed three of its turns (or never ran) is late: its worker is
    /// gone or stuck, or no worker process runs.
    pub fn late(&self, now: DateTime<Utc>) -> bool {
        let Some(every) = self.every_secs else {
            return false;
        };
        match self.last_run_at {
            Some(at) => (now - at).num_seconds() > 3 * every as i64 + 5,
            None => true,
        }
    }

    /// Problems in words ("2 errors, 1 panic"), or empty.
    pub fn problems(&self) -> String {
        let mut parts = Vec::new();
        for (n, one, many) in [
            (self.errors, "error", "errors"),
            (self.panics, "panic", "panics"),
            (self.restarts, "restart", "restarts"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        }
        parts.join(", ")
    }
}

/// Every task's health (unknown for a task whose record Redis does not have).
pub async fn read_all(state: &AppState) -> Vec<TaskHealth> {
    let mut conn = state.redis.clone();
    let mut all = Vec::with_capacity(TASKS.len());
    for spec in &TASKS {
        let key = health_key(state, spec.name);
        let fields: std::collections::HashMap<String, String> =
            tokio::time::timeout(Duration::from_secs(2), conn.hgetall(&key))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
        let time = |f: &str| {
            fields
                .get(f)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let count = |f: &str| fields.get(f).and_then(|n| n.parse().ok()).unwrap_or(0);
        all.push(TaskHealth {
            label: spec.label,
            name: spec.name,
            every_secs: spec.every_secs,
            last_run_at: time("last_run_at"),
            last_ok_at: time("last_ok_at"),
            runs: count("runs"),
            errors: count("errors"),
            panics: count("panics"),
            restarts: count("restarts"),
            last_problem: fields.get("last_problem").cloned(),
            last_problem_at: time("last_problem_at"),
            last_restart: fields.get("last_restart").cloned(),
            last_restart_at: time("last_restart_at"),
        });
    }
    all
}
