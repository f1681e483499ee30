//! The forms a device may queue offline, by the address they are posted to. The service worker
//! replays a queue in batches through `POST /api/v1/sync`, each entry as the form it saved
//! (`{"form": {"action", "body"}}`); this turns such an entry into the operations its form's
//! handler would have made, with the same function the handler uses.
//!
//! The addresses match the service worker's `QUEUEABLE` pattern (assets/sw.js).

use super::forms::{self, Posted};
use super::operation::{FieldError, OpResult, Operation};
use crate::inventory::{
    actions, adjust_pages, distribution_pages, intake_pages, needs_pages, transfer_pages,
};
use crate::sales::pages as sales;
use crate::web::form::FormFields;

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
    let parts: Vec<&str> = queued.action.trim_matches('/').split('/').collect();
    let hub = |text: &str| {
        text.parse::<i64>()
            .map_err(|_| refused("not a hub of yours"))
    };
    let (first, then): (Posted, Option<(FormFields, Posted)>) = match parts.as_slice() {
        ["hubs", h, "intakes"] => (intake_pages::posted(hub(h)?, &form), None),
        ["hubs", h, "distributions"] => (distribution_pages::posted(hub(h)?, &form), None),
        ["hubs", h, "needs-lists"] => (needs_pages::posted(hub(h)?, &form), None),
        ["hubs", h, "transfers"] => (transfer_pages::posted(hub(h)?, &form), None),
        ["hubs", h, "adjustments"] => (adjust_pages::posted(hub(h)?, &form), None),
        ["hubs", h, "reorder-levels"] => {
            (adjust_pages::posted_reorder_levels(hub(h)?, &form), None)
        }
        ["hubs", h, "actions", kind] => (
            actions::posted(kind, hub(h)?, &form).ok_or_else(|| not_a_form(&queued.action))?,
            None,
        ),
        ["hubs", h, "sales"] => sales::posted_sale(hub(h)?, &form),
        ["hubs", h, "sales", sale, action] => (
            sales::posted_action(action, hub(h)?, sale, &form)
                .ok_or_else(|| not_a_form(&queued.action))?
                .0,
            None,
        ),
        _ => return Err(not_a_form(&queued.action)),
    };
    let mut steps = vec![Step::First(forms::prepared(true, &form, first)?)];
    if let Some((fields, posted)) = then {
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
