//! The operation pipeline. Every write of the application goes through `submit`, and each step
//! is one function here: the role's permission (before the payload is read) → validate →
//! authorise (scope) → claim (idempotency) → envelope → finalisable → conflict check + apply
//! (in the kind) → record (operation row, audit row, outbox) → publish.

use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;

use super::any_kind::{AnyKind, Parsed};
use super::kind::{Refusal, RefusalCode, Target};
use super::operation::{FieldError, OpResult, Operation};
use super::registry;
use crate::audit::{self};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::state::AppState;

use super::checks::{
    authorise, check_envelope, clean_text, closed_hubs, storable, touched_hubs, validate,
    ClosedHubs,
};
use super::claim::{claim, duplicate};
use super::settle::{apply, record, Outcome};

/// Replays older than this many days are refused (configurable later; the drims default).
pub const ENVELOPE_MAX_AGE_DAYS: i64 = 7;

/// Runs one operation through the pipeline and returns its result. Errors are only for
/// failures that are not the operation's fault (database down): the client may retry them.
pub async fn submit(
    state: &AppState,
    actor: Arc<Principal>,
    op: Operation,
) -> Result<OpResult, AppError> {
    let mut results = submit_all(state, actor, vec![op]).await?;
    Ok(results.remove(0))
}

/// Runs a device's batch through the pipeline, in order, a few dozen operations per database
/// transaction: each operation keeps its own checks, savepoint, operation row, audit row and
/// result, but they share commits (see `COMMIT_EVERY`). An error that is not an operation's
/// fault stops the batch with an error; the client sends it again, and idempotency answers
/// the operations already applied as duplicates.
pub async fn submit_all(
    state: &AppState,
    actor: Arc<Principal>,
    ops: Vec<Operation>,
) -> Result<Vec<OpResult>, AppError> {
    let prepared: Vec<Prepared> = ops
        .into_iter()
        .map(|op| prepare(state, &actor, op))
        .collect();
    let results = crate::db::run(&state.db, move |conn| {
        let mut results = Vec::with_capacity(prepared.len());
        for chunk in prepared.chunks(COMMIT_EVERY) {
            results.extend(run_chunk(conn, &actor, chunk)?);
        }
        Ok(results)
    })
    .await?;
    crate::events::publish_soon(state);
    crate::metrics::count_operations(state, results.iter().map(|r| r.status.as_str()));
    Ok(results)
}

/// Operations per transaction in a batch. One commit per operation made the commit's flush
/// dominate; one per whole batch held the rows it touched (a hub's stock level) for the whole
/// batch, so concurrent devices of a hub queued behind each other. A few dozen balances both.
pub(super) const COMMIT_EVERY: usize = 25;

/// Runs operations in order in one transaction. Two transactions that touch the same rows in
/// a different order can deadlock; PostgreSQL aborts one, which is simply run again.
pub(super) fn run_chunk(
    conn: &mut PgConnection,
    actor: &Principal,
    chunk: &[Prepared],
) -> Result<Vec<OpResult>, AppError> {
    let mut attempts = 0;
    loop {
        let outcome = conn.transaction(|conn| {
            let hooks = registry::chunk();
            let _held = (hooks.begin)();
            let closed = closed_hubs(conn, chunk)?;
            let mut results = Vec::with_capacity(chunk.len());
            for prepared in chunk {
                if !prepared.defers_stock() {
                    (hooks.flush)(conn)?;
                }
                results.push(run(conn, actor, prepared, &closed)?);
            }
            (hooks.flush)(conn)?;
            Ok::<_, AppError>(results)
        });
        match outcome {
            Err(AppError::Contended(_)) if attempts < 3 => attempts += 1,
            other => return other,
        }
    }
}

/// An operation checked as far as it can be without the database (steps 1 to 2b).
pub(super) enum Prepared {
    /// It did not validate: it changes nothing, but it is kept and audited.
    Invalid { stored: Operation, result: OpResult },
    Ready {
        kind: &'static dyn AnyKind,
        target: Target,
        hubs: Vec<i64>,
        allowed: Result<(), String>,
        role_at_capture: String,
        op: Operation,
        /// The payload as its kind read it; `None` when the role was refused before it was
        /// read.
        parsed: Option<Parsed>,
    },
}

