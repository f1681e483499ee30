//! `/api/v1/inventory/...` — the USAV physical-inventory API, scoped to the caller's hubs.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Item;
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::rest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::api_reads::{audit, by_serial, get_item, list, summary, total_value, transactions};
    // Literal paths before `{item_id}` so they are not taken for ids.
    cfg.service(web::resource("/api/v1/inventory").get(list))
        .service(web::resource("/api/v1/inventory/receive").post(receive))
        .service(web::resource("/api/v1/inventory/move").post(move_item))
        .service(web::resource("/api/v1/inventory/value/total").get(total_value))
        .service(web::resource("/api/v1/inventory/audit/{sku_or_serial}").get(audit))
        .service(web::resource("/api/v1/inventory/serial/{serial}").get(by_serial))
        .service(web::resource("/api/v1/inventory/summary/{variant_id}").get(summary))
        .service(web::resource("/api/v1/inventory/{item_id}/reserve").post(reserve))
        .service(web::resource("/api/v1/inventory/{item_id}/sell").post(sell))
        .service(web::resource("/api/v1/inventory/{item_id}/transactions").get(transactions))
        .service(
            web::resource("/api/v1/inventory/{item_id}")
                .get(get_item)
                .patch(patch_item)
                .delete(delete_item),
        );
}

/// Serialized items carry costs and prices of a hub's stock: staff who see stock only.
pub(super) type Reader = Authorized<perm::InventoryRead>;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "serial_number": "SN-998877", "variant_sku": "00845-P-1-WY-N", "location_code": "A1-S2", "cost_basis": 45.00 }))]
pub struct ReceiveBody {
    pub serial_number: String,
    pub variant_sku: String,
    pub location_code: String,
    pub cost_basis: Option<f64>,
    /// The receiving hub; may be left out by someone who works at a single hub.
    pub hub_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiveResponse {
    pub id: i64,
    pub serial_number: String,
    pub sku: String,
    pub location_code: String,
    pub status: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub hub_id: i64,
}

/// Intake a new physical item (ADMIN or WAREHOUSE_OP). 409 on a duplicate serial, 404 on an unknown SKU.
#[utoipa::path(post, path = "/api/v1/inventory/receive", tag = "inventory", request_body = ReceiveBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 201, body = ReceiveResponse),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Conflict,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn receive(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut payload = body.into_inner();
    let Some(object) = payload.as_object_mut() else {
        return Err(AppError::Unprocessable(
            "The body must be a JSON object.".into(),
        ));
    };
    if object.get("hub_id").is_none_or(|h| h.is_null()) {
        match user.scope.hubs.as_slice() {
            [one] => {
                object.insert("hub_id".into(), json!(one.id));
            }
            _ => {
                return Err(AppError::Unprocessable(
                    "You work at several hubs: say which one receives the item (hub_id).".into(),
                ))
            }
        }
    }
    rest::run(&req, &state, &user, "warehouse.receive", payload, true).await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "serial_number": "SN-998877", "new_location": "B2-S1" }))]
pub struct MoveBody {
    pub serial_number: String,
    pub new_location: String,
}

#[derive(Serialize, ToSchema)]
pub struct MoveResponse {
    pub serial_number: String,
    pub previous_location: String,
    pub new_location: String,
    pub moved_at: chrono::DateTime<chrono::Utc>,
}

/// Move an item to another location (ADMIN or WAREHOUSE_OP). 404 if the serial is unknown.
#[utoipa::path(post, path = "/api/v1/inventory/move", tag = "inventory", request_body = MoveBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 200, body = MoveResponse),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn move_item(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "warehouse.move",
        body.into_inner(),
        false,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "location_code": "C3-S1" }))]
pub struct ItemPatch {
    pub location_code: Option<String>,
    pub cost_basis: Option<f64>,
}

/// Change an item's location or cost basis (ADMIN or WAREHOUSE_OP).
#[utoipa::path(patch, path = "/api/v1/inventory/{item_id}", tag = "inventory", params(
        ("item_id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID")), request_body = ItemPatch,
    responses(
        (status = 200, body = Item),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Unprocessable), security(("bearer" = []),
        ("session" = [])))]
pub async fn patch_item(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut payload = body.into_inner();
    let Some(object) = payload.as_object_mut() else {
        return Err(AppError::Unprocessable(
            "The body must be a JSON object.".into(),
        ));
    };
    object.insert("item_id".into(), json!(path.into_inner()));
    rest::run(&req, &state, &user, "warehouse.update", payload, false).await
}

/// Delete an item (ADMIN only). Its transaction log stays.
#[utoipa::path(delete, path = "/api/v1/inventory/{item_id}", tag = "inventory", params(
        ("item_id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 200, description = "deleted"),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn delete_item(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "warehouse.delete",
        json!({ "item_id": path.into_inner() }),
        false,
    )
    .await
}

/// Reserve an item (ADMIN or SALES_REP): AVAILABLE → RESERVED, else 409.
#[utoipa::path(post, path = "/api/v1/inventory/{item_id}/reserve", tag = "inventory", params(
        ("item_id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 200, body = Item),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Conflict), security(("bearer" = []),
        ("session" = [])))]
pub async fn reserve(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "warehouse.reserve",
        json!({ "item_id": path.into_inner() }),
        false,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "sale_price": 150.00 }))]
pub struct SellBody {
    pub sale_price: f64,
}

/// Sell an item (ADMIN or SALES_REP): AVAILABLE or RESERVED → SOLD, else 409.
#[utoipa::path(post, path = "/api/v1/inventory/{item_id}/sell", tag = "inventory", params(
        ("item_id" = i64, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID")), request_body = SellBody,
    responses(
        (status = 200, body = Item),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Conflict,
        crate::error::problems::Unprocessable), security(("bearer" = []),
        ("session" = [])))]
pub async fn sell(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sale_price = body
        .get("sale_price")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    rest::run(
        &req,
        &state,
        &user,
        "warehouse.sell",
        json!({ "item_id": path.into_inner(), "sale_price": sale_price }),
        false,
    )
    .await
}
