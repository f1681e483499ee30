//! The Zoho Inventory sync, as the SYSTEM_BOT user: workflow 1 pushes new variants (PENDING,
//! no Zoho id) with `POST /items`, workflow 2 pushes changed ones (DIRTY) with `PUT /items/{id}`.
//! Database writes go through the `outpost_sync_bot` role, which may change only the sync
//! columns. One worker at a time handles a variant (a Redis lock), so two worker processes
//! never create an item twice; the access token and the request budget are shared in Redis.

use std::time::Duration;

use diesel::prelude::*;
use outpost_jobs::zoho::{
    BoxFuture, ItemPayload, RateLimiter, TokenStore, ZohoClient, ZohoConfig, ZohoError,
};
use redis::AsyncCommands;
use serde_json::json;

use crate::audit::{self, Entry};
use crate::config::ZohoSettings;
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants, users};
use crate::state::AppState;

pub fn client_config(z: &ZohoSettings) -> ZohoConfig {
    ZohoConfig {
        accounts_url: z.accounts_url.clone(),
        api_url: z.api_url.clone(),
        organization_id: z.organization_id.clone(),
        client_id: z.client_id.clone(),
        client_secret: z.client_secret.expose().to_string(),
        refresh_token: z.refresh_token.expose().to_string(),
        duplicate_codes: z.duplicate_codes.clone(),
        invalid_token_codes: z.invalid_token_codes.clone(),
        timeout: Duration::from_secs(30),
    }
}

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
    fn forget(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _: Result<(), _> = self.redis.clone().del(&self.key).await;
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

/// Fixed windows per organisation — a minute and a UTC day (Zoho's per-plan daily quota) —
/// shared by every worker process.
pub struct RedisLimiter {
    pub redis: redis::aio::ConnectionManager,
    pub key: String,
    pub per_minute: u32,
    pub per_day: u32,
}

impl RateLimiter for RedisLimiter {
    fn admit(&self) -> BoxFuture<'_, Result<(), Duration>> {
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp();
            let minute = format!("{}:m:{}", self.key, now / 60);
            let day = format!("{}:d:{}", self.key, now / 86_400);
            let mut conn = self.redis.clone();
            let used: Result<(u32, u32), _> = redis::pipe()
                .atomic()
                .incr(&minute, 1)
                .expire(&minute, 70)
                .ignore()
                .incr(&day, 1)
                .expire(&day, 90_000)
                .ignore()
                .query_async(&mut conn)
                .await;
            match used {
                Ok((_, d)) if d > self.per_day => {
                    Err(Duration::from_secs((86_400 - now % 86_400) as u64 + 1))
                }
                Ok((m, _)) if m > self.per_minute => {
                    Err(Duration::from_secs((60 - now % 60) as u64 + 1))
                }
                _ => Ok(()),
            }
        })
    }
}

/// What one sync did.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    Created(String),
    Linked(String),
    Updated,
    Nothing,
}

struct Snapshot {
    status: String,
    zoho_item_id: Option<String>,
    version: i32,
    payload: ItemPayload,
}

fn snapshot(conn: &mut PgConnection, variant_id: i64) -> QueryResult<Option<Snapshot>> {
    // status, Zoho id, version, SKU, name, description, price in cents, unit.
    type Row = (
        String,
        Option<String>,
        i32,
        String,
        String,
        String,
        i64,
        String,
    );
    let row: Option<Row> = product_variants::table
        .inner_join(product_identities::table.inner_join(product_families::table))
        .filter(product_variants::id.eq(variant_id))
        .select((
            product_variants::zoho_sync_status,
            product_variants::zoho_item_id,
            product_variants::version,
            product_variants::full_sku,
            product_families::base_name,
            product_variants::description,
            product_variants::listing_price_cents,
            product_variants::unit,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(status, zoho_item_id, version, sku, base_name, description, cents, unit)| Snapshot {
            status,
            zoho_item_id,
            version,
            payload: ItemPayload {
                // Zoho's name: the family name plus what tells the variants apart.
                name: if description.is_empty() {
                    format!("{base_name} ({sku})")
                } else {
                    description.clone()
                },
                sku,
                rate: cents as f64 / 100.0,
                description,
                unit,
            },
        },
    ))
}

/// Runs `work` as the sync bot's database role, in one transaction.
fn as_sync_bot<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL ROLE outpost_sync_bot").execute(conn)?;
        work(conn)
    })
}

fn bot_entry(
    conn: &mut PgConnection,
    action: &str,
    variant_id: i64,
    after: serde_json::Value,
) -> QueryResult<Entry> {
    let bot: Option<(i64, String)> = users::table
        .filter(users::role.eq("SystemBot"))
        .filter(users::active.eq(true))
        .order(users::id)
        .select((users::id, users::username))
        .first(conn)
        .optional()?;
    let mut e = Entry::new(action)
        .object("product_variant", variant_id)
        .change(None, Some(after));
    if let Some((id, name)) = bot {
        e.actor_id = Some(id);
        e.actor_name = Some(name);
    }
    e.role_at_apply = Some("SystemBot".into());
    e.role_at_capture = Some("SystemBot".into());
    Ok(e)
}

