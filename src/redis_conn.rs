//! The Redis connection shared by sessions, pub/sub and the apalis queues.

use std::time::Duration;

use anyhow::Context;

/// Connects and checks with a PING, so a wrong URL or a stopped Redis is reported at start.
pub async fn connect(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("OUTPOST_REDIS_URL is not a valid Redis URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut conn = tokio::time::timeout(
        Duration::from_secs(6),
        client.get_connection_manager_with_config(config),
    )
    .await
    .context("timed out connecting to Redis")?
    .with_context(|| format!("cannot connect to Redis at {}", redact(url)))?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .context("Redis did not answer PING")?;
    Ok(conn)
}

/// The URL without a password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
