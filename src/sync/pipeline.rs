//! The operation pipeline. Every write of the application goes through `submit`, and each step
//! is one function here: the role's permission (before the payload is read) → validate →
//! authorise (scope) → claim (idempotency) → envelope → finalisable → conflict check + apply
//! (in the kind) → record (operation row, audit row, outbox) → publish.

use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::envelope::{self, Envelope};
use super::kind::{Applied, ApplyCtx, Kind, Refusal, Target};
use super::operation::{FieldError, OpResult, OpStatus, Operation};
use super::registry;
use crate::audit::{self, Entry};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{hubs, operations};
use crate::state::AppState;

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
    Ok(results)
}

/// Operations per transaction in a batch. One commit per operation made the commit's flush
/// dominate; one per whole batch held the rows it touched (a hub's stock level) for the whole
/// batch, so concurrent devices of a hub queued behind each other. A few dozen balances both.
const COMMIT_EVERY: usize = 25;

/// Runs operations in order in one transaction. Two transactions that touch the same rows in
/// a different order can deadlock; PostgreSQL aborts one, which is simply run again.
fn run_chunk(
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
enum Prepared {
    /// It did not validate: it changes nothing, but it is kept and audited.
    Invalid { stored: Operation, result: OpResult },
    Ready {
        kind: &'static dyn Kind,
        target: Target,
        hubs: Vec<i64>,
        allowed: Result<(), String>,
        role_at_capture: String,
        op: Operation,
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

fn prepare(state: &AppState, actor: &Principal, mut op: Operation) -> Prepared {
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
        };
    }
    let checked = match found {
        None => Err(vec![FieldError::new(
            "kind",
            format!("unknown operation kind '{}'", clean_text(&op.kind)),
        )]),
        Some(kind) => validate(kind, &op).map(|target| (kind, target)),
    };
    let (kind, target) = match checked {
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
    let hubs = touched_hubs(kind, &target, &op);
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
    }
}

/// Steps 3 to 6 of one operation, in the caller's transaction.
fn run(
    conn: &mut PgConnection,
    actor: &Principal,
    prepared: &Prepared,
    closed: &ClosedHubs,
) -> Result<OpResult, AppError> {
    let (kind, target, hubs, allowed, role_at_capture, op) = match prepared {
        Prepared::Invalid { stored, result } => return refuse_invalid(conn, actor, stored, result),
        Prepared::Ready {
            kind,
            target,
            hubs,
            allowed,
            role_at_capture,
            op,
        } => (*kind, target, hubs, allowed, role_at_capture, op),
    };
    let Some(row_id) = claim(conn, actor, op, target, role_at_capture, None)? else {
        return Ok(duplicate(conn, actor, op)?);
    };
    let allowed = match allowed {
        Ok(()) => closed.refuse_at(hubs),
        refused => refused.clone(),
    };
    let outcome = match allowed {
        Err(reason) => Err(Refusal::Forbidden(reason)),
        Ok(()) if op.offline && kind.waits_for_review_offline(conn, &op.payload)? => {
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
        Ok(()) => apply(conn, kind, actor, op, row_id),
    };
    let outcome = match outcome {
        Ok(applied) => Outcome::Applied(applied),
        Err(Refusal::Rejected(reason)) => Outcome::Rejected(reason, None),
        Err(Refusal::NotFound(reason)) => Outcome::Rejected(reason, Some("not_found")),
        Err(Refusal::Clash(reason)) => Outcome::Rejected(reason, Some("clash")),
        Err(Refusal::Forbidden(reason)) => Outcome::Rejected(reason, Some("forbidden")),
        Err(Refusal::QuotaExhausted(reason)) => Outcome::Rejected(reason, Some("quota")),
        Err(Refusal::Conflict {
            reason,
            server_state,
        }) => Outcome::Conflict(reason, server_state),
        Err(Refusal::Database(e)) => match refused_by_constraint(&e) {
            // The savepoint took the operation's writes back; the rest of the batch goes on.
            // A taken identifier clashes with an existing record (the API answers 409).
            Some((reason, taken)) => Outcome::Rejected(reason, taken.then_some("clash")),
            None => return Err(AppError::from(e)),
        },
    };
    record(conn, actor, op, target, row_id, role_at_capture, outcome)
}

/// A database rule the operation's own data broke (a unique, foreign-key, check or not-null
/// constraint, or a number too large for its column), in words: that operation is refused, never
/// the whole batch (issue 27: a reused invoice id answered 500 for every operation sent with it,
/// and again at every resend). Anything else — a lost connection, a deadlock — stays an error.
fn refused_by_constraint(e: &diesel::result::Error) -> Option<(String, bool)> {
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
fn refuse_invalid(
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
    let mut entry = Entry::by(actor, audit_action(&stored.kind)).outcome("rejected");
    entry.offline = stored.offline;
    entry.after =
        Some(json!({ "kind": stored.kind, "payload": stored.payload, "reason": result.reason }));
    audit::record(conn, &entry)?;
    Ok(result.clone())
}

/// The audit action of an operation: its kind, or one name for every kind nobody knows (the
/// audit log's actions are a closed vocabulary; the unknown name is kept in the row's change).
fn audit_action(kind: &str) -> &str {
    if registry::find(kind).is_some() {
        kind
    } else {
        "operation.unknown_kind"
    }
}

/// Step 1: the payload's shape and values, and the operation's own fields.
fn validate(kind: &dyn Kind, op: &Operation) -> Result<Target, Vec<FieldError>> {
    let mut errors = Vec::new();
    if op.captured_at > Utc::now() + chrono::Duration::hours(24) {
        errors.push(FieldError::new(
            "captured_at",
            "lies more than a day in the future; check the device clock",
        ));
    }
    if op
        .device_id
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.chars().count() > 64 || has_control(d))
    {
        errors.push(FieldError::new("device_id", "must be 1–64 characters"));
    }
    // PostgreSQL cannot store NUL in text or jsonb, and no field of any kind means a control
    // character: every string of every payload is checked here, once, for all kinds.
    control_characters("", &op.payload, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    kind.validate(&op.payload)
}

/// A control character no text field may hold: all of them but tab and line breaks.
fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn has_control(text: &str) -> bool {
    text.chars().any(is_refused_control)
}

/// Every text in `value` (keys included) without refused control characters, or a field error
/// naming where one is (`lines[2].note`).
pub fn control_characters(path: &str, value: &Value, errors: &mut Vec<FieldError>) {
    let field = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if has_control(s) => errors.push(FieldError::new(
            if path.is_empty() { "payload" } else { path },
            "contains a control character (such as NUL); remove it",
        )),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                control_characters(&format!("{path}[{}]", i + 1), item, errors);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if has_control(key) {
                    errors.push(FieldError::new(
                        clean_text(&field(key)),
                        "the field name contains a control character",
                    ));
                } else {
                    control_characters(&field(key), item, errors);
                }
            }
        }
        _ => {}
    }
}

