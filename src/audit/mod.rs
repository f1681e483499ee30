//! The append-only audit trail. `record` is the only writer; the database refuses UPDATE,
//! DELETE and TRUNCATE. It is also the one helper of the writes that are not operations
//! (docs/architecture.md, "Two kinds of write"): the audit row, and the dashboards' event when
//! the entry carries one, go in the caller's transaction with the change. Rows are linked into a hash chain shortly after they commit by the
//! sequencer (`seal`), whose signed checkpoints (`checkpoint`, kept per database by
//! `checkpoint_store`) `verify` checks the chain against.

pub mod checkpoint;
pub mod checkpoint_store;
pub mod seal;
mod verify;
pub mod words;

pub use verify::{verify, VerifyReport};

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::schema::audit_log;

/// One audit row to write. Build it with `Entry::new` or `Entry::by` and the setters.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub role_at_capture: Option<String>,
    pub role_at_apply: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub offline: bool,
    pub operation_id: Option<Uuid>,
    pub outcome: String,
    pub hub_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub client_addr: Option<String>,
    /// An event for live dashboards (topic, payload), put in the outbox with the row.
    pub event: Option<(String, Value)>,
}

impl Entry {
    pub fn new(action: &str) -> Self {
        Entry {
            action: action.to_string(),
            outcome: "applied".into(),
            ..Default::default()
        }
    }

    /// An entry acted by someone: actor, role (at capture and apply alike for an online
    /// action) and client address filled in (`Principal::audit_entry` calls it).
    pub fn by_actor(
        (user_id, username, role, client_addr): (i64, &str, &str, Option<String>),
        action: &str,
    ) -> Self {
        Entry {
            actor_id: Some(user_id),
            actor_name: Some(username.to_string()),
            role_at_capture: Some(role.to_string()),
            role_at_apply: Some(role.to_string()),
            client_addr,
            ..Entry::new(action)
        }
    }

    pub fn object(mut self, object_type: &str, object_id: impl ToString) -> Self {
        self.object_type = Some(object_type.into());
        self.object_id = Some(object_id.to_string());
        self
    }

    pub fn change(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    pub fn outcome(mut self, outcome: &str) -> Self {
        self.outcome = outcome.into();
        self
    }

    pub fn hub(mut self, hub_id: Option<i64>) -> Self {
        self.hub_id = hub_id;
        self
    }

    /// Also tells live dashboards (`topic`, `payload`), through the outbox, when it commits.
    pub fn event(mut self, topic: &str, payload: Value) -> Self {
        self.event = Some((topic.to_string(), payload));
        self
    }
}

/// Appends one row, and the entry's event to the outbox (inside the caller's transaction, when
/// there is one). Returns the row's id.
pub fn record(conn: &mut PgConnection, e: &Entry) -> QueryResult<i64> {
    if let Some((topic, payload)) = &e.event {
        crate::events::enqueue(conn, topic, payload.clone())?;
    }
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(e.actor_id),
            audit_log::actor_name.eq(e.actor_name.as_deref()),
            audit_log::role_at_capture.eq(e.role_at_capture.as_deref()),
            audit_log::role_at_apply.eq(e.role_at_apply.as_deref()),
            audit_log::action.eq(&e.action),
            audit_log::object_type.eq(e.object_type.as_deref()),
            audit_log::object_id.eq(e.object_id.as_deref()),
            audit_log::before.eq(e.before.as_ref()),
            audit_log::after.eq(e.after.as_ref()),
            audit_log::offline.eq(e.offline),
            audit_log::operation_id.eq(e.operation_id),
            audit_log::outcome.eq(&e.outcome),
            audit_log::hub_id.eq(e.hub_id),
            audit_log::customer_id.eq(e.customer_id),
            audit_log::client_addr.eq(e.client_addr.as_deref()),
        ))
        .returning(audit_log::id)
        .get_result(conn)
}
