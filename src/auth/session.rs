//! Browser sessions in Redis. The cookie holds a random token; Redis holds the session under a
//! SHA-256 of it (a leaked Redis dump gives no usable cookies). Sessions expire when idle and
//! at an absolute age; each user's sessions are indexed so a role or scope change can end them.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::state::AppState;

pub const COOKIE: &str = "outpost_session";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionData {
    pub user_id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix milliseconds (0 in sessions made before it was kept): a password reset ends the
    /// sessions started before it, to the millisecond.
    #[serde(default)]
    pub created_ms: i64,
}

impl SessionData {
    pub fn started_ms(&self) -> i64 {
        if self.created_ms > 0 {
            self.created_ms
        } else {
            self.created_at * 1000
        }
    }
}

/// A loaded session: the key it is stored under (never the cookie value itself) and its data.
#[derive(Clone, Debug)]
pub struct Session {
    pub key: String,
    pub data: SessionData,
}

pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn session_key(state: &AppState, token_digest: &str) -> String {
    state.redis_key(&format!("session:{token_digest}"))
}

fn user_index_key(state: &AppState, user_id: i64) -> String {
    state.redis_key(&format!("user-sessions:{user_id}"))
}

/// Starts a session for `user_id` and returns the cookie value.
pub async fn create(state: &AppState, user_id: i64) -> redis::RedisResult<String> {
    let token = random_token();
    let key = session_key(state, &digest(&token));
    let data = SessionData {
        user_id,
        created_at: chrono::Utc::now().timestamp(),
        created_ms: chrono::Utc::now().timestamp_millis(),
    };
    let mut conn = state.redis.clone();
    let idle = state.settings.session_idle.as_secs();
    let index = user_index_key(state, user_id);
    redis::pipe()
        .atomic()
        .set_ex(&key, serde_json::to_string(&data).unwrap_or_default(), idle)
        .sadd(&index, &key)
        .expire(&index, state.settings.session_absolute.as_secs() as i64)
        .query_async::<()>(&mut conn)
        .await?;
    Ok(token)
}

/// Loads the session for a cookie value, sliding its idle expiry. Expired or unknown → None.
pub async fn load(state: &AppState, token: &str) -> redis::RedisResult<Option<Session>> {
    let key = session_key(state, &digest(token));
    let mut conn = state.redis.clone();
    let raw: Option<String> = redis::cmd("GETEX")
        .arg(&key)
        .arg("EX")
        .arg(state.settings.session_idle.as_secs())
        .query_async(&mut conn)
        .await?;
    let Some(data) = raw.and_then(|r| serde_json::from_str::<SessionData>(&r).ok()) else {
        return Ok(None);
    };
    let age = chrono::Utc::now().timestamp() - data.created_at;
    if age < 0 || age as u64 > state.settings.session_absolute.as_secs() {
        let _: () = conn.del(&key).await?;
        return Ok(None);
    }
    Ok(Some(Session { key, data }))
}

pub async fn destroy(state: &AppState, session: &Session) -> redis::RedisResult<()> {
    let mut conn = state.redis.clone();
    redis::pipe()
        .del(&session.key)
        .srem(user_index_key(state, session.data.user_id), &session.key)
        .query_async::<()>(&mut conn)
        .await
}

/// Ends every session of a user except `keep` (the key of the session making the change).
pub async fn end_all_for_user(
    state: &AppState,
    user_id: i64,
    keep: Option<&str>,
) -> redis::RedisResult<usize> {
    let mut conn = state.redis.clone();
    let index = user_index_key(state, user_id);
    let keys: Vec<String> = conn.smembers(&index).await?;
    let doomed: Vec<&String> = keys.iter().filter(|k| Some(k.as_str()) != keep).collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    redis::pipe()
        .del(&doomed)
        .srem(&index, &doomed)
        .query_async::<()>(&mut conn)
        .await?;
    Ok(doomed.len())
}

/// Ends a user's other sessions and API tokens after their rights changed.
pub async fn end_sessions(
    state: &crate::state::AppState,
    admin: &super::principal::Principal,
    user_id: i64,
) -> Result<(), crate::error::AppError> {
    let keep = if admin.user_id == user_id {
        admin.session_key().map(str::to_string)
    } else {
        None
    };
    end_all_for_user(state, user_id, keep.as_deref())
        .await
        .map_err(crate::error::AppError::session_store)?;
    crate::db::run(&state.db, move |conn| {
        Ok(super::tokens::revoke_all_for_user(conn, user_id)?)
    })
    .await?;
    Ok(())
}
