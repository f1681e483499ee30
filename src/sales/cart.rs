//! The cart: what its kinds read (lines as typed, their checks), the sale they load and the
//! items they reserve and release. The kinds are in `cart_open` (`sale.create`, `sale.update`)
//! and `cart_close` (`sale.confirm`, `sale.cancel`), their line writes in `cart_lines`. Prices
//! are checked against the flags of the user applying the operation, at apply time.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::Sale;
use crate::inventory::items::ItemRow;
use crate::inventory::ledger::{self};
use crate::schema::{inventory_items, sale_lines, sales};
use crate::sync::kind::{
    missing_record, reject, ApplyCtx, LineInput, Refusal, MAX_LINES, MAX_QUANTITY,
};
use crate::sync::operation::FieldError;

/// The highest unit price a line may carry: one billion in cents.
pub const MAX_PRICE_CENTS: i64 = 100_000_000_000;

pub(super) fn one() -> i64 {
    1
}

/// A cart line as a client sends it: an item by id, SKU or name, or a serialized item by its
/// serial number; the unit price defaults to the list price.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SaleLineInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_cents: Option<i64>,
    #[serde(default)]
    pub discount_bp: i32,
    #[serde(default)]
    pub foc: bool,
}

impl SaleLineInput {
    fn serial(&self) -> Option<&str> {
        self.serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

pub(super) fn check_sale_lines(lines: &[SaleLineInput], errors: &mut Vec<FieldError>) {
    if lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            format!("at most {MAX_LINES} lines per sale"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        let named = l.variant_id.is_some()
            || l.sku.as_deref().is_some_and(|s| !s.trim().is_empty())
            || l.serial().is_some();
        if !named {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "choose an item or scan a serial number",
            ));
        }
        if l.sku.as_deref().is_some_and(|s| s.chars().count() > 200) {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "at most 200 characters",
            ));
        }
        if l.serial.as_deref().is_some_and(|s| s.chars().count() > 64) {
            errors.push(FieldError::new(
                format!("lines[{n}].serial"),
                "a serial number is at most 64 characters",
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&l.quantity) {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                format!("the quantity must be from 1 to {MAX_QUANTITY}"),
            ));
        } else if l.serial().is_some() && l.quantity != 1 {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                "a serialized item is sold one at a time",
            ));
        }
        if l.unit_price_cents
            .is_some_and(|p| !(0..=MAX_PRICE_CENTS).contains(&p))
        {
            errors.push(FieldError::new(
                format!("lines[{n}].unit_price"),
                "the unit price must be from 0 to 1,000,000,000",
            ));
        }
        if !(0..=10_000).contains(&l.discount_bp) {
            errors.push(FieldError::new(
                format!("lines[{n}].discount"),
                "the discount is from 0 to 100 %",
            ));
        }
    }
}

pub(super) fn check_notes(notes: &str, errors: &mut Vec<FieldError>) {
    if notes.chars().count() > 2000 {
        errors.push(FieldError::new("notes", "at most 2000 characters"));
    }
}

pub(super) fn load_for_update(
    conn: &mut PgConnection,
    id: Uuid,
    hub_id: i64,
) -> Result<Sale, Refusal> {
    let found: Option<Sale> = sales::table
        .find(id)
        .for_update()
        .select(Sale::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(s) if s.hub_id == hub_id => Ok(s),
        _ => Err(missing_record(conn, id, "sale")),
    }
}

pub(super) fn loaded(conn: &mut PgConnection, id: Uuid) -> QueryResult<Sale> {
    sales::table.find(id).select(Sale::as_select()).first(conn)
}

/// Item status changes go to the warehouse's transaction log like every other.
pub(super) fn set_item_status(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    action: &str,
    status: &str,
    sale_id: Uuid,
    price: Option<i64>,
) -> Result<(), Refusal> {
    crate::inventory::items::log(
        conn,
        ctx,
        item,
        action,
        Some(&item.location_code),
        None,
        json!({ "sale_id": sale_id, "from_status": item.status }),
    )?;
    // Compare-and-set on the status this operation read: a change it did not see refuses it.
    let changed = diesel::update(
        inventory_items::table
            .find(item.id)
            .filter(inventory_items::status.eq(&item.status)),
    )
    .set((
        inventory_items::status.eq(status),
        inventory_items::sale_price_cents.eq(price.or(item.sale_price_cents)),
        inventory_items::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(Refusal::Clash(format!(
            "the item {} changed while this was applied",
            item.serial_number
        )));
    }
    let reason = if action == "RETURN" {
        "sale_return"
    } else {
        "sale"
    };
    crate::inventory::items::book_stock(conn, ctx, item, (Some(&item.status), Some(status)), reason)
}

/// Gives a reserved item back. An item no longer RESERVED (sold at the warehouse before the
/// sale's cart held it, say) is left as it is: releasing never moves an item out of SOLD.
pub(super) fn release(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    sale_id: Uuid,
) -> Result<(), Refusal> {
    if item.status != "RESERVED" {
        return Ok(());
    }
    set_item_status(conn, ctx, item, "RELEASE", "AVAILABLE", sale_id, None)
}

pub(super) fn line_items(conn: &mut PgConnection, sale_id: Uuid) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(
            inventory_items::id.eq_any(
                sale_lines::table
                    .filter(sale_lines::sale_id.eq(sale_id))
                    .select(sale_lines::item_id.assume_not_null())
                    .filter(sale_lines::item_id.is_not_null()),
            ),
        )
        .for_update()
        .select(ItemRow::as_select())
        .load(conn)
}

/// The item a line names: a serialized item at the sale's hub (free, or already on this sale),
/// or a catalog variant by id, SKU or name.
pub(super) fn resolve(
    conn: &mut PgConnection,
    sale: &Sale,
    n: i32,
    l: &SaleLineInput,
    held: &[ItemRow],
) -> Result<(i64, Option<ItemRow>), Refusal> {
    if let Some(serial) = l.serial() {
        let found = crate::inventory::items::by_serial_at_hub(conn, serial, sale.hub_id)?;
        let Some(item) = found else {
            return reject(format!(
                "line {n}: there is no item with serial number {serial} at this hub"
            ));
        };
        if !held.iter().any(|h| h.id == item.id) && item.status != "AVAILABLE" {
            return Err(Refusal::Clash(format!(
                "line {n}: the item {serial} is {}",
                item.status
            )));
        }
        return Ok((item.variant_id, Some(item)));
    }
    let line = LineInput {
        variant_id: l.variant_id,
        sku: l.sku.clone(),
        quantity: l.quantity,
        expiry_on: None,
        lot: None,
    };
    let variant = ledger::resolve_variant(conn, &line).map_err(|e| match e {
        Refusal::Rejected(reason) => Refusal::Rejected(format!("line {n}: {reason}")),
        other => other,
    })?;
    Ok((variant, None))
}
