//! The append-only audit trail. `record` is the only writer; the database refuses UPDATE,
//! DELETE and TRUNCATE, and chains every row to the previous one by hash (see the migration),
//! which `verify` checks.

pub mod pages;
pub mod words;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
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
            // Filled in by the chaining trigger.
            audit_log::prev_hash.eq(""),
            audit_log::hash.eq(""),
        ))
        .returning(audit_log::id)
        .get_result(conn)
}

#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows_checked: u64,
    /// The first row whose content or link does not match, with the reason.
    pub first_broken: Option<(i64, String)>,
}

#[derive(QueryableByName)]
struct ChainRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    prev_hash: String,
    #[diesel(sql_type = Text)]
    hash: String,
    #[diesel(sql_type = Text)]
    expected: String,
}

/// Walks the whole chain in id order: every row's hash must match its content, and every
/// row's `prev_hash` must be the hash of the row before it (a deleted row breaks the link).
pub fn verify(conn: &mut PgConnection) -> QueryResult<VerifyReport> {
    const BATCH: i64 = 5_000;
    let mut last_id = 0_i64;
    let mut previous_hash = "genesis".to_string();
    let mut checked = 0_u64;
    loop {
        let rows: Vec<ChainRow> = diesel::sql_query(
            "SELECT id, prev_hash, hash, audit_digest(a) AS expected FROM audit_log a WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind::<BigInt, _>(last_id)
        .bind::<BigInt, _>(BATCH)
        .load(conn)?;
        if rows.is_empty() {
            return Ok(VerifyReport {
                rows_checked: checked,
                first_broken: None,
            });
        }
        for row in rows {
            checked += 1;
            if row.prev_hash != previous_hash {
                return Ok(VerifyReport {
                    rows_checked: checked,
                    first_broken: Some((
                        row.id,
                        "its link to the previous row is broken (a row was removed or changed)"
                            .into(),
                    )),
                });
            }
            if row.hash != row.expected {
                return Ok(VerifyReport {
                    rows_checked: checked,
                    first_broken: Some((
                        row.id,
                        "its content does not match its hash (the row was changed)".into(),
                    )),
                });
            }
            previous_hash = row.hash;
            last_id = row.id;
        }
    }
}
