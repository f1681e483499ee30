//! What the Zoho client keeps in Redis, shared by every worker process: the access token and
//! the request budget (GCRA).

use std::time::Duration;

use outpost_jobs::zoho::{BoxFuture, RateLimiter, TokenStore};
use redis::AsyncCommands;

/// The access token, shared by every worker process.
pub struct RedisTokens {
    pub redis: redis::aio::ConnectionManager,
    pub key: String,
}

impl TokenStore for RedisTokens {
    fn get(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            self.redis
                .clone()
                .get::<_, Option<String>>(&self.key)
                .await
                .ok()
                .flatten()
        })
    }
    fn put(&self, token: String, ttl: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _: Result<(), _> = self
                .redis
                .clone()
                .set_ex(&self.key, token, ttl.as_secs().max(1))
                .await;
        })
    }
    fn forget<'a>(&'a self, token: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Compare and delete in one step: another worker may have stored a fresh token.
            let script = redis::Script::new(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
            );
            let _: Result<i64, _> = script
                .key(&self.key)
                .arg(token)
                .invoke_async(&mut self.redis.clone())
                .await;
        })
    }
    fn claim_refresh(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let got: Result<Option<String>, _> = redis::cmd("SET")
                .arg(format!("{}:refreshing", self.key))
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(15_000)
                .query_async(&mut self.redis.clone())
                .await;
            matches!(got, Ok(Some(_)))
        })
    }
    fn release_refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _: Result<(), _> = self
                .redis
                .clone()
                .del(format!("{}:refreshing", self.key))
                .await;
        })
    }
}

/// The request budget per organisation, shared by every worker process through Redis: a
/// GCRA (generic cell rate algorithm) with no burst, where each request books its own moment,
/// at least 60 s / budget after the previous one (plus 1 % for timing jitter), so no 60-second
/// window — sliding, not calendar — carries more than the budget. Moments are booked at most
/// `HORIZON` ahead; later askers are told when to ask again, so a long backlog neither polls
/// nor stampedes. Zoho's daily quota per UTC day is counted too. Redis's clock is the one
/// clock, so workers on several machines agree.
pub struct RedisLimiter {
    pub redis: redis::aio::ConnectionManager,
    pub key: String,
    pub per_minute: u32,
    pub per_day: u32,
}

/// How far ahead a request may book its moment.
pub(super) const HORIZON: Duration = Duration::from_secs(10);

/// KEYS: the next free moment, the day-counter prefix. ARGV: spacing and horizon in ms, the
/// daily quota. Returns {1, delay} when booked (send after delay ms), {0, wait} when not (ask
/// again after wait ms).
pub(super) const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spacing, horizon = tonumber(ARGV[1]), tonumber(ARGV[2])
local day = math.floor(now / 86400000)
local day_key = KEYS[2] .. ':' .. day
if tonumber(redis.call('GET', day_key) or '0') >= tonumber(ARGV[3]) then
  return {0, (day + 1) * 86400000 - now + 1000}
end
local at = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if at - now > horizon then
  return {0, at - now - horizon}
end
redis.call('SET', KEYS[1], at + spacing, 'PX', at + spacing - now + spacing)
redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, 90000)
return {1, at - now}
"#;

impl RedisLimiter {
    /// 60 s / budget, rounded up, plus 1 % (at least a millisecond): `budget + 1` requests span
    /// more than 60 s even when some are sent a little after their moment.
    fn spacing_ms(&self) -> u64 {
        let even = 60_000u64.div_ceil(u64::from(self.per_minute.max(1)));
        even + (even / 100).max(1)
    }
}

impl RateLimiter for RedisLimiter {
    fn reserve(&self) -> BoxFuture<'_, Result<Duration, Duration>> {
        Box::pin(async move {
            let answer: Result<(i64, i64), _> = redis::Script::new(GCRA)
                .key(format!("{}:next", self.key))
                .key(format!("{}:d", self.key))
                .arg(self.spacing_ms())
                .arg(HORIZON.as_millis() as u64)
                .arg(self.per_day)
                .invoke_async(&mut self.redis.clone())
                .await;
            match answer {
                Ok((1, delay)) => Ok(Duration::from_millis(delay.max(0) as u64)),
                Ok((_, wait)) => Err(Duration::from_millis(wait.max(1) as u64)),
                // Redis away: no budget can be checked, so nothing is sent now.
                Err(_) => Err(Duration::from_secs(5)),
            }
        })
    }
}

/// One variant's lock, held while one job syncs it, so two workers never send it at once. It
/// is a short lease, renewed while the job runs and released when the job ends or is dropped
/// (its worker restarted): a job that dies frees its variant within `LEASE`, not after the
/// longest a job may take (a whole budget wait), and a backlog is not held up by it.
pub struct Lease {
    redis: redis::aio::ConnectionManager,
    key: String,
    token: String,
    renewal: tokio::task::JoinHandle<()>,
}

/// How long a lease outlives its last renewal.
pub const LEASE: Duration = Duration::from_secs(30);

/// Compare and delete (or extend) in one step: the lease may have lapsed and been taken.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

impl Lease {
    /// The lease on `key`, or `None` while another job holds it.
    pub async fn take(
        redis: &redis::aio::ConnectionManager,
        key: String,
    ) -> redis::RedisResult<Option<Lease>> {
        let token = uuid::Uuid::new_v4().to_string();
        let got: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LEASE.as_millis() as u64)
            .query_async(&mut redis.clone())
            .await?;
        if got.is_none() {
            return Ok(None);
        }
        let (mut conn, k, t) = (redis.clone(), key.clone(), token.clone());
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE / 3).await;
                let kept: Result<i64, _> = redis::Script::new(RENEW)
                    .key(&k)
                    .arg(&t)
                    .arg(LEASE.as_millis() as u64)
                    .invoke_async(&mut conn)
                    .await;
                // Taken by another job after a lapse: this one no longer holds it. (A failed
                // renewal is tried again; the lease lapses if Redis stays away.)
                if matches!(kept, Ok(0)) {
                    tracing::warn!(key = %k, "a Zoho sync lease lapsed while its job ran");
                    return;
                }
            }
        });
        Ok(Some(Lease {
            redis: redis.clone(),
            key,
            token,
            renewal,
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        let (mut conn, key, token) = (
            self.redis.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        // Dropping cannot wait for Redis; outside a runtime the lease simply lapses.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _: Result<i64, _> = redis::Script::new(RELEASE)
                    .key(&key)
                    .arg(&token)
                    .invoke_async(&mut conn)
                    .await;
            });
        }
    }
}
