//! The stream: the outbox publisher appends events (`XADD … MAXLEN ~ KEPT`); each process
//! follows it with one dedicated connection (a blocking `XREAD`), started when its first viewer
//! connects, and hands every event to its viewers through a broadcast channel. A lost Redis
//! connection is re-made and the follower goes on after the last event it saw, so a Redis restart
//! costs viewers nothing but the pause.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use tokio::sync::broadcast;

use super::LiveEvent;
use crate::events::stream_key;
use crate::state::AppState;

/// Events a slow viewer may fall behind by before it is told to reload.
const BUFFER: usize = 4096;

pub struct Live {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    following: AtomicBool,
    /// Viewers connected to this process now.
    pub viewers: AtomicUsize,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tx: broadcast::channel(BUFFER).0,
            following: AtomicBool::new(false),
            viewers: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("viewers", &self.viewers)
            .finish()
    }
}

impl Live {
    /// A receiver of every event from now on (the follower starts with the first).
    pub fn subscribe(&self, state: &AppState) -> broadcast::Receiver<Arc<LiveEvent>> {
        let rx = self.tx.subscribe();
        if !self.following.swap(true, Ordering::SeqCst) {
            let state = state.clone();
            actix_web::rt::spawn(follow(state));
        }
        rx
    }
}

fn to_event(id: redis::streams::StreamId) -> Option<LiveEvent> {
    let text = |field: &str| -> Option<String> {
        redis::from_redis_value(id.map.get(field)?.clone()).ok()
    };
    Some(LiveEvent {
        topic: text("topic")?,
        payload: serde_json::from_str(&text("payload")?).ok()?,
        id: id.id,
    })
}

/// Events after `after` (exclusive), oldest first, at most `count`.
pub async fn since(
    conn: &mut redis::aio::ConnectionManager,
    key: &str,
    after: &str,
    count: usize,
) -> redis::RedisResult<Vec<LiveEvent>> {
    let reply: StreamRangeReply = conn
        .xrange_count(key, format!("({after}"), "+", count)
        .await?;
    Ok(reply.ids.into_iter().filter_map(to_event).collect())
}

async fn connect(state: &AppState) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let url = state.settings.redis_url.clone().unwrap_or_default();
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(15)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

async fn follow(state: AppState) {
    let key = stream_key(&state);
    let live = state.service::<Live>();
    // Where to go on from: the newest entry when the follower starts.
    let mut last: Option<String> = None;
    loop {
        let mut conn = match connect(&state).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "live events: Redis unreachable, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if last.is_none() {
            let newest: redis::RedisResult<StreamRangeReply> =
                conn.xrevrange_count(&key, "+", "-", 1).await;
            match newest {
                Ok(r) => {
                    last = Some(
                        r.ids
                            .first()
                            .map_or_else(|| "0-0".to_string(), |i| i.id.clone()),
                    )
                }
                Err(_) => continue,
            }
        }
        loop {
            let from = last.clone().unwrap_or_else(|| "0-0".into());
            let opts = StreamReadOptions::default().block(5_000).count(500);
            let reply: redis::RedisResult<Option<StreamReadReply>> =
                conn.xread_options(&[&key], &[&from], &opts).await;
            match reply {
                Ok(Some(reply)) => {
                    for id in reply.keys.into_iter().flat_map(|k| k.ids) {
                        last = Some(id.id.clone());
                        if let Some(event) = to_event(id) {
                            // No receivers is fine: nobody is watching right now.
                            let _ = live.tx.send(Arc::new(event));
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "live events: lost Redis, reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}
