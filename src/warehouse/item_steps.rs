//! One item's later steps: `warehouse.update` (location, cost), and reserve, sell and delete,
//! each one guarded step with the sales seed's price flags.

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{Item, ItemRow};
use crate::auth::permissions::Permission;
use crate::catalog::units_to_cents;
use crate::inventory::items::{book_stock, log, valid_location};
use crate::schema::{inventory_items, product_variants};
use crate::sync::kind::{Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

use super::kinds::{applied, load_item, refuse_travelling, ItemRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIn {
    pub item_id: i64,
    #[serde(default)]
    pub location_code: Option<String>,
    #[serde(default)]
    pub cost_basis: Option<f64>,
}

pub struct Update;

pub static UPDATE: Spec = Spec {
    name: "warehouse.update",
    permission: Permission::WarehouseItemEdit,
    finalisable_offline: true,
    done: "Item changed",
    entry: "Item changed",
    form: None,
    again: None,
};

impl Kind for Update {
    type Payload = UpdateIn;

    fn spec(&self) -> &Spec {
        &UPDATE
    }
    fn check(&self, p: &UpdateIn) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if p.location_code
            .as_deref()
            .is_some_and(|l| !valid_location(l.trim()))
        {
            errors.push(FieldError::new(
                "location_code",
                "1–32 letters, digits or . _ -",
            ));
        }
        if p.cost_basis.is_some_and(|c| units_to_cents(c).is_none()) {
            errors.push(FieldError::new(
                "cost_basis",
                "must be an amount from 0 to 1,000,000,000",
            ));
        }
        if p.location_code.is_none() && p.cost_basis.is_none() {
            errors.push(FieldError::new(
                "payload",
                "give location_code or cost_basis",
            ));
        }
        if errors.is_empty() {
            Ok(Target::default())
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &UpdateIn,
    ) -> Result<Applied, Refusal> {
        let (row, sku) = load_item(conn, ctx, ItemRef::Id(p.item_id))?;
        if p.location_code.is_some() {
            refuse_travelling(&row)?;
        }
        let location = p
            .location_code
            .as_deref()
            .map(str::trim)
            .unwrap_or(&row.location_code)
            .to_string();
        let cost = p
            .cost_basis
            .and_then(units_to_cents)
            .or(row.cost_basis_cents);
        let updated: ItemRow = diesel::update(inventory_items::table.find(row.id))
            .set((
                inventory_items::location_code.eq(&location),
                inventory_items::cost_basis_cents.eq(cost),
                inventory_items::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ItemRow::as_returning())
            .get_result(conn)?;
        log(
            conn,
            ctx,
            &row,
            "UPDATE",
            Some(&row.location_code),
            Some(&location),
            json!({ "cost_basis": p.cost_basis }),
        )?;
        let before = serde_json::to_value(Item::new(row, sku.clone())).ok();
        let item = Item::new(updated, sku);
        let record = serde_json::to_value(&item).unwrap_or_default();
        Ok(applied(
            &item,
            before,
            record,
            &["location_code", "cost_basis"],
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    pub item_id: i64,
    #[serde(default)]
    pub sale_price: Option<f64>,
}

/// The sales flags, checked at apply time (online, at replay, from any entry point) for a price
/// set on an item: free of charge needs `can_add_foc`, below the item's cost
/// `can_sell_below_cost`, and any price other than the variant's list price
/// `can_change_price`. The words are the seed's.
pub(super) fn check_price(
    conn: &mut PgConnection,
    actor: &crate::auth::principal::Principal,
    row: &ItemRow,
    price_cents: i64,
) -> Result<(), Refusal> {
    let (list, variant_cost): (i64, Option<i64>) = product_variants::table
        .find(row.variant_id)
        .select((
            product_variants::listing_price_cents,
            product_variants::cost_cents,
        ))
        .first(conn)?;
    // The item's own cost, else its variant's, as the cart reckons it: an item received
    // without a cost basis was sold below cost here while the cart refused it (issue 27).
    let priced = crate::catalog::pricing::Priced {
        list_cents: list,
        cost_cents: row.cost_basis_cents.or(variant_cost),
        unit_cents: price_cents,
        discount_bp: 0,
        foc: false,
    };
    match priced.refusal(&actor.flags) {
        Some(reason) => Err(Refusal::Forbidden(reason.into())),
        None => Ok(()),
    }
}

/// Reserve, sell and delete: one item, one guarded step.
pub struct Step {
    pub spec: Spec,
}

pub const RESERVE: Step = Step {
    spec: Spec {
        name: "warehouse.reserve",
        permission: Permission::WarehouseSell,
        finalisable_offline: false,
        done: "Item reserved",
        entry: "Item reserved",
        form: None,
        again: None,
    },
};
pub const SELL: Step = Step {
    spec: Spec {
        name: "warehouse.sell",
        permission: Permission::WarehouseSell,
        finalisable_offline: false,
        done: "Item sold",
        entry: "Item sold",
        form: None,
        again: None,
    },
};
pub const DELETE: Step = Step {
    spec: Spec {
        name: "warehouse.delete",
        permission: Permission::WarehouseItemDelete,
        finalisable_offline: false,
        done: "Item deleted",
        entry: "Item deleted",
        form: None,
        again: None,
    },
};

impl Kind for Step {
    type Payload = ItemIn;

    fn spec(&self) -> &Spec {
        &self.spec
    }
    fn check(&self, p: &ItemIn) -> Result<Target, Vec<FieldError>> {
        if self.spec.name == "warehouse.sell"
            && p.sale_price.is_none_or(|s| units_to_cents(s).is_none())
        {
            return Err(vec![FieldError::new(
                "sale_price",
                "a sale needs a price from 0 to 1,000,000,000",
            )]);
        }
        Ok(Target::default())
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &ItemIn,
    ) -> Result<Applied, Refusal> {
        let (row, sku) = load_item(conn, ctx, ItemRef::Id(p.item_id))?;
        let before = serde_json::to_value(Item::new(row.clone(), sku.clone())).ok();
        if let Some(cents) = p.sale_price.and_then(units_to_cents) {
            if self.spec.name != "warehouse.delete" {
                check_price(conn, ctx.actor, &row, cents)?;
            }
        }
        // An item a sale's cart holds is sold by that cart (or released by it first): sold or
        // deleted here, the cart's cancel would once have made it AVAILABLE again, to be sold
        // twice (issue 27).
        if self.spec.name != "warehouse.reserve" {
            if let Some(sale) = held_by_cart(conn, row.id)? {
                return Err(Refusal::Clash(format!(
                    "the item is in a sale in progress ({}); sell it from that sale, or remove it from the sale first",
                    &sale.to_string()[..8]
                )));
            }
        }
        let (action, next) = match (self.spec.name, row.status.as_str()) {
            ("warehouse.reserve", "AVAILABLE") => ("RESERVE", "RESERVED"),
            ("warehouse.sell", "AVAILABLE" | "RESERVED") => ("SELL", "SOLD"),
            // An item entered by mistake is deleted (a reservation made at the counter has no
            // other way back; a cart's is refused above); a sold one stays on record, its
            // history being the sale's trail.
            ("warehouse.delete", "AVAILABLE" | "RESERVED") => ("DELETE", ""),
            ("warehouse.delete", "SOLD") => {
                return Err(Refusal::Clash(
                    "the item is sold; a sold item stays on record and cannot be deleted".into(),
                ))
            }
            (_, status) => {
                return Err(Refusal::Clash(format!(
                    "the item is {}; {} is not allowed from there",
                    super::status_words(status).to_lowercase(),
                    self.spec.name.trim_start_matches("warehouse.")
                )))
            }
        };
        log(
            conn,
            ctx,
            &row,
            action,
            Some(&row.location_code),
            None,
            json!({ "sale_price": p.sale_price, "from_status": row.status }),
        )?;
        if action == "DELETE" {
            diesel::delete(inventory_items::table.find(row.id)).execute(conn)?;
            book_stock(conn, ctx, &row, (Some(&row.status), None), "serial_delete")?;
            let item = Item::new(row.clone(), sku);
            return Ok(applied(
                &item,
                before,
                json!({ "id": row.id, "deleted": true }),
                &["deleted"],
            ));
        }
        let updated: ItemRow = diesel::update(inventory_items::table.find(row.id))
            .set((
                inventory_items::status.eq(next),
                inventory_items::sale_price_cents.eq(p
                    .sale_price
                    .and_then(units_to_cents)
                    .or(row.sale_price_cents)),
                inventory_items::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ItemRow::as_returning())
            .get_result(conn)?;
        book_stock(conn, ctx, &row, (Some(&row.status), Some(next)), "sale")?;
        let item = Item::new(updated, sku);
        let record = serde_json::to_value(&item).unwrap_or_default();
        Ok(applied(&item, before, record, &["status"]))
    }
}

/// The draft sale whose cart holds the item, if one does.
pub(super) fn held_by_cart(
    conn: &mut PgConnection,
    item_id: i64,
) -> QueryResult<Option<uuid::Uuid>> {
    use crate::schema::{sale_lines, sales};
    sales::table
        .filter(sales::status.eq("draft"))
        .filter(
            sales::id.eq_any(
                sale_lines::table
                    .filter(sale_lines::item_id.eq(item_id))
                    .select(sale_lines::sale_id),
            ),
        )
        .select(sales::id)
        .first(conn)
        .optional()
}
