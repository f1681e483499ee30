//! The reads of the physical-inventory API: items by id, serial or SKU, a page of them, an
//! item's transactions, a variant's summary and the total value — scoped to the caller's hubs.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{items_query, load_items, transactions_for_serial, Item, ItemRow, Transaction};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::catalog::cents_to_units;
use crate::error::AppError;
use crate::schema::{inventory_items, product_variants};
use crate::state::AppState;

use super::api::Reader;

#[derive(Deserialize, IntoParams)]
pub struct Paging {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Page size (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
}

/// Inventory items at the caller's hubs, paged with skip/limit.
#[utoipa::path(get, path = "/api/v1/inventory", tag = "inventory", params(Paging),
    responses(
        (status = 200, body = ItemPage),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized), security(("bearer" = []),
        ("session" = [])))]
pub async fn list(
    user: Reader,
    paging: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let skip = paging.skip.unwrap_or(0);
    let limit = paging.limit.unwrap_or(100);
    if skip < 0 || !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest(
            "skip must be 0 or more and limit 1 to 500.".into(),
        ));
    }
    let hubs = user.scope.hub_ids();
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        let total: i64 = items_query(hubs.clone()).count().get_result(conn)?;
        let rows = items_query(hubs)
            .order(inventory_items::id)
            .offset(skip)
            .limit(limit)
            .select((ItemRow::as_select(), product_variants::full_sku))
            .load(conn)?;
        Ok((rows, total))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ItemPage {
        items: load_items(rows),
        total,
        skip,
        limit,
    }))
}

pub(super) async fn one(
    state: &AppState,
    hubs: Vec<i64>,
    filter: Filter,
) -> Result<Item, AppError> {
    let row = crate::db::run(&state.db, move |conn| {
        let q = items_query(hubs);
        let q = match filter {
            Filter::Id(id) => q.filter(inventory_items::id.eq(id)),
            Filter::Serial(s) => q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "upper(inventory_items.serial_number) = upper(",
                )
                .bind::<diesel::sql_types::Text, _>(s)
                .sql(")"),
            ),
        };
        Ok(q.select((ItemRow::as_select(), product_variants::full_sku))
            .first(conn)
            .optional()?)
    })
    .await?;
    row.map(|(r, sku)| Item::new(r, sku))
        .ok_or_else(|| AppError::not_found("There is no such inventory item at your hubs."))
}

pub(super) enum Filter {
    Id(i64),
    Serial(String),
}

/// One inventory item by id.
#[utoipa::path(get, path = "/api/v1/inventory/{item_id}", tag = "inventory", params(
        ("item_id" = i64, Path)),
    responses(
        (status = 200, body = Item),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn get_item(
    user: Reader,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(one(&state, user.scope.hub_ids(), Filter::Id(path.into_inner())).await?))
}

