//! `sale.confirm` (stock leaves through the ledger, serialized items RESERVED → SOLD;
//! irreversible), `sale.cancel` (drafts only; reserved items go back) and the return of a
//! confirmed sale's goods when its invoice is credited.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{lines, state, Sale};
use crate::auth::permissions::Permission;
use crate::inventory::ledger::{self, Move};
use crate::schema::sales;
use crate::sync::kind::{missing_record, reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

use super::cart::{line_items, load_for_update, loaded, release, set_item_status};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RefPayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
}

pub(super) fn ref_target(p: &RefPayload) -> Result<Target, Vec<FieldError>> {
    Ok(Target {
        hub_id: Some(p.hub_id),
        record_id: Some(p.sale_id),
    })
}

pub(super) fn ref_draft(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    p: &RefPayload,
    verb: &str,
) -> Result<Sale, Refusal> {
    let sale = load_for_update(conn, p.sale_id, p.hub_id)?;
    if !super::visible_to(ctx.actor, sale.hub_id, sale.customer_id) {
        return Err(missing_record(conn, sale.id, "sale"));
    }
    if sale.status != "draft" {
        return Err(Refusal::Clash(format!(
            "only drafts can be {verb}; this sale is {}",
            sale.status
        )));
    }
    Ok(sale)
}

pub struct ConfirmSale;

pub static CONFIRM_SALE: Spec = Spec {
    name: "sale.confirm",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale confirmed",
    entry: "Sale confirmation",
    form: None,
    again: Some("sales/{id}"),
};

impl Kind for ConfirmSale {
    type Payload = RefPayload;

    fn spec(&self) -> &Spec {
        &CONFIRM_SALE
    }
    /// Captured offline, a cart with a changed price, a discount, a free item or a price
    /// below cost waits for a manager; a cart at list prices is final.
    fn waits_for_review_offline(
        &self,
        conn: &mut PgConnection,
        p: &RefPayload,
    ) -> QueryResult<bool> {
        Ok(lines(conn, p.sale_id)?.iter().any(|l| l.priced().guarded()))
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
        let sale = ref_draft(conn, ctx, p, "confirmed")?;
        let lines = lines(conn, sale.id)?;
        if lines.is_empty() {
            return reject("add at least one line before confirming the sale");
        }
        if !super::sellable_customer(conn, ctx.actor, sale.hub_id, sale.customer_id)? {
            return Err(Refusal::Forbidden(
                "this customer is not one you sell to at this hub".into(),
            ));
        }
        let before = state(conn, &sale)?;
        let items = line_items(conn, sale.id)?;
        for line in &lines {
            // The flags of whoever confirms hold for every line, whoever priced it.
            if let Some(reason) = line.priced().refusal(&ctx.actor.flags) {
                return Err(Refusal::Forbidden(format!(
                    "{reason} (line {})",
                    line.line_no
                )));
            }
            match line
                .item_id
                .and_then(|id| items.iter().find(|i| i.id == id))
            {
                Some(item) => {
                    if item.status != "RESERVED" || item.hub_id != sale.hub_id {
                        return Err(Refusal::Clash(format!(
                            "line {}: the item {} is {}",
                            line.line_no, item.serial_number, item.status
                        )));
                    }
                    let price = line.amounts().net;
                    set_item_status(conn, ctx, item, "SELL", "SOLD", sale.id, Some(price))?;
                }
                None => {
                    ledger::apply(
                        conn,
                        &Move {
                            hub_id: sale.hub_id,
                            variant_id: line.variant_id,
                            delta: -line.quantity,
                            reason: "sale",
                            operation_row: Some(ctx.operation_row),
                            actor_id: Some(ctx.actor.user_id),
                        },
                    )?;
                }
            }
        }
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::status.eq("confirmed"),
                sales::confirmed_by.eq(ctx.actor.user_id),
                sales::confirmed_at.eq(diesel::dsl::now),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        let after = loaded(conn, sale.id)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            events: vec![
                ("stock".into(), json!({ "hub_id": sale.hub_id })),
                (
                    "sale.confirmed".into(),
                    json!({ "sale_id": sale.id, "hub_id": sale.hub_id, "customer_id": sale.customer_id }),
                ),
            ],
        })
    }
}

/// Puts a confirmed sale's goods back: stock through the ledger, sold items AVAILABLE again.
pub fn return_goods(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
) -> Result<(), Refusal> {
    let items = line_items(conn, sale.id)?;
    for line in lines(conn, sale.id)? {
        match line
            .item_id
            .and_then(|id| items.iter().find(|i| i.id == id))
        {
            Some(item) if item.status == "SOLD" && item.hub_id == sale.hub_id => {
                set_item_status(conn, ctx, item, "RETURN", "AVAILABLE", sale.id, None)?;
            }
            Some(item) => {
                return Err(Refusal::Clash(format!(
                    "the item {} is {} now and cannot be returned",
                    item.serial_number, item.status
                )))
            }
            None => {
                ledger::apply(
                    conn,
                    &Move {
                        hub_id: sale.hub_id,
                        variant_id: line.variant_id,
                        delta: line.quantity,
                        reason: "sale_return",
                        operation_row: Some(ctx.operation_row),
                        actor_id: Some(ctx.actor.user_id),
                    },
                )?;
            }
        }
    }
    Ok(())
}

pub struct CancelSale;

pub static CANCEL_SALE: Spec = Spec {
    name: "sale.cancel",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale cancelled",
    entry: "Sale cancellation",
    form: None,
    again: Some("sales/{id}"),
};

impl Kind for CancelSale {
    type Payload = RefPayload;

    fn spec(&self) -> &Spec {
        &CANCEL_SALE
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
        let sale = ref_draft(conn, ctx, p, "cancelled")?;
        for item in line_items(conn, sale.id)? {
            release(conn, ctx, &item, sale.id)?;
        }
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::status.eq("cancelled"),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(json!({ "status": "draft" })),
            after: Some(json!({ "status": "cancelled" })),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            ..Default::default()
        })
    }
}
