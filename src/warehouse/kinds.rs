//! Warehouse actions as operations, each writing an INVENTORY_TRANSACTION row with the user.
//! Status moves only AVAILABLE → RESERVED → SOLD (or AVAILABLE → SOLD); anything else is a
//! clash (409). Serial numbers are unique in the database, so two concurrent receives of one
//! serial cannot both succeed.

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Item, ItemRow};
use crate::auth::permissions::Permission;
use crate::catalog::units_to_cents;
use crate::inventory::items::{book_stock, log, valid_location, valid_serial};
use crate::schema::{inventory_items, product_variants};
use crate::sync::kind::{parse, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

fn payload<T: for<'de> Deserialize<'de>>(ctx: &ApplyCtx<'_>) -> Result<T, Refusal> {
    serde_json::from_value(ctx.op.payload.clone()).map_err(|e| Refusal::Rejected(e.to_string()))
}

/// The item, locked, if it is at one of the actor's hubs; otherwise "not found" (no leak).
fn load_item(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    by: ItemRef<'_>,
) -> Result<(ItemRow, String), Refusal> {
    let mut q = inventory_items::table
        .filter(inventory_items::hub_id.eq_any(ctx.actor.scope.hub_ids()))
        .select(inventory_items::id)
        .into_boxed();
    q = match by {
        ItemRef::Id(id) => q.filter(inventory_items::id.eq(id)),
        ItemRef::Serial(s) => q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "upper(inventory_items.serial_number) = upper(",
            )
            .bind::<diesel::sql_types::Text, _>(s.to_string())
            .sql(")"),
        ),
    };
    let not_found = || {
        Refusal::NotFound(match by {
            ItemRef::Id(id) => format!("there is no inventory item {id}"),
            ItemRef::Serial(s) => format!("there is no item with serial number {s}"),
        })
    };
    let id: i64 = q.first(conn).optional()?.ok_or_else(not_found)?;
    // Locked by id: concurrent actions on one item take turns.
    let row: ItemRow = inventory_items::table
        .find(id)
        .for_update()
        .select(ItemRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    let sku: String = product_variants::table
        .find(row.variant_id)
        .select(product_variants::full_sku)
        .first(conn)?;
    Ok((row, sku))
}

enum ItemRef<'a> {
    Id(i64),
    Serial(&'a str),
}

/// An item on its way between hubs (or lost on the way) has no shelf to move to; it gets one
/// when the receiving hub records it.
fn refuse_travelling(row: &ItemRow) -> Result<(), Refusal> {
    match row.status.as_str() {
        "IN_TRANSIT" | "MISSING" => Err(Refusal::Clash(format!(
            "the item is {}; it gets a location when a hub receives it",
            super::status_words(&row.status).to_lowercase()
        ))),
        _ => Ok(()),
    }
}

