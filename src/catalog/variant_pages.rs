//! One variant for people: what it is, its price and description (editable by those who may
//! change prices), where it is stocked, and — for the people who run the catalog — its Zoho
//! sync state with a "sync now" for admins.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{sync_words, words_of, VariantRow, COLORS, CONDITIONS};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/catalog/variants/{sku}")
            .get(show)
            .post(update),
    )
    .service(web::resource("/catalog/variants/{sku}/sync").post(sync_now));
}

/// The edit form's fields: as saved, or as posted after a refusal.
pub struct EditForm {
    pub meta: OpMeta,
    pub price: String,
    /// The price is shown but cannot be changed: the user may not change list prices.
    pub price_locked: bool,
    pub description: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "catalog/variant.html")]
struct VariantPage {
    layout: Layout,
    section: &'static str,
    v: VariantRow,
    family_name: String,
    product_id: i32,
    upis_h: String,
    price: String,
    edit: Option<EditForm>,
    /// The Zoho panel is for the people who run the catalog, not for customers or drivers.
    sees_sync: bool,
    can_sync_now: bool,
    /// Whether this server sends the catalog to Zoho at all (`OUTPOST_ZOHO_…` set).
    zoho_on: bool,
    sees_stock: bool,
    errors: Vec<FieldError>,
}

impl VariantPage {
    fn color_words(&self) -> &str {
        words_of(&COLORS, &self.v.color_code)
    }
    fn condition_words(&self) -> &str {
        words_of(&CONDITIONS, &self.v.condition_code)
    }
    fn sync_words(&self) -> &'static str {
        sync_words(&self.v.zoho_sync_status)
    }
}

type Found = (VariantRow, String, i32, String);

async fn load(state: &AppState, sku: String) -> Result<Found, AppError> {
    crate::db::run(&state.db, move |conn| {
        Ok(product_variants::table
            .inner_join(product_identities::table.inner_join(product_families::table))
            .filter(product_variants::full_sku.eq(sku.trim().to_uppercase()))
            .select((
                VariantRow::as_select(),
                product_families::base_name,
                product_families::product_id,
                product_identities::generated_upis_h,
            ))
            .first(conn)
            .optional()?)
    })
    .await?
    .ok_or_else(|| AppError::not_found("There is no variant with that SKU."))
}

async fn show(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let found = load(&state, path.into_inner()).await?;
    variant_page(&state, &page, &user, found, None, vec![])
}

fn variant_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    (v, family_name, product_id, upis_h): Found,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let edit = user.can(Permission::VariantPriceEdit).then(|| EditForm {
        meta: OpMeta::unscoped(&state.settings, user, "catalog.variant_update", posted),
        price: posted.map_or_else(
            || crate::money::plain_cents(v.listing_price_cents),
            |f| f.text("listing_price"),
        ),
        price_locked: !super::variant_kinds::may_change_list_price(user),
        description: posted.map_or_else(|| v.description.clone(), |f| f.text("description")),
        active: posted.map_or(v.active, |f| f.has("active")),
    });
    let sees_sync = super::sees_sync_state(user);
    render_with_status(
        &VariantPage {
            layout: page.layout(format!("{} · {}", v.full_sku, family_name)),
            section: "variants",
            price: crate::money::format_cents(v.listing_price_cents),
            can_sync_now: user.can(Permission::JobsManage)
                && state.settings.zoho.is_some()
                && v.zoho_sync_status != "SYNCED",
            zoho_on: state.settings.zoho.is_some(),
            sees_stock: user.can(Permission::InventoryRead),
            v,
            family_name,
            product_id,
            upis_h,
            edit,
            sees_sync,
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

/// The operation the edit form stands for. An unticked box is absent from a form, so the
/// form says it carries the box (`active_shown`) to tell "made inactive" from "not shown".
pub fn posted_update(sku: &str, form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let listing_price = forms::price(form, "listing_price", &mut errors);
    let mut payload = serde_json::json!({
        "sku": sku,
        "listing_price": listing_price,
        "description": form.text("description"),
    });
    if form.has("active_shown") {
        payload["active"] = serde_json::json!(form.has("active"));
    }
    Posted::new("catalog.variant_update", payload, errors)
}

async fn update(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<String>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sku = path.into_inner().trim().to_uppercase();
    let posted = posted_update(&sku, &form);
    let here = format!("/catalog/variants/{sku}");
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&here),
        |_| "Variant saved.".into(),
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    let found = load(&state, sku).await?;
    refused.show_now(|errors| variant_page(&state, &page, &user, found, Some(&form), errors))
}

/// "Sync now": the variant's sync job is queued at once instead of at the next sweep; a
/// failed sync gets one more attempt (as the jobs page's retry gives it).
async fn sync_now(
    admin: Authorized<perm::JobsManage>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sku = path.into_inner().trim().to_uppercase();
    let back = format!("/catalog/variants/{sku}");
    let (v, ..) = load(&state, sku).await?;
    let message =
        match crate::zoho_sync::sync_again(&state, &admin, v.id, &v.zoho_sync_status).await? {
            true => "The sync to Zoho has been queued; this page shows the result when it is done.",
            false => "This variant is already in step with Zoho; nothing to send.",
        };
    Ok(redirect_with_flash(
        &state.settings,
        &back,
        FlashKind::Success,
        message,
    ))
}
