//! Live updates (issue 13): every event the outbox publishes goes into a capped Redis stream;
//! each `serve` process follows that stream with one connection and fans the events out to its
//! own Server-Sent-Events clients (`GET /events`), each of whom gets only what is in their scope.
//! Because the stream is shared, a viewer on any instance behind a load balancer sees events
//! raised on every other; because it keeps the recent past, a browser that reconnects with
//! `Last-Event-ID` is given what it missed.

pub mod follow;
pub mod sse;

use serde_json::Value;

use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    sse::configure(cfg);
}

/// One event as the stream holds it.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// The stream entry id (`<ms>-<seq>`): ordered, and the SSE event id.
    pub id: String,
    pub topic: String,
    pub payload: Value,
}

impl LiveEvent {
    pub fn hub_id(&self) -> Option<i64> {
        self.payload.get("hub_id").and_then(Value::as_i64)
    }
    pub fn customer_id(&self) -> Option<i64> {
        self.payload.get("customer_id").and_then(Value::as_i64)
    }
    pub fn organisation_id(&self) -> Option<i64> {
        self.payload.get("organisation_id").and_then(Value::as_i64)
    }
    /// About the catalog, which every organisation shares (a Zoho sync that gave up).
    fn catalog_wide(&self) -> bool {
        self.topic.starts_with("job.") && self.payload.get("job") == Some(&Value::from("zoho_sync"))
    }
}

/// Stream ids as (milliseconds, sequence), for ordering.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Whether `viewer` may see `event`: staff see events of their hubs (admins all of their
/// organisation's, never another agency's, as their hub scope says); events that belong to no
/// hub (badge copy requests, job failures, devices) go to those who manage jobs in the event's
/// organisation, and only a Zoho sync's (the shared catalog's) to those of every organisation;
/// an event that names neither is shown to nobody but its actor. A customer user sees only the
/// copies of their own account; everyone sees their own operations.
pub fn visible(viewer: &Principal, event: &LiveEvent) -> bool {
    if event.payload.get("actor_id").and_then(Value::as_i64) == Some(viewer.user_id) {
        return true;
    }
    if viewer.role == Role::CustomerUser {
        return event.topic.starts_with("copy.")
            && event
                .customer_id()
                .is_some_and(|c| viewer.scope.customer_ids.contains(&c));
    }
    if !viewer.can(Permission::DashboardView) {
        return false;
    }
    if let Some(hub) = event.hub_id() {
        return viewer.scope.has_hub(hub);
    }
    if !viewer.can(Permission::JobsManage) {
        return false;
    }
    match event.organisation_id() {
        Some(organisation) => organisation == viewer.organisation_id,
        None => event.catalog_wide(),
    }
}
