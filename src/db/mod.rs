//! PostgreSQL access: the r2d2 pool, the one helper that runs diesel work off the async
//! executor, and embedded migrations.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::Settings;
use crate::error::AppError;

pub mod statements;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Any fixed number works; it only has to be the same in every Outpost process.
const MIGRATION_LOCK_KEY: i64 = 0x006f_7574_706f_7374; // "outpost"

pub fn build_pool(database_url: &str, settings: &Settings) -> PgPool {
    statements::install();
    let manager = ConnectionManager::<PgConnection>::new(database_url);
    // build_unchecked: the server must start (and answer /healthz, /readyz) even while the
    // database is briefly unreachable; connections are made on demand.
    Pool::builder()
        .max_size(settings.db_pool_size)
        .connection_timeout(settings.db_connection_timeout())
        .build_unchecked(manager)
}

/// Runs blocking diesel work on the blocking thread pool. Every database call from async code
/// goes through here so none of them can stall the executor.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let counter = statements::current_request();
    actix_web::web::block(move || {
        let _counting = statements::CountFor::enter(counter);
        let mut conn = pool.get().map_err(AppError::database_unavailable)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// Applies pending migrations under a PostgreSQL advisory lock, so several `serve`/`worker`
/// processes starting at once do not race each other. Returns the versions applied.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)?;
    applied
}

pub fn connect(database_url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::establish(database_url)
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))
}

/// Cheap liveness check for `/readyz`.
pub fn ping(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}
