//! `/api/v1/families`, `/api/v1/identities`, `/api/v1/variants` — the USAV catalog API.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{identity_by_upis, Family, Identity, Variant};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::error::Problem;
use crate::state::AppState;
use crate::sync::rest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/families").post(create_family))
        .service(web::resource("/api/v1/identities").post(create_identity))
        .service(web::resource("/api/v1/identities/{upis_h}").get(get_identity))
        .service(web::resource("/api/v1/variants").post(create_variant))
        .service(
            web::resource("/api/v1/variants/{sku}")
                .get(get_variant)
                .patch(patch_variant),
        );
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "product_id": 845, "base_name": "Bose 201 Series" }))]
pub struct FamilyBody {
    pub product_id: i32,
    pub base_name: String,
}

/// Create a product family namespace (ADMIN only).
#[utoipa::path(post, path = "/api/v1/families", tag = "catalog", request_body = FamilyBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "UUID; a repeat returns the first result")),
    responses(
        (status = 201, body = Family),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::Conflict,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_family(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "catalog.family_create",
        body.into_inner(),
        true,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "product_id": 845, "type": "P", "lci": 1, "physical_class": "E" }))]
pub struct IdentityBody {
    pub product_id: i32,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub lci: i32,
    pub physical_class: Option<String>,
}

/// Create a Layer 1 identity (ADMIN only); the database derives UPIS-H and the hex signature.
#[utoipa::path(post, path = "/api/v1/identities", tag = "catalog", request_body = IdentityBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 201, body = Identity),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such family"),
        crate::error::problems::Conflict,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_identity(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "catalog.identity_create",
        body.into_inner(),
        true,
    )
    .await
}

/// Look up what an item is by its UPIS-H (e.g. 00845-P-1).
#[utoipa::path(get, path = "/api/v1/identities/{upis_h}", tag = "catalog", params(
        ("upis_h" = String, Path)),
    responses(
        (status = 200, body = Identity),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn get_identity(
    _user: Authorized<perm::CatalogRead>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let upis = path.into_inner();
    let found = crate::db::run(&state.db, move |conn| Ok(identity_by_upis(conn, &upis)?)).await?;
    found
        .map(|i| HttpResponse::Ok().json(i))
        .ok_or_else(|| AppError::not_found("There is no identity with that UPIS-H."))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "identity_id": 102, "color_code": "WY", "condition_code": "N", "listing_price": 150.00 }))]
pub struct VariantBody {
    pub identity_id: i64,
    /// One of BK, WH, WY, GY, SL, RD, BL, GN, BR, NA.
    pub color_code: String,
    /// One of N (new), R (refurbished), U (used), D (damaged).
    pub condition_code: String,
    pub listing_price: f64,
    pub description: Option<String>,
    /// What one unit costs; only for callers with `can_see_cost` (403 otherwise).
    pub cost: Option<f64>,
    /// What one is counted in, e.g. "each" (the default) or "case of 12".
    pub unit: Option<String>,
}

/// Create a sellable variant (ADMIN or SALES_REP); it starts PENDING for the Zoho sync.
#[utoipa::path(post, path = "/api/v1/variants", tag = "catalog", request_body = VariantBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 201, body = Variant),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Conflict,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_variant(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    rest::run(
        &req,
        &state,
        &user,
        "catalog.variant_create",
        body.into_inner(),
        true,
    )
    .await
}

/// A variant by its full SKU.
#[utoipa::path(get, path = "/api/v1/variants/{sku}", tag = "catalog", params(
        ("sku" = String, Path)),
    responses(
        (status = 200, body = Variant),
        crate::error::problems::Unauthorized,
        crate::error::problems::NotFound), security(("bearer" = []),
        ("session" = [])))]
pub async fn get_variant(
    _user: Authorized<perm::CatalogRead>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sku = path.into_inner();
    let found = crate::db::run(&state.db, move |conn| {
        Ok(super::variant_by_sku(conn, &sku)?)
    })
    .await?;
    found
        .map(|v| HttpResponse::Ok().json(Variant::from(v)))
        .ok_or_else(|| AppError::not_found("There is no variant with that SKU."))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "listing_price": 139.00 }))]
pub struct VariantPatchBody {
    pub listing_price: Option<f64>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// Update price, description or active status (ADMIN or SALES_REP). A price or description
/// change marks the variant DIRTY for the Zoho sync worker.
#[utoipa::path(patch, path = "/api/v1/variants/{sku}", tag = "catalog", params(
        ("sku" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID")), request_body = VariantPatchBody,
    responses(
        (status = 200, body = Variant),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn patch_variant(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut payload = body.into_inner();
    let Some(object) = payload.as_object_mut() else {
        return Err(AppError::Unprocessable(
            "The body must be a JSON object.".into(),
        ));
    };
    object.insert("sku".into(), json!(path.into_inner()));
    rest::run(
        &req,
        &state,
        &user,
        "catalog.variant_update",
        payload,
        false,
    )
    .await
}
