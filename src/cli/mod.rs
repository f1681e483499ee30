//! The `outpost` command line. Each subcommand is a thin wrapper over library functions.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use diesel::prelude::*;

use crate::auth::roles::Role;
use crate::config::{ConfigError, Settings};
use crate::demo::seed::SeedOutcome;
use crate::state::AppState;

mod audit;
mod run;
mod user;

use audit::audit;
use run::{demo, serve, worker};
use user::{user, CLI_ACTOR};

#[derive(Parser, Debug)]
#[command(name = "outpost", version, about = "Outpost: offline-first field operations server", long_about = None,
    after_help = "Configuration comes from OUTPOST_* environment variables (see README.md).\nNew here? Run `outpost demo` and open the URL it prints.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (migrates the database first). Needs OUTPOST_DATABASE_URL and OUTPOST_REDIS_URL.
    Serve,
    /// Run the background workers (Zoho sync, PDFs, quota resets, NFC jobs).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo world (organisations, hubs, users, catalog, stock) unless already loaded.
    SeedDemo,
    /// Everything in one process for a first look: private PostgreSQL and Redis (unless URLs are
    /// configured), migrations, demo data, server and workers. Ctrl-C stops it all.
    Demo,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Stock levels against the ledger.
    Stock {
        #[command(subcommand)]
        action: StockAction,
    },
    /// Issue an API token for an NFC station (printed once; only its hash is stored).
    StationToken {
        /// The station's code, e.g. KIN-BADGE-1.
        code: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum StockAction {
    /// Recompute every stock level from the ledger. With --check, change nothing and exit 1
    /// if any level differs from the ledger.
    Rebuild {
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditAction {
    /// Check the audit log's hash chain against the latest signed checkpoint of this database;
    /// exits 1 and names the first broken row if tampered with, or says so in words when the
    /// database is older than its latest checkpoint (restored from a backup, or cut short).
    Verify {
        /// This database was restored from a backup: accept it when its chain agrees with the
        /// newest checkpoint it reaches, and set aside the checkpoints of the time after.
        #[arg(long)]
        restored: bool,
    },
    /// Seal every written row into the chain now and publish a checkpoint (`serve` and
    /// `worker` do this continuously).
    Seal,
    /// Print the public key that checks this server's audit checkpoints.
    PublicKey,
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create a user. The password is read from the first line of standard input.
    Add {
        /// Login name: lower-case letters, digits, '.', '_' or '-'.
        #[arg(long)]
        username: String,
        /// Full name shown in the header and audit log.
        #[arg(long)]
        name: String,
        /// One of SuperAdmin, Admin, LogisticsManager, DepotManager, WarehouseOp, SalesRep, Driver, Auditor, CustomerUser, SystemBot.
        #[arg(long)]
        role: Role,
        /// Organisation name (as shown on /admin/organisations).
        #[arg(long)]
        organisation: String,
        /// Hub code the user works at; repeat for several hubs.
        #[arg(long = "hub")]
        hubs: Vec<String>,
    },
    /// Set a new password, read from the first line of standard input.
    Passwd { username: String },
    /// Disable an account: it can no longer sign in or use API tokens.
    Disable { username: String },
}

/// Runs the command and turns every failure into a message and the exit code to leave with
/// (see `exit`): 2 for configuration errors, 1 for everything else.
pub fn main() -> u8 {
    crate::kinds::install();
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return config_failure(&e),
    };
    crate::telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(dispatch(cli.command, settings)) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config) => config_failure(config),
            None => {
                eprintln!("error: {e:#}");
                1
            }
        },
    }
}

pub(super) fn config_failure(e: &ConfigError) -> u8 {
    eprintln!("{e}");
    2
}

/// Ends the process without running the C library's exit handlers. The database pool opens
/// its connections on threads of its own (libpq over OpenSSL), and OpenSSL's exit handler frees
/// its locks while such a thread may still be connecting, which then crashes: `serve` stopped
/// by a taken address died of SIGSEGV about one time in five instead of exiting with 1. Every
/// Rust destructor that matters (the runtime, the pool, log writers) has run by now, and
/// nothing else of ours registers an exit handler; the kernel closes the rest.
pub fn exit(code: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process; it touches no memory of ours.
    unsafe { libc::_exit(code.into()) }
}

