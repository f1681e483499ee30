//! The Zoho Inventory sync's settings (`OUTPOST_ZOHO_*`): off unless an organisation is named.

use std::time::Duration;

use super::{err, parse_number, ConfigError, Secret};

#[derive(Clone, Debug)]
pub struct ZohoSettings {
    pub accounts_url: String,
    pub api_url: String,
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    pub duplicate_codes: Vec<i64>,
    pub invalid_token_codes: Vec<i64>,
    pub requests_per_minute: u32,
    /// Zoho's daily quota of the organisation's plan.
    pub requests_per_day: u32,
    pub max_attempts: u32,
    /// First retry delay; each further one doubles (with jitter), up to five minutes.
    pub backoff_base: Duration,
}

/// The sync's settings, `None` when `OUTPOST_ZOHO_ORGANIZATION_ID` is not set.
pub(super) fn settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ZohoSettings>, ConfigError> {
    Ok(match get("OUTPOST_ZOHO_ORGANIZATION_ID") {
        None => None,
        Some(organization_id) => {
            let required = |name: &'static str| {
                get(name).ok_or_else(|| {
                    err(
                        name,
                        "must be set when OUTPOST_ZOHO_ORGANIZATION_ID is".into(),
                    )
                })
            };
            let codes = |name: &'static str, default: &str| -> Result<Vec<i64>, ConfigError> {
                get(name)
                    .unwrap_or_else(|| default.to_string())
                    .split(',')
                    .map(|c| {
                        c.trim().parse::<i64>().map_err(|_| {
                            err(name, "must be a comma-separated list of numbers".into())
                        })
                    })
                    .collect()
            };
            let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
                let v = get(name).unwrap_or_else(|| default.to_string());
                if v.starts_with("https://") || v.starts_with("http://") {
                    Ok(v)
                } else {
                    Err(err(name, "must be an http(s) URL".into()))
                }
            };
            Some(ZohoSettings {
                accounts_url: url("OUTPOST_ZOHO_ACCOUNTS_URL", "https://accounts.zoho.com")?,
                api_url: url(
                    "OUTPOST_ZOHO_API_URL",
                    "https://www.zohoapis.com/inventory/v1",
                )?,
                organization_id,
                client_id: required("OUTPOST_ZOHO_CLIENT_ID")?,
                client_secret: Secret(required("OUTPOST_ZOHO_CLIENT_SECRET")?),
                refresh_token: Secret(required("OUTPOST_ZOHO_REFRESH_TOKEN")?),
                // Not documented exactly by Zoho: configurable, with the codes seen in practice.
                duplicate_codes: codes("OUTPOST_ZOHO_DUPLICATE_CODES", "1001,120111")?,
                invalid_token_codes: codes("OUTPOST_ZOHO_INVALID_TOKEN_CODES", "14,57")?,
                requests_per_minute: parse_number(
                    "OUTPOST_ZOHO_REQUESTS_PER_MINUTE",
                    get("OUTPOST_ZOHO_REQUESTS_PER_MINUTE"),
                    90,
                    1..=10_000,
                )?,
                requests_per_day: parse_number(
                    "OUTPOST_ZOHO_REQUESTS_PER_DAY",
                    get("OUTPOST_ZOHO_REQUESTS_PER_DAY"),
                    10_000,
                    1..=10_000_000,
                )?,
                max_attempts: parse_number(
                    "OUTPOST_ZOHO_MAX_ATTEMPTS",
                    get("OUTPOST_ZOHO_MAX_ATTEMPTS"),
                    8,
                    1..=100,
                )?,
                backoff_base: Duration::from_millis(u64::from(parse_number(
                    "OUTPOST_ZOHO_BACKOFF_MS",
                    get("OUTPOST_ZOHO_BACKOFF_MS"),
                    2000,
                    1..=600_000,
                )?)),
            })
        }
    })
}
