//! The new-variant form (admins and sales reps): an identity, colour, condition and price,
//! showing the SKU it will make before it is saved.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use super::{COLORS, CONDITIONS};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, Layout};
use crate::ui::page::Page;

/// An identity a new variant may belong to, as the picker shows it.
pub struct IdentityChoice {
    pub id: i64,
    pub upis_h: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "catalog/variant_new.html")]
pub(super) struct NewVariantPage {
    layout: Layout,
    section: &'static str,
    meta: OpMeta,
    identities: Vec<IdentityChoice>,
    /// SKUs the chosen identity already has: a colour and condition can be used once.
    taken: Vec<String>,
    colors: &'static [(&'static str, &'static str)],
    conditions: &'static [(&'static str, &'static str)],
    color: String,
    condition: String,
    price: String,
    description: String,
    cost: String,
    unit: String,
    /// The viewer may set a cost (`can_see_cost`); others are not shown the field.
    sets_cost: bool,
    /// Zoho sync is on: the page says the variant is sent there.
    zoho_on: bool,
    errors: Vec<FieldError>,
}

impl NewVariantPage {
    /// The SKU the form makes as it stands (forms.js keeps it current as choices change).
    fn preview(&self) -> String {
        let upis = self
            .identities
            .iter()
            .find(|i| i.selected)
            .map_or("?????-?-?", |i| i.upis_h.as_str());
        format!("{upis}-{}-{}", self.color, self.condition)
    }
}

#[derive(Deserialize)]
pub(super) struct NewVariantQuery {
    #[serde(default)]
    identity: Option<i64>,
}

pub(super) async fn new_variant(
    user: Authorized<perm::VariantCreate>,
    page: Page,
    query: web::Query<NewVariantQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let chosen = query.identity;
    new_variant_page(&state, &page, &user, chosen, None, vec![]).await
}

pub(super) async fn new_variant_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    chosen: Option<i64>,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let (all, taken) = crate::db::run(&state.db, move |conn| {
        let all: Vec<(i64, String, String)> = product_identities::table
            .inner_join(product_families::table)
            .order(product_identities::generated_upis_h)
            .select((
                product_identities::id,
                product_identities::generated_upis_h,
                product_families::base_name,
            ))
            .load(conn)?;
        let taken: Vec<String> = match chosen {
            Some(id) => product_variants::table
                .filter(product_variants::identity_id.eq(id))
                .order(product_variants::full_sku)
                .select(product_variants::full_sku)
                .load(conn)?,
            None => Vec::new(),
        };
        Ok((all, taken))
    })
    .await?;
    let identities: Vec<IdentityChoice> = all
        .into_iter()
        .map(|(id, upis_h, name)| IdentityChoice {
            selected: Some(id) == chosen,
            id,
            upis_h,
            name,
        })
        .collect();
    // A new variant is described by its family's name until someone writes better.
    let family_name = identities
        .iter()
        .find(|i| i.selected)
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let text =
        |name: &str, default: &str| posted.map_or_else(|| default.to_string(), |f| f.text(name));
    render_with_status(
        &NewVariantPage {
            layout: page.layout("New variant"),
            section: "variants",
            meta: OpMeta::unscoped(&state.settings, user, "catalog.variant_create", posted),
            identities,
            taken,
            colors: &COLORS,
            conditions: &CONDITIONS,
            color: text("color_code", "NA"),
            condition: text("condition_code", "N"),
            price: text("listing_price", ""),
            description: text("description", &family_name),
            cost: text("cost", ""),
            unit: text("unit", "each"),
            sets_cost: user.flags.can_see_cost,
            zoho_on: state.settings.zoho.is_some(),
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

pub fn posted_variant(form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let identity_id: i64 = form.text("identity_id").parse().unwrap_or_else(|_| {
        errors.push(FieldError::new("identity_id", "choose an identity"));
        0
    });
    let listing_price = forms::price(form, "listing_price", &mut errors);
    // Optional: no cost is no cost (not zero).
    let cost =
        (!form.text("cost").trim().is_empty()).then(|| forms::price(form, "cost", &mut errors));
    let unit = Some(form.text("unit")).filter(|u| !u.trim().is_empty());
    let payload = serde_json::json!({
        "identity_id": identity_id,
        "color_code": form.text("color_code"),
        "condition_code": form.text("condition_code"),
        "listing_price": listing_price,
        "description": form.text("description"),
        "cost": cost,
        "unit": unit,
    });
    Posted::new("catalog.variant_create", payload, errors)
}

pub(super) async fn create_variant(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let done = if state.settings.zoho.is_some() {
        "Variant created. It is sent to Zoho in the background."
    } else {
        "Variant created. Zoho sync is off on this server: it is kept here only."
    };
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted_variant(&form),
        forms::Then::Record("/catalog/variants"),
        |_| done.into(),
    )
    .await?;
    match answer {
        Ok(res) => Ok(res),
        Err(refused) => {
            let chosen = form.text("identity_id").parse().ok();
            refused
                .show(|errors| new_variant_page(&state, &page, &user, chosen, Some(&form), errors))
                .await
        }
    }
}
