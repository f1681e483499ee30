//! Sign-in throttling, per username and per client address. After a few free failures each
//! further failure doubles a waiting time during which attempts are refused without even
//! checking the password. The same rule applies to names that do not exist, so the throttle
//! reveals nothing about which accounts are real.

use std::time::Duration;

use redis::AsyncCommands;
use sha2::{Digest, Sha256};

use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

struct Policy {
    kind: &'static str,
    free_failures: u32,
}

const PER_USERNAME: Policy = Policy {
    kind: "user",
    free_failures: 3,
};
const PER_ADDRESS: Policy = Policy {
    kind: "addr",
    free_failures: 20,
};

fn subject(value: &str) -> String {
    hex::encode(&Sha256::digest(value.trim().to_lowercase().as_bytes())[..12])
}

fn keys(state: &AppState, policy: &Policy, value: &str) -> (String, String) {
    let id = subject(value);
    (
        state.redis_key(&format!("login-fail:{}:{id}", policy.kind)),
        state.redis_key(&format!("login-lock:{}:{id}", policy.kind)),
    )
}

/// The delay after `failures` failures under a policy (zero while failures are free).
pub fn lock_for(failures: u32, free_failures: u32) -> Duration {
    if failures <= free_failures {
        return Duration::ZERO;
    }
    let exponent = (failures - free_failures - 1).min(20);
    Duration::from_secs(1u64 << exponent).min(MAX_LOCK)
}

/// `Err(wait)` while either the username or the address is locked.
pub async fn check(
    state: &AppState,
    username: &str,
    addr: &str,
) -> redis::RedisResult<Result<(), Duration>> {
    let mut conn = state.redis.clone();
    let mut wait = 0_i64;
    for (policy, value) in [(&PER_USERNAME, username), (&PER_ADDRESS, addr)] {
        let (_, lock) = keys(state, policy, value);
        let ttl: i64 = conn.pttl(&lock).await?;
        wait = wait.max(ttl);
    }
    Ok(if wait > 0 {
        Err(Duration::from_millis(wait as u64))
    } else {
        Ok(())
    })
}

pub async fn record_failure(
    state: &AppState,
    username: &str,
    addr: &str,
) -> redis::RedisResult<()> {
    let mut conn = state.redis.clone();
    for (policy, value) in [(&PER_USERNAME, username), (&PER_ADDRESS, addr)] {
        let (count_key, lock_key) = keys(state, policy, value);
        let (failures,): (u32,) = redis::pipe()
            .atomic()
            .incr(&count_key, 1)
            .ignore()
            .expire(&count_key, WINDOW.as_secs() as i64)
            .ignore()
            .get(&count_key)
            .query_async(&mut conn)
            .await?;
        let lock = lock_for(failures, policy.free_failures);
        if !lock.is_zero() {
            let _: () = conn
                .pset_ex(&lock_key, failures, lock.as_millis() as u64)
                .await?;
        }
    }
    Ok(())
}

/// A successful sign-in forgives the username's failures (not the address's).
pub async fn clear(state: &AppState, username: &str) -> redis::RedisResult<()> {
    let mut conn = state.redis.clone();
    let (count_key, lock_key) = keys(state, &PER_USERNAME, username);
    conn.del(&[count_key, lock_key]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_failures_and_are_capped() {
        assert_eq!(lock_for(3, 3), Duration::ZERO);
        assert_eq!(lock_for(4, 3), Duration::from_secs(1));
        assert_eq!(lock_for(5, 3), Duration::from_secs(2));
        assert_eq!(lock_for(6, 3), Duration::from_secs(4));
        assert_eq!(lock_for(60, 3), MAX_LOCK);
    }
}
