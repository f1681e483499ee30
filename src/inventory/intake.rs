//! Intake: stock received at a hub (donations, deliveries). May be finalised offline: adding
//! to a stock level commutes with every other change.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, Move};
use crate::auth::permissions::Permission;
use crate::schema::{intake_lines, intakes};
use crate::sync::kind::{
    check_lines, check_text, reject, Applied, ApplyCtx, Form, Kind, LineInput, Read, Refusal, Spec,
    Target,
};
use crate::sync::operation::FieldError;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntakePayload {
    pub intake_id: Uuid,
    pub hub_id: i64,
    pub donor: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub received_on: Option<NaiveDate>,
    pub lines: Vec<LineInput>,
}

pub struct CreateIntake;

pub static CREATE_INTAKE: Spec = Spec {
    name: "intake.create",
    permission: Permission::IntakeCreate,
    finalisable_offline: true,
    done: "Intake recorded",
    entry: "Intake",
    form: Some(Form {
        path: "intakes",
        read: |at| Read::one(super::intake_pages::posted(at.hub_id, at.form)),
        list: Some("intakes"),
        pages: &["intakes/new"],
        at_main_hub: true,
    }),
    again: Some("intakes/new"),
};

impl Kind for CreateIntake {
    type Payload = IntakePayload;

    fn spec(&self) -> &Spec {
        &CREATE_INTAKE
    }
    fn defers_stock(&self) -> bool {
        true
    }
    fn check(&self, p: &IntakePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_text("donor", &p.donor, 200, &mut errors);
        if p.reference.as_deref().is_some_and(|r| r.len() > 100) {
            errors.push(FieldError::new("reference", "at most 100 characters"));
        }
        check_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.intake_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &IntakePayload,
    ) -> Result<Applied, Refusal> {
        let received_on = p
            .received_on
            .unwrap_or_else(|| ctx.op.captured_at.date_naive());
        let inserted = diesel::insert_into(intakes::table)
            .values((
                intakes::id.eq(p.intake_id),
                intakes::hub_id.eq(p.hub_id),
                intakes::donor.eq(p.donor.trim()),
                intakes::reference.eq(p
                    .reference
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())),
                intakes::received_on.eq(received_on),
                intakes::created_by.eq(ctx.actor.user_id),
                intakes::operation_id.eq(ctx.operation_row),
            ))
            .on_conflict(intakes::id)
            .do_nothing()
            .execute(conn)?;
        if inserted == 0 {
            return reject("an intake with this id already exists");
        }
        let mut lines_out = Vec::new();
        for (i, line) in p.lines.iter().enumerate() {
            let variant_id = ledger::resolve_variant(conn, line)?;
            diesel::insert_into(intake_lines::table)
                .values((
                    intake_lines::intake_id.eq(p.intake_id),
                    intake_lines::line_no.eq(i as i32 + 1),
                    intake_lines::variant_id.eq(variant_id),
                    intake_lines::quantity.eq(line.quantity),
                    intake_lines::expiry_on.eq(line.expiry_on),
                    intake_lines::lot.eq(line.lot.as_deref()),
                ))
                .execute(conn)?;
            let level = ledger::receive(
                conn,
                &Move {
                    hub_id: p.hub_id,
                    variant_id,
                    delta: line.quantity,
                    reason: "intake",
                    operation_row: Some(ctx.operation_row),
                    actor_id: Some(ctx.actor.user_id),
                },
            )?;
            let mut out = json!({ "variant_id": variant_id, "quantity": line.quantity });
            if let Some(level) = level {
                out["level_after"] = json!(level);
            }
            lines_out.push(out);
        }
        Ok(Applied {
            server_id: Some(p.intake_id.to_string()),
            object_type: "intake",
            after: Some(json!({ "hub_id": p.hub_id, "donor": p.donor.trim(), "lines": lines_out })),
            events: vec![("stock".into(), json!({ "hub_id": p.hub_id }))],
            ..Default::default()
        })
    }
}
