//! PostgreSQL access: the r2d2 pool, the one helper that runs diesel work off the async
//! executor, and embedded migrations.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::Settings;
use crate::error::AppError;

pub mod statements;

pub type PgPool = Pool<Manager>;
pub type PgConn = PooledConnection<Manager>;

/// diesel's r2d2 manager, plus: a connection whose server went away (restart, failover) is
/// dropped from the pool when it is handed back, instead of failing every later request that
/// draws it. (The pool does not ping on checkout; see `build_pool`.)
#[derive(Debug)]
pub struct Manager(ConnectionManager<PgConnection>);

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConnection, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Self::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        // Checked on the thread that used the connection, right after its work.
        statements::take_connection_lost() || self.0.has_broken(conn)
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Any fixed number works; it only has to be the same in every Outpost process.
const MIGRATION_LOCK_KEY: i64 = 0x006f_7574_706f_7374; // "outpost"

pub fn build_pool(database_url: &str, settings: &Settings) -> PgPool {
    statements::install();
    let manager = Manager(ConnectionManager::<PgConnection>::new(database_url));
    // build_unchecked: the server must start (and answer /healthz, /readyz) even while the
    // database is briefly unreachable; connections are made on demand.
    // No `SELECT 1` on every checkout (a round trip per `db::run`): a connection that died
    // with the server fails its first statement instead, which answers 503 (see
    // `AppError::from`), and the pool drops it as broken.
    Pool::builder()
        .max_size(settings.db_pool_size)
        .test_on_check_out(false)
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

/// An `ILIKE` pattern for text containing what a person typed, its `%`, `_` and `\` taken
/// literally.
pub fn containing(typed: &str) -> String {
    format!(
        "%{}%",
        typed
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
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
