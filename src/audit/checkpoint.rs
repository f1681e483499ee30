//! Signed checkpoints of the audit chain's head, kept outside PostgreSQL (a file in the
//! configured directory, and a Redis key), so that someone who can rewrite the database still
//! cannot remove the newest rows unnoticed: `outpost audit verify` compares the chain with the
//! latest checkpoint.
//!
//! The signing key is Ed25519, derived from the server's secret key, so the public key can be
//! handed to an outside auditor (`outpost audit public-key`) without the secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::seal::Head;
use crate::config::Settings;
use crate::state::AppState;

const FILE: &str = "latest.json";
const REDIS_SUFFIX: &str = "audit:checkpoint";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position of the newest sealed link.
    pub seq: i64,
    /// The audit row that link seals.
    pub audit_id: i64,
    /// That link's hash.
    pub hash: String,
    pub signed_at: chrono::DateTime<chrono::Utc>,
    /// Hex Ed25519 public key and signature over `message()`.
    pub public_key: String,
    pub signature: String,
}

/// The server's checkpoint key, derived from its secret key.
fn signing_key(settings: &Settings) -> SigningKey {
    let mut mac = Hmac::<Sha256>::new_from_slice(settings.secret_key.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"outpost audit checkpoint key v1");
    SigningKey::from_bytes(&mac.finalize().into_bytes().into())
}

/// The hex public key that checks this server's checkpoints.
pub fn public_key(settings: &Settings) -> String {
    hex::encode(signing_key(settings).verifying_key().as_bytes())
}

impl Checkpoint {
    fn message(&self) -> String {
        format!(
            "outpost-audit-checkpoint-v1|{}|{}|{}|{}",
            self.seq,
            self.audit_id,
            self.hash,
            self.signed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
    }

    pub fn sign(head: &Head, settings: &Settings) -> Self {
        let key = signing_key(settings);
        let mut checkpoint = Checkpoint {
            seq: head.seq,
            audit_id: head.audit_id,
            hash: head.hash.clone(),
            signed_at: chrono::Utc::now(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signature: String::new(),
        };
        checkpoint.signature = hex::encode(key.sign(checkpoint.message().as_bytes()).to_bytes());
        checkpoint
    }

    /// Whether this server's key signed exactly this checkpoint.
    pub fn is_signed_by(&self, settings: &Settings) -> bool {
        let key = signing_key(settings).verifying_key();
        let ours = hex::encode(key.as_bytes()) == self.public_key;
        let signature = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b));
        ours && signature.is_some_and(|s| verify(&key, self.message().as_bytes(), &s))
    }
}

fn verify(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    key.verify(message, signature).is_ok()
}

/// The directory checkpoints are written to.
pub fn dir(settings: &Settings) -> PathBuf {
    settings.audit_checkpoint_dir.clone()
}

/// Stores a checkpoint in the directory and in Redis, unless a newer one is there already.
pub async fn publish(state: &AppState, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let dir = dir(&state.settings);
    let copy = checkpoint.clone();
    let file = tokio::task::spawn_blocking(move || write_file(&dir, &copy));
    let text = serde_json::to_string(checkpoint)?;
    // Set only when newer: two sequencers of different processes may finish out of order.
    let script = redis::Script::new(
        "local cur = redis.call('GET', KEYS[1]) \
         if cur and cjson.decode(cur)['seq'] >= tonumber(ARGV[1]) then return 0 end \
         redis.call('SET', KEYS[1], ARGV[2]) return 1",
    );
    let mut conn = state.redis.clone();
    let redis: redis::RedisResult<i64> = script
        .key(state.redis_key(REDIS_SUFFIX))
        .arg(checkpoint.seq)
        .arg(text)
        .invoke_async(&mut conn)
        .await;
    file.await??;
    redis?;
    Ok(())
}

/// Writes `latest.json` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_file(dir: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(FILE);
    if read_file(dir).is_some_and(|old| old.seq >= checkpoint.seq) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{FILE}.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(serde_json::to_string_pretty(checkpoint)?.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The checkpoint in the directory, if one is there and readable.
pub fn read_file(dir: &Path) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The checkpoint in Redis, if Redis is configured and holds one.
pub async fn read_redis(settings: &Settings) -> Option<Checkpoint> {
    let url = settings.redis_url.as_deref()?;
    let client = redis::Client::open(url).ok()?;
    let mut conn = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let key = format!("{}:{REDIS_SUFFIX}", settings.redis_prefix);
    let text: Option<String> = redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .ok()?;
    serde_json::from_str(&text?).ok()
}
