//! The worker side of invoice PDFs: load the frozen document, render it off the async
//! executor, store the bytes. A failed render is recorded (attempts, error, next try with
//! exponential backoff) and tried again by the sweep; after the last attempt it waits on
//! /admin/jobs for a person to press Retry.

use std::time::Duration;

use diesel::prelude::*;
use outpost_jobs::invoice::InvoiceDocument;
use uuid::Uuid;

use crate::schema::invoices;
use crate::state::AppState;

pub const MAX_ATTEMPTS: i32 = 5;

/// Seconds before the next try after `attempts` failures: 10 s, 20 s, 40 s, … (at most 10 min).
pub fn backoff_secs(attempts: i32) -> i64 {
    (10i64 << attempts.clamp(0, 6).saturating_sub(1)).min(600)
}

/// Renders one invoice unless it already has its PDF. Errors are infrastructure failures
/// (database away), left to the queue; a render failure is recorded and ends `Ok`.
pub async fn render_invoice(state: &AppState, invoice_id: Uuid) -> anyhow::Result<()> {
    let found = crate::db::run(&state.db, move |conn| {
        Ok(invoices::table
            .find(invoice_id)
            .filter(invoices::pdf.is_null())
            .select(invoices::document)
            .first::<serde_json::Value>(conn)
            .optional()?)
    })
    .await?;
    let Some(document) = found else {
        return Ok(());
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let doc: InvoiceDocument = serde_json::from_value(document).map_err(|e| e.to_string())?;
        outpost_jobs::invoice::render(&doc).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    crate::db::run(&state.db, move |conn| {
        match rendered {
            Ok(bytes) => {
                diesel::update(
                    invoices::table
                        .find(invoice_id)
                        .filter(invoices::pdf.is_null()),
                )
                .set((
                    invoices::pdf.eq(bytes),
                    invoices::render_status.eq("ready"),
                    invoices::render_error.eq(None::<String>),
                    invoices::next_render_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                    invoices::rendered_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
                // The sale page swaps "Rendering…" for the download link when this arrives.
                let (sale_id, customer_id, hub_id): (Uuid, i64, i64) = invoices::table
                    .inner_join(crate::schema::sales::table)
                    .filter(invoices::id.eq(invoice_id))
                    .select((
                        invoices::sale_id,
                        invoices::customer_id,
                        crate::schema::sales::hub_id,
                    ))
                    .first(conn)?;
                crate::events::enqueue(conn, "invoice.rendered", serde_json::json!({ "invoice_id": invoice_id, "sale_id": sale_id, "hub_id": hub_id, "customer_id": customer_id }))?;
            }
            Err(error) => {
                tracing::warn!(%invoice_id, %error, "invoice render failed");
                conn.transaction(|conn| {
                    let mut entry = crate::audit::Entry::new("invoice.render_failed")
                        .object("invoice", invoice_id)
                        .outcome("rejected")
                        .change(None, Some(serde_json::json!({ "error": error })));
                    entry.actor_name = Some("invoice worker".into());
                    let hub_id: Option<i64> = invoices::table
                        .find(invoice_id)
                        .select(invoices::hub_id)
                        .first(conn)
                        .optional()?;
                    let entry = entry.event("job.failed", serde_json::json!({ "job": "invoice_render", "invoice_id": invoice_id, "hub_id": hub_id, "error": error }));
                    crate::audit::record(conn, &entry).map(|_| ())
                })?;
                let attempts: i32 = invoices::table
                    .find(invoice_id)
                    .select(invoices::render_attempts)
                    .first(conn)?;
                let next =
                    chrono::Utc::now() + chrono::Duration::seconds(backoff_secs(attempts + 1));
                diesel::update(
                    invoices::table
                        .find(invoice_id)
                        .filter(invoices::pdf.is_null()),
                )
                .set((
                    invoices::render_status.eq("failed"),
                    invoices::render_attempts.eq(attempts + 1),
                    invoices::render_error.eq(error),
                    invoices::next_render_at.eq((attempts + 1 < MAX_ATTEMPTS).then_some(next)),
                ))
                .execute(conn)?;
            }
        }
        Ok(())
    })
    .await?;
    // The worker has no publisher of its own running: send the news now (the outbox sweep
    // would within seconds anyway).
    if let Err(e) = crate::events::publish_pending(state).await {
        tracing::warn!(error = %e, "invoice event left to the outbox sweep");
    }
    Ok(())
}

/// The safety net under the outbox: invoices whose job was lost (pending for over a minute)
/// and failed renders whose backoff has passed are queued again.
pub async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let due: Vec<Uuid> = crate::db::run(&state.db, |conn| {
        let stale = chrono::Utc::now() - chrono::Duration::seconds(60);
        Ok(invoices::table
            .filter(invoices::pdf.is_null())
            .filter(
                invoices::render_status
                    .eq("pending")
                    .and(invoices::issued_at.lt(stale))
                    .or(invoices::render_status
                        .eq("failed")
                        .and(invoices::next_render_at.le(diesel::dsl::now))),
            )
            .select(invoices::id)
            .limit(100)
            .load(conn)?)
    })
    .await?;
    for id in &due {
        crate::jobs::enqueue_invoice(state, *id).await?;
    }
    Ok(due.len())
}

/// Retry from /admin/jobs: a fresh set of attempts, queued at once.
pub async fn retry(state: &AppState, invoice_id: Uuid) -> anyhow::Result<bool> {
    let changed = crate::db::run(&state.db, move |conn| {
        Ok(diesel::update(
            invoices::table
                .find(invoice_id)
                .filter(invoices::pdf.is_null()),
        )
        .set((
            invoices::render_status.eq("pending"),
            invoices::render_attempts.eq(0),
            invoices::next_render_at.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(conn)?)
    })
    .await?;
    if changed > 0 {
        crate::jobs::enqueue_invoice(state, invoice_id).await?;
    }
    Ok(changed > 0)
}

/// How long a worker waits between polls of the render queue.
pub const POLL: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(super::backoff_secs(1), 10);
        assert_eq!(super::backoff_secs(2), 20);
        assert_eq!(super::backoff_secs(3), 40);
        assert_eq!(super::backoff_secs(20), 320);
    }
}
