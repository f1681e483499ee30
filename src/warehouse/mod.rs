//! Serialized warehouse inventory (USAV "physical layer"): items unique by serial number, at a
//! hub and location, AVAILABLE → RESERVED → SOLD, and the transaction log of every action.

pub mod api;
pub mod api_reads;
pub mod count;
pub mod count_page;
pub mod item_page;
pub mod item_steps;
pub mod items_page;
pub mod kinds;
pub mod pages;
pub mod scan_forms;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::cents_to_units;
use crate::schema::{inventory_items, inventory_transactions, product_variants, users};

/// The statuses an item can have, with the words people read.
pub const STATUSES: &[(&str, &str)] = &[
    ("AVAILABLE", "Available"),
    ("RESERVED", "Reserved"),
    ("SOLD", "Sold"),
    ("IN_TRANSIT", "In transit"),
    ("MISSING", "Missing"),
];

/// The warehouse's pages.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    pages::configure(cfg);
    items_page::configure(cfg);
    item_page::configure(cfg);
    count_page::configure(cfg);
}

pub fn status_words(code: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Unknown", |(_, words)| words)
}

pub use crate::inventory::items::ItemRow;

/// An item as the API shows it (the seed's InventoryItemResponse).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: i64,
    pub serial_number: String,
    pub sku: String,
    pub full_sku: String,
    pub variant_id: i64,
    pub hub_id: i64,
    pub location_code: String,
    pub status: String,
    pub cost_basis: Option<f64>,
    pub sale_price: Option<f64>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Item {
    pub fn new(row: ItemRow, sku: String) -> Item {
        Item {
            id: row.id,
            serial_number: row.serial_number,
            full_sku: sku.clone(),
            sku,
            variant_id: row.variant_id,
            hub_id: row.hub_id,
            location_code: row.location_code,
            status: row.status,
            cost_basis: row.cost_basis_cents.map(cents_to_units),
            sale_price: row.sale_price_cents.map(cents_to_units),
            received_at: row.received_at,
            updated_at: row.updated_at,
        }
    }
}

/// The query `items_query` builds: items with their variant, at some hubs, boxed.
pub type ItemsQuery = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Filter<
        diesel::dsl::InnerJoin<inventory_items::table, product_variants::table>,
        diesel::dsl::EqAny<inventory_items::hub_id, Vec<i64>>,
    >,
    diesel::pg::Pg,
>;

/// Items joined with their SKU, limited to the given hubs.
pub fn items_query(hub_ids: Vec<i64>) -> ItemsQuery {
    inventory_items::table
        .inner_join(product_variants::table)
        .filter(inventory_items::hub_id.eq_any(hub_ids))
        .into_boxed()
}

pub fn load_items(rows: Vec<(ItemRow, String)>) -> Vec<Item> {
    rows.into_iter().map(|(r, sku)| Item::new(r, sku)).collect()
}

#[derive(Clone, Debug, Queryable, Serialize, ToSchema)]
pub struct Transaction {
    pub id: i64,
    pub item_id: Option<i64>,
    pub serial_number: String,
    pub action: String,
    pub from_location: Option<String>,
    pub to_location: Option<String>,
    pub details: Option<serde_json::Value>,
    pub user_id: i64,
    pub username: String,
    pub created_at: DateTime<Utc>,
}

pub fn transactions_for_serial(
    conn: &mut PgConnection,
    serial: &str,
    hub_ids: &[i64],
) -> QueryResult<Vec<Transaction>> {
    inventory_transactions::table
        .inner_join(users::table)
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "upper(inventory_transactions.serial_number) = upper(",
            )
            .bind::<diesel::sql_types::Text, _>(serial.to_string())
            .sql(")"),
        )
        .filter(inventory_transactions::hub_id.eq_any(hub_ids))
        .order(inventory_transactions::id)
        .select((
            inventory_transactions::id,
            inventory_transactions::item_id,
            inventory_transactions::serial_number,
            inventory_transactions::action,
            inventory_transactions::from_location,
            inventory_transactions::to_location,
            inventory_transactions::details,
            inventory_transactions::user_id,
            users::username,
            inventory_transactions::created_at,
        ))
        .load(conn)
}