/// One inventory item by serial number.
#[utoipa::path(get, path = "/api/v1/inventory/serial/{serial}", tag = "inventory", params(
        ("serial" = String, Path)),
    responses(
        (status = 200, body = Item),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn by_serial(
    user: Reader,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(
        one(
            &state,
            user.scope.hub_ids(),
            Filter::Serial(path.into_inner()),
        )
        .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct AuditItems {
    pub items: Vec<Item>,
    pub total_count: usize,
}

/// Look up by exact serial number, else every item of a variant SKU.
#[utoipa::path(get, path = "/api/v1/inventory/audit/{sku_or_serial}", tag = "inventory", params(
        ("sku_or_serial" = String, Path)),
    responses(
        (status = 200, body = AuditItems),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn audit(
    user: Reader,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let key = path.into_inner();
    let hubs = user.scope.hub_ids();
    let rows = crate::db::run(&state.db, move |conn| {
        let by_serial = items_query(hubs.clone())
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "upper(inventory_items.serial_number) = upper(",
                )
                .bind::<diesel::sql_types::Text, _>(key.clone())
                .sql(")"),
            )
            .select((ItemRow::as_select(), product_variants::full_sku))
            .load(conn)?;
        if !by_serial.is_empty() {
            return Ok(Some(by_serial));
        }
        let Some(variant) = crate::catalog::variant_by_sku(conn, &key)? else {
            return Ok(None);
        };
        Ok(Some(
            items_query(hubs)
                .filter(inventory_items::variant_id.eq(variant.id))
                .order(inventory_items::id)
                .select((ItemRow::as_select(), product_variants::full_sku))
                .load(conn)?,
        ))
    })
    .await?;
    let items = load_items(rows.ok_or_else(|| {
        AppError::not_found("No item has that serial number and no variant has that SKU.")
    })?);
    Ok(HttpResponse::Ok().json(AuditItems {
        total_count: items.len(),
        items,
    }))
}

/// The transaction log of an item: every action, with the user who made it.
#[utoipa::path(get, path = "/api/v1/inventory/{item_id}/transactions", tag = "inventory", params(
        ("item_id" = i64, Path)),
    responses(
        (status = 200, body = Vec<Transaction>),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn transactions(
    user: Reader,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hubs = user.scope.hub_ids();
    let item = one(&state, hubs.clone(), Filter::Id(path.into_inner())).await?;
    let log = crate::db::run(&state.db, move |conn| {
        Ok(transactions_for_serial(conn, &item.serial_number, &hubs)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(log))
}

#[derive(Serialize, ToSchema)]
pub struct Summary {
    pub variant_id: i64,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    pub total: i64,
}

/// Counts by status of a variant's items at the caller's hubs.
#[utoipa::path(get, path = "/api/v1/inventory/summary/{variant_id}", tag = "inventory", params(
        ("variant_id" = i64, Path)),
    responses(
        (status = 200, body = Summary),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn summary(
    user: Reader,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let variant_id = path.into_inner();
    let hubs = user.scope.hub_ids();
    let counts = crate::db::run(&state.db, move |conn| {
        if product_variants::table
            .find(variant_id)
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Ok(None);
        }
        let rows: Vec<(String, i64)> = inventory_items::table
            .filter(inventory_items::variant_id.eq(variant_id))
            .filter(inventory_items::hub_id.eq_any(hubs))
            .group_by(inventory_items::status)
            .select((inventory_items::status, diesel::dsl::count_star()))
            .load(conn)?;
        Ok(Some(rows))
    })
    .await?
    .ok_or_else(|| AppError::not_found("There is no such variant."))?;
    let get = |s: &str| {
        counts
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let (available, reserved, sold) = (get("AVAILABLE"), get("RESERVED"), get("SOLD"));
    Ok(HttpResponse::Ok().json(Summary {
        variant_id,
        available,
        reserved,
        sold,
        total: available + reserved + sold,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TotalValue {
    pub item_count: i64,
    pub total_cost_basis: f64,
    pub total_listing_value: f64,
}

/// Value of unsold items at the caller's hubs (ADMIN only).
#[utoipa::path(get, path = "/api/v1/inventory/value/total", tag = "inventory",
    responses(
        (status = 200, body = TotalValue),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden), security(("bearer" = []),
        ("session" = [])))]
pub async fn total_value(
    user: Authorized<perm::WarehouseValue>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hubs = user.scope.hub_ids();
    let (count, cost, listing) = crate::db::run(&state.db, move |conn| {
        Ok(inventory_items::table
            .inner_join(product_variants::table)
            .filter(inventory_items::hub_id.eq_any(hubs))
            .filter(inventory_items::status.ne("SOLD"))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "coalesce(sum(inventory_items.cost_basis_cents), 0)::bigint",
                ),
                diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "coalesce(sum(product_variants.listing_price_cents), 0)::bigint",
                ),
            ))
            .first::<(i64, i64, i64)>(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TotalValue {
        item_count: count,
        total_cost_basis: cents_to_units(cost),
        total_listing_value: cents_to_units(listing),
    }))
}
