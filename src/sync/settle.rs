//! Steps 4 to 6 of the pipeline: the kind applies in a savepoint, and the operation row, its
//! audit row and its outbox event are written together.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::any_kind::{AnyKind, Parsed};
use super::kind::{Applied, ApplyCtx, Refusal, RefusalCode, Target};
use super::operation::{OpResult, OpStatus, Operation};
use super::registry;
use crate::audit::Entry;
use crate::auth::principal::Principal;
use crate::error::AppError;

use super::pipeline::audit_action;

/// Step 4–5: conflict checks and domain writes, in a savepoint so a refusal leaves nothing.
pub(super) fn apply(
    conn: &mut PgConnection,
    kind: &dyn AnyKind,
    actor: &Principal,
    op: &Operation,
    parsed: &Parsed,
    row_id: Uuid,
) -> Result<Applied, Refusal> {
    let ctx = ApplyCtx {
        actor,
        op,
        operation_row: row_id,
    };
    // A refused operation's savepoint takes back its writes; its held-back stock increases go
    // with them.
    let hooks = registry::chunk();
    let mark = (hooks.mark)();
    let applied = conn.transaction(|conn| kind.apply(conn, &ctx, parsed));
    if applied.is_err() {
        (hooks.forget_since)(mark);
    }
    applied
}

/// The refused (or conflicting) entry that an operation entered again, corrected, leaves its
/// author's Sync Issues, in the transaction of the correction. Only the same actor's, still
/// open: another person's op id, or one already settled, is left as it is.
fn close_corrected(conn: &mut PgConnection, actor: i64, earlier: Uuid) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Uuid as SqlUuid};
    // The chain back through what each correction corrected (a correction refused in turn and
    // corrected again), the actor's own rows only, at most 20 links (ids are the client's:
    // a made-up cycle must end).
    diesel::sql_query(
        "WITH RECURSIVE chain(op_id, depth) AS ( \
             SELECT $2::uuid, 0 \
             UNION ALL \
             SELECT o.corrects, c.depth + 1 FROM chain c \
             JOIN operations o ON o.actor_id = $1 AND o.op_id = c.op_id \
             WHERE o.corrects IS NOT NULL AND c.depth < 20) \
         UPDATE operations SET resolved_at = now(), resolved_by = $1, resolution = 'corrected' \
         WHERE actor_id = $1 AND op_id IN (SELECT op_id FROM chain) \
           AND status IN ('rejected', 'conflict') AND resolved_at IS NULL",
    )
    .bind::<BigInt, _>(actor)
    .bind::<SqlUuid, _>(earlier)
    .execute(conn)
}

/// An operation row's final state.
pub(super) struct Settled<'a> {
    row_id: Uuid,
    status: &'a str,
    reason: Option<&'a str>,
    server_id: Option<&'a str>,
    server_state: Option<&'a Value>,
    changed_fields: Vec<Option<String>>,
    result_version: Option<i32>,
    refusal_code: Option<&'static str>,
}

/// Step 6's three writes in one statement (data-modifying CTEs, each run exactly once): the
/// operation row's final state, its audit row and its outbox events, in order. They were three
/// round trips of the ten an operation costs (issue 14: ingest and the offline drain are bound
/// by statements per operation). The audit row's columns are those `audit::record` writes. The
/// statement stays prepared on its connection (`db::prepared`).
pub(super) fn settle(
    conn: &mut PgConnection,
    op: &Settled<'_>,
    e: &Entry,
    events: Vec<(String, Value)>,
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Nullable, Text};
    let (topics, payloads): (Vec<String>, Vec<Value>) = events.into_iter().unzip();
    crate::db::prepared::sql(
        "WITH op AS ( \
           UPDATE operations SET status = $1, reason = $2, server_id = $3, server_state = $4, \
             changed_fields = $5, result_version = $6, refusal_code = $25 WHERE id = $7), \
         audit AS ( \
           INSERT INTO audit_log (actor_id, actor_name, role_at_capture, role_at_apply, action, \
             object_type, object_id, before, after, offline, operation_id, outcome, hub_id, \
             customer_id, client_addr) \
           VALUES ($8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)) \
         INSERT INTO outbox (topic, payload) \
         SELECT topic, payload FROM unnest($23::text[], $24::jsonb[]) \
           WITH ORDINALITY AS event(topic, payload, n) ORDER BY n",
    )
    .bind::<Text, _>(op.status)
    .bind::<Nullable<Text>, _>(op.reason)
    .bind::<Nullable<Text>, _>(op.server_id)
    .bind::<Nullable<Jsonb>, _>(op.server_state)
    .bind::<Array<Nullable<Text>>, _>(&op.changed_fields)
    .bind::<Nullable<Integer>, _>(op.result_version)
    .bind::<diesel::sql_types::Uuid, _>(op.row_id)
    .bind::<Nullable<BigInt>, _>(e.actor_id)
    .bind::<Nullable<Text>, _>(e.actor_name.as_deref())
    .bind::<Nullable<Text>, _>(e.role_at_capture.as_deref())
    .bind::<Nullable<Text>, _>(e.role_at_apply.as_deref())
    .bind::<Text, _>(&e.action)
    .bind::<Nullable<Text>, _>(e.object_type.as_deref())
    .bind::<Nullable<Text>, _>(e.object_id.as_deref())
    .bind::<Nullable<Jsonb>, _>(e.before.as_ref())
    .bind::<Nullable<Jsonb>, _>(e.after.as_ref())
    .bind::<Bool, _>(e.offline)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(e.operation_id)
    .bind::<Text, _>(&e.outcome)
    .bind::<Nullable<BigInt>, _>(e.hub_id)
    .bind::<Nullable<BigInt>, _>(e.customer_id)
    .bind::<Nullable<Text>, _>(e.client_addr.as_deref())
    .bind::<Array<Text>, _>(topics)
    .bind::<Array<Jsonb>, _>(payloads)
    .bind::<Nullable<Text>, _>(op.refusal_code)
    .execute(conn)
    .map(|_| ())
}

