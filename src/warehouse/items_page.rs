//! `GET /warehouse/items`: the serialized items at the user's hubs, filtered by hub, status,
//! location and serial number or SKU, a page at a time; each links to its history.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{items_query, status_words, ItemRow, STATUSES};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::hubs::Hub;
use crate::schema::{inventory_items, product_variants};
use crate::state::AppState;
use crate::web::layout::{render, Layout};
use crate::web::page::Page;
use crate::web::pager::{Pager, PER_PAGE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/warehouse/items").get(list));
}

#[derive(Debug, Default, serde::Deserialize)]
struct Filters {
    #[serde(default)]
    hub: Option<i64>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
}

pub struct Row {
    pub item: ItemRow,
    pub sku: String,
    pub hub_name: String,
}

impl Row {
    pub fn status_words(&self) -> &'static str {
        status_words(&self.item.status)
    }
}

#[derive(Template)]
#[template(path = "warehouse/items.html")]
struct ItemsPage {
    layout: Layout,
    rows: Vec<Row>,
    hubs: Vec<Hub>,
    hub: Option<i64>,
    status: String,
    location: String,
    q: String,
    statuses: &'static [(&'static str, &'static str)],
    pager: Pager,
}

async fn list(
    user: Authorized<perm::InventoryRead>,
    page: Page,
    query: web::Query<Filters>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let f = query.into_inner();
    let clip = |t: &str| t.trim().chars().take(100).collect::<String>();
    let (q, location) = (clip(&f.q), clip(&f.location));
    let status = Some(f.status.clone())
        .filter(|s| STATUSES.iter().any(|(code, _)| code == s))
        .unwrap_or_default();
    // Only the user's own hubs, whatever the address asks for.
    let hub = f.hub.filter(|h| user.hub(*h).is_some());
    let hubs: Vec<i64> = match hub {
        Some(h) => vec![h],
        None => user.scope.hub_ids(),
    };
    let page_no = f.page.unwrap_or(0).clamp(0, crate::web::MAX_PAGE);
    let (q2, location2, status2) = (q.clone(), location.clone(), status.clone());
    let (items, total) = crate::db::run(&state.db, move |conn| {
        let filtered = || {
            let mut query = items_query(hubs.clone());
            if !status2.is_empty() {
                query = query.filter(inventory_items::status.eq(status2.clone()));
            }
            if !location2.is_empty() {
                query = query.filter(
                    inventory_items::location_code.ilike(crate::db::containing(&location2)),
                );
            }
            if !q2.is_empty() {
                query = query.filter(
                    inventory_items::serial_number
                        .ilike(crate::db::containing(&q2))
                        .or(product_variants::full_sku.ilike(crate::db::containing(&q2))),
                );
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let items: Vec<(ItemRow, String)> = filtered()
            .order((inventory_items::received_at.desc(), inventory_items::id))
            .limit(PER_PAGE)
            .offset(Pager::offset(page_no))
            .select((ItemRow::as_select(), product_variants::full_sku))
            .load(conn)?;
        Ok((items, total))
    })
    .await?;
    let rows = items
        .into_iter()
        .map(|(item, sku)| Row {
            hub_name: user
                .hub(item.hub_id)
                .map(|h| h.name.clone())
                .unwrap_or_default(),
            item,
            sku,
        })
        .collect();
    let hub_text = hub.map(|h| h.to_string()).unwrap_or_default();
    let pager = Pager::filtered(
        "/warehouse/items",
        &[
            ("hub", &hub_text),
            ("status", &status),
            ("location", &location),
            ("q", &q),
        ],
        page_no,
        total,
    );
    render(&ItemsPage {
        layout: page.layout("Serialized items"),
        rows,
        hubs: user.scope.hubs.clone(),
        hub,
        status,
        location,
        q,
        statuses: STATUSES,
        pager,
    })
}
