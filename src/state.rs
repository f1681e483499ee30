//! Shared application state handed to handlers as `web::Data<AppState>`.

use crate::auth::principal::Account;
use crate::config::Settings;
use crate::db::snapshot::{Readings, SnapshotCache};
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
    /// Sync batches applied at once (see `IngestSlots`).
    pub ingest: IngestSlots,
    /// What this process reuses between requests while the database has not changed.
    pub caches: std::sync::Arc<Caches>,
}

/// Values kept while no commit has happened since they were read (`db::snapshot`): a signed-in
/// request then costs one statement, not its account's three, and the dashboard none of its
/// own (issue 14).
pub struct Caches {
    /// This request's reading of the database snapshot, shared by concurrent requests.
    pub snapshots: std::sync::Arc<Readings>,
    /// Signed-in users' accounts, by user id (`None`: no such user).
    pub accounts: SnapshotCache<i64, Option<std::sync::Arc<Account>>>,
    /// The rendered live part of a user's dashboard (unfiltered), by user id and UTC day (its
    /// charts end today).
    pub dashboards: SnapshotCache<(i64, chrono::NaiveDate), std::sync::Arc<str>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            snapshots: Default::default(),
            accounts: SnapshotCache::new(10_000),
            dashboards: SnapshotCache::new(500),
        }
    }
}

/// Sync batches hold a database connection for their whole run. Left to the pool, sixteen
/// devices sending at once take every connection and the rest wait out the pool's timeout
/// (503), as do the sign-in checks of every other request. Batches beyond half the pool wait
/// here instead, in turn, without a deadline: back-pressure, not failure.
#[derive(Clone)]
pub struct IngestSlots(std::sync::Arc<tokio::sync::Semaphore>);

impl IngestSlots {
    pub fn for_pool(pool_size: u32) -> Self {
        IngestSlots(std::sync::Arc::new(tokio::sync::Semaphore::new(
            (pool_size as usize / 2).max(1),
        )))
    }

    /// Waits for a turn; the turn ends when the returned permit is dropped.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.clone().acquire_owned().await.ok()
    }
}

impl AppState {
    /// A Redis key in Outpost's namespace (`<prefix>:<suffix>`).
    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.settings.redis_prefix)
    }
}
