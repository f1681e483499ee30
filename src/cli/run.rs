//! `outpost serve`, `worker` and `demo`: the long-running processes, and the banner `demo`
//! prints.

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::demo::launcher::PrivateServices;
use crate::demo::seed::{self, SeedOutcome};
use crate::state::AppState;

use super::*;

pub(super) async fn serve(settings: Settings) -> Result<()> {
    let state = app_state(settings, false).await?;
    run_processes(state, true, false).await
}

pub(super) async fn worker(settings: Settings) -> Result<()> {
    let state = app_state(settings, false).await?;
    run_processes(state, false, true).await
}

/// Runs the server and/or the workers until a shutdown signal, then stops them gracefully.
pub(super) async fn run_processes(
    state: AppState,
    with_server: bool,
    with_workers: bool,
) -> Result<()> {
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

pub(super) async fn demo(mut settings: Settings) -> Result<()> {
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
        let outcome = blocking(move || {
            crate::demo::showcase::seed_for_people(&mut crate::db::connect(&url)?)
        })
        .await?;
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

pub(super) fn print_banner(state: &AppState, port: u16, outcome: SeedOutcome) {
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
