//! The append-only audit trail. `record` is the only writer; the database refuses UPDATE,
//! DELETE and TRUNCATE. Rows are linked into a hash chain shortly after they commit by the
//! sequencer (`seal`), whose signed checkpoints (`checkpoint`) `verify` checks the chain against.

pub mod checkpoint;
pub mod pages;
pub mod seal;
mod verify;
pub mod words;

pub use verify::{verify, VerifyReport};

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::principal::Principal;
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
}

impl Entry {
    pub fn new(action: &str) -> Self {
        Entry {
            action: action.to_string(),
            outcome: "applied".into(),
            ..Default::default()
        }
    }

    /// An entry acted by a signed-in principal: actor, role (at capture and apply alike for an
    /// online action) and client address filled in.
    pub fn by(principal: &Principal, action: &str) -> Self {
        let role = principal.role.as_str().to_string();
        Entry {
            actor_id: Some(principal.user_id),
            actor_name: Some(principal.username.clone()),
            role_at_capture: Some(role.clone()),
            role_at_apply: Some(role),
            client_addr: principal.client_addr.clone(),
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
}

/// Appends one row (inside the caller's transaction, when there is one). Returns its id.
pub fn record(conn: &mut PgConnection, e: &Entry) -> QueryResult<i64> {
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
