//! The end of a distribution: `distribution.confirm` (the stock leaves through the ledger;
//! irreversible) and `distribution.cancel` (drafts only).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, Move};
use crate::auth::permissions::Permission;
use crate::schema::distributions;
use crate::sync::kind::{reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

use super::distribution::{lines, load_for_update, state, Distribution};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RefPayload {
    pub distribution_id: Uuid,
    pub hub_id: i64,
}

fn ref_target(p: &RefPayload) -> Result<Target, Vec<FieldError>> {
    Ok(Target {
        hub_id: Some(p.hub_id),
        record_id: Some(p.distribution_id),
    })
}

pub struct ConfirmDistribution;

pub static CONFIRM_DISTRIBUTION: Spec = Spec {
    name: "distribution.confirm",
    permission: Permission::DistributionConfirm,
    finalisable_offline: true,
    done: "Distribution confirmed",
    entry: "Distribution confirmation",
    form: Some(super::actions::action_form("actions/distribution.confirm")),
    again: Some("distributions/{id}"),
};

impl Kind for ConfirmDistribution {
    type Payload = RefPayload;

    fn spec(&self) -> &Spec {
        &CONFIRM_DISTRIBUTION
    }
    fn check(&self, p: &RefPayload) -> Result<Target, Vec<FieldError>> {
        ref_target(p)
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &RefPayload,
    ) -> Result<Applied, Refusal> {
        let d = load_for_update(conn, p.distribution_id, p.hub_id)?;
        if d.status != "draft" {
            return reject(format!("the distribution is already {}", d.status));
        }
        let before = state(conn, &d)?;
        for line in lines(conn, d.id)? {
            ledger::apply(
                conn,
                &Move {
                    hub_id: d.hub_id,
                    variant_id: line.variant_id,
                    delta: -line.quantity,
                    reason: "distribution",
                    operation_row: Some(ctx.operation_row),
                    actor_id: Some(ctx.actor.user_id),
                },
            )?;
        }
        let version = d.version + 1;
        diesel::update(distributions::table.find(d.id))
            .set((
                distributions::status.eq("confirmed"),
                distributions::confirmed_by.eq(ctx.actor.user_id),
                distributions::confirmed_at.eq(diesel::dsl::now),
                distributions::version.eq(version),
                distributions::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        let after: Distribution = distributions::table
            .find(d.id)
            .select(Distribution::as_select())
            .first(conn)?;
        Ok(Applied {
            server_id: Some(d.id.to_string()),
            object_type: "distribution",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            events: vec![("stock".into(), json!({ "hub_id": d.hub_id }))],
        })
    }
}

pub struct CancelDistribution;

pub static CANCEL_DISTRIBUTION: Spec = Spec {
    name: "distribution.cancel",
    permission: Permission::DistributionCreate,
    finalisable_offline: true,
    done: "Distribution cancelled",
    entry: "Distribution cancellation",
    form: Some(super::actions::action_form("actions/distribution.cancel")),
    again: Some("distributions/{id}"),
};

impl Kind for CancelDistribution {
    type Payload = RefPayload;

    fn spec(&self) -> &Spec {
        &CANCEL_DISTRIBUTION
    }
    fn check(&self, p: &RefPayload) -> Result<Target, Vec<FieldError>> {
        ref_target(p)
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        _ctx: &ApplyCtx<'_>,
        p: &RefPayload,
    ) -> Result<Applied, Refusal> {
        let d = load_for_update(conn, p.distribution_id, p.hub_id)?;
        if d.status != "draft" {
            return reject(format!(
                "only drafts can be cancelled; this distribution is {}",
                d.status
            ));
        }
        let version = d.version + 1;
        diesel::update(distributions::table.find(d.id))
            .set((
                distributions::status.eq("cancelled"),
                distributions::version.eq(version),
                distributions::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(d.id.to_string()),
            object_type: "distribution",
            before: Some(json!({"status": "draft"})),
            after: Some(json!({"status": "cancelled"})),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            ..Default::default()
        })
    }
}
