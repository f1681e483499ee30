//! The forms a device may queue offline, by the address they are posted to. The service worker
//! replays a queue in batches through `POST /api/v1/sync`, each entry as the form it saved
//! (`{"form": {"action", "body"}}`); this turns such an entry into the operations its form's
//! handler would have made, with the same function the handler uses.
//!
//! The addresses are those the kinds declare (`Spec::form`); the service worker's `QUEUEABLE`
//! pattern is made from the same list (`registry::queueable_pattern`).

use super::forms;
use super::kind::FormAt;
use super::operation::{FieldError, OpResult, Operation};
use super::registry;
use crate::ui::form::FormFields;

/// A queued form as the service worker sends it.
#[derive(serde::Deserialize)]
pub struct QueuedForm {
    /// The path the form was posted to, e.g. `/hubs/3/intakes`.
    pub action: String,
    /// The form's urlencoded body, with the capture time and device id set by the device.
    pub body: String,
}

/// The operations one queued form stands for, in order. A `Then` step is sent only when the
/// one before it was applied (a cart confirmed in the same entry).
pub enum Step {
    First(Operation),
    Then(Operation),
}

/// Reads a queued form: its operations, or the result that refuses it.
pub fn resolve(queued: &QueuedForm) -> Result<Vec<Step>, Box<OpResult>> {
    let form = FormFields::parse(queued.body.as_bytes()).map_err(|e| refused(&e.to_string()))?;
    let path = queued.action.trim_matches('/');
    // Under a hub, the address names it; a root form (the warehouse's scanner pages) carries
    // it in its `hub_id` field (none for a form whose record decides it).
    let (hub_id, address) = match path.strip_prefix("hubs/") {
        Some(under) => {
            let (hub, rest) = under
                .split_once('/')
                .ok_or_else(|| not_a_form(&queued.action))?;
            let hub = hub
                .parse::<i64>()
                .map_err(|_| refused("not a hub of yours"))?;
            (hub, rest.to_string())
        }
        None => (
            form.text("hub_id").parse::<i64>().unwrap_or(0),
            format!("/{path}"),
        ),
    };
    let (kind, declared, id, action) =
        registry::form_at(&address).ok_or_else(|| not_a_form(&queued.action))?;
    let read = (declared.read)(&FormAt {
        hub_id,
        kind: kind.name(),
        id: &id,
        action: &action,
        form: &form,
    })
    .ok_or_else(|| not_a_form(&queued.action))?;
    let mut steps = vec![Step::First(forms::prepared(true, &form, read.first)?)];
    if let Some((fields, posted)) = read.then {
        steps.push(Step::Then(forms::prepared(true, &fields, posted)?));
    }
    Ok(steps)
}

fn refused(message: &str) -> Box<OpResult> {
    Box::new(OpResult::invalid(
        uuid::Uuid::nil(),
        vec![FieldError::new("form", message.to_string())],
    ))
}

fn not_a_form(action: &str) -> Box<OpResult> {
    let shown: String = action
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    refused(&format!(
        "'{shown}' is not a form that can be saved offline"
    ))
}
