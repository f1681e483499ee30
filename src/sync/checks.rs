//! The pipeline's checks before anything is written: the payload's shape and text (step 1),
//! the role, scope and hub as of now (step 2), and a replay's capture envelope (step 2b).

use chrono::Utc;
use diesel::prelude::*;
use serde_json::Value;

use super::any_kind::{AnyKind, Parsed};
use super::envelope::{self, Envelope};
use super::kind::Target;
use super::operation::{FieldError, Operation};
use crate::auth::principal::Principal;
use crate::schema::hubs;
use crate::state::AppState;

use super::pipeline::{Prepared, ENVELOPE_MAX_AGE_DAYS};

/// Step 1: the payload's shape and values, and the operation's own fields.
pub(super) fn validate(
    kind: &dyn AnyKind,
    op: &Operation,
) -> Result<(Target, Parsed), Vec<FieldError>> {
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
    kind.read(&op.payload)
}

/// A character no text field may hold: every control character but tab and line breaks, the
/// controls that turn text around (embeddings, overrides, isolates: "Trojan Source"), and the
/// invisible ones that hold no letter (zero-width space, word joiner, byte-order mark), so a
/// name cannot look empty, or like another, while it is not. Shared by every form.
pub fn is_refused_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}'
        )
}

pub(super) fn has_control(text: &str) -> bool {
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
            "contains a control character (such as NUL), or an invisible one that turns or hides text; remove it",
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
pub(super) fn storable(value: &Value) -> Value {
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
pub(super) fn touched_hubs(kind: &dyn AnyKind, target: &Target, parsed: &Parsed) -> Vec<i64> {
    target
        .hub_id
        .into_iter()
        .chain(kind.extra_hubs(parsed))
        .collect()
}

/// Step 2c: nothing is recorded at a deactivated hub, online or at replay. Read once per
/// chunk, in its transaction, for every hub its operations touch (one statement, not one per
/// operation).
pub(super) struct ClosedHubs(Vec<(i64, String)>);

pub(super) fn closed_hubs(conn: &mut PgConnection, chunk: &[Prepared]) -> QueryResult<ClosedHubs> {
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
    pub(super) fn refuse_at(&self, touched: &[i64]) -> Result<(), String> {
        match self.0.iter().find(|(id, _)| touched.contains(id)) {
            Some((_, name)) => Err(format!(
                "{name} is deactivated; nothing more can be recorded there"
            )),
            None => Ok(()),
        }
    }
}

/// Step 2: role, hub scope and flags as of now (never as of capture).
pub(super) fn authorise(kind: &dyn AnyKind, actor: &Principal, hubs: &[i64]) -> Result<(), String> {
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
pub(super) fn check_envelope(
    state: &AppState,
    kind: &dyn AnyKind,
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
