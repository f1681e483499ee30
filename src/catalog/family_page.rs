//! A product family's page: its variants, its identities (the immutable layer, admins only)
//! with the form for a new one showing the UPIS-H it will make, and renaming the family.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{Family, Identity};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, Layout};
use crate::ui::page::Page;

use super::manage_pages::{number_field, padded};

/// A variant as a family's page lists it.
#[derive(Queryable)]
pub struct VariantLine {
    pub identity_id: i64,
    pub full_sku: String,
    pub description: String,
    pub listing_price_cents: i64,
    pub active: bool,
}

impl VariantLine {
    pub fn price(&self) -> String {
        crate::money::format_cents(self.listing_price_cents)
    }
}

pub struct IdentityForm {
    pub meta: OpMeta,
    pub kind: String,
    pub lci: String,
    pub physical_class: String,
}

#[derive(Template)]
#[template(path = "catalog/family.html")]
pub(super) struct FamilyPage {
    layout: Layout,
    section: &'static str,
    family: Family,
    code: String,
    identities: Vec<Identity>,
    variants: Vec<VariantLine>,
    form: Option<IdentityForm>,
    /// The rename form, for admins: its op id and the name shown in it.
    rename: Option<(OpMeta, String)>,
    /// Errors of a rename (or of someone without the identity form) show above everything.
    errors_at_top: bool,
    can_add_variant: bool,
    errors: Vec<FieldError>,
}

impl FamilyPage {
    fn variants_of(&self, identity: &Identity) -> Vec<&VariantLine> {
        self.variants
            .iter()
            .filter(|v| v.identity_id == identity.id)
            .collect()
    }
}

pub(super) async fn family(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    path: web::Path<(i32,)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    family_page(&state, &page, &user, path.into_inner().0, None, vec![]).await
}

pub(super) async fn family_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    product_id: i32,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let found = crate::db::run(&state.db, move |conn| {
        let Some(family) = product_families::table
            .find(product_id)
            .select(Family::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let identities: Vec<Identity> = product_identities::table
            .filter(product_identities::product_id.eq(product_id))
            .order((product_identities::type_, product_identities::lci))
            .select(Identity::as_select())
            .load(conn)?;
        let variants: Vec<VariantLine> = product_variants::table
            .inner_join(product_identities::table)
            .filter(product_identities::product_id.eq(product_id))
            .order(product_variants::full_sku)
            .select((
                product_variants::identity_id,
                product_variants::full_sku,
                product_variants::description,
                product_variants::listing_price_cents,
                product_variants::active,
            ))
            .load(conn)?;
        Ok(Some((family, identities, variants)))
    })
    .await?;
    let (family, identities, variants) =
        found.ok_or_else(|| AppError::not_found("There is no product family with that number."))?;
    let next_lci = identities.iter().map(|i| i.lci).max().unwrap_or(0) + 1;
    // A refused rename shows the name that was typed; anything else the family's own.
    let renaming = posted.filter(|f| f.has("rename"));
    let rename = user.can(Permission::FamilyCreate).then(|| {
        (
            OpMeta::unscoped(&state.settings, user, "catalog.family_rename", renaming),
            renaming.map_or_else(|| family.base_name.clone(), |f| f.text("base_name")),
        )
    });
    let errors_at_top = renaming.is_some() || !user.can(Permission::IdentityCreate);
    let posted = posted.filter(|f| !f.has("rename"));
    let form = user.can(Permission::IdentityCreate).then(|| IdentityForm {
        meta: OpMeta::unscoped(&state.settings, user, "catalog.identity_create", posted),
        kind: posted.map_or_else(|| "P".into(), |f| f.text("type")),
        lci: posted.map_or_else(|| next_lci.to_string(), |f| f.text("lci")),
        physical_class: posted.map_or_else(|| "G".into(), |f| f.text("physical_class")),
    });
    render_with_status(
        &FamilyPage {
            layout: page.layout(format!("{} · {}", padded(product_id), family.base_name)),
            section: "families",
            code: padded(product_id),
            family,
            identities,
            variants,
            form,
            rename,
            errors_at_top,
            can_add_variant: user.can(Permission::VariantCreate),
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

pub(super) async fn rename_family(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i32,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let product_id = path.into_inner().0;
    let payload =
        serde_json::json!({ "product_id": product_id, "base_name": form.text("base_name") });
    let posted = Posted::new("catalog.family_rename", payload, vec![]);
    let here = format!("/catalog/families/{product_id}");
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&here),
        |_| "Family renamed. Its variants Zoho has are sent again with the new name.".into(),
    )
    .await?;
    match answer {
        Ok(res) => Ok(res),
        Err(refused) => {
            refused
                .show(|errors| family_page(&state, &page, &user, product_id, Some(&form), errors))
                .await
        }
    }
}

pub fn posted_identity(product_id: i32, form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let lci: i32 = number_field(form, "lci", &mut errors);
    let payload = serde_json::json!({
        "product_id": product_id,
        "type": form.text("type").to_uppercase(),
        "lci": lci,
        "physical_class": form.text("physical_class").to_uppercase(),
    });
    Posted::new("catalog.identity_create", payload, errors)
}

pub(super) async fn create_identity(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i32,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let product_id = path.into_inner().0;
    let here = format!("/catalog/families/{product_id}");
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted_identity(product_id, &form),
        forms::Then::Page(&here),
        |result| {
            format!(
                "Identity {} created.",
                result.server_id.clone().unwrap_or_default()
            )
        },
    )
    .await?;
    match answer {
        Ok(res) => Ok(res),
        Err(refused) => {
            refused
                .show(|errors| family_page(&state, &page, &user, product_id, Some(&form), errors))
                .await
        }
    }
}
