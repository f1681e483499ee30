//! HTML forms as operations. A form that may be used offline carries a hidden op id, a signed
//! capture envelope and (for edits) the base version; posting it — online, or replayed later by
//! the service worker — makes the same `Operation` that `POST /api/v1/sync` makes.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::envelope::{self, Envelope};
use super::operation::{FieldError, OpResult, OpStatus, Operation};
use crate::auth::principal::Principal;
use crate::config::Settings;
use crate::ui::form::FormFields;
use crate::ui::layout::FlashKind;
use crate::ui::page::redirect_with_flash;

/// The header the service worker adds when it replays a queued form (authentication reads it
/// to let a replay through without a fresh CSRF token).
pub use crate::auth::csrf::REPLAY_HEADER;

pub use super::form_flow::{
    created_location, own_hub, post, post_at_hub, Answer, PostedBy, Refused, Then,
};
pub use super::form_parts::{
    basics, create_meta, line_rows, line_rows_with_errors, lines, lines_signature, price,
    status_after, stock_options, FormBasics, LineRow,
};

/// Hidden fields of an offline-capable form.
#[derive(Clone, Debug, Serialize)]
pub struct OpMeta {
    pub op_id: Uuid,
    /// The client id of the record the form creates (or the record it edits).
    pub record_id: Uuid,
    pub envelope: String,
    pub base_version: Option<i32>,
    pub kind: &'static str,
    /// The refused entry this form corrects, carried over when a correction is refused again
    /// and shown again, so the attempt that applies still closes the first refusal.
    pub corrects: Option<Uuid>,
}

impl OpMeta {
    pub fn new(
        settings: &Settings,
        user: &Principal,
        kind: &'static str,
        hub_id: i64,
        record_id: Option<Uuid>,
        base_version: Option<i32>,
    ) -> Self {
        Self::scoped(settings, user, kind, Some(hub_id), record_id, base_version)
    }

    /// A form whose envelope names no hub: the catalog's (online-only kinds, whose envelope is
    /// never checked), and the warehouse's scanner forms, whose hub is chosen on the form or
    /// follows the item (scope is checked at replay as at any post). The op id still makes a
    /// double submit apply once.
    pub fn unscoped(
        settings: &Settings,
        user: &Principal,
        kind: &'static str,
        form: Option<&FormFields>,
    ) -> Self {
        let record = form.and_then(|f| f.text("record_id").parse().ok());
        Self::scoped(settings, user, kind, None, record, None).correcting(form)
    }

    fn scoped(
        settings: &Settings,
        user: &Principal,
        kind: &'static str,
        hub_id: Option<i64>,
        record_id: Option<Uuid>,
        base_version: Option<i32>,
    ) -> Self {
        let env = Envelope {
            user_id: user.user_id,
            role: user.role.as_str().into(),
            hub_id,
            kind: kind.into(),
            schema: 1,
            base_version,
            issued_at: Utc::now().timestamp(),
        };
        OpMeta {
            op_id: Uuid::new_v4(),
            record_id: record_id.unwrap_or_else(Uuid::new_v4),
            envelope: envelope::sign(settings.secret_key.expose(), &env),
            base_version,
            kind,
            corrects: None,
        }
    }

    fn correcting(mut self, form: Option<&FormFields>) -> Self {
        self.corrects = form.and_then(|f| f.text("corrects").parse().ok());
        self
    }

    /// The same form again after a refusal: a new op id (the old one is spent), same record.
    pub fn retry(
        settings: &Settings,
        user: &Principal,
        form: &FormFields,
        kind: &'static str,
        hub_id: i64,
        base_version: Option<i32>,
    ) -> Self {
        let record = form.text("record_id").parse().ok();
        Self::new(settings, user, kind, hub_id, record, base_version).correcting(Some(form))
    }
}

pub fn is_replay(req: &HttpRequest) -> bool {
    req.headers().contains_key(REPLAY_HEADER)
}