pub(super) async fn dispatch(command: Command, settings: Settings) -> Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Worker => worker(settings).await,
        Command::Migrate => {
            let applied = migrate(&settings).await?;
            println!(
                "{}",
                if applied.is_empty() {
                    "database is up to date".to_string()
                } else {
                    format!(
                        "applied {} migration(s): {}",
                        applied.len(),
                        applied.join(", ")
                    )
                }
            );
            Ok(())
        }
        Command::SeedDemo => {
            let url = settings.require_database_url()?.to_string();
            migrate(&settings).await?;
            let outcome = blocking(move || {
                crate::demo::showcase::seed_for_people(&mut crate::db::connect(&url)?)
            })
            .await?;
            println!(
                "{}",
                if outcome == SeedOutcome::Seeded {
                    "demo world loaded"
                } else {
                    "demo world already loaded; nothing changed"
                }
            );
            Ok(())
        }
        Command::Demo => demo(settings).await,
        Command::User { action } => user(settings, action).await,
        Command::Audit { action } => audit(settings, action).await,
        Command::Stock {
            action: StockAction::Rebuild { check },
        } => {
            let url = settings.require_database_url()?.to_string();
            blocking(move || {
                let mut conn = crate::db::connect(&url)?;
                if check {
                    let found = crate::inventory::check::disagreements(&mut conn)?;
                    for line in &found {
                        println!("{line}");
                    }
                    if !found.is_empty() {
                        bail!("{} stock figure(s) disagree", found.len());
                    }
                    println!(
                        "stock figures agree: levels with the ledger, draft sales with the \
                         items they hold, transfers with what they carry"
                    );
                } else {
                    let fixed = conn.transaction(|conn| {
                        let fixed = crate::inventory::ledger::rebuild(conn)?;
                        let mut entry = crate::audit::Entry::new("stock.rebuild")
                            .change(None, Some(serde_json::json!({ "levels_corrected": fixed })));
                        entry.actor_name = Some(CLI_ACTOR.into());
                        crate::audit::record(conn, &entry)?;
                        Ok::<_, anyhow::Error>(fixed)
                    })?;
                    println!("rebuilt stock levels from the ledger: {fixed} level(s) corrected");
                }
                Ok(())
            })
            .await
        }
        Command::StationToken { code } => {
            let url = settings.require_database_url()?.to_string();
            let token = blocking(move || {
                let mut conn = crate::db::connect(&url)?;
                crate::auth::tokens::issue_station_token(&mut conn, &code).map_err(|e| match e {
                    diesel::result::Error::NotFound => {
                        anyhow::anyhow!("no NFC station with code '{code}'")
                    }
                    other => other.into(),
                })
            })
            .await?;
            println!("{token}");
            Ok(())
        }
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("blocking task failed")?
}

/// Runs pending migrations as the tables' owner (`Settings::migration_url`).
pub(super) async fn migrate(settings: &Settings) -> Result<Vec<String>> {
    let url = settings.migration_url()?.to_string();
    let owner_given = settings.database_owner_url.is_some();
    blocking(move || crate::db::migrate(&mut crate::db::connect(&url)?))
        .await
        .map_err(|e| {
            if !owner_given && format!("{e:#}").contains("permission denied") {
                e.context(
                    "migrations need the tables' owner: set OUTPOST_DATABASE_OWNER_URL (the server \
                     keeps connecting as OUTPOST_DATABASE_URL), or run `outpost migrate` as the owner",
                )
            } else {
                e
            }
        })
}

pub(super) async fn app_state(settings: Settings, demo_mode: bool) -> Result<AppState> {
    let db_url = settings.require_database_url()?.to_string();
    let redis_url = settings.require_redis_url()?.to_string();
    migrate(&settings).await?;
    let redis = crate::redis_conn::connect(&redis_url).await?;
    let db = crate::db::build_pool(&db_url, &settings);
    let settings_pool = settings.db_pool_size;
    Ok(AppState {
        settings,
        db,
        redis,
        demo_mode,
        services: Default::default(),
        caches: Default::default(),
        ingest: crate::state::IngestSlots::for_pool(settings_pool),
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
