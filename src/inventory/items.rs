//! A serial-numbered item's row, the trail of what was done to it (INVENTORY_TRANSACTION) and
//! how its changes of status move its hub's level. The warehouse, the sales cart and transfers
//! all change items through these, so an item's history and its hub's level never disagree.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::ledger;
use crate::schema::{inventory_items, inventory_transactions};
use crate::sync::kind::{ApplyCtx, Refusal};

pub fn valid_serial(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
}

pub fn valid_location(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = inventory_items)]
pub struct ItemRow {
    pub id: i64,
    pub serial_number: String,
    pub variant_id: i64,
    pub hub_id: i64,
    pub location_code: String,
    pub status: String,
    pub cost_basis_cents: Option<i64>,
    pub sale_price_cents: Option<i64>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn log(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    action: &str,
    from: Option<&str>,
    to: Option<&str>,
    details: Value,
) -> QueryResult<()> {
    diesel::insert_into(inventory_transactions::table)
        .values((
            inventory_transactions::item_id.eq(item.id),
            inventory_transactions::serial_number.eq(&item.serial_number),
            inventory_transactions::variant_id.eq(item.variant_id),
            inventory_transactions::hub_id.eq(item.hub_id),
            inventory_transactions::action.eq(action),
            inventory_transactions::from_location.eq(from),
            inventory_transactions::to_location.eq(to),
            inventory_transactions::details.eq(details),
            inventory_transactions::user_id.eq(ctx.actor.user_id),
            inventory_transactions::operation_id.eq(ctx.operation_row),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Books an item's change of status in its hub's level through the ledger (`from`: `None` when
/// the item is received, `to`: `None` when it is deleted). Call it after the item's row
/// changed: a serial-numbered item is part of the level while it is in stock
/// (`ledger::in_stock`), so receiving, selling, returning and deleting it move the level like
/// any other stock movement.
pub fn book_stock(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    (from, to): (Option<&str>, Option<&str>),
    reason: &str,
) -> Result<(), Refusal> {
    let delta = ledger::serial_delta(from, to);
    if delta == 0 {
        return Ok(());
    }
    ledger::apply(
        conn,
        &ledger::Move {
            hub_id: item.hub_id,
            variant_id: item.variant_id,
            delta,
            reason,
            operation_row: Some(ctx.operation_row),
            actor_id: Some(ctx.actor.user_id),
        },
    )
    .map(|_| ())
}

/// How many serial-numbered items of each variant are AVAILABLE at a hub (what a transfer can
/// send by serial number).
pub fn available_by_variant(
    conn: &mut PgConnection,
    hub_id: i64,
    variants: &[i64],
) -> QueryResult<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = inventory_items::table
        .filter(inventory_items::hub_id.eq(hub_id))
        .filter(inventory_items::variant_id.eq_any(variants))
        .filter(inventory_items::status.eq("AVAILABLE"))
        .group_by(inventory_items::variant_id)
        .select((inventory_items::variant_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The item with this serial number (compared without case, as the database's unique index
/// does) at a hub, locked for the caller's transaction.
pub fn by_serial_at_hub(
    conn: &mut PgConnection,
    serial: &str,
    hub_id: i64,
) -> QueryResult<Option<ItemRow>> {
    inventory_items::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("upper(serial_number) = upper(")
                .bind::<diesel::sql_types::Text, _>(serial)
                .sql(")"),
        )
        .filter(inventory_items::hub_id.eq(hub_id))
        .for_update()
        .select(ItemRow::as_select())
        .first(conn)
        .optional()
}
