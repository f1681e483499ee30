//! The catalog in three layers (USAV design): product families → identities (immutable, with a
//! database-derived UPIS-H) → variants (sellable SKUs with a price and a Zoho sync status).

pub mod api;
pub mod family_page;
pub mod kinds;
pub mod manage_pages;
pub mod new_variant_page;
pub mod pages;
pub mod pricing;
pub mod variant_kinds;
pub mod variant_pages;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::schema::{product_families, product_identities, product_variants};

/// Colour codes of a variant with their words (the code is part of the SKU).
pub const COLORS: [(&str, &str); 10] = [
    ("BK", "Black"),
    ("WH", "White"),
    ("WY", "White and yellow"),
    ("GY", "Grey"),
    ("SL", "Silver"),
    ("RD", "Red"),
    ("BL", "Blue"),
    ("GN", "Green"),
    ("BR", "Brown"),
    ("NA", "No colour"),
];
/// Condition codes of a variant with their words.
pub const CONDITIONS: [(&str, &str); 4] = [
    ("N", "New"),
    ("R", "Refurbished"),
    ("U", "Used"),
    ("D", "Damaged"),
];

/// The words of a code from one of the tables above (the code itself when unknown).
pub fn words_of<'a>(table: &[(&'a str, &'a str)], code: &'a str) -> &'a str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, words)| words)
}

/// "BK, WH, …" for an error message.
pub fn codes_of(table: &[(&str, &str)]) -> String {
    table.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
}

/// Whether a person sees variants' Zoho sync state: the people who run the catalog do;
/// customers, drivers and the warehouse have no use for an internal word.
pub fn sees_sync_state(user: &crate::auth::principal::Principal) -> bool {
    use crate::auth::permissions::Permission;
    user.can(Permission::VariantPriceEdit) || user.can(Permission::JobsManage)
}

/// The Zoho sync state of a variant in words, for the people who manage the catalog.
pub fn sync_words(status: &str) -> &'static str {
    match status {
        "PENDING" => "Not yet sent to Zoho",
        "DIRTY" => "Changed since the last sync",
        "SYNCED" => "In step with Zoho",
        "ERROR" => "Sync failed",
        _ => "Unknown",
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = product_families)]
pub struct Family {
    pub product_id: i32,
    pub base_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = product_identities)]
pub struct Identity {
    pub id: i64,
    pub product_id: i32,
    #[serde(rename = "type")]
    #[diesel(column_name = type_)]
    pub kind: String,
    pub lci: i32,
    pub physical_class: String,
    pub generated_upis_h: String,
    pub hex_signature: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = product_variants)]
pub struct VariantRow {
    pub id: i64,
    pub identity_id: i64,
    pub color_code: String,
    pub condition_code: String,
    pub full_sku: String,
    pub description: String,
    pub listing_price_cents: i64,
    pub active: bool,
    pub zoho_sync_status: String,
    pub zoho_item_id: Option<String>,
    pub zoho_last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A variant as the API shows it (prices in currency units, as the USAV payloads do).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Variant {
    pub id: i64,
    pub identity_id: i64,
    pub color_code: String,
    pub condition_code: String,
    pub full_sku: String,
    pub description: String,
    pub listing_price: f64,
    pub active: bool,
    pub zoho_sync_status: String,
    pub zoho_item_id: Option<String>,
    pub zoho_last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<VariantRow> for Variant {
    fn from(v: VariantRow) -> Self {
        Variant {
            id: v.id,
            identity_id: v.identity_id,
            color_code: v.color_code,
            condition_code: v.condition_code,
            full_sku: v.full_sku,
            description: v.description,
            listing_price: cents_to_units(v.listing_price_cents),
            active: v.active,
            zoho_sync_status: v.zoho_sync_status,
            zoho_item_id: v.zoho_item_id,
            zoho_last_error: v.zoho_last_error,
            updated_at: v.updated_at,
        }
    }
}

pub use crate::money::{cents_to_units, units_to_cents};

pub fn variant_by_sku(conn: &mut PgConnection, sku: &str) -> QueryResult<Option<VariantRow>> {
    product_variants::table
        .filter(product_variants::full_sku.eq(sku.trim().to_uppercase()))
        .select(VariantRow::as_select())
        .first(conn)
        .optional()
}

pub fn identity_by_upis(conn: &mut PgConnection, upis: &str) -> QueryResult<Option<Identity>> {
    product_identities::table
        .filter(product_identities::generated_upis_h.eq(upis.trim().to_uppercase()))
        .select(Identity::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_converts_both_ways_and_refuses_nonsense() {
        assert_eq!(super::units_to_cents(150.0), Some(15_000));
        assert_eq!(super::units_to_cents(45.005), Some(4_501));
        assert_eq!(super::units_to_cents(-1.0), None);
        assert_eq!(super::units_to_cents(f64::NAN), None);
        assert_eq!(super::cents_to_units(15_000), 150.0);
    }
}
