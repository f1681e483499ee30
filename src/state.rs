//! Shared application state handed to handlers as `web::Data<AppState>`.

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
    /// What modules keep for this process, by type: the outbox publisher's gate, the live
    /// fan-out, the account cache (`AppState::service`).
    pub services: std::sync::Arc<Services>,
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
    /// The rendered live part of a user's dashboard (unfiltered), by user id and UTC day (its
    /// charts end today).
    pub dashboards: SnapshotCache<(i64, chrono::NaiveDate), std::sync::Arc<str>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            snapshots: Default::default(),
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

/// Per-process pieces a module keeps for itself, by their type: the state carries them without
/// naming the modules that own them, so it stands below every one of them.
#[derive(Default)]
pub struct Services(
    std::sync::RwLock<
        std::collections::HashMap<
            std::any::TypeId,
            std::sync::Arc<dyn std::any::Any + Send + Sync>,
        >,
    >,
);

impl Services {
    /// This process's `T`, made on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> std::sync::Arc<T> {
        let key = std::any::TypeId::of::<T>();
        let found = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let service = match found {
            Some(service) => service,
            None => self
                .0
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key)
                .or_insert_with(|| std::sync::Arc::new(T::default()))
                .clone(),
        };
        service
            .downcast()
            .unwrap_or_else(|_| unreachable!("kept under its own type"))
    }
}

impl AppState {
    /// This process's `T` (see [`Services`]).
    pub fn service<T: Default + Send + Sync + 'static>(&self) -> std::sync::Arc<T> {
        self.services.get()
    }

    /// A Redis key in Outpost's namespace (`<prefix>:<suffix>`).
    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.settings.redis_prefix)
    }
}
