//! A client for the Zoho Inventory API v1, faithful to its documented shape: OAuth 2.0
//! refresh-token flow, `Authorization: Zoho-oauthtoken …`, the `organization_id` parameter on
//! every call, and the `{code, message, item}` envelope. Where Zoho documents nothing exact
//! (the codes for an invalid token or a duplicate SKU) the codes are configuration.
//!
//! The access-token cache and the rate limiter are traits: the server backs them with Redis so
//! that every worker process shares one token (Zoho grants few per refresh token) and one
//! request budget per organisation.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct ZohoConfig {
    /// e.g. https://accounts.zoho.com (regional: .eu, .in, .com.au, .jp, .ca, .com.cn, .sa)
    pub accounts_url: String,
    /// e.g. https://www.zohoapis.com/inventory/v1
    pub api_url: String,
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Answer codes that mean "an item with this SKU already exists".
    pub duplicate_codes: Vec<i64>,
    /// Answer codes that mean "the access token is invalid or expired".
    pub invalid_token_codes: Vec<i64>,
    pub timeout: Duration,
    /// How long one call may wait for the request budget (ours or Zoho's 429) before it gives
    /// up with `RateLimited`; the whole item then waits for the next run.
    pub max_budget_wait: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ZohoError {
    /// The request budget (ours, shared by all workers, or Zoho's 429) is spent for now: the
    /// request was not made, or not taken; wait this long. Never an attempt, never an error.
    #[error("waiting for the Zoho request budget; resumes in {0:?}")]
    RateLimited(Duration),
    #[error("Zoho is unavailable: {0}")]
    Transient(String),
    #[error("an item with this SKU already exists in Zoho")]
    Duplicate,
    #[error("Zoho refused the access token")]
    InvalidToken,
    #[error("Zoho refused the request (code {code}): {message}")]
    Permanent { code: i64, message: String },
}

impl ZohoError {
    /// Worth trying again later (with backoff).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ZohoError::RateLimited(_) | ZohoError::Transient(_) | ZohoError::InvalidToken
        )
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the access token is kept between calls (and processes).
pub trait TokenStore: Send + Sync {
    fn get(&self) -> BoxFuture<'_, Option<String>>;
    fn put(&self, token: String, ttl: Duration) -> BoxFuture<'_, ()>;
    /// Forgets `token` if it is still the stored one. A 401 says only that the token the
    /// request carried is no good: a fresher one stored meanwhile (by this or another process,
    /// after an earlier 401) stays, since Zoho grants few tokens per refresh token.
    fn forget<'a>(&'a self, token: &'a str) -> BoxFuture<'a, ()>;
    /// Claims the right to refresh (true) for a short while, so that of several processes
    /// missing a token only one asks Zoho for a new one (Zoho grants few per refresh token).
    fn claim_refresh(&self) -> BoxFuture<'_, bool>;
    fn release_refresh(&self) -> BoxFuture<'_, ()>;
}

/// The request budget. `reserve` either books a moment for one request — `Ok(delay)`: send
/// after `delay` — or, when no moment within its horizon is free, says when to ask again
/// (`Err(wait)`). Waiting is not a failure: no request was made and no attempt is counted.
pub trait RateLimiter: Send + Sync {
    fn reserve(&self) -> BoxFuture<'_, Result<Duration, Duration>>;
}

/// What Outpost sends for one catalog variant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemPayload {
    pub name: String,
    pub sku: String,
    pub rate: f64,
    pub description: String,
    pub unit: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
}

pub struct ZohoClient<'a> {
    pub config: &'a ZohoConfig,
    pub http: &'a reqwest::Client,
    pub tokens: &'a dyn TokenStore,
    pub limiter: &'a dyn RateLimiter,
}

