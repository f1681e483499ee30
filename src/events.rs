//! Events for live dashboards: written to the outbox in the same transaction as the change and
//! appended to the Redis event stream afterwards (`live` follows it). If Redis is down the rows wait; the worker's sweep
//! publishes them later, so nothing is lost.
//!
//! Publishing never competes with the writes it follows: each process runs at most one
//! publisher at a time (a commit while one runs only asks it to go round once more), and
//! publishers of different processes claim disjoint rows (`FOR UPDATE SKIP LOCKED`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::prelude::*;

use crate::schema::outbox;
use crate::state::AppState;

const BATCH: i64 = 200;

/// Events kept in the stream for viewers that reconnect (older ones are trimmed).
const KEPT: usize = 10_000;

/// The Redis event stream live views follow (`live::follow`).
pub fn stream_key(state: &AppState) -> String {
    state.redis_key("events:stream")
}

/// The per-process gate: whether a publisher runs, and whether more was committed since it
/// started.
#[derive(Debug, Default)]
pub struct Publisher {
    running: AtomicBool,
    again: AtomicBool,
}

/// Records an event (or a `job.*` request) in the outbox, inside the caller's transaction, so
/// it is published only if that transaction commits.
pub fn enqueue(
    conn: &mut PgConnection,
    topic: &str,
    payload: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((outbox::topic.eq(topic), outbox::payload.eq(payload)))
        .execute(conn)
        .map(|_| ())
}

/// Publishes what the outbox holds, oldest first. Returns how many rows were published.
pub async fn publish_pending(state: &AppState) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let published = publish_batch(state).await?;
        total += published;
        if published < BATCH as usize {
            return Ok(total);
        }
    }
}

/// One batch: rows are claimed for a minute (rows another publisher holds are skipped), sent,
/// then marked published. A publisher that dies mid-way leaves its claim to expire.
async fn publish_batch(state: &AppState) -> anyhow::Result<usize> {
    let rows = crate::db::run(&state.db, |conn| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            topic: String,
            #[diesel(sql_type = diesel::sql_types::Jsonb)]
            payload: serde_json::Value,
        }
        let rows: Vec<Row> = diesel::sql_query(
            "UPDATE outbox SET claimed_until = now() + interval '1 minute' WHERE id IN ( \
               SELECT id FROM outbox WHERE published_at IS NULL \
                 AND (claimed_until IS NULL OR claimed_until < now()) \
               ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, topic, payload",
        )
        .bind::<diesel::sql_types::BigInt, _>(BATCH)
        .load(conn)?;
        let mut rows: Vec<_> = rows
            .into_iter()
            .map(|r| (r.id, r.topic, r.payload))
            .collect();
        rows.sort_by_key(|r| r.0);
        Ok(rows)
    })
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    if let Err(e) = send(state, rows).await {
        // Give the rows back at once, so the sweep does not wait for the claim to expire.
        let release = ids.clone();
        let _ = crate::db::run(&state.db, move |conn| {
            diesel::update(outbox::table.filter(outbox::id.eq_any(&release)))
                .set(outbox::claimed_until.eq(None::<chrono::DateTime<chrono::Utc>>))
                .execute(conn)?;
            Ok(())
        })
        .await;
        return Err(e);
    }
    crate::db::run(&state.db, move |conn| {
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set(outbox::published_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(ids.len())
    })
    .await
    .map_err(Into::into)
}

/// Rows pruned per statement: a long backlog goes in bounded steps, never one long delete.
const PRUNE_BATCH: i64 = 5_000;
/// At most this many per call; the next sweep goes on.
const PRUNE_MOST: usize = 100_000;

/// Deletes published outbox rows older than the retention window (`Settings::outbox_keep`),
/// oldest first, in bounded batches; rows not yet published are never touched. Returns how
/// many went. The event reached Redis when it was published and its effect is in its own
/// table: kept for ever, the outbox grew larger than the operations it came from.
pub async fn prune_published(state: &AppState) -> anyhow::Result<usize> {
    let keep_secs = i64::try_from(state.settings.outbox_keep.as_secs()).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let pruned = crate::db::run(&state.db, move |conn| {
            Ok(diesel::sql_query(
                "DELETE FROM outbox WHERE id IN ( \
                   SELECT id FROM outbox \
                   WHERE published_at < now() - interval '1 second' * $1 \
                   ORDER BY published_at LIMIT $2)",
            )
            .bind::<diesel::sql_types::BigInt, _>(keep_secs)
            .bind::<diesel::sql_types::BigInt, _>(PRUNE_BATCH)
            .execute(conn)?)
        })
        .await?;
        total += pruned;
        if pruned < PRUNE_BATCH as usize || total >= PRUNE_MOST {
            return Ok(total);
        }
    }
}

async fn send(state: &AppState, rows: Vec<(i64, String, serde_json::Value)>) -> anyhow::Result<()> {
    let stream = stream_key(state);
    let mut conn = state.redis.clone();
    for (_, topic, payload) in rows {
        // Jobs go to their queue; everything else is an event for live dashboards.
        if topic == "job.zoho_sync" {
            if let Some(variant_id) = payload["variant_id"].as_i64() {
                crate::jobs::enqueue_zoho(state, variant_id).await?;
            }
            continue;
        }
        if topic == "job.invoice_render" {
            if let Some(id) = payload["invoice_id"].as_str().and_then(|s| s.parse().ok()) {
                crate::jobs::enqueue_invoice(state, id).await?;
            }
            continue;
        }
        append(&mut conn, &stream, &topic, &payload).await?;
    }
    Ok(())
}

/// Publishes in the background after a commit; failures are left to the sweep. At most one
/// publisher runs per process: a commit while it runs makes it go round once more.
///
/// Callable from any task: the server's request handlers (actix's single-threaded workers)
/// and the apalis jobs on the multi-threaded runtime alike. It used `spawn_local` once, which
/// panicked in the jobs and took the cron workers down after their first event (issue 26).
pub fn publish_soon(state: &AppState) {
    let gate: Arc<Publisher> = state.service();
    gate.again.store(true, Ordering::SeqCst);
    if gate.running.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime (a one-shot command): the sweep publishes it.
        gate.running.store(false, Ordering::SeqCst);
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        // Lowers the gate however the round ends, a panic included: a gate left up would
        // leave every later event of this process to the 10-second sweep.
        let lowered = Lowered(gate.clone());
        while gate.again.swap(false, Ordering::SeqCst) {
            if let Err(e) = publish_pending(&state).await {
                tracing::warn!(error = %e, "outbox publish deferred to the sweep");
                break;
            }
        }
        drop(lowered);
        // A commit that came in after the last round but before the flag dropped.
        if gate.again.load(Ordering::SeqCst) {
            publish_soon(&state);
        }
    });
}

/// Lowers the publisher's gate when dropped.
struct Lowered(Arc<Publisher>);

impl Drop for Lowered {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// Appends one event (called by the outbox publisher).
async fn append(
    conn: &mut redis::aio::ConnectionManager,
    key: &str,
    topic: &str,
    payload: &serde_json::Value,
) -> redis::RedisResult<String> {
    redis::cmd("XADD")
        .arg(key)
        .arg("MAXLEN")
        .arg("~")
        .arg(KEPT)
        .arg("*")
        .arg("topic")
        .arg(topic)
        .arg("payload")
        .arg(payload.to_string())
        .query_async(conn)
        .await
}
