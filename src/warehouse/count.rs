//! Stock count (the USAV seed's "AUDIT physical inventory"): a warehouse operator scans every
//! serial-numbered item found at one location of a hub, and the records follow the shelf. An
//! item recorded there and found stays as it is; one found there but recorded at another
//! location of the hub moves there; one recorded as missing is back in stock there; an available
//! item recorded there but not found becomes missing and leaves the hub's level until it turns
//! up. A reserved item not found is named, not changed: a sale holds it.
//!
//! A count says what the shelf held when it was applied, so one captured offline waits for a
//! manager's review: the shelf may have changed before it arrived.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::permissions::Permission;
use crate::inventory::items::ItemRow;
use crate::inventory::items::{book_stock, by_serial_at_hub, log, valid_location, valid_serial};
use crate::schema::inventory_items;
use crate::sync::kind::{Applied, ApplyCtx, Form, Kind, Read, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

/// The most items one count may name (a shelf, not a warehouse).
pub const MAX_ITEMS: usize = 500;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CountPayload {
    pub count_id: Uuid,
    pub hub_id: i64,
    pub location_code: String,
    /// Every serial number found at the location.
    #[serde(default)]
    pub serial_numbers: Vec<String>,
    /// Said when nothing was found: an empty list is otherwise a mistake.
    #[serde(default)]
    pub empty: bool,
    #[serde(default)]
    pub note: Option<String>,
}

pub struct CountLocation;

pub static COUNT_LOCATION: Spec = Spec {
    name: "stock.count",
    permission: Permission::WarehouseReceive,
    finalisable_offline: false,
    done: "Location counted",
    entry: "Location count",
    form: Some(Form {
        path: "counts",
        read: |at| Read::one(super::count_page::posted(at.hub_id, at.form)),
        list: None,
        pages: &["counts"],
        at_main_hub: true,
    }),
    again: Some("counts"),
};

impl Kind for CountLocation {
    type Payload = CountPayload;

    fn spec(&self) -> &Spec {
        &COUNT_LOCATION
    }
    fn check(&self, p: &CountPayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !valid_location(p.location_code.trim()) {
            errors.push(FieldError::new(
                "location_code",
                "1–32 letters, digits or . _ -, e.g. A1-S2",
            ));
        }
        if p.serial_numbers.is_empty() && !p.empty {
            errors.push(FieldError::new(
                "serial_numbers",
                "scan every item at the location, or say that nothing is there",
            ));
        }
        if p.serial_numbers.len() > MAX_ITEMS {
            errors.push(FieldError::new(
                "serial_numbers",
                format!("at most {MAX_ITEMS} items per count: count the location in parts"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for serial in &p.serial_numbers {
            let serial = serial.trim();
            if !valid_serial(serial) {
                errors.push(FieldError::new(
                    "serial_numbers",
                    format!(
                        "'{}' is not a serial number (1–64 letters, digits or . _ / -)",
                        shown(serial)
                    ),
                ));
            } else if !seen.insert(serial.to_uppercase()) {
                errors.push(FieldError::new(
                    "serial_numbers",
                    format!("{serial} is scanned twice"),
                ));
            }
        }
        if p.note.as_deref().is_some_and(|n| n.chars().count() > 500) {
            errors.push(FieldError::new("note", "at most 500 characters"));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.count_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &CountPayload,
    ) -> Result<Applied, Refusal> {
        let here = p.location_code.trim();
        let details = json!({ "count_id": p.count_id });
        let mut outcome = Outcome::default();
        let mut found_ids = Vec::new();
        for serial in p.serial_numbers.iter().map(|s| s.trim()) {
            let Some(row) = by_serial_at_hub(conn, serial, p.hub_id)? else {
                return Err(Refusal::Rejected(format!(
                    "{serial} is not recorded at this hub: receive it first, or count it at the hub that holds it"
                )));
            };
            found_ids.push(row.id);
            match row.status.as_str() {
                "AVAILABLE" | "RESERVED" if row.location_code == here => outcome.confirmed += 1,
                "AVAILABLE" | "RESERVED" => {
                    place(conn, &row, here, None)?;
                    log(conn, ctx, &row, "MOVE", Some(&row.location_code), Some(here), details.clone())?;
                    outcome.moved.push(row.serial_number.clone());
                }
                "MISSING" => {
                    place(conn, &row, here, Some("AVAILABLE"))?;
                    log(conn, ctx, &row, "UPDATE", None, Some(here), json!({ "count_id": p.count_id, "status": ["MISSING", "AVAILABLE"] }))?;
                    book_stock(conn, ctx, &row, (Some("MISSING"), Some("AVAILABLE")), "adjustment")?;
                    outcome.found.push(row.serial_number.clone());
                }
                other => {
                    return Err(Refusal::Clash(format!(
                        "{serial} is recorded as {}: it cannot be on the shelf; look it up before counting again",
                        super::status_words(other).to_lowercase()
                    )))
                }
            }
        }
        let unseen: Vec<ItemRow> = inventory_items::table
            .filter(inventory_items::hub_id.eq(p.hub_id))
            .filter(inventory_items::location_code.eq(here))
            .filter(inventory_items::status.eq_any(["AVAILABLE", "RESERVED"]))
            .filter(inventory_items::id.ne_all(&found_ids))
            .order(inventory_items::serial_number)
            .for_update()
            .select(ItemRow::as_select())
            .load(conn)?;
        for row in unseen {
            if row.status == "RESERVED" {
                outcome.reserved_not_found.push(row.serial_number);
                continue;
            }
            place(conn, &row, here, Some("MISSING"))?;
            log(conn, ctx, &row, "LOST", Some(here), None, details.clone())?;
            book_stock(
                conn,
                ctx,
                &row,
                (Some("AVAILABLE"), Some("MISSING")),
                "adjustment",
            )?;
            outcome.missing.push(row.serial_number);
        }
        Ok(Applied {
            server_id: Some(p.count_id.to_string()),
            object_type: "stock_count",
            after: Some(json!({
                "hub_id": p.hub_id,
                "location_code": here,
                "note": p.note.as_deref().map(str::trim).filter(|n| !n.is_empty()),
                "confirmed": outcome.confirmed,
                "moved_here": outcome.moved,
                "found": outcome.found,
                "missing": outcome.missing,
                "reserved_not_found": outcome.reserved_not_found,
            })),
            ..Default::default()
        })
    }
}

#[derive(Default)]
struct Outcome {
    confirmed: usize,
    moved: Vec<String>,
    found: Vec<String>,
    missing: Vec<String>,
    reserved_not_found: Vec<String>,
}

/// Puts an item at the counted location, with a new status when it changes.
fn place(
    conn: &mut PgConnection,
    row: &ItemRow,
    here: &str,
    status: Option<&str>,
) -> QueryResult<()> {
    diesel::update(inventory_items::table.find(row.id))
        .set((
            inventory_items::location_code.eq(here),
            inventory_items::status.eq(status.unwrap_or(&row.status)),
            inventory_items::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A typed value shown back in an error: printable characters only, and not too long.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}
