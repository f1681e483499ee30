//! Catalog management for people: product families, their identities (the immutable layer,
//! admins only) and new variants (admins and sales reps), each form showing the UPIS-H or SKU
//! it will make before it is saved. Every save is an operation on the pipeline (online only:
//! the catalog kinds are not finalisable offline).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use diesel::AggregateExpressionMethods;
use serde::Deserialize;

use super::{Family, Identity, COLORS, CONDITIONS};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::web::form::FormFields;
use crate::web::layout::{render_with_status, Layout};
use crate::web::page::Page;
use crate::web::pager::{Pager, PER_PAGE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/catalog/families")
            .get(families)
            .post(create_family),
    )
    .service(
        web::resource("/catalog/families/{product_id}")
            .get(family)
            .post(rename_family),
    )
    .service(web::resource("/catalog/families/{product_id}/identities").post(create_identity))
    .service(web::resource("/catalog/variants/new").get(new_variant))
    .service(web::resource("/catalog/variants").post(create_variant));
}

/// "00845": product ids are shown as they appear in UPIS-H and SKUs.
pub fn padded(product_id: i32) -> String {
    format!("{product_id:05}")
}

pub struct FamilyRow {
    pub family: Family,
    pub identities: i64,
    pub variants: i64,
}

impl FamilyRow {
    pub fn code(&self) -> String {
        padded(self.family.product_id)
    }
}

/// What the new-family form holds (posted values after a refusal, else a suggestion).
pub struct FamilyForm {
    pub meta: OpMeta,
    pub product_id: String,
    pub base_name: String,
}

#[derive(Template)]
#[template(path = "catalog/families.html")]
struct FamiliesPage {
    layout: Layout,
    section: &'static str,
    q: String,
    rows: Vec<FamilyRow>,
    pager: Pager,
    form: Option<FamilyForm>,
    errors: Vec<FieldError>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
}

async fn families(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    families_page(&state, &page, &user, query, None, vec![]).await
}

