//! Events for live dashboards: written to the outbox in the same transaction as the change and
//! published to Redis pub/sub afterwards. If Redis is down the rows wait; the worker's sweep
//! publishes them later, so nothing is lost.

use diesel::prelude::*;

use crate::schema::outbox;
use crate::state::AppState;

const BATCH: i64 = 200;

/// Publishes what the outbox holds, oldest first. Returns how many rows were published.
pub async fn publish_pending(state: &AppState) -> anyhow::Result<usize> {
    let rows: Vec<(i64, String, serde_json::Value)> = crate::db::run(&state.db, |conn| {
        Ok(outbox::table
            .filter(outbox::published_at.is_null())
            .order(outbox::id)
            .limit(BATCH)
            .select((outbox::id, outbox::topic, outbox::payload))
            .load(conn)?)
    })
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let channel = state.redis_key("events");
    let mut conn = state.redis.clone();
    let mut done = Vec::with_capacity(rows.len());
    for (id, topic, payload) in rows {
        // Jobs go to their queue; everything else is an event for live dashboards.
        if topic == "job.zoho_sync" {
            if let Some(variant_id) = payload["variant_id"].as_i64() {
                crate::jobs::enqueue_zoho(state, variant_id).await?;
            }
            done.push(id);
            continue;
        }
        let message =
            serde_json::json!({ "id": id, "topic": topic, "payload": payload }).to_string();
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(message)
            .query_async::<i64>(&mut conn)
            .await?;
        done.push(id);
    }
    let count = done.len();
    crate::db::run(&state.db, move |conn| {
        diesel::update(outbox::table.filter(outbox::id.eq_any(done)))
            .set(outbox::published_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(count)
}

/// Publishes in the background after a commit; failures are left to the sweep.
pub fn publish_soon(state: &AppState) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = publish_pending(&state).await {
            tracing::warn!(error = %e, "outbox publish deferred to the sweep");
        }
    });
}
