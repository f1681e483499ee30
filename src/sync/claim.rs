//! Step 3 of the pipeline: an operation is claimed once per (actor, op id); a second claim
//! is a duplicate and answers with the first outcome.

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::kind::Target;
use super::operation::{OpResult, OpStatus, Operation};
use crate::auth::principal::Principal;
use crate::schema::operations;

/// Step 3: claims (actor, op id). `None` when it was claimed before: a duplicate. Concurrent
/// claims of one key wait on the unique index, so only one of them can go on to apply. An
/// earlier claim by an operation that did not validate changed nothing and is taken over.
pub(super) fn claim(
    conn: &mut PgConnection,
    actor: &Principal,
    op: &Operation,
    target: &Target,
    role_at_capture: &str,
    field_errors: Option<Value>,
) -> QueryResult<Option<Uuid>> {
    let hub_id = target.hub_id.filter(|h| actor.scope.has_hub(*h));
    let inserted = diesel::insert_into(operations::table)
        .values((
            operations::actor_id.eq(actor.user_id),
            operations::op_id.eq(op.op_id),
            operations::kind.eq(&op.kind),
            operations::payload.eq(&op.payload),
            // Only a hub in scope is stored as a reference; an out-of-scope id stays in the payload.
            operations::hub_id.eq(hub_id),
            operations::record_id.eq(target.record_id),
            operations::base_version.eq(op.base_version),
            operations::captured_at.eq(op.captured_at),
            operations::device_id.eq(op.device_id.as_deref()),
            operations::offline.eq(op.offline),
            operations::role_at_capture.eq(role_at_capture),
            operations::role_at_apply.eq(actor.role.as_str()),
            // A placeholder until `settle` writes the outcome, in this transaction: no other
            // session ever sees it. Not a refused status, because the review queues' partial
            // indexes hold only refused rows: an applied operation's row then changes no indexed
            // column, and its settling is a HOT update instead of a new entry in all seven
            // indexes (issue 14, measured per statement).
            operations::status.eq("applied"),
            operations::field_errors.eq(&field_errors),
            operations::corrects.eq(op.corrects),
        ))
        .on_conflict((operations::actor_id, operations::op_id))
        .do_nothing()
        .returning(operations::id)
        .get_result(conn)
        .optional()?;
    if inserted.is_some() {
        return Ok(inserted);
    }
    let earlier_invalid = operations::table
        .filter(operations::actor_id.eq(actor.user_id))
        .filter(operations::op_id.eq(op.op_id))
        .filter(operations::field_errors.is_not_null());
    diesel::update(earlier_invalid)
        .set((
            operations::kind.eq(&op.kind),
            operations::payload.eq(&op.payload),
            operations::hub_id.eq(hub_id),
            operations::record_id.eq(target.record_id),
            operations::base_version.eq(op.base_version),
            operations::captured_at.eq(op.captured_at),
            operations::received_at.eq(diesel::dsl::now),
            operations::device_id.eq(op.device_id.as_deref()),
            operations::offline.eq(op.offline),
            operations::role_at_capture.eq(role_at_capture),
            operations::role_at_apply.eq(actor.role.as_str()),
            operations::field_errors.eq(&field_errors),
            operations::corrects.eq(op.corrects),
        ))
        .returning(operations::id)
        .get_result(conn)
        .optional()
}

/// The stored result of an operation seen before, marked as a duplicate.
/// What the operation row keeps of its first outcome, for a duplicate's answer.
#[derive(Queryable, Selectable)]
#[diesel(table_name = operations)]
struct Kept {
    status: String,
    reason: Option<String>,
    server_id: Option<String>,
    server_state: Option<Value>,
    field_errors: Option<Value>,
    refusal_code: Option<String>,
}

pub(super) fn duplicate(
    conn: &mut PgConnection,
    actor: &Principal,
    op: &Operation,
) -> QueryResult<OpResult> {
    let Kept {
        status,
        reason,
        server_id,
        server_state,
        field_errors,
        refusal_code,
    } = operations::table
        .filter(operations::actor_id.eq(actor.user_id))
        .filter(operations::op_id.eq(op.op_id))
        .select(Kept::as_select())
        .first(conn)?;
    let original = match reason {
        Some(r) => format!("already received: {status} ({r})"),
        None => format!("already received: {status}"),
    };
    // The record an applied operation produced, as it was then.
    let record = (status == "applied")
        .then(|| server_state.clone())
        .flatten();
    let server_state = (status == "conflict").then_some(server_state).flatten();
    Ok(OpResult {
        op_id: op.op_id,
        status: OpStatus::Duplicate,
        server_id,
        reason: Some(original),
        server_state,
        errors: field_errors
            .and_then(|e| serde_json::from_value(e).ok())
            .unwrap_or_default(),
        // A refusal repeated answers as it did the first time (`RefusalCode::status`).
        code: refusal_code
            .as_deref()
            .and_then(super::kind::RefusalCode::parse),
        record,
        original_status: Some(OpStatus::parse(&status)),
    })
}