async fn families_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    query: ListQuery,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.trim().chars().take(100).collect();
    let page_no = query.page.unwrap_or(0).clamp(0, crate::web::MAX_PAGE);
    let search = q.clone();
    // Only the form for a new family needs the next free number.
    let creates = user.can(Permission::FamilyCreate);
    let (rows, total, next_id) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut b = product_families::table.into_boxed();
            if !search.is_empty() {
                let by_name = product_families::base_name.ilike(crate::db::containing(&search));
                b = match search.trim_start_matches('0').parse::<i32>() {
                    Ok(id) => b.filter(by_name.or(product_families::product_id.eq(id))),
                    Err(_) => b.filter(by_name),
                };
            }
            b
        };
        let total: i64 = base().count().get_result(conn)?;
        let found: Vec<Family> = base()
            .order(product_families::product_id)
            .limit(PER_PAGE)
            .offset(Pager::offset(page_no))
            .select(Family::as_select())
            .load(conn)?;
        let ids: Vec<i32> = found.iter().map(|f| f.product_id).collect();
        // One query for the counts of the whole page.
        let counts: Vec<(i32, i64, Option<i64>)> = product_identities::table
            .left_join(product_variants::table)
            .filter(product_identities::product_id.eq_any(&ids))
            .group_by(product_identities::product_id)
            .select((
                product_identities::product_id,
                diesel::dsl::count(product_identities::id).aggregate_distinct(),
                diesel::dsl::count(product_variants::id.nullable()).nullable(),
            ))
            .load(conn)?;
        let rows = found
            .into_iter()
            .map(|family| {
                let (identities, variants) = counts
                    .iter()
                    .find(|(id, _, _)| *id == family.product_id)
                    .map_or((0, 0), |(_, i, v)| (*i, v.unwrap_or(0)));
                FamilyRow {
                    family,
                    identities,
                    variants,
                }
            })
            .collect::<Vec<_>>();
        let highest: Option<i32> = if creates {
            product_families::table
                .select(diesel::dsl::max(product_families::product_id))
                .first(conn)?
        } else {
            None
        };
        Ok((rows, total, highest.unwrap_or(0) + 1))
    })
    .await?;
    let form = creates.then(|| FamilyForm {
        meta: OpMeta::unscoped(&state.settings, user, "catalog.family_create", posted),
        product_id: posted.map_or_else(|| next_id.to_string(), |f| f.text("product_id")),
        base_name: posted.map(|f| f.text("base_name")).unwrap_or_default(),
    });
    render_with_status(
        &FamiliesPage {
            layout: page.layout("Product families"),
            section: "families",
            pager: Pager::filtered("/catalog/families", &[("q", &q)], page_no, total),
            q,
            rows,
            form,
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

/// A whole number from a form field, or a field error in words.
fn number_field<T: std::str::FromStr + Default>(
    form: &FormFields,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> T {
    form.text(name).parse().unwrap_or_else(|_| {
        errors.push(FieldError::new(name, "enter a whole number"));
        T::default()
    })
}

pub fn posted_family(form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let product_id: i32 = number_field(form, "product_id", &mut errors);
    let payload = serde_json::json!({
        "product_id": product_id,
        "base_name": form.text("base_name"),
    });
    Posted::new("catalog.family_create", payload, errors)
}

async fn create_family(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let result = forms::submit(&state, &user, &req, &form, posted_family(&form)).await?;
    let location = forms::created_location(&result, "/catalog/families");
    if let Some(res) = forms::respond(
        &req,
        &state.settings,
        &result,
        &location,
        "Product family created. Add its first identity below.",
    ) {
        return Ok(res);
    }
    let query = ListQuery {
        q: String::new(),
        page: None,
    };
    let errors = forms::form_errors(&result);
    families_page(&state, &page, &user, query, Some(&form), errors).await
}

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
struct FamilyPage {
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

async fn family(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    path: web::Path<(i32,)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    family_page(&state, &page, &user, path.into_inner().0, None, vec![]).await
}

async fn family_page(
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

async fn rename_family(
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
    let result = forms::submit(&state, &user, &req, &form, posted).await?;
    if let Some(res) = forms::respond(
        &req,
        &state.settings,
        &result,
        &format!("/catalog/families/{product_id}"),
        "Family renamed. Its variants Zoho has are sent again with the new name.",
    ) {
        return Ok(res);
    }
    let errors = forms::form_errors(&result);
    family_page(&state, &page, &user, product_id, Some(&form), errors).await
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

async fn create_identity(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i32,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let product_id = path.into_inner().0;
    let posted = posted_identity(product_id, &form);
    let result = forms::submit(&state, &user, &req, &form, posted).await?;
    if let Some(res) = forms::respond(
        &req,
        &state.settings,
        &result,
        &format!("/catalog/families/{product_id}"),
        &format!(
            "Identity {} created.",
            result.server_id.clone().unwrap_or_default()
        ),
    ) {
        return Ok(res);
    }
    let errors = forms::form_errors(&result);
    family_page(&state, &page, &user, product_id, Some(&form), errors).await
}

/// An identity a new variant may belong to, as the picker shows it.
pub struct IdentityChoice {
    pub id: i64,
    pub upis_h: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "catalog/variant_new.html")]
struct NewVariantPage {
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
struct NewVariantQuery {
    #[serde(default)]
    identity: Option<i64>,
}

async fn new_variant(
    user: Authorized<perm::VariantCreate>,
    page: Page,
    query: web::Query<NewVariantQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let chosen = query.identity;
    new_variant_page(&state, &page, &user, chosen, None, vec![]).await
}

async fn new_variant_page(
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
    let payload = serde_json::json!({
        "identity_id": identity_id,
        "color_code": form.text("color_code"),
        "condition_code": form.text("condition_code"),
        "listing_price": listing_price,
        "description": form.text("description"),
    });
    Posted::new("catalog.variant_create", payload, errors)
}

async fn create_variant(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let result = forms::submit(&state, &user, &req, &form, posted_variant(&form)).await?;
    let location = forms::created_location(&result, "/catalog/variants");
    if let Some(res) = forms::respond(
        &req,
        &state.settings,
        &result,
        &location,
        "Variant created. It is sent to Zoho in the background.",
    ) {
        return Ok(res);
    }
    let chosen = form.text("identity_id").parse().ok();
    let errors = forms::form_errors(&result);
    new_variant_page(&state, &page, &user, chosen, Some(&form), errors).await
}
