//! Typed settings read from `OUTPOST_*` environment variables.
//!
//! Settings are parsed from a lookup function rather than the process environment directly, so
//! tests hand in the values they want instead of mutating the environment (a global).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A secret that never prints itself in logs or debug output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// `None` means "not configured": `outpost demo` then starts private services.
    pub database_url: Option<Secret>,
    /// The tables' owner, for migrations only (`OUTPOST_DATABASE_OWNER_URL`). The server and
    /// workers then connect as an ordinary role (`outpost_app`, which migrations create and
    /// grant reads and writes), one that cannot switch off the triggers guarding the records;
    /// unset, migrations run as `database_url`'s role.
    pub database_owner_url: Option<Secret>,
    pub redis_url: Option<String>,
    pub bind: SocketAddr,
    pub secret_key: Secret,
    pub data_dir: PathBuf,
    /// Report each request's SQL statement count in an `X-DB-Statements` header (tests).
    pub count_queries: bool,
    /// Where the audit sequencer keeps its signed checkpoint (outside PostgreSQL).
    pub audit_checkpoint_dir: PathBuf,
    pub db_pool_size: u32,
    /// Keep prepared statements per connection (`OUTPOST_DB_PREPARED_STATEMENTS`, on). Off
    /// behind a transaction pooler (PgBouncer before 1.21 in transaction mode), which hands
    /// each transaction any server connection: a statement prepared on one is missing, or is
    /// another statement, on the next.
    pub db_prepared_statements: bool,
    /// Prefix of every Redis key Outpost writes, so tests (and tenants) can share one Redis.
    pub redis_prefix: String,
    pub log_format: LogFormat,
    /// When set, cookies are marked `Secure` (the site is served over TLS, usually by a proxy).
    pub secure_cookies: bool,
    /// Trust `Forwarded`/`X-Forwarded-For` for the client address (only behind your own proxy).
    pub trust_proxy: bool,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a device may open its cached pages offline after its last online contact.
    pub offline_session: Duration,
    /// An operation that arrives longer than this after it was captured is treated as captured
    /// offline, whatever the client says (envelope required, approvals wait for review).
    pub offline_after: Duration,
    /// How long a published outbox row is kept (`OUTPOST_OUTBOX_KEEP_HOURS`): long enough to
    /// see what was published lately; the event itself went to Redis, its effect is in its
    /// own table.
    pub outbox_keep: Duration,
    /// Zoho Inventory sync; `None` when no organisation is configured (the sync is off).
    pub zoho: Option<ZohoSettings>,
    /// The bearer token `/metrics` asks for (`OUTPOST_METRICS_TOKEN`); without one it answers
    /// only a scraper on this machine that came through no proxy.
    pub metrics_token: Option<Secret>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// One configuration problem: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// Development-only key; `serve` refuses to run with it when `OUTPOST_ENV=production`.