pub(super) fn wants_json(req: &HttpRequest) -> bool {
    is_replay(req)
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// What a posted form stands for: an operation's kind and payload, and the errors found while
/// reading its fields. Each offline-capable form has one function that makes it, used by its
/// handler and by the batch replay (`form_routes`), so both read a form the same way.
#[derive(Debug)]
pub struct Posted {
    pub kind: String,
    pub payload: serde_json::Value,
    pub errors: Vec<FieldError>,
    /// A base version the form's fields carry themselves (else its `base_version` field).
    pub base_version: Option<i32>,
}

impl Posted {
    pub fn new(kind: &str, payload: serde_json::Value, errors: Vec<FieldError>) -> Self {
        Posted {
            kind: kind.to_string(),
            payload,
            errors,
            base_version: None,
        }
    }
}

/// Builds the operation a posted form stands for. Errors name the hidden fields that were bad.
/// `offline`: the form was queued on a device and is being replayed.
pub fn operation(
    offline: bool,
    form: &FormFields,
    kind: &str,
    payload: serde_json::Value,
) -> Result<Operation, Vec<FieldError>> {
    let mut errors = Vec::new();
    let op_id = form
        .text("op_id")
        .parse::<Uuid>()
        .map_err(|_| {
            errors.push(FieldError::new(
                "op_id",
                "missing or not a UUID; reload the form",
            ))
        })
        .unwrap_or_default();
    let base_version = match form.text("base_version").as_str() {
        "" => None,
        v => v
            .parse()
            .map_err(|_| errors.push(FieldError::new("base_version", "not a number")))
            .ok(),
    };
    // A replay keeps the time it was captured on the device; an online post happens now.
    let captured_at = match (offline, form.text("captured_at").as_str()) {
        (true, v) if !v.is_empty() => v
            .parse::<DateTime<Utc>>()
            .map_err(|_| errors.push(FieldError::new("captured_at", "not a timestamp")))
            .unwrap_or_else(|_| Utc::now()),
        _ => Utc::now(),
    };
    // Only a replay comes from a device's queue; the device counts what it queued.
    let device_id = Some(form.text("device_id")).filter(|d| offline && !d.is_empty());
    let envelope = Some(form.text("envelope")).filter(|e| !e.is_empty());
    // Sent again from Sync Issues ("Edit and resend"): names the refused entry it corrects.
    let corrects = match form.text("corrects").as_str() {
        "" => None,
        v => v
            .parse::<Uuid>()
            .map_err(|_| errors.push(FieldError::new("corrects", "not a UUID")))
            .ok(),
    };
    if errors.is_empty() {
        Ok(Operation {
            op_id,
            kind: kind.to_string(),
            payload,
            base_version,
            captured_at,
            device_id,
            offline,
            envelope,
            corrects,
        })
    } else {
        Err(errors)
    }
}

/// How a form post ends: JSON for the service worker or a client that asks for it; for people,
/// a redirect to `location` with a message. `None`: show the form again with `form_errors`.
pub fn respond(
    req: &HttpRequest,
    settings: &Settings,
    result: &OpResult,
    location: &str,
    done: &str,
) -> Option<HttpResponse> {
    if wants_json(req) {
        let status = if result.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return Some(HttpResponse::build(status).json(result));
    }
    Some(match result.status {
        OpStatus::Applied => redirect_with_flash(settings, location, FlashKind::Success, done),
        // Sent again after it was refused (the same form posted twice): still refused.
        OpStatus::Duplicate if result.original_status == Some(OpStatus::Rejected) => return None,
        OpStatus::Duplicate => redirect_with_flash(
            settings,
            location,
            FlashKind::Info,
            "This was already saved; nothing was changed.",
        ),
        OpStatus::PendingReview => redirect_with_flash(
            settings,
            location,
            FlashKind::Warning,
            "Saved — awaiting online confirmation by a manager.",
        ),
        OpStatus::Conflict => redirect_with_flash(
            settings,
            "/sync-issues",
            FlashKind::Warning,
            &format!(
                "Not applied: {}. It is in Sync Issues for review.",
                result.reason.clone().unwrap_or_default()
            ),
        ),
        OpStatus::Rejected => return None,
    })
}

/// The messages to show above a form that was refused.
pub fn form_errors(result: &OpResult) -> Vec<FieldError> {
    if result.errors.is_empty() {
        vec![FieldError::new(
            "payload",
            result
                .reason
                .clone()
                .unwrap_or_else(|| "the entry was refused".into()),
        )]
    } else {
        result.errors.clone()
    }
}

/// The operation of a posted form, or the result that refuses it when its fields did not parse.
/// (The refusal is boxed: it is large and the operation is the common case.)
pub fn prepared(
    offline: bool,
    form: &FormFields,
    posted: Posted,
) -> Result<Operation, Box<OpResult>> {
    let Posted {
        kind,
        payload,
        mut errors,
        base_version,
    } = posted;
    match operation(offline, form, &kind, payload) {
        Ok(op) if errors.is_empty() => Ok(Operation {
            base_version: base_version.or(op.base_version),
            ..op
        }),
        Ok(op) => Err(Box::new(OpResult::invalid(op.op_id, errors))),
        Err(mut e) => {
            errors.append(&mut e);
            Err(Box::new(OpResult::invalid(Uuid::nil(), errors)))
        }
    }
}

/// Runs a posted form through the pipeline (or refuses it when its fields did not parse).
pub async fn submit(
    state: &crate::state::AppState,
    user: &crate::auth::extract::CurrentUser,
    req: &HttpRequest,
    form: &FormFields,
    posted: Posted,
) -> Result<OpResult, crate::error::AppError> {
    match prepared(is_replay(req), form, posted) {
        Ok(op) => {
            let result = super::pipeline::submit(state, user.0.clone(), op).await?;
            if !is_replay(req) && result.status == super::operation::OpStatus::Rejected {
                shown_on_form(state, user.user_id, result.op_id).await;
            }
            Ok(result)
        }
        Err(refused) => Ok(*refused),
    }
}

/// A refusal answered to the person at the form, who reads it there and corrects the entry: it
/// is settled, not left waiting as a Sync Issue (replays and the sync API keep theirs).
pub(super) async fn shown_on_form(state: &crate::state::AppState, actor: i64, op_id: Uuid) {
    use crate::schema::operations;
    use diesel::prelude::*;
    let settled = crate::db::run(&state.db, move |conn| {
        diesel::update(
            operations::table
                .filter(operations::actor_id.eq(actor))
                .filter(operations::op_id.eq(op_id))
                .filter(operations::resolved_at.is_null()),
        )
        .set((
            operations::resolved_at.eq(diesel::dsl::now),
            operations::resolution.eq("shown_on_form"),
        ))
        .execute(conn)?;
        Ok(())
    })
    .await;
    if let Err(e) = settled {
        tracing::warn!(error = %e, "a refusal shown on its form stays listed in Sync Issues");
    }
}
