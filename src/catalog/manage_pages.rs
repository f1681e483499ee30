//! Catalog management for people: the product families (list and new), with the routes of a
//! family's page (`family_page`) and the new-variant form (`new_variant_page`), each form
//! showing the UPIS-H or SKU it will make before it is saved. Every save is an operation on the pipeline (online only:
//! the catalog kinds are not finalisable offline).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use diesel::AggregateExpressionMethods;
use serde::Deserialize;

use super::Family;
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
use crate::ui::pager::{Pager, PER_PAGE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::family_page::{create_identity, family, rename_family};
    use super::new_variant_page::{create_variant, new_variant};
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
pub(super) struct FamiliesPage {
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

pub(super) async fn families(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    families_page(&state, &page, &user, query, None, vec![]).await
}

pub(super) async fn families_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    query: ListQuery,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.trim().chars().take(100).collect();
    let page_no = query.page.unwrap_or(0).clamp(0, crate::ui::MAX_PAGE);
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
        let total = crate::db::count_up_to(base(), crate::ui::pager::COUNT_UP_TO, conn)?;
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
pub(super) fn number_field<T: std::str::FromStr + Default>(
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

pub(super) async fn create_family(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted_family(&form),
        forms::Then::Record("/catalog/families"),
        |_| "Product family created. Add its first identity below.".into(),
    )
    .await?;
    match answer {
        Ok(res) => Ok(res),
        Err(refused) => {
            let query = ListQuery {
                q: String::new(),
                page: None,
            };
            refused
                .show(|errors| families_page(&state, &page, &user, query, Some(&form), errors))
                .await
        }
    }
}