pub const DEV_SECRET_KEY: &str = "outpost-development-secret-key-do-not-use-in-production!!";
const MIN_SECRET_LEN: usize = 32;

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let production = match get("OUTPOST_ENV").as_deref() {
            None | Some("development") => false,
            Some("production") => true,
            Some(other) => {
                return Err(err(
                    "OUTPOST_ENV",
                    format!("must be 'development' or 'production', got '{other}'"),
                ))
            }
        };

        let postgres_url = |name: &'static str| match get(name) {
            None => Ok(None),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Some(Secret(url)))
            }
            Some(_) => Err(err(
                name,
                "must be a postgres:// or postgresql:// URL".into(),
            )),
        };
        let database_url = postgres_url("OUTPOST_DATABASE_URL")?;
        let database_owner_url = postgres_url("OUTPOST_DATABASE_OWNER_URL")?;
        let redis_url = match get("OUTPOST_REDIS_URL") {
            None => None,
            Some(url)
                if ["redis://", "rediss://", "redis+unix://", "unix://"]
                    .iter()
                    .any(|p| url.starts_with(p)) =>
            {
                Some(url)
            }
            Some(_) => {
                return Err(err(
                    "OUTPOST_REDIS_URL",
                    "must be a redis://, rediss:// or redis+unix:// URL".into(),
                ))
            }
        };
        let bind = match get("OUTPOST_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|_| {
                err(
                    "OUTPOST_BIND",
                    format!("must be an address:port such as 127.0.0.1:8080, got '{v}'"),
                )
            })?,
        };
        let secret_key = match get("OUTPOST_SECRET_KEY") {
            None if production => {
                return Err(err(
                    "OUTPOST_SECRET_KEY",
                    "must be set when OUTPOST_ENV=production".into(),
                ))
            }
            None => Secret(DEV_SECRET_KEY.into()),
            Some(v) if v.len() < MIN_SECRET_LEN => {
                return Err(err(
                    "OUTPOST_SECRET_KEY",
                    format!(
                        "must be at least {MIN_SECRET_LEN} characters long (got {})",
                        v.len()
                    ),
                ))
            }
            Some(v) => Secret(v),
        };
        let data_dir = PathBuf::from(get("OUTPOST_DATA_DIR").unwrap_or_else(|| ".outpost".into()));
        let audit_checkpoint_dir = get("OUTPOST_AUDIT_CHECKPOINT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("audit-checkpoints"));
        let db_pool_size = parse_number(
            "OUTPOST_DB_POOL_SIZE",
            get("OUTPOST_DB_POOL_SIZE"),
            10,
            1..=500,
        )?;
        let redis_prefix = get("OUTPOST_REDIS_PREFIX").unwrap_or_else(|| "outpost".into());
        if !redis_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(err(
                "OUTPOST_REDIS_PREFIX",
                "may contain only letters, digits, '-', '_' and '.'".into(),
            ));
        }
        let log_format = match get("OUTPOST_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err(
                    "OUTPOST_LOG_FORMAT",
                    format!("must be 'pretty' or 'json', got '{other}'"),
                ))
            }
        };
        let secure_cookies = parse_bool(
            "OUTPOST_SECURE_COOKIES",
            get("OUTPOST_SECURE_COOKIES"),
            production,
        )?;
        let trust_proxy = parse_bool("OUTPOST_TRUST_PROXY", get("OUTPOST_TRUST_PROXY"), false)?;
        let db_prepared_statements = parse_bool(
            "OUTPOST_DB_PREPARED_STATEMENTS",
            get("OUTPOST_DB_PREPARED_STATEMENTS"),
            true,
        )?;
        let minutes =
            |name: &'static str, default: u32, max: u32| -> Result<Duration, ConfigError> {
                Ok(Duration::from_secs(
                    u64::from(parse_number(name, get(name), default, 1..=max)?) * 60,
                ))
            };
        let session_idle = minutes("OUTPOST_SESSION_IDLE_MINUTES", 8 * 60, 30 * 24 * 60)?;
        let session_absolute = minutes("OUTPOST_SESSION_MAX_MINUTES", 7 * 24 * 60, 90 * 24 * 60)?;
        let access_token_ttl = minutes("OUTPOST_ACCESS_TOKEN_MINUTES", 60, 24 * 60)?;
        let refresh_token_ttl =
            minutes("OUTPOST_REFRESH_TOKEN_MINUTES", 30 * 24 * 60, 365 * 24 * 60)?;
        let offline_session = minutes("OUTPOST_OFFLINE_SESSION_MINUTES", 24 * 60, 14 * 24 * 60)?;
        let offline_after = minutes("OUTPOST_OFFLINE_AFTER_MINUTES", 5, 24 * 60)?;
        let outbox_keep = Duration::from_secs(
            u64::from(parse_number(
                "OUTPOST_OUTBOX_KEEP_HOURS",
                get("OUTPOST_OUTBOX_KEEP_HOURS"),
                24,
                1..=24 * 366,
            )?) * 3600,
        );
        let zoho = zoho::settings(&get)?;
        let metrics_token = match get("OUTPOST_METRICS_TOKEN") {
            Some(t) if t.len() < 16 || !t.chars().all(|c| c.is_ascii_graphic()) => {
                return Err(err(
                    "OUTPOST_METRICS_TOKEN",
                    "must be at least 16 printable characters, without spaces".into(),
                ))
            }
            token => token.map(Secret::new),
        };
        Ok(Settings {
            database_url,
            database_owner_url,
            redis_url,
            bind,
            secret_key,
            data_dir,
            audit_checkpoint_dir,
            count_queries: get("OUTPOST_COUNT_QUERIES").is_some_and(|v| v == "1" || v == "true"),
            db_pool_size,
            db_prepared_statements,
            redis_prefix,
            log_format,
            secure_cookies,
            trust_proxy,
            session_idle,
            session_absolute,
            access_token_ttl,
            refresh_token_ttl,
            offline_session,
            offline_after,
            outbox_keep,
            zoho,
            metrics_token,
        })
    }

    /// The database URL, or an error naming the variable, for commands that need one configured.
    pub fn require_database_url(&self) -> Result<&str, ConfigError> {
        self.database_url
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| {
                err(
                    "OUTPOST_DATABASE_URL",
                    "is not set (run `outpost demo` to start private services instead)".into(),
                )
            })
    }

    /// Where migrations run: the owner's URL if one is set, else the server's own.
    pub fn migration_url(&self) -> Result<&str, ConfigError> {
        match &self.database_owner_url {
            Some(owner) => Ok(owner.expose()),
            None => self.require_database_url(),
        }
    }

    pub fn require_redis_url(&self) -> Result<&str, ConfigError> {
        self.redis_url.as_deref().ok_or_else(|| {
            err(
                "OUTPOST_REDIS_URL",
                "is not set (run `outpost demo` to start private services instead)".into(),
            )
        })
    }

    pub fn db_connection_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
}

fn err(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

fn parse_bool(
    variable: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(err(
            variable,
            format!("must be true or false, got '{other}'"),
        )),
    }
}

fn parse_number(
    variable: &'static str,
    value: Option<String>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(err(
            variable,
            format!(
                "must be a whole number from {} to {}, got '{v}'",
                range.start(),
                range.end()
            ),
        )),
    }
}

mod zoho;
pub use zoho::ZohoSettings;

#[cfg(test)]
mod tests;