/// A text made storable: control characters (NUL included) become U+FFFD.
pub fn clean_text(text: &str) -> String {
    text.chars()
        .map(|c| if is_refused_control(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// A payload made storable in jsonb, for keeping what a refused operation said.
fn storable(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(clean_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(storable).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (clean_text(k), storable(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every hub an operation acts at: its target's, and any more its kind names (transfers).
fn touched_hubs(kind: &dyn Kind, target: &Target, op: &Operation) -> Vec<i64> {
    target
        .hub_id
        .into_iter()
        .chain(kind.extra_hubs(&op.payload))
        .collect()
}

/// Step 2c: nothing is recorded at a deactivated hub, online or at replay. Read once per
/// chunk, in its transaction, for every hub its operations touch (one statement, not one per
/// operation).
struct ClosedHubs(Vec<(i64, String)>);

fn closed_hubs(conn: &mut PgConnection, chunk: &[Prepared]) -> QueryResult<ClosedHubs> {
    let mut ids: Vec<i64> = chunk
        .iter()
        .filter_map(|p| match p {
            Prepared::Ready { hubs, .. } => Some(hubs.iter().copied()),
            Prepared::Invalid { .. } => None,
        })
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(ClosedHubs(Vec::new()));
    }
    hubs::table
        .filter(hubs::id.eq_any(ids))
        .filter(hubs::active.eq(false))
        .select((hubs::id, hubs::name))
        .load(conn)
        .map(ClosedHubs)
}

impl ClosedHubs {
    fn refuse_at(&self, touched: &[i64]) -> Result<(), String> {
        match self.0.iter().find(|(id, _)| touched.contains(id)) {
            Some((_, name)) => Err(format!(
                "{name} is deactivated; nothing more can be recorded there"
            )),
            None => Ok(()),
        }
    }
}

/// Step 2: role, hub scope and flags as of now (never as of capture).
fn authorise(kind: &dyn Kind, actor: &Principal, hubs: &[i64]) -> Result<(), String> {
    if !actor.can(kind.permission()) {
        return Err(format!(
            "your role ({}) may not {}",
            actor.role.label(),
            kind.permission().label().to_lowercase()
        ));
    }
    for hub in hubs {
        if !actor.scope.has_hub(*hub) {
            return Err("the hub is outside your scope".into());
        }
    }
    Ok(())
}

/// Step 2b: a replay must carry a genuine, recent envelope issued to this user for this form.
fn check_envelope(
    state: &AppState,
    kind: &dyn Kind,
    actor: &Principal,
    target: &Target,
    op: &Operation,
) -> Result<Option<Envelope>, envelope::EnvelopeError> {
    if !op.offline {
        return Ok(None);
    }
    let expect = envelope::Expect {
        user_id: actor.user_id,
        kind: kind.name(),
        hub_id: target.hub_id,
        accepted_schemas: kind.accepted_schemas(),
        max_age_days: ENVELOPE_MAX_AGE_DAYS,
        now: Utc::now().timestamp(),
    };
    envelope::check(
        state.settings.secret_key.expose(),
        op.envelope.as_deref(),
        &expect,
    )
    .map(Some)
}

/// Step 3: claims (actor, op id). `None` when it was claimed before: a duplicate. Concurrent
/// claims of one key wait on the unique index, so only one of them can go on to apply. An
/// earlier claim by an operation that did not validate changed nothing and is taken over.
fn claim(
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
        ))
        .returning(operations::id)
        .get_result(conn)
        .optional()
}

/// The stored result of an operation seen before, marked as a duplicate.
fn duplicate(conn: &mut PgConnection, actor: &Principal, op: &Operation) -> QueryResult<OpResult> {
    let (status, reason, server_id, server_state, field_errors): (
        String,
        Option<String>,
        Option<String>,
        Option<Value>,
        Option<Value>,
    ) = operations::table
        .filter(operations::actor_id.eq(actor.user_id))
        .filter(operations::op_id.eq(op.op_id))
        .select((
            operations::status,
            operations::reason,
            operations::server_id,
            operations::server_state,
            operations::field_errors,
        ))
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
        code: None,
        record,
        original_status: Some(OpStatus::parse(&status)),
    })
}

/// Step 4–5: conflict checks and domain writes, in a savepoint so a refusal leaves nothing.
fn apply(
    conn: &mut PgConnection,
    kind: &dyn Kind,
    actor: &Principal,
    op: &Operation,
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
    let applied = conn.transaction(|conn| kind.apply(conn, &ctx));
    if applied.is_err() {
        (hooks.forget_since)(mark);
    }
    applied
}

/// An operation row's final state.
struct Settled<'a> {
    row_id: Uuid,
    status: &'a str,
    reason: Option<&'a str>,
    server_id: Option<&'a str>,
    server_state: Option<&'a Value>,
    changed_fields: Vec<Option<String>>,
    result_version: Option<i32>,
}

/// Step 6's three writes in one statement (data-modifying CTEs, each run exactly once): the
/// operation row's final state, its audit row and its outbox events, in order. They were three
/// round trips of the ten an operation costs (issue 14: ingest and the offline drain are bound
/// by statements per operation). The audit row's columns are those `audit::record` writes. The
/// statement stays prepared on its connection (`db::prepared`).
fn settle(
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
             changed_fields = $5, result_version = $6 WHERE id = $7), \
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
    .execute(conn)
    .map(|_| ())
}

enum Outcome {
    Applied(Applied),
    Rejected(String, Option<&'static str>),
    Conflict(String, serde_json::Value),
    PendingReview,
}

/// Step 6: the operation row's final state, exactly one audit row, and the outbox event.
fn record(
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
            code = c.map(str::to_string);
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
    let mut entry = Entry::by(actor, audit_action(&op.kind))
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
    };
    settle(conn, &settled, &entry, events)?;

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
