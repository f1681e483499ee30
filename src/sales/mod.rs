//! Sales: carts for customers (draft → confirmed, or cancelled while a draft), priced under the
//! per-user flags of the sales design, and the invoices and credit notes issued from them.
//! Every write is an operation kind on the pipeline; the PDF is rendered by a worker.

pub mod cart;
pub mod cart_actions;
pub mod cart_close;
pub mod cart_lines;
pub mod cart_open;
pub mod cart_page;
pub mod invoice_kinds;
pub mod invoices;
pub mod new_sale;
pub mod pages;
pub mod render;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::catalog::pricing;
use crate::money;
use crate::schema::{
    customers, inventory_items, product_families, product_identities, product_variants, sale_lines,
    sales,
};

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    pages::configure(cfg);
    invoices::configure(cfg);
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = sales)]
pub struct Sale {
    pub id: Uuid,
    pub organisation_id: i64,
    pub hub_id: i64,
    pub customer_id: i64,
    pub notes: String,
    pub status: String,
    pub tax_rate_bp: i32,
    pub version: i32,
    pub created_by: i64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// As people quote it: "S-000123".
    pub number: String,
}

/// A cart line with what the pages and the invoice print of its item.
#[derive(Clone, Debug, Queryable, Serialize)]
pub struct Line {
    pub line_no: i32,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub item_id: Option<i64>,
    pub serial: Option<String>,
    pub quantity: i64,
    pub list_price_cents: i64,
    pub unit_price_cents: i64,
    pub discount_bp: i32,
    pub foc: bool,
    /// A serialized item's cost basis, and the variant's cost. Never shown without
    /// `can_see_cost` (the JSON middleware strips cost fields; pages check the flag).
    pub item_cost_cents: Option<i64>,
    pub variant_cost_cents: Option<i64>,
}

impl Line {
    pub fn priced(&self) -> pricing::Priced {
        pricing::Priced {
            list_cents: self.list_price_cents,
            cost_cents: self.cost_cents(),
            unit_cents: self.unit_price_cents,
            discount_bp: self.discount_bp,
            foc: self.foc,
        }
    }
    /// The line's cost per unit: the serialized item's own, else the variant's.
    pub fn cost_cents(&self) -> Option<i64> {
        if self.item_id.is_some() {
            self.item_cost_cents.or(self.variant_cost_cents)
        } else {
            self.variant_cost_cents
        }
    }
    pub fn amounts(&self) -> money::LineAmounts {
        money::line(
            self.unit_price_cents,
            self.quantity,
            self.discount_bp,
            self.foc,
        )
    }
}

pub fn lines(conn: &mut PgConnection, sale_id: Uuid) -> QueryResult<Vec<Line>> {
    sale_lines::table
        .inner_join(
            product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table)),
        )
        .left_join(inventory_items::table)
        .filter(sale_lines::sale_id.eq(sale_id))
        .order(sale_lines::line_no)
        .select((
            sale_lines::line_no,
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            sale_lines::item_id,
            inventory_items::serial_number.nullable(),
            sale_lines::quantity,
            sale_lines::list_price_cents,
            sale_lines::unit_price_cents,
            sale_lines::discount_bp,
            sale_lines::foc,
            inventory_items::cost_basis_cents.nullable(),
            product_variants::cost_cents,
        ))
        .load::<Line>(conn)
}

pub fn totals(sale: &Sale, lines: &[Line]) -> money::Totals {
    money::totals(lines.iter().map(Line::amounts), sale.tax_rate_bp)
}

/// The record as the server holds it: what a conflicting device is shown, and the audit's
/// before/after.
pub fn state(conn: &mut PgConnection, sale: &Sale) -> QueryResult<Value> {
    let lines = lines(conn, sale.id)?;
    let t = totals(sale, &lines);
    Ok(json!({
        "id": sale.id, "hub_id": sale.hub_id, "customer_id": sale.customer_id, "notes": sale.notes,
        "status": sale.status, "version": sale.version, "tax_rate_bp": sale.tax_rate_bp,
        "lines": lines, "subtotal_cents": t.subtotal, "tax_cents": t.tax, "total_cents": t.total,
    }))
}

/// Whether `who` may see this sale: staff of its hub (a sales rep only for the customers
/// assigned to them), or a customer user of its customer.
pub fn visible_to(who: &Principal, hub_id: i64, customer_id: i64) -> bool {
    match who.role {
        Role::CustomerUser => who.scope.customer_ids.contains(&customer_id),
        Role::SalesRep => {
            who.scope.has_hub(hub_id) && who.scope.customer_ids.contains(&customer_id)
        }
        _ => who.scope.has_hub(hub_id),
    }
}

/// A customer the user may sell to at this hub: active, served by the hub, in their scope.
pub fn sellable_customer(
    conn: &mut PgConnection,
    who: &Principal,
    hub_id: i64,
    customer_id: i64,
) -> QueryResult<bool> {
    if !who.scope.customer_ids.contains(&customer_id) {
        return Ok(false);
    }
    let found: Option<(i64, bool)> = customers::table
        .find(customer_id)
        .select((customers::hub_id, customers::active))
        .first(conn)
        .optional()?;
    Ok(found == Some((hub_id, true)))
}
