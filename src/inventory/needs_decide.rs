//! `needs_list.decide`: a manager approves (with the quantities approved, and a transfer to
//! fill them if they choose) or rejects a submitted needs list. Never finalised offline.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::permissions::Permission;
use crate::schema::{needs_list_lines, needs_lists, transfer_lines, transfers};
use crate::sync::kind::{reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target, MAX_QUANTITY};
use crate::sync::operation::FieldError;

use super::needs::{lines, load_for_update};

#[derive(Debug, Deserialize, Serialize)]
pub struct ApprovedLine {
    pub line_no: i32,
    pub approved_qty: i64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DecidePayload {
    pub needs_list_id: Uuid,
    pub hub_id: i64,
    /// "approve" or "reject".
    pub decision: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Adjusted quantities; lines not named are approved as requested.
    #[serde(default)]
    pub lines: Vec<ApprovedLine>,
    /// Raise a transfer from this hub for the approved quantities.
    #[serde(default)]
    pub transfer_from_hub_id: Option<i64>,
    /// The id for that transfer (client-generated, so later operations can refer to it).
    #[serde(default)]
    pub transfer_id: Option<Uuid>,
}

pub struct DecideNeedsList;

pub static DECIDE_NEEDS_LIST: Spec = Spec {
    name: "needs_list.decide",
    permission: Permission::NeedsListApprove,
    finalisable_offline: false,
    done: "Needs list decided",
    entry: "Needs list decision",
    form: Some(super::actions::action_form("actions/needs_list.decide")),
    again: Some("needs-lists/{id}"),
};

impl Kind for DecideNeedsList {
    type Payload = DecidePayload;

    fn spec(&self) -> &Spec {
        &DECIDE_NEEDS_LIST
    }
    fn check(&self, p: &DecidePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !matches!(p.decision.as_str(), "approve" | "reject") {
            errors.push(FieldError::new("decision", "must be 'approve' or 'reject'"));
        }
        if p.decision == "reject" && p.note.as_deref().map(str::trim).unwrap_or("").is_empty() {
            errors.push(FieldError::new(
                "note",
                "say why the needs list is rejected",
            ));
        }
        if p.lines
            .iter()
            .any(|l| !(0..=MAX_QUANTITY).contains(&l.approved_qty))
        {
            errors.push(FieldError::new(
                "lines",
                format!("approved quantities are 0 to {MAX_QUANTITY}"),
            ));
        }
        if p.transfer_from_hub_id.is_some() && p.transfer_id.is_none() {
            errors.push(FieldError::new(
                "transfer_id",
                "give the new transfer an id",
            ));
        }
        if p.transfer_from_hub_id == Some(p.hub_id) {
            errors.push(FieldError::new(
                "transfer_from_hub_id",
                "a hub cannot supply itself",
            ));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.needs_list_id),
            })
        } else {
            Err(errors)
        }
    }
    fn extra_hubs(&self, p: &DecidePayload) -> Vec<i64> {
        p.transfer_from_hub_id.into_iter().collect()
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &DecidePayload,
    ) -> Result<Applied, Refusal> {
        let n = load_for_update(conn, p.needs_list_id, p.hub_id)?;
        if n.status != "submitted" {
            return reject(format!(
                "the needs list is {} — only submitted lists can be decided",
                n.status
            ));
        }
        let approve = p.decision == "approve";
        let mut transfer = None;
        if approve {
            let current = lines(conn, n.id)?;
            for line in &current {
                let qty = p
                    .lines
                    .iter()
                    .find(|l| l.line_no == line.line_no)
                    .map(|l| l.approved_qty)
                    .unwrap_or(line.requested_qty);
                diesel::update(needs_list_lines::table.find((n.id, line.line_no)))
                    .set(needs_list_lines::approved_qty.eq(qty))
                    .execute(conn)?;
            }
            if let (Some(from), Some(tid)) = (p.transfer_from_hub_id, p.transfer_id) {
                diesel::insert_into(transfers::table)
                    .values((
                        transfers::id.eq(tid),
                        transfers::from_hub_id.eq(from),
                        transfers::to_hub_id.eq(n.hub_id),
                        transfers::status.eq("approved"),
                        transfers::needs_list_id.eq(n.id),
                        transfers::requested_by.eq(n.created_by),
                        transfers::approved_by.eq(ctx.actor.user_id),
                    ))
                    .execute(conn)?;
                let mut line_no = 0;
                for line in lines(conn, n.id)? {
                    let qty = line.approved_qty.unwrap_or(0);
                    if qty > 0 {
                        line_no += 1;
                        diesel::insert_into(transfer_lines::table)
                            .values((
                                transfer_lines::transfer_id.eq(tid),
                                transfer_lines::line_no.eq(line_no),
                                transfer_lines::variant_id.eq(line.variant_id),
                                transfer_lines::quantity.eq(qty),
                            ))
                            .execute(conn)?;
                    }
                }
                transfer = Some(tid);
            }
        }
        let status = if approve { "approved" } else { "rejected" };
        let version = n.version + 1;
        diesel::update(needs_lists::table.find(n.id))
            .set((
                needs_lists::status.eq(status),
                needs_lists::decided_by.eq(ctx.actor.user_id),
                needs_lists::decided_at.eq(diesel::dsl::now),
                needs_lists::decision_note.eq(p.note.as_deref().map(str::trim)),
                needs_lists::transfer_id.eq(transfer),
                needs_lists::version.eq(version),
                needs_lists::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(n.id.to_string()),
            object_type: "needs_list",
            before: Some(json!({"status": n.status})),
            after: Some(json!({"status": status, "transfer_id": transfer, "note": p.note})),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            events: vec![(
                "needs_list".into(),
                json!({ "hub_id": n.hub_id, "status": status }),
            )],
        })
    }
}
