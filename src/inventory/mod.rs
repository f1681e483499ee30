//! Hub stock: levels per hub and item, the ledger that changes them, and the operations that
//! move stock (intake, distribution, needs lists, transfers).

pub mod actions;
pub mod adjust;
pub mod adjust_pages;
pub mod check;
pub mod distribution;
pub mod distribution_close;
pub mod distribution_pages;
pub mod intake;
pub mod intake_pages;
pub mod items;
pub mod ledger;
pub mod needs;
pub mod needs_decide;
pub mod needs_pages;
pub mod transfer;
pub mod transfer_detail_page;
pub mod transfer_items;
pub mod transfer_pages;
pub mod transfer_steps;

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{product_families, product_identities, product_variants, stock_levels};

#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct HubTotals {
    pub hub_id: i64,
    pub lines: i64,
    pub units: i64,
    pub low: i64,
}

/// Stock lines, units and lines at or below their reorder level, for each hub given.
pub fn totals(conn: &mut PgConnection, hub_ids: &[i64]) -> QueryResult<Vec<HubTotals>> {
    let rows: Vec<(i64, i64, i64, i64)> = stock_levels::table
        .filter(stock_levels::hub_id.eq_any(hub_ids))
        .group_by(stock_levels::hub_id)
        .select((
            stock_levels::hub_id,
            diesel::dsl::sql::<diesel::sql_types::BigInt>("count(*) FILTER (WHERE quantity > 0)"),
            diesel::dsl::sql::<diesel::sql_types::BigInt>("coalesce(sum(quantity), 0)::bigint"),
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "count(*) FILTER (WHERE quantity <= reorder_level)",
            ),
        ))
        .load(conn)?;
    Ok(hub_ids
        .iter()
        .map(|id| {
            rows.iter()
                .find(|r| r.0 == *id)
                .map(|&(hub_id, lines, units, low)| HubTotals {
                    hub_id,
                    lines,
                    units,
                    low,
                })
                .unwrap_or(HubTotals {
                    hub_id: *id,
                    ..Default::default()
                })
        })
        .collect())
}

#[derive(Clone, Debug, Queryable, Serialize, utoipa::ToSchema)]
pub struct StockRow {
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub quantity: i64,
    pub reorder_level: i64,
}

impl StockRow {
    pub fn is_low(&self) -> bool {
        self.quantity <= self.reorder_level
    }
    /// On hand, as people read it ("1,200").
    pub fn on_hand(&self) -> String {
        crate::ui::chart::grouped(self.quantity)
    }
}

/// The columns a hub's stock can be sorted by.
pub const STOCK_SORTS: [&str; 4] = ["name", "sku", "quantity", "reorder"];

/// Rows of a CSV export of a hub's stock at most (a hub holds a few thousand lines).
pub const STOCK_EXPORT_LIMIT: i64 = 20_000;

/// One page of a hub's stock (`None`: all of it, for an export), optionally filtered by SKU or
/// name or to low stock, in the order asked for (ties broken by SKU, so pages never overlap).
pub fn stock_page(
    conn: &mut PgConnection,
    hub_id: i64,
    search: &str,
    low_only: bool,
    page: Option<i64>,
    sort: crate::ui::sorting::Sort,
) -> QueryResult<(Vec<StockRow>, i64)> {
    let base = || {
        let mut q = stock_levels::table
            .inner_join(
                product_variants::table
                    .inner_join(product_identities::table.inner_join(product_families::table)),
            )
            .filter(stock_levels::hub_id.eq(hub_id))
            .into_boxed();
        if !search.is_empty() {
            let pattern = crate::db::containing(search);
            q = q.filter(
                product_variants::full_sku
                    .ilike(pattern.clone())
                    .or(product_families::base_name.ilike(pattern)),
            );
        }
        if low_only {
            q = q.filter(stock_levels::quantity.le(stock_levels::reorder_level));
        }
        q
    };
    let total = crate::db::count_up_to(base(), crate::ui::pager::COUNT_UP_TO, conn)?;
    let sku = product_variants::full_sku;
    let ordered = match (sort.key, sort.descending) {
        ("sku", false) => base().order(sku.asc()),
        ("sku", true) => base().order(sku.desc()),
        ("quantity", false) => base().order((stock_levels::quantity.asc(), sku)),
        ("quantity", true) => base().order((stock_levels::quantity.desc(), sku)),
        ("reorder", false) => base().order((stock_levels::reorder_level.asc(), sku)),
        ("reorder", true) => base().order((stock_levels::reorder_level.desc(), sku)),
        (_, true) => base().order((product_families::base_name.desc(), sku)),
        _ => base().order((product_families::base_name.asc(), sku)),
    };
    let rows = ordered
        .limit(page.map_or(STOCK_EXPORT_LIMIT, |_| crate::ui::pager::PER_PAGE))
        .offset(page.map_or(0, |p| crate::ui::pager::Pager::offset(p.max(0))))
        .select((
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            product_variants::description,
            product_variants::unit,
            stock_levels::quantity,
            stock_levels::reorder_level,
        ))
        .load(conn)?;
    Ok((rows, total))
}

/// The levels of `variants` at `hubs`, by (hub, variant); a hub that never held an item has
/// none listed (read it as 0).
pub fn levels_of(
    conn: &mut PgConnection,
    hubs: &[i64],
    variants: &[i64],
) -> QueryResult<std::collections::HashMap<(i64, i64), i64>> {
    let rows: Vec<(i64, i64, i64)> = stock_levels::table
        .filter(stock_levels::hub_id.eq_any(hubs))
        .filter(stock_levels::variant_id.eq_any(variants))
        .select((
            stock_levels::hub_id,
            stock_levels::variant_id,
            stock_levels::quantity,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(h, v, q)| ((h, v), q)).collect())
}

/// Active catalog items for the item pickers (SKU, name and description).
pub fn catalog_options(conn: &mut PgConnection) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, String, String)> = product_variants::table
        .inner_join(product_identities::table.inner_join(product_families::table))
        .filter(product_variants::active.eq(true))
        .order(product_variants::full_sku)
        .select((
            product_variants::full_sku,
            product_families::base_name,
            product_variants::description,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(sku, _, description)| (sku, description))
        .collect())
}
