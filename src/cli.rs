//! The `outpost` command line. Each subcommand is a thin wrapper over library functions.

use std::io::BufRead;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use diesel::prelude::*;

use crate::auth::roles::Role;
use crate::auth::users::{self, NewUser};
use crate::config::{ConfigError, Settings};
use crate::demo::launcher::PrivateServices;
use crate::demo::seed::{self, SeedOutcome};
use crate::state::AppState;

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
    /// Check the audit log's hash chain against the latest signed checkpoint; exits 1 and names
    /// the first broken row if tampered with.
    Verify,
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

fn config_failure(e: &ConfigError) -> u8 {
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

async fn dispatch(command: Command, settings: Settings) -> Result<()> {
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
            let outcome = blocking(move || seed::seed(&mut crate::db::connect(&url)?)).await?;
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("blocking task failed")?
}

/// Runs pending migrations as the tables' owner (`Settings::migration_url`).
async fn migrate(settings: &Settings) -> Result<Vec<String>> {
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

async fn app_state(settings: Settings, demo_mode: bool) -> Result<AppState> {
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
        publisher: Default::default(),
        live: Default::default(),
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

async fn audit(settings: Settings, action: AuditAction) -> Result<()> {
    use crate::audit::checkpoint;
    let url = settings.require_database_url()?.to_string();
    match action {
        AuditAction::PublicKey => println!("{}", checkpoint::public_key(&settings)),
        AuditAction::Seal => {
            let state = app_state(settings, false).await?;
            let head = blocking(move || {
                Ok(crate::audit::seal::seal_all(&mut crate::db::connect(
                    &url,
                )?)?)
            })
            .await?;
            match head {
                Some(head) => {
                    let signed = checkpoint::Checkpoint::sign(&head, &state.settings);
                    checkpoint::publish(&state, &signed).await?;
                    println!(
                        "audit chain sealed up to link {} (row {})",
                        head.seq, head.audit_id
                    );
                }
                None => println!("the audit log is empty; nothing to seal"),
            }
        }
        AuditAction::Verify => {
            // The newest checkpoint this server signed, from the directory or Redis.
            let mut found = checkpoint::read_file(&checkpoint::dir(&settings))
                .into_iter()
                .collect::<Vec<_>>();
            found.extend(checkpoint::read_redis(&settings).await);
            if let Some(forged) = found.iter().find(|c| !c.is_signed_by(&settings)) {
                bail!(
                    "audit checkpoint of link {} is not signed by this server's key (forged or from another server)",
                    forged.seq
                );
            }
            let latest = found.into_iter().max_by_key(|c| c.seq);
            let report = blocking(move || {
                Ok(crate::audit::verify(
                    &mut crate::db::connect(&url)?,
                    latest.as_ref(),
                )?)
            })
            .await?;
            if let Some((id, why)) = report.first_broken {
                bail!(
                    "audit chain broken at row {id}: {why} ({} row(s) checked)",
                    report.rows_checked
                );
            }
            println!(
                "audit chain intact: {} row(s) verified; {}; {} row(s) written and waiting to be sealed",
                report.rows_checked,
                match report.checkpoint_seq {
                    Some(seq) => format!("it reaches the signed checkpoint of link {seq}"),
                    None => "no checkpoint found to compare with".to_string(),
                },
                report.unsealed
            );
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> Result<()> {
    let state = app_state(settings, false).await?;
    run_processes(state, true, false).await
}

async fn worker(settings: Settings) -> Result<()> {
    let state = app_state(settings, false).await?;
    run_processes(state, false, true).await
}

/// Runs the server and/or the workers until a shutdown signal, then stops them gracefully.
async fn run_processes(state: AppState, with_server: bool, with_workers: bool) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sequencer = crate::audit::seal::Sequencer::start(&state);
    let worker_task = with_workers.then(|| {
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::worker::run(state.clone(), async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }))
    });
    let server = if with_server {
        let app = crate::startup::Application::build(state.clone(), None)
            .context("cannot bind the HTTP listener (is OUTPOST_BIND free?)")?;
        tracing::info!(
            port = app.port(),
            "listening on http://{}:{}",
            state.settings.bind.ip(),
            app.port()
        );
        let server = app.into_server();
        let handle = server.handle();
        Some((tokio::spawn(server), handle))
    } else {
        None
    };
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    if let Some((task, handle)) = server {
        handle.stop(true).await;
        let _ = task.await;
    }
    if let Some(task) = worker_task {
        task.await.context("worker task failed")??;
    }
    // Last: it seals what the server and workers wrote while they finished.
    sequencer.finish().await;
    Ok(())
}

async fn demo(mut settings: Settings) -> Result<()> {
    let services = if settings.database_url.is_none() || settings.redis_url.is_none() {
        let dir = settings.data_dir.clone();
        println!(
            "Starting private PostgreSQL and Redis under {} …",
            dir.display()
        );
        let services = blocking(move || PrivateServices::start(&dir)).await?;
        println!(
            "PostgreSQL keeps its data in {}",
            services.pg_root.display()
        );
        // As in production: migrations as the owner, the server and workers as outpost_app,
        // which cannot switch off the triggers that guard the records.
        if settings.database_url.is_none() {
            settings.database_url = Some(crate::config::Secret::new(services.server_url()));
            settings.database_owner_url =
                Some(crate::config::Secret::new(services.database_url.clone()));
        }
        settings
            .redis_url
            .get_or_insert_with(|| services.redis_url.clone());
        Some(services)
    } else {
        None
    };
    let result = async {
        let state = app_state(settings, true).await?;
        let url = state.settings.require_database_url()?.to_string();
        let outcome = blocking(move || seed::seed(&mut crate::db::connect(&url)?)).await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sequencer = crate::audit::seal::Sequencer::start(&state);
        let app = crate::startup::Application::build(state.clone(), None)
            .context("cannot bind the HTTP listener (set OUTPOST_BIND to a free address:port)")?;
        print_banner(&state, app.port(), outcome);
        let mut rx = stop_rx.clone();
        let workers = tokio::spawn(crate::worker::run(state.clone(), async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        let server = app.into_server();
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        shutdown_signal().await;
        println!("\nStopping Outpost …");
        let _ = stop_tx.send(true);
        handle.stop(true).await;
        let _ = server_task.await;
        workers.await.context("worker task failed")??;
        sequencer.finish().await;
        anyhow::Ok(())
    }
    .await;
    if services.is_some() {
        println!("Stopping private PostgreSQL and Redis …");
    }
    drop(services);
    result
}

fn print_banner(state: &AppState, port: u16, outcome: SeedOutcome) {
    let host = match state.settings.bind.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip => ip.to_string(),
    };
    println!();
    println!("  Outpost demo is running at  http://{host}:{port}/");
    println!(
        "  {}",
        if outcome == SeedOutcome::Seeded {
            "Demo world created."
        } else {
            "Reusing the demo world from the last run."
        }
    );
    println!(
        "  Sign in with any of these (password: {}):",
        seed::DEMO_PASSWORD
    );
    for (username, role) in seed::DEMO_LOGINS {
        println!("    {username:<12} {role}");
    }
    println!("  Press Ctrl-C to stop.");
    println!();
}

async fn user(settings: Settings, action: UserAction) -> Result<()> {
    let url = settings.require_database_url()?.to_string();
    migrate(&settings).await?;
    match action {
        UserAction::Add {
            username,
            name,
            role,
            organisation,
            hubs,
        } => {
            let password = read_password()?;
            blocking(move || {
                let mut conn = crate::db::connect(&url)?;
                let org_id = crate::schema::organisations::table
                    .filter(crate::schema::organisations::name.eq(&organisation))
                    .select(crate::schema::organisations::id)
                    .first::<i64>(&mut conn)
                    .optional()?
                    .with_context(|| format!("no organisation named '{organisation}'"))?;
                let mut hub_ids = Vec::new();
                for code in &hubs {
                    let id = crate::schema::hubs::table
                        .filter(crate::schema::hubs::code.eq(code.to_uppercase()))
                        .filter(crate::schema::hubs::organisation_id.eq(org_id))
                        .select(crate::schema::hubs::id)
                        .first::<i64>(&mut conn)
                        .optional()?
                        .with_context(|| {
                            format!("no hub with code '{code}' in '{organisation}'")
                        })?;
                    hub_ids.push(id);
                }
                let user = conn.transaction(|conn| {
                    let user = users::create(
                        conn,
                        &NewUser {
                            username: &username,
                            display_name: &name,
                            role,
                            organisation_id: org_id,
                            password: &password,
                            hub_ids: &hub_ids,
                        },
                    )?;
                    let after = serde_json::json!({ "username": user.username, "display_name": user.display_name, "role": role.as_str(), "hub_ids": hub_ids });
                    cli_audit(conn, "user.created", user.id, Some(after))?;
                    Ok::<_, anyhow::Error>(user)
                })?;
                println!(
                    "created user '{}' ({}) with id {}",
                    user.username,
                    role.label(),
                    user.id
                );
                Ok(())
            })
            .await
        }
        UserAction::Passwd { username } => {
            let password = read_password()?;
            blocking(move || {
                crate::db::connect(&url)?.transaction(|conn| {
                    users::set_password(conn, &username, &password)?;
                    let id = user_id(conn, &username)?;
                    cli_audit(conn, "user.password.reset", id, None)
                })?;
                println!(
                    "password changed for '{username}'; their sessions and API tokens have ended"
                );
                Ok(())
            })
            .await
        }
        UserAction::Disable { username } => {
            blocking(move || {
                crate::db::connect(&url)?.transaction(|conn| {
                    users::set_active(conn, &username, false)?;
                    let id = user_id(conn, &username)?;
                    let after = serde_json::json!({ "active": false });
                    cli_audit(conn, "user.deactivated", id, Some(after))
                })?;
                println!("user '{username}' disabled");
                Ok(())
            })
            .await
        }
    }
}

/// How the audit log names changes made from the command line (no signed-in user).
const CLI_ACTOR: &str = "command line";

fn user_id(conn: &mut diesel::PgConnection, username: &str) -> Result<i64> {
    Ok(users::find_by_username(conn, username)?
        .with_context(|| format!("no user '{username}'"))?
        .id)
}

/// The audit row of a change made to a user from the command line.
fn cli_audit(
    conn: &mut diesel::PgConnection,
    action: &str,
    user_id: i64,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let mut entry = crate::audit::Entry::new(action)
        .object("user", user_id)
        .change(None, after);
    entry.actor_name = Some(CLI_ACTOR.into());
    crate::audit::record(conn, &entry)?;
    Ok(())
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given: pipe it on standard input, e.g. `printf '%s\\n' \"$PW\" | outpost user …`");
    }
    Ok(password)
}
