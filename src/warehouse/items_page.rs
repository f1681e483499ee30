//! `GET /warehouse/items`: the serialized items at the user's hubs, filtered by hub, status,
//! location and serial number or SKU, a page at a time; each links to its history.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{items_query, status_words, ItemRow, STATUSES};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::schema::{inventory_items, product_variants};
use crate::state::AppState;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;
use crate::ui::pager::{Pager, PER_PAGE};
use crate::ui::sorting::Sort;

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
    sort: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The columns the items can be sorted by; newest first unless asked otherwise.
const SORTS: [&str; 5] = ["serial", "sku", "location", "status", "received"];
const ORDER: Sort = Sort::descending("received");

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
    /// Sortable headers: serial, SKU, location, status, received (the hub column is not).
    headers: Vec<crate::ui::sorting::Header>,
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
    let page_no = f.page.unwrap_or(0).clamp(0, crate::ui::MAX_PAGE);
    let sort = Sort::parse(&f.sort, &SORTS, ORDER);
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
        let total = crate::db::count_up_to(filtered(), crate::ui::pager::COUNT_UP_TO, conn)?;
        let id = inventory_items::id;
        let ordered = match (sort.key, sort.descending) {
            ("serial", false) => filtered().order(inventory_items::serial_number.asc()),
            ("serial", true) => filtered().order(inventory_items::serial_number.desc()),
            ("sku", false) => filtered().order((product_variants::full_sku.asc(), id)),
            ("sku", true) => filtered().order((product_variants::full_sku.desc(), id)),
            ("location", false) => filtered().order((inventory_items::location_code.asc(), id)),
            ("location", true) => filtered().order((inventory_items::location_code.desc(), id)),
            ("status", false) => filtered().order((inventory_items::status.asc(), id)),
            ("status", true) => filtered().order((inventory_items::status.desc(), id)),
            (_, false) => filtered().order((inventory_items::received_at.asc(), id)),
            _ => filtered().order((inventory_items::received_at.desc(), id)),
        };
        let items: Vec<(ItemRow, String)> = ordered
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
    let filters = [
        ("hub", hub_text.as_str()),
        ("status", status.as_str()),
        ("location", location.as_str()),
        ("q", q.as_str()),
    ];
    // Sorting keeps the filters and starts again at the first page.
    let unsorted = Pager::filtered("/warehouse/items", &filters, 0, 0);
    let headers = [
        ("serial", "Serial number"),
        ("sku", "SKU"),
        ("location", "Location"),
        ("status", "Status"),
        ("received", "Received"),
    ]
    .map(|(key, label)| sort.header(key, label, unsorted.base()))
    .to_vec();
    let sort_param = sort.param_unless(ORDER);
    let mut with_sort = filters.to_vec();
    with_sort.push(("sort", &sort_param));
    let pager = Pager::filtered("/warehouse/items", &with_sort, page_no, total);
    render(&ItemsPage {
        headers,
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
