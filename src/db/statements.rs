//! Counts the SQL statements each HTTP request runs (issue 14: every page under 10 queries).
//!
//! The request's counter lives in a task-local for the request's future; `db::run` carries it
//! to the blocking thread that runs the diesel work, and diesel's instrumentation adds one per
//! statement there. The `count` middleware reports the total in `X-DB-Statements` when
//! `OUTPOST_COUNT_QUERIES` is on (the tests turn it on to hold pages to their budget).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use diesel::connection::{Instrumentation, InstrumentationEvent};

type Counter = Arc<AtomicU32>;

tokio::task_local! {
    static REQUEST: Counter;
}

thread_local! {
    static CURRENT: RefCell<Option<Counter>> = const { RefCell::new(None) };
}

/// Makes every new diesel connection count its statements into the thread's current counter.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = diesel::connection::set_default_instrumentation(|| {
            Some(Box::new(|event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { .. } = event {
                    CURRENT.with(|c| {
                        if let Some(counter) = c.borrow().as_ref() {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    });
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

/// Middleware: counts the request's statements and, when enabled, reports them as
/// an `X-DB-Statements` header.
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let enabled = req
        .app_data::<web::Data<crate::state::AppState>>()
        .is_some_and(|s| s.settings.count_queries);
    if !enabled {
        return next.call(req).await;
    }
    let counter = Counter::default();
    let mut res = REQUEST.scope(counter.clone(), next.call(req)).await?;
    let n = counter.load(Ordering::Relaxed);
    res.headers_mut().insert(
        HeaderName::from_static("x-db-statements"),
        HeaderValue::from(n),
    );
    Ok(res)
}
