//! Distribution: stock out to recipients. A draft can be edited (field-level merge of
//! concurrent edits) and cancelled; confirming takes the stock out, refuses to drive it
//! negative, and is irreversible.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::ledger::{self};
use crate::auth::permissions::Permission;
use crate::schema::{
    distribution_lines, distributions, product_families, product_identities, product_variants,
};
use crate::sync::kind::{
    check_lines, check_text, fields_changed_since, merge_edit, missing_record, reject, Applied,
    ApplyCtx, Form, Kind, LineInput, Read, Refusal, Spec, Target,
};
use crate::sync::operation::FieldError;

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = distributions)]
pub struct Distribution {
    pub id: Uuid,
    pub hub_id: i64,
    pub recipient: String,
    pub notes: String,
    pub status: String,
    pub version: i32,
    pub created_by: i64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Serialize)]
pub struct LineView {
    pub line_no: i32,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
}

pub fn lines(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<LineView>> {
    distribution_lines::table
        .inner_join(
            product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table)),
        )
        .filter(distribution_lines::distribution_id.eq(id))
        .order(distribution_lines::line_no)
        .select((
            distribution_lines::line_no,
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            distribution_lines::quantity,
        ))
        .load(conn)
}

/// The record as the server holds it (what a conflicting device is shown).
pub fn state(conn: &mut PgConnection, d: &Distribution) -> QueryResult<Value> {
    let lines = lines(conn, d.id)?;
    Ok(
        json!({ "id": d.id, "recipient": d.recipient, "notes": d.notes, "status": d.status, "version": d.version, "lines": lines }),
    )
}

pub(super) fn load_for_update(
    conn: &mut PgConnection,
    id: Uuid,
    hub_id: i64,
) -> Result<Distribution, Refusal> {
    let found: Option<Distribution> = distributions::table
        .find(id)
        .for_update()
        .select(Distribution::as_select())
        .first(conn)
        .optional()?;
    match found {
        None => Err(missing_record(conn, id, "distribution")),
        Some(d) if d.hub_id != hub_id => Err(missing_record(conn, id, "distribution")),
        Some(d) => Ok(d),
    }
}

