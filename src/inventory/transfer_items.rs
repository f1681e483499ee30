//! Serial-numbered items on a transfer. A serial-numbered SKU travels by serial number only: the
//! dispatcher names the items (each AVAILABLE at the sending hub), which become IN_TRANSIT and
//! leave the sender's level with the line's other units; at receipt each named item is either
//! at the receiving hub, AVAILABLE again, or MISSING (the discrepancy note says which).

use diesel::prelude::*;
use serde_json::json;

use super::items::{by_serial_at_hub, log, ItemRow};
use crate::schema::{inventory_items, transfer_line_items};
use crate::sync::kind::{reject, ApplyCtx, Refusal};

/// Where arrived items are put unless the receiver says otherwise: the receiving dock, from
/// which they are moved to their shelves.
pub const RECEIVING_LOCATION: &str = "RECEIVING";

/// The transfer an item travels on: where from and where to.
pub struct Leg {
    pub transfer_id: uuid::Uuid,
    pub from_hub_id: i64,
    pub to_hub_id: i64,
}

/// The line the items are named on.
pub struct OnLine<'a> {
    pub line_no: i32,
    pub variant_id: i64,
    pub sku: &'a str,
}

#[derive(Clone, Debug, Queryable)]
pub struct LineItem {
    pub line_no: i32,
    pub item_id: i64,
    pub serial_number: String,
    /// `None` while in transit, then whether it arrived.
    pub arrived: Option<bool>,
}

pub fn of_transfer(conn: &mut PgConnection, transfer_id: uuid::Uuid) -> QueryResult<Vec<LineItem>> {
    transfer_line_items::table
        .inner_join(inventory_items::table)
        .filter(transfer_line_items::transfer_id.eq(transfer_id))
        .order((transfer_line_items::line_no, inventory_items::serial_number))
        .select((
            transfer_line_items::line_no,
            inventory_items::id,
            inventory_items::serial_number,
            transfer_line_items::arrived,
        ))
        .load(conn)
}

/// The serial numbers named once each (compared without case), or the refusal naming a repeat.
pub fn distinct(line_no: i32, serials: &[String]) -> Result<Vec<String>, Refusal> {
    let mut seen: Vec<String> = Vec::new();
    for s in serials {
        if seen.iter().any(|x| x.eq_ignore_ascii_case(s)) {
            return reject(format!("line {line_no}: serial number {s} is named twice"));
        }
        seen.push(s.clone());
    }
    Ok(seen)
}

/// Sends the named items on one line of `t`; call it before the line's ledger row, so the
/// items leaving are no longer counted in the sender's stock.
pub fn dispatch(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    t: &Leg,
    line: &OnLine<'_>,
    serials: &[String],
) -> Result<(), Refusal> {
    for serial in serials {
        let row = by_serial_at_hub(conn, serial, t.from_hub_id)?;
        let Some(row) = row else {
            return reject(format!(
                "line {}: there is no item with serial number {serial} at the sending hub",
                line.line_no
            ));
        };
        if row.variant_id != line.variant_id {
            return reject(format!(
                "line {}: {serial} is not a {}",
                line.line_no, line.sku
            ));
        }
        if row.status != "AVAILABLE" {
            return Err(Refusal::Clash(format!(
                "line {}: {serial} is {}; only an available item can be sent",
                line.line_no,
                row.status.to_lowercase().replace('_', " ")
            )));
        }
        diesel::update(inventory_items::table.find(row.id))
            .set((
                inventory_items::status.eq("IN_TRANSIT"),
                inventory_items::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        diesel::insert_into(transfer_line_items::table)
            .values((
                transfer_line_items::transfer_id.eq(t.transfer_id),
                transfer_line_items::line_no.eq(line.line_no),
                transfer_line_items::item_id.eq(row.id),
            ))
            .execute(conn)?;
        log(
            conn,
            ctx,
            &row,
            "TRANSFER_OUT",
            Some(&row.location_code),
            None,
            json!({ "transfer_id": t.transfer_id, "to_hub_id": t.to_hub_id }),
        )?;
    }
    Ok(())
}

/// Records which of a line's items arrived: those at the receiving hub at `location`,
/// AVAILABLE; the rest MISSING where they were last. Call it before the line's ledger row.
pub fn receive(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    t: &Leg,
    items: &[&LineItem],
    arrived: &[i64],
    location: &str,
) -> Result<(), Refusal> {
    for item in items {
        let came = arrived.contains(&item.item_id);
        let row: ItemRow = inventory_items::table
            .find(item.item_id)
            .for_update()
            .select(ItemRow::as_select())
            .first(conn)?;
        if came {
            let moved: ItemRow = diesel::update(inventory_items::table.find(row.id))
                .set((
                    inventory_items::status.eq("AVAILABLE"),
                    inventory_items::hub_id.eq(t.to_hub_id),
                    inventory_items::location_code.eq(location),
                    inventory_items::updated_at.eq(diesel::dsl::now),
                ))
                .returning(ItemRow::as_returning())
                .get_result(conn)?;
            let details = json!({ "transfer_id": t.transfer_id, "from_hub_id": t.from_hub_id });
            log(
                conn,
                ctx,
                &moved,
                "TRANSFER_IN",
                None,
                Some(location),
                details,
            )?;
        } else {
            diesel::update(inventory_items::table.find(row.id))
                .set((
                    inventory_items::status.eq("MISSING"),
                    inventory_items::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            let details = json!({ "transfer_id": t.transfer_id, "to_hub_id": t.to_hub_id });
            log(
                conn,
                ctx,
                &row,
                "LOST",
                Some(&row.location_code),
                None,
                details,
            )?;
        }
        diesel::update(transfer_line_items::table.find((t.transfer_id, item.item_id)))
            .set(transfer_line_items::arrived.eq(came))
            .execute(conn)?;
    }
    Ok(())
}

/// The ids of a line's serial-numbered items that arrived: those named, or every one sent when
/// the receiver names none.
pub fn arrived_items(
    line: &super::transfer::TransferLine,
    items: &[&LineItem],
    named: Option<&super::transfer_steps::QtyLine>,
) -> Result<Vec<i64>, Refusal> {
    let Some(serials) = named.and_then(|l| l.serial_numbers.as_deref()) else {
        return Ok(items.iter().map(|i| i.item_id).collect());
    };
    let mut ids = Vec::new();
    for s in distinct(line.line_no, serials)? {
        match items
            .iter()
            .find(|i| i.serial_number.eq_ignore_ascii_case(&s))
        {
            Some(i) => ids.push(i.item_id),
            None => {
                return reject(format!(
                    "line {}: {s} was not sent on this line",
                    line.line_no
                ))
            }
        }
    }
    Ok(ids)
}
