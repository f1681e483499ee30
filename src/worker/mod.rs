//! `outpost worker`: the apalis monitor and the workers it runs — the queues' job handlers
//! (`jobs`) and the periodic sweeps (`sweeps`). Several worker processes may run at once; each
//! registers under a unique name. The queues themselves are `crate::jobs`, a floor below: the
//! features and the outbox enqueue onto them without knowing this root.

use std::str::FromStr;

use apalis::prelude::*;
use apalis_cron::CronScheduler;
use outpost_jobs::queues;

use crate::state::AppState;
use crate::task_health;

mod jobs;
mod sweeps;

use jobs::{invoice_queue, run_invoice_render, run_zoho_sync, zoho_queue, ZohoCtx};
use sweeps::{
    heartbeat, invoice_sweep, outbox_sweep, quota_reset, station_sweep, zoho_sweep, HeartbeatCtx,
};

/// A name for one worker of this process (see `queues::unique_worker_name`).
pub fn process_worker_name(base: &str) -> String {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let seq = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    queues::unique_worker_name(base, &host, std::process::id(), started, seq)
}

/// Runs the workers until `shutdown` resolves; in-flight jobs get `grace` to finish.
pub async fn run(
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::kinds::install();
    let name = process_worker_name(task_health::HEARTBEAT);
    let ctx = HeartbeatCtx {
        state: state.clone(),
        key: state.redis_key(&format!("workers:{name}")),
    };
    let every = format!("*/{} * * * * *", queues::HEARTBEAT_EVERY_SECS);
    let schedule = cron::Schedule::from_str(&every)?;
    tracing::info!(worker = %name, "workers starting");
    let sweep_name = process_worker_name(task_health::OUTBOX_SWEEP);
    let sweep_schedule = cron::Schedule::from_str("*/10 * * * * *")?;
    let sweep_state = state.clone();
    let zoho_name = process_worker_name(task_health::ZOHO_SYNC);
    let zoho_sweep_name = process_worker_name(task_health::ZOHO_SWEEP);
    let zoho_sweep_schedule = cron::Schedule::from_str("0 * * * * *")?;
    let zoho_ctx = ZohoCtx {
        state: state.clone(),
        http: outpost_jobs::zoho::ZohoClient::http_client(std::time::Duration::from_secs(30)),
    };
    let zoho_sweep_state = state.clone();
    let station_name = process_worker_name(task_health::STATION_SWEEP);
    let station_schedule = cron::Schedule::from_str("*/15 * * * * *")?;
    let station_state = state.clone();
    let quota_name = process_worker_name(task_health::QUOTA_RESET);
    // Every 15 s: a due quota is one indexed look-up, and customers wait at most that long.
    let quota_schedule = cron::Schedule::from_str("*/15 * * * * *")?;
    let quota_state = state.clone();
    let invoice_name = process_worker_name(task_health::INVOICE_RENDER);
    let invoice_state = state.clone();
    let invoice_sweep_name = process_worker_name(task_health::INVOICE_SWEEP);
    let invoice_sweep_schedule = cron::Schedule::from_str("*/15 * * * * *")?;
    let invoice_sweep_state = state.clone();
    if state.settings.zoho.is_none() {
        tracing::info!("Zoho sync is off (OUTPOST_ZOHO_ORGANIZATION_ID is not set)");
    }
    let restart_state = state.clone();
    Monitor::new()
        // A worker whose future ended (its backend lost Redis, say) is started again, and
        // /admin/jobs counts it; the pause keeps a worker that fails at once from spinning.
        .should_restart(move |worker, error| {
            task_health::note_restart(&restart_state, worker.name(), error.to_string());
            std::thread::sleep(std::time::Duration::from_millis(500));
            true
        })
        // A restarted queue worker registers under a new name: its old one is still seen alive
        // for a while, and apalis would refuse it.
        .register(move |restarts| {
            WorkerBuilder::new(format!("{zoho_name}+{restarts}"))
                .backend(zoho_queue(&zoho_ctx.state))
                .data(zoho_ctx.clone())
                .build(run_zoho_sync)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(station_name.clone())
                .backend(CronScheduler::new(station_schedule.clone()))
                .data(station_state.clone())
                .build(station_sweep)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(quota_name.clone())
                .backend(CronScheduler::new(quota_schedule.clone()))
                .data(quota_state.clone())
                .build(quota_reset)
        })
        .register(move |restarts| {
            WorkerBuilder::new(format!("{invoice_name}+{restarts}"))
                .backend(invoice_queue(&invoice_state))
                .data(invoice_state.clone())
                .build(run_invoice_render)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(invoice_sweep_name.clone())
                .backend(CronScheduler::new(invoice_sweep_schedule.clone()))
                .data(invoice_sweep_state.clone())
                .build(invoice_sweep)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(zoho_sweep_name.clone())
                .backend(CronScheduler::new(zoho_sweep_schedule.clone()))
                .data(zoho_sweep_state.clone())
                .build(zoho_sweep)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(name.clone())
                .backend(CronScheduler::new(schedule.clone()))
                .data(ctx.clone())
                .build(heartbeat)
        })
        .register(move |_restarts| {
            WorkerBuilder::new(sweep_name.clone())
                .backend(CronScheduler::new(sweep_schedule.clone()))
                .data(sweep_state.clone())
                .build(outbox_sweep)
        })
        .shutdown_timeout(std::time::Duration::from_secs(20))
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    tracing::info!("workers stopped");
    Ok(())
}
