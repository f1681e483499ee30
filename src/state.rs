//! Shared application state handed to handlers as `web::Data<AppState>`.

use crate::config::Settings;
use crate::db::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub settings: Settings,
    pub db: PgPool,
    pub redis: redis::aio::ConnectionManager,
    /// Running under `outpost demo`: the sign-in page lists the demo accounts.
    pub demo_mode: bool,
    /// Runs at most one outbox publisher at a time in this process.
    pub publisher: std::sync::Arc<crate::events::Publisher>,
    /// This process's live-event fan-out (`GET /events`).
    pub live: std::sync::Arc<crate::live::follow::Live>,
}

impl AppState {
    /// A Redis key in Outpost's namespace (`<prefix>:<suffix>`).
    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.settings.redis_prefix)
    }
}
