//! Needs lists: sub-hubs and agency hubs say what they need; a logistics manager approves
//! (possibly adjusting quantities, possibly raising a transfer) or rejects. Creating and
//! submitting work offline; the decision is an approval and is never finalised offline.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::ledger;
use crate::auth::permissions::Permission;
use crate::schema::{
    hubs, needs_list_lines, needs_lists, product_families, product_identities, product_variants,
};
use crate::sync::kind::{
    check_lines, check_text, missing_record, reject, Applied, ApplyCtx, Form, Kind, LineInput,
    Read, Refusal, Spec, Target,
};
use crate::sync::operation::FieldError;

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = needs_lists)]
pub struct NeedsList {
    pub id: Uuid,
    pub hub_id: i64,
    pub title: String,
    pub status: String,
    pub version: i32,
    pub created_by: i64,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub transfer_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Serialize)]
pub struct NeedsLine {
    pub line_no: i32,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub requested_qty: i64,
    pub approved_qty: Option<i64>,
}

pub fn lines(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<NeedsLine>> {
    needs_list_lines::table
        .inner_join(
            product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table)),
        )
        .filter(needs_list_lines::needs_list_id.eq(id))
        .order(needs_list_lines::line_no)
        .select((
            needs_list_lines::line_no,
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            needs_list_lines::requested_qty,
            needs_list_lines::approved_qty,
        ))
        .load(conn)
}

pub(super) fn load_for_update(
    conn: &mut PgConnection,
    id: Uuid,
    hub_id: i64,
) -> Result<NeedsList, Refusal> {
    match needs_lists::table
        .find(id)
        .for_update()
        .select(NeedsList::as_select())
        .first::<NeedsList>(conn)
        .optional()?
    {
        Some(n) if n.hub_id == hub_id => Ok(n),
        _ => Err(missing_record(conn, id, "needs list")),
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayload {
    pub needs_list_id: Uuid,
    pub hub_id: i64,
    pub title: String,
    pub lines: Vec<LineInput>,
}

pub struct CreateNeedsList;

pub static CREATE_NEEDS_LIST: Spec = Spec {
    name: "needs_list.create",
    permission: Permission::NeedsListCreate,
    finalisable_offline: true,
    done: "Needs list drafted",
    entry: "Needs list",
    form: Some(Form {
        path: "needs-lists",
        read: |at| Read::one(super::needs_pages::posted(at.hub_id, at.form)),
        list: Some("needs-lists"),
        pages: &["needs-lists/new"],
        at_main_hub: false,
    }),
    again: Some("needs-lists/new"),
};

impl Kind for CreateNeedsList {
    type Payload = CreatePayload;

    fn spec(&self) -> &Spec {
        &CREATE_NEEDS_LIST
    }
    fn check(&self, p: &CreatePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_text("title", &p.title, 200, &mut errors);
        check_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.needs_list_id),
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
        let kind: String = hubs::table.find(p.hub_id).select(hubs::kind).first(conn)?;
        if kind == "main" {
            return reject(
                "needs lists are raised by sub-hubs and agency hubs; a main hub supplies them",
            );
        }
        if needs_lists::table
            .find(p.needs_list_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("a needs list with this id already exists");
        }
        diesel::insert_into(needs_lists::table)
            .values((
                needs_lists::id.eq(p.needs_list_id),
                needs_lists::hub_id.eq(p.hub_id),
                needs_lists::title.eq(p.title.trim()),
                needs_lists::created_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        for (i, line) in p.lines.iter().enumerate() {
            let variant_id = ledger::resolve_variant(conn, line)?;
            diesel::insert_into(needs_list_lines::table)
                .values((
                    needs_list_lines::needs_list_id.eq(p.needs_list_id),
                    needs_list_lines::line_no.eq(i as i32 + 1),
                    needs_list_lines::variant_id.eq(variant_id),
                    needs_list_lines::requested_qty.eq(line.quantity),
                ))
                .execute(conn)?;
        }
        Ok(Applied {
            server_id: Some(p.needs_list_id.to_string()),
            object_type: "needs_list",
            after: Some(json!({ "title": p.title.trim(), "lines": p.lines })),
            result_version: Some(1),
            ..Default::default()
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitPayload {
    pub needs_list_id: Uuid,
    pub hub_id: i64,
}

pub struct SubmitNeedsList;

/// Why a needs list cannot be submitted at a hub where nobody may decide it.
pub const NOBODY_DECIDES: &str = "nobody can decide needs lists of this hub yet: an administrator of your organisation gives a logistics manager this hub (Admin › Users), then submit it again";

pub static SUBMIT_NEEDS_LIST: Spec = Spec {
    name: "needs_list.submit",
    permission: Permission::NeedsListCreate,
    finalisable_offline: true,
    done: "Needs list submitted",
    entry: "Needs list submission",
    form: Some(super::actions::action_form("actions/needs_list.submit")),
    again: Some("needs-lists/{id}"),
};

impl Kind for SubmitNeedsList {
    type Payload = SubmitPayload;

    fn spec(&self) -> &Spec {
        &SUBMIT_NEEDS_LIST
    }
    fn check(&self, p: &SubmitPayload) -> Result<Target, Vec<FieldError>> {
        Ok(Target {
            hub_id: Some(p.hub_id),
            record_id: Some(p.needs_list_id),
        })
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        _ctx: &ApplyCtx<'_>,
        p: &SubmitPayload,
    ) -> Result<Applied, Refusal> {
        let n = load_for_update(conn, p.needs_list_id, p.hub_id)?;
        if n.status != "draft" {
            return reject(format!("the needs list is already {}", n.status));
        }
        // A list nobody can decide would wait for ever: it stays a draft, and the refusal says
        // what to do.
        if crate::auth::scope::who_can(conn, Permission::NeedsListApprove, n.hub_id, 1)?.is_empty()
        {
            return reject(NOBODY_DECIDES);
        }
        let version = n.version + 1;
        diesel::update(needs_lists::table.find(n.id))
            .set((
                needs_lists::status.eq("submitted"),
                needs_lists::submitted_at.eq(diesel::dsl::now),
                needs_lists::version.eq(version),
                needs_lists::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(n.id.to_string()),
            object_type: "needs_list",
            before: Some(json!({"status": "draft"})),
            after: Some(json!({"status": "submitted"})),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            events: vec![(
                "needs_list".into(),
                json!({ "hub_id": n.hub_id, "status": "submitted" }),
            )],
        })
    }
}