/// Records success: the Zoho id, and SYNCED unless the variant changed meanwhile (then it stays
/// DIRTY for the next run, so no edit is lost).
fn record_success(
    conn: &mut PgConnection,
    variant_id: i64,
    version: i32,
    item_id: &str,
    what: &Synced,
) -> QueryResult<()> {
    as_sync_bot(conn, |conn| {
        diesel::update(product_variants::table.find(variant_id))
            .set((
                product_variants::zoho_item_id.eq(item_id),
                product_variants::zoho_last_error.eq(None::<String>),
                product_variants::zoho_synced_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        diesel::update(
            product_variants::table
                .find(variant_id)
                .filter(product_variants::version.eq(version)),
        )
        .set(product_variants::zoho_sync_status.eq("SYNCED"))
        .execute(conn)?;
        let action = match what {
            Synced::Created(_) => "zoho.item.created",
            Synced::Linked(_) => "zoho.item.linked",
            _ => "zoho.item.updated",
        };
        let entry = bot_entry(conn, action, variant_id, json!({ "zoho_item_id": item_id }))?;
        audit::record(conn, &entry).map(|_| ())
    })
}

/// Records a failure: the message always; the ERROR status when it is final.
fn record_failure(
    conn: &mut PgConnection,
    variant_id: i64,
    message: &str,
    last: bool,
) -> QueryResult<()> {
    as_sync_bot(conn, |conn| {
        diesel::update(product_variants::table.find(variant_id))
            .set(product_variants::zoho_last_error.eq(message))
            .execute(conn)?;
        if last {
            diesel::update(product_variants::table.find(variant_id))
                .set(product_variants::zoho_sync_status.eq("ERROR"))
                .execute(conn)?;
            let entry = bot_entry(
                conn,
                "zoho.item.failed",
                variant_id,
                json!({ "error": message }),
            )?
            .outcome("rejected");
            audit::record(conn, &entry)?;
        }
        Ok(())
    })
}

/// One attempt at syncing one variant.
async fn attempt(client: &ZohoClient<'_>, snap: &Snapshot) -> Result<Synced, ZohoError> {
    match (&snap.zoho_item_id, snap.status.as_str()) {
        (None, "PENDING" | "ERROR") => match client.create_item(&snap.payload).await {
            Ok(id) => Ok(Synced::Created(id)),
            // It exists already (a previous run died after Zoho created it, or it was made by
            // hand): find it by SKU, link it, and bring it up to date.
            Err(ZohoError::Duplicate) => match client.find_by_sku(&snap.payload.sku).await? {
                Some(id) => {
                    client.update_item(&id, &snap.payload).await?;
                    Ok(Synced::Linked(id))
                }
                None => Err(ZohoError::Permanent {
                    code: -1,
                    message: "Zoho says the SKU exists but no item with it can be found".into(),
                }),
            },
            Err(e) => Err(e),
        },
        (Some(id), "DIRTY" | "ERROR" | "PENDING") => client
            .update_item(id, &snap.payload)
            .await
            .map(|_| Synced::Updated),
        _ => Ok(Synced::Nothing),
    }
}

/// Exponential backoff with jitter: base × 2^n, ±25 %, at most five minutes.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let raw = base
        .saturating_mul(1u32 << attempt.min(16))
        .min(Duration::from_secs(300));
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    raw.mul_f64(jitter)
}

/// The job: syncs one variant, retrying passing failures with backoff; a final failure leaves
/// the variant in ERROR with the message (visible on the variant and on /admin/jobs).
pub async fn sync_variant(
    state: &AppState,
    zoho: &ZohoSettings,
    http: &reqwest::Client,
    variant_id: i64,
) -> Result<Synced, AppError> {
    // One worker per variant at a time, across processes.
    let lock = state.redis_key(&format!("zoho:lock:{variant_id}"));
    let mut conn = state.redis.clone();
    let token = uuid::Uuid::new_v4().to_string();
    let got: Option<String> = redis::cmd("SET")
        .arg(&lock)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(600_000)
        .query_async(&mut conn)
        .await
        .map_err(AppError::session_store)?;
    if got.is_none() {
        return Ok(Synced::Nothing);
    }
    let result = sync_locked(state, zoho, http, variant_id).await;
    let release = redis::Script::new("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end");
    let _: Result<i64, _> = release.key(&lock).arg(&token).invoke_async(&mut conn).await;
    result
}

async fn sync_locked(
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
    let mut tries = 0;
    loop {
        // Read fresh each time: an edit made meanwhile is sent, not an old copy.
        let Some(snap) =
            crate::db::run(&state.db, move |conn| Ok(snapshot(conn, variant_id)?)).await?
        else {
            return Ok(Synced::Nothing);
        };
        tries += 1;
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
            // A budget that reopens only much later (the daily quota): stop here, keep the
            // variant waiting; the sweep brings it back once the window has passed.
            Err(ZohoError::RateLimited(wait)) if wait > Duration::from_secs(120) => {
                let message = format!(
                    "Zoho request quota used up; resuming in {} minutes",
                    wait.as_secs() / 60
                );
                let m2 = message.clone();
                crate::db::run(&state.db, move |conn| {
                    Ok(record_failure(conn, variant_id, &m2, false)?)
                })
                .await?;
                return Err(AppError::ServiceUnavailable(message));
            }
            Err(e) => {
                let last = !e.is_retryable() || tries >= zoho.max_attempts;
                let message = e.to_string();
                tracing::warn!(variant_id, attempt = tries, error = %message, last, "zoho sync failed");
                crate::db::run(&state.db, move |conn| {
                    Ok(record_failure(conn, variant_id, &message, last)?)
                })
                .await?;
                if last {
                    return Err(AppError::ServiceUnavailable(e.to_string()));
                }
                let wait = match e {
                    ZohoError::RateLimited(wait) => wait.max(zoho.backoff_base),
                    _ => backoff(zoho.backoff_base, tries - 1),
                };
                tokio::time::sleep(wait).await;
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = std::time::Duration::from_millis(1000);
        let b0 = super::backoff(base, 0).as_millis();
        let b3 = super::backoff(base, 3).as_millis();
        assert!((750..=1250).contains(&b0), "{b0}");
        assert!((6000..=10000).contains(&b3), "{b3}");
        assert!(super::backoff(base, 30) <= std::time::Duration::from_secs(375));
    }
}
