//! Capture envelopes: every form that may be used offline carries one, signed by the server
//! when the form was served. On replay it proves the form was given to this user, for this hub
//! and kind, with this schema version, not too long ago — which is what makes a replay without
//! a fresh CSRF token safe (see docs/security.md).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub user_id: i64,
    /// The role the user held when the form was served (the role at capture).
    pub role: String,
    pub hub_id: Option<i64>,
    pub kind: String,
    pub schema: u32,
    pub base_version: Option<i32>,
    /// Unix seconds.
    pub issued_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the form's capture envelope is missing")]
    Missing,
    #[error("the form's capture envelope is not genuine")]
    Forged,
    #[error("the form was issued to another user")]
    OtherUser,
    #[error("the form was captured for another kind of entry or another hub")]
    Mismatch,
    #[error("the form is older than {0} days; reopen it and enter the data again")]
    TooOld(i64),
    #[error("this form version is no longer accepted (version {0}); reopen the form and enter the data again")]
    SchemaRetired(u32),
}

fn mac(secret: &str, body: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"outpost-envelope:");
    mac.update(body.as_bytes());
    mac
}

pub fn sign(secret: &str, envelope: &Envelope) -> String {
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(envelope).unwrap_or_default());
    let tag = hex::encode(mac(secret, &body).finalize().into_bytes());
    format!("{body}.{tag}")
}

/// Checks signature only; the caller checks the claims with `check`.
pub fn open(secret: &str, token: &str) -> Result<Envelope, EnvelopeError> {
    let (body, tag) = token.split_once('.').ok_or(EnvelopeError::Forged)?;
    let tag = hex::decode(tag).map_err(|_| EnvelopeError::Forged)?;
    mac(secret, body)
        .verify_slice(&tag)
        .map_err(|_| EnvelopeError::Forged)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| EnvelopeError::Forged)?;
    serde_json::from_slice(&json).map_err(|_| EnvelopeError::Forged)
}

/// What a replayed operation must match.
pub struct Expect<'a> {
    pub user_id: i64,
    pub kind: &'a str,
    pub hub_id: Option<i64>,
    pub accepted_schemas: &'a [u32],
    pub max_age_days: i64,
    pub now: i64,
}

pub fn check(
    secret: &str,
    token: Option<&str>,
    expect: &Expect<'_>,
) -> Result<Envelope, EnvelopeError> {
    let envelope = open(secret, token.ok_or(EnvelopeError::Missing)?)?;
    if envelope.user_id != expect.user_id {
        return Err(EnvelopeError::OtherUser);
    }
    if envelope.kind != expect.kind
        || (envelope.hub_id.is_some() && envelope.hub_id != expect.hub_id)
    {
        return Err(EnvelopeError::Mismatch);
    }
    if expect.now - envelope.issued_at > expect.max_age_days * 86_400 {
        return Err(EnvelopeError::TooOld(expect.max_age_days));
    }
    if !expect.accepted_schemas.contains(&envelope.schema) {
        return Err(EnvelopeError::SchemaRetired(envelope.schema));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Envelope {
        Envelope {
            user_id: 7,
            role: "DepotManager".into(),
            hub_id: Some(2),
            kind: "intake.create".into(),
            schema: 1,
            base_version: None,
            issued_at: 1_000_000,
        }
    }
    fn expect() -> Expect<'static> {
        Expect {
            user_id: 7,
            kind: "intake.create",
            hub_id: Some(2),
            accepted_schemas: &[1],
            max_age_days: 7,
            now: 1_000_000 + 3600,
        }
    }

    #[test]
    fn a_genuine_envelope_passes_and_each_defect_is_named() {
        let token = sign("key", &env());
        assert_eq!(check("key", Some(&token), &expect()).unwrap(), env());
        assert_eq!(check("key", None, &expect()), Err(EnvelopeError::Missing));
        assert_eq!(
            check("other-key", Some(&token), &expect()),
            Err(EnvelopeError::Forged)
        );
        let tampered = token.replacen('e', "f", 1);
        assert!(check("key", Some(&tampered), &expect()).is_err());
        assert_eq!(
            check(
                "key",
                Some(&token),
                &Expect {
                    user_id: 8,
                    ..expect()
                }
            ),
            Err(EnvelopeError::OtherUser)
        );
        assert_eq!(
            check(
                "key",
                Some(&token),
                &Expect {
                    hub_id: Some(3),
                    ..expect()
                }
            ),
            Err(EnvelopeError::Mismatch)
        );
        assert_eq!(
            check(
                "key",
                Some(&token),
                &Expect {
                    now: 1_000_000 + 8 * 86_400,
                    ..expect()
                }
            ),
            Err(EnvelopeError::TooOld(7))
        );
        assert_eq!(
            check(
                "key",
                Some(&token),
                &Expect {
                    accepted_schemas: &[2],
                    ..expect()
                }
            ),
            Err(EnvelopeError::SchemaRetired(1))
        );
    }
}