fn applied(item: &Item, before: Option<Value>, record: Value, changed: &[&str]) -> Applied {
    Applied {
        server_id: Some(item.id.to_string()),
        object_type: "inventory_item",
        before,
        after: Some(record),
        changed_fields: changed.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiveIn {
    pub serial_number: String,
    pub variant_sku: String,
    pub location_code: String,
    #[serde(default)]
    pub cost_basis: Option<f64>,
    /// Filled in by the endpoint when the caller works at a single hub.
    pub hub_id: i64,
}

pub struct Receive;

pub static RECEIVE: Spec = Spec {
    name: "warehouse.receive",
    permission: Permission::WarehouseReceive,
    finalisable_offline: true,
    done: "Item received",
    entry: "Item received",
    form: None,
    again: None,
};

impl Kind for Receive {
    fn spec(&self) -> &Spec {
        &RECEIVE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: ReceiveIn = parse(payload)?;
        let mut errors = Vec::new();
        if !valid_serial(p.serial_number.trim()) {
            errors.push(FieldError::new(
                "serial_number",
                "1–64 letters, digits or . _ / -",
            ));
        }
        if !valid_location(p.location_code.trim()) {
            errors.push(FieldError::new(
                "location_code",
                "1–32 letters, digits or . _ -, e.g. A1-S2",
            ));
        }
        if p.cost_basis.is_some_and(|c| units_to_cents(c).is_none()) {
            errors.push(FieldError::new(
                "cost_basis",
                "must be an amount from 0 to 1,000,000,000",
            ));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: None,
            })
        } else {
            Err(errors)
        }
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: ReceiveIn = payload(ctx)?;
        let variant = crate::catalog::variant_by_sku(conn, &p.variant_sku)?.ok_or_else(|| {
            Refusal::NotFound(format!("there is no variant with SKU {}", p.variant_sku))
        })?;
        let row: Option<ItemRow> = diesel::insert_into(inventory_items::table)
            .values((
                inventory_items::serial_number.eq(p.serial_number.trim()),
                inventory_items::variant_id.eq(variant.id),
                inventory_items::hub_id.eq(p.hub_id),
                inventory_items::location_code.eq(p.location_code.trim()),
                inventory_items::cost_basis_cents.eq(p.cost_basis.and_then(units_to_cents)),
            ))
            .on_conflict_do_nothing()
            .returning(ItemRow::as_returning())
            .get_result(conn)
            .optional()?;
        let row = row.ok_or_else(|| {
            Refusal::Clash(format!(
                "serial number {} already exists",
                p.serial_number.trim()
            ))
        })?;
        log(
            conn,
            ctx,
            &row,
            "RECEIVE",
            None,
            Some(&row.location_code),
            json!({ "cost_basis": p.cost_basis }),
        )?;
        book_stock(conn, ctx, &row, (None, Some(&row.status)), "serial_receive")?;
        let item = Item::new(row, variant.full_sku);
        let record = json!({ "id": item.id, "serial_number": item.serial_number, "sku": item.sku, "location_code": item.location_code, "status": item.status, "received_at": item.received_at, "hub_id": item.hub_id });
        Ok(applied(&item, None, record, &[]))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    pub serial_number: String,
    pub new_location: String,
}

pub struct Move;

pub static MOVE: Spec = Spec {
    name: "warehouse.move",
    permission: Permission::WarehouseReceive,
    finalisable_offline: true,
    done: "Item moved",
    entry: "Item moved",
    form: None,
    again: None,
};

impl Kind for Move {
    fn spec(&self) -> &Spec {
        &MOVE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: MoveIn = parse(payload)?;
        if !valid_location(p.new_location.trim()) {
            return Err(vec![FieldError::new(
                "new_location",
                "1–32 letters, digits or . _ -, e.g. B2-S1",
            )]);
        }
        Ok(Target::default())
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: MoveIn = payload(ctx)?;
        let (row, sku) = load_item(conn, ctx, ItemRef::Serial(p.serial_number.trim()))?;
        refuse_travelling(&row)?;
        let to = p.new_location.trim();
        diesel::update(inventory_items::table.find(row.id))
            .set((
                inventory_items::location_code.eq(to),
                inventory_items::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        log(
            conn,
            ctx,
            &row,
            "MOVE",
            Some(&row.location_code),
            Some(to),
            json!({}),
        )?;
        let moved_at = chrono::Utc::now();
        let item = Item::new(row.clone(), sku);
        let record = json!({ "serial_number": row.serial_number, "previous_location": row.location_code, "new_location": to, "moved_at": moved_at });
        Ok(applied(
            &item,
            Some(json!({ "location_code": row.location_code })),
            record,
            &["location_code"],
        ))
    }
}

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
    fn spec(&self) -> &Spec {
        &UPDATE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: UpdateIn = parse(payload)?;
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
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: UpdateIn = payload(ctx)?;
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
fn check_price(
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
    let priced = crate::sales::pricing::Priced {
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
    fn spec(&self) -> &Spec {
        &self.spec
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: ItemIn = parse(payload)?;
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
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: ItemIn = payload(ctx)?;
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