pub(super) fn write_lines(
    conn: &mut PgConnection,
    id: Uuid,
    lines: &[LineInput],
) -> Result<(), Refusal> {
    diesel::delete(distribution_lines::table.filter(distribution_lines::distribution_id.eq(id)))
        .execute(conn)?;
    for (i, line) in lines.iter().enumerate() {
        let variant_id = ledger::resolve_variant(conn, line)?;
        diesel::insert_into(distribution_lines::table)
            .values((
                distribution_lines::distribution_id.eq(id),
                distribution_lines::line_no.eq(i as i32 + 1),
                distribution_lines::variant_id.eq(variant_id),
                distribution_lines::quantity.eq(line.quantity),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayload {
    pub distribution_id: Uuid,
    pub hub_id: i64,
    pub recipient: String,
    #[serde(default)]
    pub notes: String,
    pub lines: Vec<LineInput>,
}

pub struct CreateDistribution;

pub static CREATE_DISTRIBUTION: Spec = Spec {
    name: "distribution.create",
    permission: Permission::DistributionCreate,
    finalisable_offline: true,
    done: "Distribution drafted",
    entry: "Distribution",
    form: Some(Form {
        path: "distributions",
        read: |at| Read::one(super::distribution_pages::posted(at.hub_id, at.form)),
        list: Some("distributions"),
        pages: &["distributions/new"],
        at_main_hub: true,
    }),
    again: Some("distributions/new"),
};

impl Kind for CreateDistribution {
    type Payload = CreatePayload;

    fn spec(&self) -> &Spec {
        &CREATE_DISTRIBUTION
    }
    fn check(&self, p: &CreatePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_text("recipient", &p.recipient, 200, &mut errors);
        if p.notes.chars().count() > 2000 {
            errors.push(FieldError::new("notes", "at most 2000 characters"));
        }
        check_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.distribution_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &CreatePayload,
    ) -> Result<Applied, Refusal> {
        if distributions::table
            .find(p.distribution_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("a distribution with this id already exists");
        }
        diesel::insert_into(distributions::table)
            .values((
                distributions::id.eq(p.distribution_id),
                distributions::hub_id.eq(p.hub_id),
                distributions::recipient.eq(p.recipient.trim()),
                distributions::notes.eq(p.notes.trim()),
                distributions::created_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        write_lines(conn, p.distribution_id, &p.lines)?;
        let d: Distribution = distributions::table
            .find(p.distribution_id)
            .select(Distribution::as_select())
            .first(conn)?;
        Ok(Applied {
            server_id: Some(d.id.to_string()),
            object_type: "distribution",
            after: Some(state(conn, &d)?),
            result_version: Some(1),
            ..Default::default()
        })
    }
}

/// An edit of a draft: only the fields present change.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayload {
    pub distribution_id: Uuid,
    pub hub_id: i64,
    #[serde(default)]
    pub recipient: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub lines: Option<Vec<LineInput>>,
}

impl UpdatePayload {
    fn fields(&self) -> Vec<String> {
        [
            ("recipient", self.recipient.is_some()),
            ("notes", self.notes.is_some()),
            ("lines", self.lines.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f.to_string())
        .collect()
    }
}

pub struct UpdateDistribution;

pub static UPDATE_DISTRIBUTION: Spec = Spec {
    name: "distribution.update",
    permission: Permission::DistributionCreate,
    finalisable_offline: true,
    done: "Distribution changed",
    entry: "Distribution change",
    form: Some(super::actions::action_form("actions/distribution.update")),
    again: Some("distributions/{id}"),
};

impl Kind for UpdateDistribution {
    type Payload = UpdatePayload;

    fn spec(&self) -> &Spec {
        &UPDATE_DISTRIBUTION
    }
    fn check(&self, p: &UpdatePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(r) = &p.recipient {
            check_text("recipient", r, 200, &mut errors);
        }
        if let Some(lines) = &p.lines {
            check_lines(lines, &mut errors);
        }
        if p.fields().is_empty() {
            errors.push(FieldError::new("payload", "nothing to change"));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.distribution_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &UpdatePayload,
    ) -> Result<Applied, Refusal> {
        let d = load_for_update(conn, p.distribution_id, p.hub_id)?;
        match d.status.as_str() {
            "cancelled" => return reject("the distribution was cancelled meanwhile; the edit was not applied"),
            "confirmed" => return reject("the distribution was confirmed meanwhile; confirmed distributions cannot be edited"),
            _ => {}
        }
        let mine = p.fields();
        merge_edit(
            conn,
            ctx.op.base_version,
            d.version,
            |conn, base| {
                let theirs = fields_changed_since(conn, d.id, base)?;
                Ok(mine
                    .iter()
                    .filter(|f| theirs.contains(f))
                    .cloned()
                    .collect())
            },
            |conn| state(conn, &d),
        )?;
        let before = state(conn, &d)?;
        let version = d.version + 1;
        diesel::update(distributions::table.find(d.id))
            .set((
                distributions::recipient.eq(p
                    .recipient
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or(&d.recipient)),
                distributions::notes.eq(p.notes.as_deref().map(str::trim).unwrap_or(&d.notes)),
                distributions::version.eq(version),
                distributions::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if let Some(lines) = &p.lines {
            write_lines(conn, d.id, lines)?;
        }
        let after: Distribution = distributions::table
            .find(d.id)
            .select(Distribution::as_select())
            .first(conn)?;
        Ok(Applied {
            server_id: Some(d.id.to_string()),
            object_type: "distribution",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: mine,
            result_version: Some(version),
            ..Default::default()
        })
    }
}
