//! PostgreSQL access: the r2d2 pool, the one helper that runs diesel work off the async
//! executor, and embedded migrations.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::Settings;
use crate::error::AppError;

pub mod figures;
pub mod keyset;
pub mod list_counts;
pub mod prepared;
pub mod snapshot;
pub mod statements;

pub type PgConn = PooledConnection<Manager>;

/// The connection pool, and turns at it. At most as many blocking tasks wait on the pool as it
/// has connections; other requests wait for a turn as parked async tasks. Profile (issue 14):
/// with 50 connections on the dashboard, a quarter of the server's samples were thread
/// switches, dozens of blocking threads taking turns at the pool's lock and condition variable.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool<Manager>,
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long a request waits for a turn before it answers 503 (the pool's own timeout).
    patience: std::time::Duration,
    /// Seconds each `run` waited for its connection, and the waits that ran out (`/metrics`).
    pub waits: prometheus_client::metrics::histogram::Histogram,
    pub timeouts: prometheus_client::metrics::counter::Counter,
}

/// Seconds a connection was waited for: none (0.1 ms) to the pool's timeout.
const WAIT_BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

impl PgPool {
    /// Connections open now, and how many of them are idle.
    pub fn connections(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// diesel's r2d2 manager, plus: a connection whose server went away (restart, failover) is
/// dropped from the pool when it is handed back, instead of failing every later request that
/// draws it. (The pool does not ping on checkout; see `build_pool`.)
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    /// `Settings::db_prepared_statements`: off, every statement is sent with its parameters
    /// in one message (`PQsendQueryParams`), which a transaction pooler passes through whole.
    prepared: bool,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConnection, Self::Error> {
        let mut conn = self.inner.connect()?;
        if !self.prepared {
            use diesel::connection::{CacheSize, Connection};
            conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Self::Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        // Checked on the thread that used the connection, right after its work.
        statements::take_connection_lost() || self.inner.has_broken(conn)
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Any fixed number works; it only has to be the same in every Outpost process.
const MIGRATION_LOCK_KEY: i64 = 0x006f_7574_706f_7374; // "outpost"

impl PgPool {
    /// A connection straight from the pool, waiting at most `timeout` (the readiness check,
    /// which must answer within its own deadline rather than queue behind requests).
    pub fn get_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<PgConn, diesel::r2d2::PoolError> {
        self.pool.get_timeout(timeout)
    }
}

pub fn build_pool(database_url: &str, settings: &Settings) -> PgPool {
    statements::install();
    let manager = Manager {
        inner: ConnectionManager::<PgConnection>::new(database_url),
        prepared: settings.db_prepared_statements,
    };
    // build_unchecked: the server must start (and answer /healthz, /readyz) even while the
    // database is briefly unreachable; connections are made on demand.
    // No `SELECT 1` on every checkout (a round trip per `db::run`): a connection that died
    // with the server fails its first statement instead, which answers 503 (see
    // `AppError::from`), and the pool drops it as broken.
    let pool = Pool::builder()
        .max_size(settings.db_pool_size)
        .test_on_check_out(false)
        .connection_timeout(settings.db_connection_timeout())
        .build_unchecked(manager);
    PgPool {
        pool,
        turns: std::sync::Arc::new(tokio::sync::Semaphore::new(settings.db_pool_size as usize)),
        patience: settings.db_connection_timeout(),
        waits: prometheus_client::metrics::histogram::Histogram::new(WAIT_BUCKETS),
        timeouts: Default::default(),
    }
}

/// Runs blocking diesel work on the blocking thread pool. Every database call from async code
/// goes through here so none of them can stall the executor.
pub async fn run<T, F>(pool: &PgPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let asked = std::time::Instant::now();
    let turn = tokio::time::timeout(pool.patience, pool.turns.clone().acquire_owned())
        .await
        .map_err(|_| {
            pool.timeouts.inc();
            AppError::database_unavailable("timed out waiting for a turn at the pool")
        })?
        .map_err(AppError::database_unavailable)?;
    let (waits, timeouts) = (pool.waits.clone(), pool.timeouts.clone());
    let pool = pool.pool.clone();
    let counter = statements::current_request();
    actix_web::web::block(move || {
        let _turn = turn;
        let _counting = statements::CountFor::enter(counter);
        let mut conn = pool.get().map_err(|e| {
            timeouts.inc();
            AppError::database_unavailable(e)
        })?;
        waits.observe(asked.elapsed().as_secs_f64());
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

/// How many rows `query` finds, counted only up to `most` + 1: the database walks at most that
/// many, where `count(*)` walks every match (a year of a hub's intakes to say how many pages
/// there are). Returns `most + 1` when there are more. Counted in the database
/// (`SELECT count(*) FROM (… LIMIT most + 1)`): no row travels.
pub fn count_up_to<Q>(query: Q, most: i64, conn: &mut PgConnection) -> QueryResult<i64>
where
    Q: diesel::query_dsl::methods::SelectDsl<
        diesel::expression::SqlLiteral<diesel::sql_types::Integer>,
    >,
    Q::Output: diesel::query_dsl::methods::LimitDsl,
    <Q::Output as diesel::query_dsl::methods::LimitDsl>::Output:
        diesel::query_builder::QueryFragment<diesel::pg::Pg> + diesel::query_builder::QueryId,
{
    use diesel::query_dsl::methods::{LimitDsl, SelectDsl};
    let limited = LimitDsl::limit(
        SelectDsl::select(query, diesel::dsl::sql::<diesel::sql_types::Integer>("1")),
        most.saturating_add(1),
    );
    CountRows(limited).get_result(conn)
}

/// `SELECT count(*) FROM (<query>) AS counted`.
#[derive(diesel::query_builder::QueryId)]
struct CountRows<Q>(Q);

impl<Q> diesel::query_builder::Query for CountRows<Q> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<Q> RunQueryDsl<PgConnection> for CountRows<Q> {}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for CountRows<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT count(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS counted");
        Ok(())
    }
}

/// Applies pending migrations under a PostgreSQL advisory lock, so several `serve`/`worker`
/// processes starting at once do not race each other. Returns the versions applied.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    // Nothing pending: done, without the harness's CREATE TABLE IF NOT EXISTS, which needs the
    // owner's privileges even when the table exists (the server's role may run this).
    if all_applied(conn) {
        return Ok(Vec::new());
    }
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

/// Whether every embedded migration is recorded as applied (false when that cannot be read).
fn all_applied(conn: &mut PgConnection) -> bool {
    use diesel::migration::MigrationSource;
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let Ok(done) =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Version>(conn)
    else {
        return false;
    };
    let Ok(known) = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS) else {
        return false;
    };
    known.iter().all(|m| {
        let version = m.name().version().to_string();
        done.iter().any(|d| d.version == version)
    })
}

pub fn connect(database_url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::establish(database_url)
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))
}

/// Cheap liveness check for `/readyz`.
pub fn ping(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}