pub(super) enum Outcome {
    Applied(Applied),
    Rejected(String, Option<RefusalCode>),
    Conflict(String, serde_json::Value),
    PendingReview,
}

/// Step 6: the operation row's final state, exactly one audit row, and the outbox event.
pub(super) fn record(
    conn: &mut PgConnection,
    actor: &Principal,
    op: &Operation,
    target: &Target,
    row_id: Uuid,
    role_at_capture: &str,
    outcome: Outcome,
) -> Result<OpResult, AppError> {
    let mut code = None;
    let (status, reason, server_state, applied) = match outcome {
        Outcome::Applied(a) => (OpStatus::Applied, None, None, Some(a)),
        Outcome::Rejected(r, c) => {
            code = c;
            (OpStatus::Rejected, Some(r), None, None)
        }
        Outcome::Conflict(r, s) => (OpStatus::Conflict, Some(r), Some(s), None),
        Outcome::PendingReview => (
            OpStatus::PendingReview,
            Some("awaiting online confirmation by a manager".to_string()),
            None,
            None,
        ),
    };
    let server_id = applied.as_ref().and_then(|a| a.server_id.clone());
    // An applied operation keeps the record it produced, so a duplicate answers with it.
    let server_state = server_state.or_else(|| applied.as_ref().and_then(|a| a.after.clone()));
    let hub_in_scope = target.hub_id.filter(|h| actor.scope.has_hub(*h));
    let mut entry = actor
        .audit_entry(audit_action(&op.kind))
        .hub(hub_in_scope)
        .outcome(status.as_str());
    entry.role_at_capture = Some(role_at_capture.to_string());
    entry.offline = op.offline;
    entry.operation_id = Some(op.op_id);
    match &applied {
        Some(a) => {
            entry = entry
                .object(a.object_type, a.server_id.clone().unwrap_or_default())
                .change(a.before.clone(), a.after.clone());
        }
        None => {
            entry = entry.change(
                None,
                Some(json!({ "kind": op.kind, "payload": op.payload, "reason": reason })),
            );
            if let Some(record) = target.record_id {
                entry = entry.object("record", record);
            }
        }
    }
    let mut events = vec![(
        "operation".to_string(),
        json!({ "op_id": op.op_id, "kind": op.kind, "status": status.as_str(), "hub_id": hub_in_scope,
            "hub": hub_in_scope.and_then(|h| actor.hub(h)).map(|h| h.name.clone()),
            "actor_id": actor.user_id, "actor": actor.display_name, "offline": op.offline, "at": Utc::now() }),
    )];
    if let Some(a) = &applied {
        events.extend(a.events.iter().cloned());
    }
    // Events without a hub (badge copies, catalog changes) are scoped by the organisation
    // (`live::visible`): an operation's events belong to its actor's.
    for (_, payload) in &mut events {
        if let Some(fields) = payload.as_object_mut() {
            fields
                .entry("organisation_id")
                .or_insert(json!(actor.organisation_id));
        }
    }
    let settled = Settled {
        row_id,
        status: status.as_str(),
        reason: reason.as_deref(),
        server_id: server_id.as_deref(),
        server_state: server_state.as_ref(),
        changed_fields: applied
            .as_ref()
            .map(|a| a.changed_fields.iter().cloned().map(Some).collect())
            .unwrap_or_default(),
        result_version: applied.as_ref().and_then(|a| a.result_version),
        refusal_code: code.map(RefusalCode::as_str),
    };
    settle(conn, &settled, &entry, events)?;
    if matches!(status, OpStatus::Applied | OpStatus::PendingReview) {
        if let Some(earlier) = op.corrects {
            close_corrected(conn, actor.user_id, earlier)?;
        }
    }

    let record = applied.as_ref().and_then(|a| a.after.clone());
    let server_state = if status == OpStatus::Conflict {
        server_state
    } else {
        None
    };
    Ok(OpResult {
        op_id: op.op_id,
        status,
        server_id,
        reason,
        server_state,
        errors: vec![],
        code,
        record,
        original_status: None,
    })
}
