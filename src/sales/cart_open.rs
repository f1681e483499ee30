//! `sale.create` and `sale.update` (field merge on the base version).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{sellable_customer, state};
use crate::auth::permissions::Permission;
use crate::schema::{hubs, organisations, sales};
use crate::sync::kind::{
    fields_changed_by_others, merge_edit, missing_record, reject, Applied, ApplyCtx, Form, Kind,
    Read, Refusal, Spec, Target,
};
use crate::sync::operation::FieldError;

use super::cart::{check_notes, check_sale_lines, load_for_update, loaded, SaleLineInput};
use super::cart_lines::{
    add_lines, check_edits, check_total, clashing, edit_lines, replace_lines, LineEdit,
};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
    pub customer_id: i64,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub lines: Vec<SaleLineInput>,
}

pub struct CreateSale;

pub static CREATE_SALE: Spec = Spec {
    name: "sale.create",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale started",
    entry: "Sale",
    form: Some(Form {
        path: "sales",
        read: |at| {
            let (first, then) = super::new_sale::posted_sale(at.hub_id, at.form);
            Some(Read { first, then })
        },
        list: None,
        pages: &["/sales", "sales/new"],
        at_main_hub: true,
    }),
    again: Some("sales/new"),
};

impl Kind for CreateSale {
    type Payload = CreatePayload;

    fn spec(&self) -> &Spec {
        &CREATE_SALE
    }
    fn check(&self, p: &CreatePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_notes(&p.notes, &mut errors);
        check_sale_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.sale_id),
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
        if sales::table
            .find(p.sale_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("a sale with this id already exists");
        }
        if !sellable_customer(conn, ctx.actor, p.hub_id, p.customer_id)? {
            return Err(Refusal::Forbidden(
                "this customer is not one you sell to at this hub".into(),
            ));
        }
        let (organisation_id, tax_rate_bp): (i64, i32) = hubs::table
            .inner_join(organisations::table)
            .filter(hubs::id.eq(p.hub_id))
            .select((organisations::id, organisations::sales_tax_bp))
            .first(conn)?;
        diesel::insert_into(sales::table)
            .values((
                sales::id.eq(p.sale_id),
                sales::organisation_id.eq(organisation_id),
                sales::hub_id.eq(p.hub_id),
                sales::customer_id.eq(p.customer_id),
                sales::notes.eq(p.notes.trim()),
                sales::tax_rate_bp.eq(tax_rate_bp),
                sales::created_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        let sale = loaded(conn, p.sale_id)?;
        add_lines(conn, ctx, &sale, &p.lines)?;
        check_total(conn, &sale)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            after: Some(state(conn, &sale)?),
            result_version: Some(1),
            ..Default::default()
        })
    }
}

/// An edit of a draft: only the fields present change.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// All lines, replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<SaleLineInput>>,
    /// Lines added after the existing ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_lines: Option<Vec<SaleLineInput>>,
    /// Changes to single lines, by line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_lines: Option<Vec<LineEdit>>,
}

impl UpdatePayload {
    /// The fields this edit changes: what field merge compares with other edits.
    fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            ("customer", self.customer_id.is_some()),
            ("notes", self.notes.is_some()),
            ("lines", self.lines.is_some()),
            ("lines+", self.add_lines.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f.to_string())
        .collect();
        for e in self.edit_lines.iter().flatten() {
            out.push(format!("line:{}", e.line_no));
        }
        out
    }
}

pub struct UpdateSale;

pub static UPDATE_SALE: Spec = Spec {
    name: "sale.update",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale changed",
    entry: "Sale change",
    form: Some(Form {
        path: "sales/{id}/{action}",
        read: |at| {
            super::cart_actions::posted_action(at.action, at.hub_id, at.id, at.form)
                .and_then(|(posted, _)| Read::one(posted))
        },
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("sales/{id}"),
};

impl Kind for UpdateSale {
    type Payload = UpdatePayload;

    fn spec(&self) -> &Spec {
        &UPDATE_SALE
    }
    fn check(&self, p: &UpdatePayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(notes) = &p.notes {
            check_notes(notes, &mut errors);
        }
        if let Some(lines) = &p.lines {
            check_sale_lines(lines, &mut errors);
        }
        if let Some(lines) = &p.add_lines {
            check_sale_lines(lines, &mut errors);
        }
        if let Some(edits) = &p.edit_lines {
            check_edits(edits, &mut errors);
        }
        if p.fields().is_empty() {
            errors.push(FieldError::new("payload", "nothing to change"));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.sale_id),
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
        let sale = load_for_update(conn, p.sale_id, p.hub_id)?;
        if !super::visible_to(ctx.actor, sale.hub_id, sale.customer_id) {
            return Err(missing_record(conn, sale.id, "sale"));
        }
        if sale.status != "draft" {
            return reject(format!(
                "the sale is {} meanwhile; only drafts can be edited",
                sale.status
            ));
        }
        let mine = p.fields();
        merge_edit(
            conn,
            ctx.op.base_version,
            sale.version,
            |conn, base| {
                let theirs = fields_changed_by_others(conn, sale.id, base, ctx)?;
                Ok(clashing(&mine, &theirs)
                    .into_iter()
                    .map(String::from)
                    .collect())
            },
            |conn| state(conn, &sale),
        )?;
        if let Some(customer_id) = p.customer_id {
            if !sellable_customer(conn, ctx.actor, sale.hub_id, customer_id)? {
                return Err(Refusal::Forbidden(
                    "this customer is not one you sell to at this hub".into(),
                ));
            }
        }
        let before = state(conn, &sale)?;
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::customer_id.eq(p.customer_id.unwrap_or(sale.customer_id)),
                sales::notes.eq(p.notes.as_deref().map(str::trim).unwrap_or(&sale.notes)),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if let Some(lines) = &p.lines {
            replace_lines(conn, ctx, &sale, lines)?;
        }
        if let Some(edits) = &p.edit_lines {
            edit_lines(conn, ctx, &sale, edits)?;
        }
        if let Some(lines) = &p.add_lines {
            add_lines(conn, ctx, &sale, lines)?;
        }
        check_total(conn, &sale)?;
        let after = loaded(conn, sale.id)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: mine,
            result_version: Some(version),
            ..Default::default()
        })
    }
}
