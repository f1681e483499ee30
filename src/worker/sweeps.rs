//! The worker's periodic tasks (apalis-cron): its heartbeat and the sweeps that catch up on
//! what a lost job or a Redis outage left behind, and the badge quotas' resets.

use apalis::prelude::*;
use apalis_cron::Tick;
use outpost_jobs::queues;
use redis::AsyncCommands;

use crate::state::AppState;
use crate::task_health::{self, supervise};

#[derive(Clone)]
pub(super) struct HeartbeatCtx {
    pub(super) state: AppState,
    pub(super) key: String,
}

/// Records that this worker process is alive; the admin pages list live workers from these keys.
pub(super) async fn heartbeat(tick: Tick, ctx: Data<HeartbeatCtx>) -> Result<(), BoxDynError> {
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
pub(super) async fn zoho_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::ZOHO_SWEEP, async {
        if state.settings.zoho.is_some() {
            crate::zoho_sync::requeue_waiting(&state).await?;
        }
        Ok(())
    })
    .await
}

/// Queues invoice renders whose job was lost or whose backoff has passed.
pub(super) async fn invoice_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
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
pub(super) async fn quota_reset(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
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
pub(super) async fn station_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
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

/// Publishes outbox rows that were not published right after their commit (Redis was down),
/// prunes published ones past their retention window, folds past days' daily figures and the
/// list totals of ended database sessions.
pub(super) async fn outbox_sweep(_tick: Tick, state: Data<AppState>) -> Result<(), BoxDynError> {
    supervise(&state, task_health::OUTBOX_SWEEP, async {
        let published = crate::events::publish_pending(&state).await?;
        if published > 0 {
            tracing::info!(published, "outbox sweep published deferred events");
        }
        let pruned = crate::events::prune_published(&state).await?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                "outbox sweep pruned published events past their window"
            );
        }
        let folded = crate::db::run(&state.db, |conn| Ok(crate::db::figures::fold(conn)?)).await?;
        if folded > 0 {
            tracing::info!(folded, "daily figures of past days folded");
        }
        let folded =
            crate::db::run(&state.db, |conn| Ok(crate::db::list_counts::fold(conn)?)).await?;
        if folded > 0 {
            tracing::info!(folded, "list totals of ended sessions folded");
        }
        Ok(())
    })
    .await
}
