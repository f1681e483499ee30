//! Builds the HTTP server. `main` and the tests both use `Application::build`, so what the
//! tests exercise is exactly what runs.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::state::AppState;

/// Extra routes a caller may mount (tests use it to provoke errors the product never makes).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(state: AppState, extra: Option<ExtraRoutes>) -> std::io::Result<Self> {
        crate::kinds::install();
        let listener = bind(state.settings.bind)?;
        let port = listener.local_addr()?.port();
        let count_queries = state.settings.count_queries;
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(256 * 1024))
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .configure(crate::routes)
                .configure(|cfg| {
                    if let Some(extra) = extra {
                        extra(cfg)
                    }
                })
                // Inside authentication, so it knows the caller.
                .wrap(actix_web::middleware::from_fn(
                    crate::auth::costs::hide_costs,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::auth::middleware::authenticate,
                ))
                // Outside authentication, so loading the principal counts for the request.
                .wrap(actix_web::middleware::Condition::new(
                    count_queries,
                    actix_web::middleware::from_fn(crate::db::statements::count),
                ))
                .wrap(crate::ui::errors::handlers())
                .wrap(security_headers())
                .wrap(Compress::default())
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                // Outside everything but the log: a request's time includes all of its work.
                .wrap(actix_web::middleware::from_fn(
                    crate::metrics::time_requests,
                ))
                .wrap(TracingLogger::default())
        })
        // Signals are handled by the caller, which also stops workers and private services.
        .disable_signals()
        .shutdown_timeout(20)
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// Binds with SO_REUSEADDR, so a restarted server gets its port back at once even while
/// connections of the previous process linger in TIME_WAIT.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"))
}