impl Prepared {
    fn defers_stock(&self) -> bool {
        match self {
            Prepared::Ready { kind, .. } => kind.defers_stock(),
            Prepared::Invalid { .. } => true,
        }
    }
}

pub(super) fn prepare(state: &AppState, actor: &Principal, mut op: Operation) -> Prepared {
    // A client does not decide for itself whether it was offline: an operation that arrives
    // long after it was captured was captured offline.
    let late = Utc::now() - op.captured_at;
    if !op.offline
        && late
            .to_std()
            .is_ok_and(|d| d > state.settings.offline_after)
    {
        op.offline = true;
    }
    // A role that may not do this kind of thing at all is refused before its payload is
    // looked at, so the denial is audited as one whatever the payload holds (a NUL once made
    // it a validation error, and the attempt never read as denied).
    let found = registry::find(&op.kind);
    if let Some(kind) = found.filter(|k| !actor.can(k.permission())) {
        let allowed = authorise(kind, actor, &[]);
        let op = Operation {
            payload: storable(&op.payload),
            device_id: op.device_id.as_deref().map(clean_text),
            ..op
        };
        return Prepared::Ready {
            kind,
            target: Target::default(),
            hubs: Vec::new(),
            allowed,
            role_at_capture: actor.role.as_str().to_string(),
            op,
            parsed: None,
        };
    }
    let checked = match found {
        None => Err(vec![FieldError::new(
            "kind",
            format!("unknown operation kind '{}'", clean_text(&op.kind)),
        )]),
        Some(kind) => validate(kind, &op).map(|(target, parsed)| (kind, target, parsed)),
    };
    let (kind, target, parsed) = match checked {
        Ok(ok) => ok,
        Err(errors) => {
            // Its content is made storable, so its author can see, fix and resend it.
            let result = OpResult::invalid(op.op_id, errors);
            let stored = Operation {
                kind: clean_text(&op.kind),
                payload: storable(&op.payload),
                device_id: op.device_id.as_deref().map(clean_text),
                ..op
            };
            return Prepared::Invalid { stored, result };
        }
    };
    let hubs = touched_hubs(kind, &target, &parsed);
    let verdict = authorise(kind, actor, &hubs);
    let envelope = check_envelope(state, kind, actor, &target, &op);
    let allowed = verdict.and_then(|()| envelope.clone().map(|_| ()).map_err(|e| e.to_string()));
    let role_at_capture = envelope
        .ok()
        .flatten()
        .map(|e| e.role)
        .unwrap_or_else(|| actor.role.as_str().to_string());
    Prepared::Ready {
        kind,
        target,
        hubs,
        allowed,
        role_at_capture,
        op,
        parsed: Some(parsed),
    }
}

/// Steps 3 to 6 of one operation, in the caller's transaction.
pub(super) fn run(
    conn: &mut PgConnection,
    actor: &Principal,
    prepared: &Prepared,
    closed: &ClosedHubs,
) -> Result<OpResult, AppError> {
    let (kind, target, hubs, allowed, role_at_capture, op, parsed) = match prepared {
        Prepared::Invalid { stored, result } => return refuse_invalid(conn, actor, stored, result),
        Prepared::Ready {
            kind,
            target,
            hubs,
            allowed,
            role_at_capture,
            op,
            parsed,
        } => (*kind, target, hubs, allowed, role_at_capture, op, parsed),
    };
    let Some(row_id) = claim(conn, actor, op, target, role_at_capture, None)? else {
        return Ok(duplicate(conn, actor, op)?);
    };
    let allowed = match allowed {
        Ok(()) => closed.refuse_at(hubs),
        refused => refused.clone(),
    };
    let outcome = match (allowed, parsed) {
        (Err(reason), _) => Err(Refusal::Forbidden(reason)),
        // Only a role refused before its payload was read has none; it was refused above.
        (Ok(()), None) => Err(Refusal::Forbidden("not authorised".into())),
        (Ok(()), Some(parsed)) if op.offline && kind.waits_for_review_offline(conn, parsed)? => {
            return record(
                conn,
                actor,
                op,
                target,
                row_id,
                role_at_capture,
                Outcome::PendingReview,
            );
        }
        (Ok(()), Some(parsed)) => apply(conn, kind, actor, op, parsed, row_id),
    };
    let outcome = match outcome {
        Ok(applied) => Outcome::Applied(applied),
        Err(Refusal::Rejected(reason)) => Outcome::Rejected(reason, None),
        Err(Refusal::NotFound(reason)) => Outcome::Rejected(reason, Some(RefusalCode::NotFound)),
        Err(Refusal::Clash(reason)) => Outcome::Rejected(reason, Some(RefusalCode::Clash)),
        Err(Refusal::Forbidden(reason)) => Outcome::Rejected(reason, Some(RefusalCode::Forbidden)),
        Err(Refusal::QuotaExhausted(reason)) => Outcome::Rejected(reason, Some(RefusalCode::Quota)),
        Err(Refusal::Conflict {
            reason,
            server_state,
        }) => Outcome::Conflict(reason, server_state),
        Err(Refusal::Database(e)) => match refused_by_constraint(&e) {
            // The savepoint took the operation's writes back; the rest of the batch goes on.
            // A taken identifier clashes with an existing record (the API answers 409).
            Some((reason, taken)) => Outcome::Rejected(reason, taken.then_some(RefusalCode::Clash)),
            None => return Err(AppError::from(e)),
        },
    };
    record(conn, actor, op, target, row_id, role_at_capture, outcome)
}

