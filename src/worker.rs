//! `outpost worker`: the apalis monitor and the workers it runs. Several worker processes may
//! run at once; each registers under a unique name.

use std::str::FromStr;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use outpost_jobs::{queues, InvoiceRender, ZohoSync};
use redis::AsyncCommands;

use crate::state::AppState;
use crate::task_health::{self, supervise};

#[derive(Clone)]
struct HeartbeatCtx {
    state: AppState,
    key: String,
}

/// Records that this worker process is alive; the admin pages list live workers from these keys.
async fn heartbeat(tick: Tick, ctx: Data<HeartbeatCtx>) -> Result<(), BoxDynError> {
    supervise(&ctx.state, task_health::HEARTBEAT, async {
        let mut conn = ctx.state.redis.clone();
        let at = tick.get_timestamp().to_string();
        conn.set_ex::<_, _, ()>(&ctx.key, at, queues::HEARTBEAT_TTL_SECS)
            .await?;
        Ok(())
    })
    .await
}

/// Enqueues every variant still waiting for Zoho: the safety net under the outbox, so a job lost
/// with Redis (or never written) is made again.
async fn zoho_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::ZOHO_SWEEP, async {
        if state.settings.zoho.is_some() {
            crate::zoho_sync::requeue_waiting(&state).await?;
        }
        Ok(())
    })
    .await
}

/// Queues invoice renders whose job was lost or whose backoff has passed.
async fn invoice_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::INVOICE_SWEEP, async {
        let queued = crate::sales::render::sweep(&state).await?;
        if queued > 0 {
            tracing::info!(queued, "invoice sweep queued renders again");
        }
        Ok(())
    })
    .await
}

/// Gives every quota whose period ended its full allowance back (idempotent, catches up).
async fn quota_reset(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::QUOTA_RESET, async {
        let run = crate::db::run(&state.db, |conn| {
            Ok(crate::badges::quota::reset_due(conn, chrono::Utc::now())?)
        })
        .await?;
        if !run.resets.is_empty() {
            tracing::info!(count = run.resets.len(), "badge quotas reset");
            crate::events::publish_soon(&state);
        }
        match run.failed.as_slice() {
            [] => Ok(()),
            // The others were reset; this turn is reported as failed, naming the quotas.
            failed => Err(anyhow::anyhow!(
                "{} of the due quotas could not be reset: {}",
                failed.len(),
                failed
                    .iter()
                    .take(3)
                    .map(|(customer, why)| format!("customer {customer}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    })
    .await
}

/// Abandons badge copies no station finished after their last lease (quota given back) and
/// announces stations that went quiet.
async fn station_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::STATION_SWEEP, async {
        let (abandoned, offline) = crate::db::run(&state.db, |conn| {
            Ok((
                crate::badges::station_results::abandon_expired(conn)?,
                crate::badges::station_results::announce_offline(conn)?,
            ))
        })
        .await?;
        if abandoned > 0 {
            tracing::warn!(abandoned, "badge copies abandoned after their last lease");
        }
        if abandoned + offline > 0 {
            crate::events::publish_soon(&state);
        }
        Ok(())
    })
    .await
}

/// Publishes outbox rows that were not published right after their commit (Redis was down).
async fn outbox_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::OUTBOX_SWEEP, async {
        let published = crate::events::publish_pending(&state).await?;
        if published > 0 {
            tracing::info!(published, "outbox sweep published deferred events");
        }
        Ok(())
    })
    .await
}

pub fn process_worker_name(base: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    queues::unique_worker_name(base, &host, std::process::id(), started)
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
        .register(move |_restarts| {
            WorkerBuilder::new(zoho_name.clone())
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
        .register(move |_restarts| {
            WorkerBuilder::new(invoice_name.clone())
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

// The queues' workers and their handlers.

/// The Zoho sync queue of this deployment. Workers look for new jobs twice a second (apalis
/// otherwise waits for its 30 s heartbeat).
fn zoho_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<crate::jobs::ZohoQueue, apalis::prelude::IntervalStrategy> {
    crate::jobs::zoho_storage(state).poll_with_interval(std::time::Duration::from_millis(500))
}

/// The job handler: syncs the variant as the SYSTEM_BOT user.
async fn run_zoho_sync(job: ZohoSync, ctx: Data<ZohoCtx>) -> Result<(), BoxDynError> {
    let Some(zoho) = ctx.state.settings.zoho.clone() else {
        return Ok(());
    };
    crate::task_health::supervise(&ctx.state, crate::task_health::ZOHO_SYNC, async {
        // A whole job, retries included, never runs longer than this.
        let run = crate::zoho_sync::sync_variant(&ctx.state, &zoho, &ctx.http, job.variant_id);
        match tokio::time::timeout(std::time::Duration::from_secs(900), run).await {
            Ok(result) => result.map(|_| ()).map_err(Into::into),
            Err(_) => Err(anyhow::anyhow!("the Zoho sync took longer than 15 minutes")),
        }
    })
    .await
}

#[derive(Clone)]
struct ZohoCtx {
    state: AppState,
    http: reqwest::Client,
}

fn invoice_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<crate::jobs::InvoiceQueue, apalis::prelude::IntervalStrategy> {
    crate::jobs::invoice_storage(state).poll_with_interval(crate::sales::render::POLL)
}

/// The job handler: renders the PDF (a failure is recorded on the invoice, not retried here).
async fn run_invoice_render(job: InvoiceRender, state: Data<AppState>) -> Result<(), BoxDynError> {
    crate::task_health::supervise(&state, crate::task_health::INVOICE_RENDER, async {
        crate::sales::render::render_invoice(&state, job.invoice_id).await
    })
    .await
}
