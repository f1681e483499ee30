//! The catalog for people: search variants by SKU, name or description.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use super::VariantRow;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{perm, Permission};
use crate::error::AppError;
use crate::schema::{product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;
use crate::ui::pager::{Pager, PER_PAGE};
use crate::ui::sorting::Sort;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/catalog").get(browse));
}

#[derive(Deserialize)]
pub struct Query {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The columns the catalog can be sorted by; by SKU unless asked otherwise.
const SORTS: [&str; 3] = ["sku", "name", "price"];
const ORDER: Sort = Sort::ascending("sku");

pub struct Row {
    pub name: String,
    pub v: VariantRow,
}

impl Row {
    pub fn price(&self) -> String {
        crate::money::format_cents(self.v.listing_price_cents)
    }
}

#[derive(Template)]
#[template(path = "catalog/browse.html")]
struct BrowsePage {
    layout: Layout,
    q: String,
    rows: Vec<Row>,
    total: i64,
    pager: Pager,
    /// Sortable headers: SKU, item, price.
    headers: Vec<crate::ui::sorting::Header>,
    section: &'static str,
    can_create: bool,
    /// The Zoho sync state is for the people who run the catalog, not for customers.
    sees_sync: bool,
}

impl BrowsePage {
    fn sync_words(&self, status: &str) -> &'static str {
        super::sync_words(status)
    }
}

async fn browse(
    user: Authorized<perm::CatalogRead>,
    page: Page,
    query: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.trim().chars().take(100).collect();
    let page_no = query.page.unwrap_or(0).clamp(0, crate::ui::MAX_PAGE);
    let search = q.clone();
    let sort = Sort::parse(&query.sort, &SORTS, ORDER);
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut b = product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table))
                .into_boxed();
            if !search.is_empty() {
                let p = crate::db::containing(&search);
                b = b.filter(
                    product_variants::full_sku
                        .ilike(p.clone())
                        .or(product_families::base_name.ilike(p.clone()))
                        .or(product_variants::description.ilike(p)),
                );
            }
            b
        };
        let total = crate::db::count_up_to(base(), crate::ui::pager::COUNT_UP_TO, conn)?;
        let sku = product_variants::full_sku;
        let ordered = match (sort.key, sort.descending) {
            ("name", false) => base().order((product_families::base_name.asc(), sku)),
            ("name", true) => base().order((product_families::base_name.desc(), sku)),
            ("price", false) => base().order((product_variants::listing_price_cents.asc(), sku)),
            ("price", true) => base().order((product_variants::listing_price_cents.desc(), sku)),
            (_, true) => base().order(sku.desc()),
            _ => base().order(sku.asc()),
        };
        let rows: Vec<(VariantRow, String)> = ordered
            .limit(PER_PAGE)
            .offset(Pager::offset(page_no))
            .select((VariantRow::as_select(), product_families::base_name))
            .load(conn)?;
        Ok((rows, total))
    })
    .await?;
    let rows = rows.into_iter().map(|(v, name)| Row { name, v }).collect();
    // Sorting keeps the search and starts again at the first page.
    let unsorted = Pager::filtered("/catalog", &[("q", &q)], 0, 0);
    render(&BrowsePage {
        layout: page.layout("Catalog"),
        rows,
        total,
        headers: [("sku", "SKU"), ("name", "Item"), ("price", "Price")]
            .map(|(key, label)| sort.header(key, label, unsorted.base()))
            .to_vec(),
        pager: Pager::filtered(
            "/catalog",
            &[("q", &q), ("sort", &sort.param_unless(ORDER))],
            page_no,
            total,
        ),
        q,
        section: "variants",
        can_create: user.can(Permission::VariantCreate),
        sees_sync: super::sees_sync_state(&user),
    })
}