/// A database rule the operation's own data broke (a unique, foreign-key, check or not-null
/// constraint, or a number too large for its column), in words: that operation is refused, never
/// the whole batch (issue 27: a reused invoice id answered 500 for every operation sent with it,
/// and again at every resend). Anything else — a lost connection, a deadlock — stays an error.
pub(super) fn refused_by_constraint(e: &diesel::result::Error) -> Option<(String, bool)> {
    use diesel::result::{DatabaseErrorKind as K, Error};
    let Error::DatabaseError(kind, info) = e else {
        return None;
    };
    let rule = info
        .constraint_name()
        .or(info.column_name())
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    let message = info.message();
    let words = match kind {
        K::UniqueViolation => "another record already uses this identifier or number",
        K::ForeignKeyViolation => "it refers to a record that does not exist",
        K::CheckViolation => "a value is outside what is allowed",
        K::NotNullViolation => "a required value is missing",
        _ if message.contains("out of range") || message.contains("overflow") => {
            "a number is too large"
        }
        _ => return None,
    };
    Some((
        format!("Not saved: {words}{rule}."),
        matches!(kind, K::UniqueViolation),
    ))
}

/// An operation that did not validate changed nothing, but it is kept and audited: its author
/// sees it in Sync Issues and can fix and resend it. Without an op id there is nothing to key
/// it by, so only the audit row is written.
pub(super) fn refuse_invalid(
    conn: &mut PgConnection,
    actor: &Principal,
    stored: &Operation,
    result: &OpResult,
) -> Result<OpResult, AppError> {
    let role = actor.role.as_str().to_string();
    let target = Target::default();
    if !stored.op_id.is_nil() {
        let errors = serde_json::to_value(&result.errors).ok();
        let Some(row_id) = claim(conn, actor, stored, &target, &role, errors)? else {
            return Ok(duplicate(conn, actor, stored)?);
        };
        let reason = result.reason.clone().unwrap_or_default();
        let outcome = Outcome::Rejected(reason, None);
        let recorded = record(conn, actor, stored, &target, row_id, &role, outcome)?;
        return Ok(OpResult {
            errors: result.errors.clone(),
            ..recorded
        });
    }
    let mut entry = actor
        .audit_entry(audit_action(&stored.kind))
        .outcome("rejected");
    entry.offline = stored.offline;
    entry.after =
        Some(json!({ "kind": stored.kind, "payload": stored.payload, "reason": result.reason }));
    audit::record(conn, &entry)?;
    Ok(result.clone())
}

/// The audit action of an operation: its kind, or one name for every kind nobody knows (the
/// audit log's actions are a closed vocabulary; the unknown name is kept in the row's change).
pub(super) fn audit_action(kind: &str) -> &str {
    if registry::find(kind).is_some() {
        kind
    } else {
        "operation.unknown_kind"
    }
}
