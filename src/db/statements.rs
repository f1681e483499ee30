//! Counts the SQL statements each HTTP request runs (issue 14: every page under 10 queries), and
//! notices statements that failed because the server connection is gone (see `db::Manager`).
//!
//! The request's counter lives in a task-local for the request's future; `db::run` carries it
//! to the blocking thread that runs the diesel work, and diesel's instrumentation adds one per
//! statement there. The `count` middleware reports the total in `X-DB-Statements` when
//! `OUTPOST_COUNT_QUERIES` is on (the tests turn it on to hold pages to their budget).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use diesel::connection::{Instrumentation, InstrumentationEvent};

type Counter = Arc<AtomicU32>;

tokio::task_local! {
    static REQUEST: Counter;
}

thread_local! {
    static CURRENT: RefCell<Option<Counter>> = const { RefCell::new(None) };
    /// Set when a statement on this thread failed because the server connection is gone.
    static CONNECTION_LOST: Cell<bool> = const { Cell::new(false) };
}

/// Whether a statement on this thread lost its connection since the last call (and resets it).
pub fn take_connection_lost() -> bool {
    CONNECTION_LOST.with(|lost| lost.replace(false))
}

/// Makes every new diesel connection count its statements into the thread's current counter.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = diesel::connection::set_default_instrumentation(|| {
            Some(Box::new(|event: InstrumentationEvent<'_>| {
                match event {
                    InstrumentationEvent::StartQuery { query, .. } => CURRENT.with(|c| {
                        if let Some(counter) = c.borrow().as_ref() {
                            counter.fetch_add(1, Ordering::Relaxed);
                            // With RUST_LOG=outpost::db=trace: which statements a request ran.
                            tracing::trace!(target: "outpost::db", "{query}");
                        }
                    }),
                    InstrumentationEvent::FinishQuery { error: Some(e), .. }
                        if crate::error::is_connection_lost(e) =>
                    {
                        CONNECTION_LOST.with(|l| l.set(true))
                    }
                    _ => {}
                }
            }) as Box<dyn Instrumentation>)
        });
    });
}

/// The counter of the request this task serves, if any.
pub fn current_request() -> Option<Counter> {
    REQUEST.try_with(Clone::clone).ok()
}

/// While alive, statements on this thread count for the given request.
pub struct CountFor(Option<Counter>);

impl CountFor {
    pub fn enter(counter: Option<Counter>) -> Self {
        let previous = CURRENT.with(|c| c.replace(counter));
        CountFor(previous)
    }
}

impl Drop for CountFor {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Middleware: counts the request's statements and reports them as an `X-DB-Statements`
/// header (mounted only with `OUTPOST_COUNT_QUERIES`).
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let counter = Counter::default();
    let mut res = REQUEST.scope(counter.clone(), next.call(req)).await?;
    let n = counter.load(Ordering::Relaxed);
    res.headers_mut().insert(
        HeaderName::from_static("x-db-statements"),
        HeaderValue::from(n),
    );
    Ok(res)
}