impl ZohoClient<'_> {
    pub fn http_client(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default()
    }

    async fn refresh(&self) -> Result<String, ZohoError> {
        let url = format!(
            "{}/oauth/v2/token",
            self.config.accounts_url.trim_end_matches('/')
        );
        let res = self
            .http
            .post(url)
            .query(&[
                ("refresh_token", self.config.refresh_token.as_str()),
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.as_str()),
                ("grant_type", "refresh_token"),
            ])
            .send()
            .await
            .map_err(|e| ZohoError::Transient(format!("token endpoint unreachable: {e}")))?;
        let status = res.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(ZohoError::Transient(format!(
                "token endpoint answered {status}"
            )));
        }
        let answer: TokenAnswer = res
            .json()
            .await
            .map_err(|e| ZohoError::Transient(format!("unreadable token answer: {e}")))?;
        match (answer.access_token, answer.error) {
            (Some(token), _) => {
                let ttl = Duration::from_secs(
                    answer
                        .expires_in
                        .unwrap_or(3600)
                        .saturating_sub(120)
                        .max(60),
                );
                self.tokens.put(token.clone(), ttl).await;
                Ok(token)
            }
            (None, error) => Err(ZohoError::Permanent {
                code: -1,
                message: format!("token refresh refused: {}", error.unwrap_or_default()),
            }),
        }
    }

    /// The cached token, or a fresh one. Only the process that claims the refresh asks Zoho;
    /// the others wait for the token it stores.
    async fn token(&self) -> Result<String, ZohoError> {
        for _ in 0..100 {
            if let Some(t) = self.tokens.get().await {
                return Ok(t);
            }
            if self.tokens.claim_refresh().await {
                // Another process may have stored a token between our look and our claim.
                let fresh = match self.tokens.get().await {
                    Some(t) => Ok(t),
                    None => self.refresh().await,
                };
                self.tokens.release_refresh().await;
                return fresh;
            }
            tokio_sleep(Duration::from_millis(100)).await;
        }
        Err(ZohoError::Transient(
            "no access token became available".into(),
        ))
    }

    /// One API call, with one token refresh when Zoho says the token is no longer good.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ZohoError> {
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        while attempt < 2 {
            // The token first, so the booked moment is not spent refreshing it.
            let token = self.token().await?;
            // Waiting for the budget happens here, per request, so that a step of a
            // multi-request sync (create, then find, then update) is never sent twice.
            match self.limiter.reserve().await {
                Ok(delay) => tokio_sleep(delay).await,
                Err(wait) => {
                    if waited + wait > self.config.max_budget_wait {
                        return Err(ZohoError::RateLimited(wait));
                    }
                    waited += wait;
                    tokio_sleep(wait).await;
                    continue;
                }
            }
            let url = format!("{}{path}", self.config.api_url.trim_end_matches('/'));
            let mut req = self
                .http
                .request(method.clone(), url)
                .header("Authorization", format!("Zoho-oauthtoken {token}"))
                .query(&[("organization_id", self.config.organization_id.as_str())])
                .query(query);
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req
                .send()
                .await
                .map_err(|e| ZohoError::Transient(format!("Zoho unreachable: {e}")))?;
            let status = res.status().as_u16();
            if status == 429 {
                let wait = Duration::from_secs(
                    res.headers()
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(60),
                );
                if waited + wait > self.config.max_budget_wait {
                    return Err(ZohoError::RateLimited(wait));
                }
                waited += wait;
                tokio_sleep(wait).await;
                continue;
            }
            if status >= 500 {
                return Err(ZohoError::Transient(format!("Zoho answered {status}")));
            }
            let envelope: Value = res
                .json()
                .await
                .map_err(|e| ZohoError::Transient(format!("unreadable Zoho answer: {e}")))?;
            let code = envelope["code"].as_i64().unwrap_or(-1);
            if code == 0 {
                return Ok(envelope);
            }
            if status == 401 || self.config.invalid_token_codes.contains(&code) {
                self.tokens.forget(&token).await;
                if attempt == 0 {
                    attempt += 1;
                    continue;
                }
                return Err(ZohoError::InvalidToken);
            }
            if self.config.duplicate_codes.contains(&code) {
                return Err(ZohoError::Duplicate);
            }
            return Err(ZohoError::Permanent {
                code,
                message: envelope["message"]
                    .as_str()
                    .unwrap_or("no message")
                    .to_string(),
            });
        }
        Err(ZohoError::InvalidToken)
    }

    fn item_body(item: &ItemPayload) -> Value {
        json!({ "name": item.name, "sku": item.sku, "rate": item.rate, "description": item.description, "unit": item.unit, "item_type": "inventory", "product_type": "goods" })
    }

    /// `POST /items` → the new item's id.
    pub async fn create_item(&self, item: &ItemPayload) -> Result<String, ZohoError> {
        let answer = self
            .call(
                reqwest::Method::POST,
                "/items",
                &[],
                Some(&Self::item_body(item)),
            )
            .await?;
        item_id(&answer)
    }

    /// `PUT /items/{item_id}`.
    pub async fn update_item(&self, item_id: &str, item: &ItemPayload) -> Result<(), ZohoError> {
        self.call(
            reqwest::Method::PUT,
            &format!("/items/{item_id}"),
            &[],
            Some(&Self::item_body(item)),
        )
        .await
        .map(|_| ())
    }

    /// `GET /items?search_text=SKU` → the id of the item whose SKU is exactly `sku`.
    pub async fn find_by_sku(&self, sku: &str) -> Result<Option<String>, ZohoError> {
        let answer = self
            .call(
                reqwest::Method::GET,
                "/items",
                &[("search_text", sku)],
                None,
            )
            .await?;
        Ok(answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["sku"].as_str() == Some(sku))
            .and_then(|i| i["item_id"].as_str().map(str::to_string)))
    }
}

async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await
}

fn item_id(answer: &Value) -> Result<String, ZohoError> {
    answer["item"]["item_id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| answer["item"]["item_id"].as_i64().map(|n| n.to_string()))
        .ok_or_else(|| ZohoError::Transient("Zoho's answer has no item_id".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_the_passing_ones() {
        assert!(ZohoError::RateLimited(Duration::from_secs(1)).is_retryable());
        assert!(ZohoError::Transient("x".into()).is_retryable());
        assert!(!ZohoError::Duplicate.is_retryable());
        assert!(!ZohoError::Permanent {
            code: 1,
            message: "x".into()
        }
        .is_retryable());
    }

    #[test]
    fn item_ids_are_read_as_text_or_number() {
        assert_eq!(
            item_id(&json!({"code": 0, "item": {"item_id": "4815"}})).unwrap(),
            "4815"
        );
        assert_eq!(
            item_id(&json!({"code": 0, "item": {"item_id": 4815}})).unwrap(),
            "4815"
        );
        assert!(item_id(&json!({"code": 0})).is_err());
    }
}
