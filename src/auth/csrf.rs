//! CSRF protection: the signed double-submit pattern. Each browser holds a random `outpost_csrf`
//! cookie; forms and htmx requests carry HMAC(secret key, cookie) as `csrf_token` (form field) or
//! `X-CSRF-Token` (header). A cross-site page can neither read the cookie nor compute the HMAC.
//! The cookie is replaced at sign-in and sign-out, so a token captured before does not survive.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const COOKIE: &str = "outpost_csrf";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";
/// The header the service worker adds when it replays a queued form: such a request carries
/// the form's signed capture envelope instead of a fresh token (docs/security.md).
pub const REPLAY_HEADER: &str = "X-Outpost-Replay";

/// The token a page embeds for this browser's cookie value.
pub fn token_for(secret: &str, cookie_value: &str) -> String {
    hex::encode(mac(secret, cookie_value).finalize().into_bytes())
}

/// Constant-time check of a submitted token against the cookie.
pub fn verify(secret: &str, cookie_value: &str, submitted: &str) -> bool {
    match hex::decode(submitted) {
        Ok(bytes) => mac(secret, cookie_value).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &str, cookie_value: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(b"outpost-csrf:");
    mac.update(cookie_value.as_bytes());
    mac
}

/// Finds `csrf_token` in an urlencoded form body.
pub fn token_in_form(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_cookie_and_key() {
        let t = token_for("k1", "cookie-a");
        assert!(verify("k1", "cookie-a", &t));
        assert!(!verify("k1", "cookie-b", &t));
        assert!(!verify("k2", "cookie-a", &t));
        assert!(!verify("k1", "cookie-a", "not-hex"));
        assert!(!verify("k1", "cookie-a", ""));
    }

    #[test]
    fn finds_the_token_in_a_form_body() {
        assert_eq!(
            token_in_form(b"a=1&csrf_token=abc%20d&b=2").as_deref(),
            Some("abc d")
        );
        assert_eq!(token_in_form(b"a=1"), None);
    }
}
