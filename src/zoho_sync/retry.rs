//! Variants sent again: the sweep's requeue of those still waiting, and a person's "sync
//! now" or retry of a failed one (audited).

use diesel::prelude::*;

use crate::audit::{self};
use crate::error::AppError;
use crate::schema::product_variants;
use crate::state::AppState;

/// Enqueues every variant still waiting for Zoho. Returns how many.
pub async fn requeue_waiting(state: &AppState) -> anyhow::Result<usize> {
    let waiting = crate::db::run(&state.db, |conn| Ok(waiting(conn)?)).await?;
    for id in &waiting {
        crate::jobs::enqueue_zoho(state, *id).await?;
    }
    Ok(waiting.len())
}

/// Variants waiting for the sync (the sweep enqueues them; this also drives tests).
pub fn waiting(conn: &mut PgConnection) -> QueryResult<Vec<i64>> {
    product_variants::table
        .filter(product_variants::zoho_sync_status.eq_any(["PENDING", "DIRTY"]))
        .order(product_variants::id)
        .select(product_variants::id)
        .load(conn)
}

/// "Sync now" on a variant's page: a failed sync is given one more attempt, a waiting one is
/// queued at once rather than at the next sweep. `false`: it is in step, nothing to send.
pub async fn sync_again(
    state: &crate::state::AppState,
    principal: &crate::auth::principal::Principal,
    variant_id: i64,
    sync_status: &str,
) -> Result<bool, AppError> {
    if state.settings.zoho.is_none() {
        return Err(AppError::BadRequest(
            "The Zoho sync is not configured on this server.".into(),
        ));
    }
    match sync_status {
        "ERROR" => requeue_failed(state, principal, variant_id).await?,
        "PENDING" | "DIRTY" => {
            if let Err(e) = crate::jobs::enqueue_zoho(state, variant_id).await {
                tracing::warn!(error = %e, "sync now left to the sweep");
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Puts a variant whose sync failed back in the queue for one more attempt (audited).
pub async fn requeue_failed(
    state: &crate::state::AppState,
    principal: &crate::auth::principal::Principal,
    id: i64,
) -> Result<(), AppError> {
    let principal = principal.clone();
    // Retry means one more attempt; a variant that fails again goes back to ERROR.
    let one_left = state
        .settings
        .zoho
        .as_ref()
        .map_or(0, |z| z.max_attempts.saturating_sub(1) as i32);
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            // Back in the queue as new (never reached Zoho) or as changed (Zoho has it).
            let item: Option<Option<String>> = product_variants::table
                .find(id)
                .filter(product_variants::zoho_sync_status.eq("ERROR"))
                .select(product_variants::zoho_item_id)
                .first(conn)
                .optional()?;
            let Some(item) = item else {
                return Err(AppError::not_found("That variant has no failed sync."));
            };
            let status = if item.is_some() { "DIRTY" } else { "PENDING" };
            diesel::update(product_variants::table.find(id))
                .set((
                    product_variants::zoho_sync_status.eq(status),
                    product_variants::zoho_last_error.eq(None::<String>),
                    product_variants::zoho_attempts.eq(one_left),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                &principal.audit_entry("job.retried")
                    .object("product_variant", id)
                    .change(
                        Some(serde_json::json!({"status": "ERROR"})),
                        Some(serde_json::json!({"status": status})),
                    )
                    .event(
                        "job.retried",
                        serde_json::json!({ "job": "zoho_sync", "variant_id": id, "actor": principal.display_name, "organisation_id": principal.organisation_id }),
                    ),
            )?;
            Ok(())
        })
    })
    .await?;
    crate::events::publish_soon(state);
    if state.settings.zoho.is_some() {
        if let Err(e) = crate::jobs::enqueue_zoho(state, id).await {
            // The sweep will pick it up from the database.
            tracing::warn!(error = %e, "retry left to the sweep");
        }
    }
    Ok(())
}
