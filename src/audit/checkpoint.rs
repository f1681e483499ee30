//! Signed checkpoints of the audit chain's head, kept outside PostgreSQL (`checkpoint_store`:
//! files in the configured directory, and a Redis key, per database), so that someone who can
//! rewrite the database still cannot remove the newest rows unnoticed: `outpost audit verify`
//! compares the chain with the latest checkpoint of that database.
//!
//! The signing key is Ed25519, derived from the server's secret key, so the public key can be
//! handed to an outside auditor (`outpost audit public-key`) without the secret. The signature
//! covers the database the checkpoint belongs to, so one cannot be passed off as another's.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::seal::Head;
use crate::config::Settings;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The database whose chain this is (`checkpoint_store::Database`): its cluster's system
    /// identifier and its name, as `7716665368317745352/outpost`.
    pub database: String,
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
            "outpost-audit-checkpoint-v2|{}|{}|{}|{}|{}",
            self.database,
            self.seq,
            self.audit_id,
            self.hash,
            self.signed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
    }

    pub fn sign(head: &Head, database: &str, settings: &Settings) -> Self {
        let key = signing_key(settings);
        let mut checkpoint = Checkpoint {
            database: database.to_string(),
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
