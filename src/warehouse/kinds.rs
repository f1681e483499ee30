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
use crate::sync::kind::{Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

/// The item, locked, if it is at one of the actor's hubs; otherwise "not found" (no leak).
pub(super) fn load_item(
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

pub(super) enum ItemRef<'a> {
    Id(i64),
    Serial(&'a str),
}

/// An item on its way between hubs (or lost on the way) has no shelf to move to; it gets one
/// when the receiving hub records it.
pub(super) fn refuse_travelling(row: &ItemRow) -> Result<(), Refusal> {
    match row.status.as_str() {
        "IN_TRANSIT" | "MISSING" => Err(Refusal::Clash(format!(
            "the item is {}; it gets a location when a hub receives it",
            super::status_words(&row.status).to_lowercase()
        ))),
        _ => Ok(()),
    }
}

pub(super) fn applied(
    item: &Item,
    before: Option<Value>,
    record: Value,
    changed: &[&str],
) -> Applied {
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
    form: Some(super::scan_forms::RECEIVE_FORM),
    again: None,
};

impl Kind for Receive {
    type Payload = ReceiveIn;

    fn spec(&self) -> &Spec {
        &RECEIVE
    }
    fn check(&self, p: &ReceiveIn) -> Result<Target, Vec<FieldError>> {
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
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &ReceiveIn,
    ) -> Result<Applied, Refusal> {
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
    form: Some(super::scan_forms::MOVE_FORM),
    again: None,
};

impl Kind for Move {
    type Payload = MoveIn;

    fn spec(&self) -> &Spec {
        &MOVE
    }
    fn check(&self, p: &MoveIn) -> Result<Target, Vec<FieldError>> {
        if !valid_location(p.new_location.trim()) {
            return Err(vec![FieldError::new(
                "new_location",
                "1–32 letters, digits or . _ -, e.g. B2-S1",
            )]);
        }
        Ok(Target::default())
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &MoveIn,
    ) -> Result<Applied, Refusal> {
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
