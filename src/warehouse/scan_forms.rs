//! The warehouse's scanner forms (receive, move) as operations. The page handlers and a
//! device's queued form, replayed through the sync API, read the same fields with the same
//! function, so a scan saved offline in a basement is the scan the page would have made.

use serde_json::json;

use crate::sync::forms::Posted;
use crate::sync::kind::{Form, Read};
use crate::ui::form::FormFields;

/// `POST /warehouse/receive`: one serial number into a hub, at a location.
pub fn receive(hub_id: i64, form: &FormFields) -> Posted {
    let sku = form.text("variant_sku");
    // A scanner or the picker may add the item's name after its SKU.
    let sku = sku.split_whitespace().next().unwrap_or("");
    let payload = json!({ "serial_number": form.text("serial_number"), "variant_sku": sku,
        "location_code": form.text("location_code"), "hub_id": hub_id });
    Posted::new("warehouse.receive", payload, vec![])
}

/// `POST /warehouse/move`: an item to a new location (its record decides the hub).
pub fn relocate(form: &FormFields) -> Posted {
    let payload = json!({ "serial_number": form.text("serial_number"), "new_location": form.text("new_location") });
    Posted::new("warehouse.move", payload, vec![])
}

/// The pages a warehouse operator needs in the basement: both forms, the items and a lookup.
const PAGES: &[&str] = &[
    "/warehouse/receive",
    "/warehouse/move",
    "/warehouse/items",
    "/warehouse/lookup",
];

pub const RECEIVE_FORM: Form = Form {
    path: "/warehouse/receive",
    read: |at| Read::one(receive(at.hub_id, at.form)),
    list: None,
    pages: PAGES,
    at_main_hub: true,
};

pub const MOVE_FORM: Form = Form {
    path: "/warehouse/move",
    read: |at| Read::one(relocate(at.form)),
    list: None,
    pages: &[],
    at_main_hub: true,
};
