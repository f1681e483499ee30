//! The job itself: one variant sent to Zoho under a Redis lock (never two workers at once),
//! passing failures retried with backoff, the outcome recorded as the sync bot.

use std::time::Duration;

use outpost_jobs::zoho::{ZohoClient, ZohoError};

use crate::config::ZohoSettings;
use crate::error::AppError;
use crate::state::AppState;

use super::*;

/// The job: syncs one variant, retrying passing failures with backoff; a final failure leaves
/// the variant in ERROR with the message (visible on the variant and on /admin/jobs).
pub async fn sync_variant(
    state: &AppState,
    zoho: &ZohoSettings,
    http: &reqwest::Client,
    variant_id: i64,
) -> Result<Synced, AppError> {
    // One worker per variant at a time, across processes; the lease ends with this call.
    let key = state.redis_key(&format!("zoho:lock:{variant_id}"));
    let Some(_lease) = store::Lease::take(&state.redis, key)
        .await
        .map_err(AppError::session_store)?
    else {
        return Ok(Synced::Nothing);
    };
    sync_locked(state, zoho, http, variant_id).await
}

pub(super) async fn sync_locked(
    state: &AppState,
    zoho: &ZohoSettings,
    http: &reqwest::Client,
    variant_id: i64,
) -> Result<Synced, AppError> {
    let config = client_config(zoho);
    let tokens = RedisTokens {
        redis: state.redis.clone(),
        key: state.redis_key(&format!("zoho:token:{}", zoho.organization_id)),
    };
    let limiter = RedisLimiter {
        redis: state.redis.clone(),
        key: state.redis_key(&format!("zoho:rate:{}", zoho.organization_id)),
        per_minute: zoho.requests_per_minute,
        per_day: zoho.requests_per_day,
    };
    let client = ZohoClient {
        config: &config,
        http,
        tokens: &tokens,
        limiter: &limiter,
    };
    loop {
        // Read fresh each time: an edit made meanwhile is sent, not an old copy.
        let Some(snap) =
            crate::db::run(&state.db, move |conn| Ok(snapshot(conn, variant_id)?)).await?
        else {
            return Ok(Synced::Nothing);
        };
        if snap.attempts >= zoho.max_attempts as i32 {
            crate::db::run(&state.db, move |conn| {
                Ok(record_exhausted(conn, variant_id)?)
            })
            .await?;
            return Ok(Synced::Nothing);
        }
        if !matches!(snap.status.as_str(), "PENDING" | "DIRTY") {
            return Ok(Synced::Nothing);
        }
        match attempt(&client, &snap).await {
            Ok(Synced::Nothing) => return Ok(Synced::Nothing),
            Ok(done) => {
                let id = match &done {
                    Synced::Created(id) | Synced::Linked(id) => id.clone(),
                    _ => snap.zoho_item_id.clone().unwrap_or_default(),
                };
                let (version, outcome) = (snap.version, done);
                return crate::db::run(&state.db, move |conn| {
                    record_success(conn, variant_id, version, &id, &outcome)?;
                    Ok(outcome)
                })
                .await;
            }
            // The budget is spent (ours, or Zoho's 429) for longer than a call waits: the
            // variant waits its turn and the sweep brings it back. Never an attempt, never
            // ERROR.
            Err(ZohoError::RateLimited(wait)) => {
                let message = if wait > Duration::from_secs(120) {
                    format!(
                        "Zoho request quota used up; resuming in {} minutes",
                        wait.as_secs().div_ceil(60)
                    )
                } else {
                    format!(
                        "Waiting for the Zoho request budget; resuming in {} s",
                        wait.as_secs().max(1)
                    )
                };
                let m2 = message.clone();
                crate::db::run(&state.db, move |conn| {
                    Ok(record_waiting(conn, variant_id, &m2)?)
                })
                .await?;
                return Ok(Synced::Waiting(wait));
            }
            Err(e) => {
                let message = e.to_string();
                let (max, m2) = (zoho.max_attempts, message.clone());
                let (number, last) = crate::db::run(&state.db, move |conn| {
                    let (number, last) = record_failure(conn, variant_id, &m2, max)?;
                    if last {
                        // As the server's own role (the bot's cannot write the outbox): the
                        // live dashboards hear of a sync that gave up.
                        crate::events::enqueue(
                            conn,
                            "job.failed",
                            serde_json::json!({ "job": "zoho_sync", "variant_id": variant_id, "error": m2, "attempts": number }),
                        )?;
                    }
                    Ok((number, last))
                })
                .await?;
                if last {
                    if let Err(e) = crate::events::publish_pending(state).await {
                        tracing::warn!(error = %e, "job failure event left to the outbox sweep");
                    }
                }
                tracing::warn!(variant_id, attempt = number, error = %message, last, "zoho sync failed");
                if last {
                    return Ok(Synced::Failed(message));
                }
                tokio::time::sleep(backoff(zoho.backoff_base, number.max(1) as u32 - 1)).await;
            }
        }
    }
}
