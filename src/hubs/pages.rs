//! Hubs in the user's scope and their stock: HTML pages and the JSON API.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::extract::{Authorized, HubAccess};
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::inventory::{self, HubTotals, StockRow};
use crate::state::AppState;
use crate::ui::filters;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;
use crate::ui::sorting::Sort;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hubs").get(list))
        .service(web::resource("/hubs/{hub_id}").get(detail))
        .service(web::resource("/hubs/{hub_id}/stock.csv").get(stock_csv))
        .service(web::resource("/api/v1/hubs").get(api_list))
        .service(web::resource("/api/v1/hubs/{hub_id}/stock").get(api_stock));
}

pub struct HubCard {
    pub hub: Hub,
    pub totals: HubTotals,
}

#[derive(Template)]
#[template(path = "hubs/list.html")]
struct ListPage {
    layout: Layout,
    cards: Vec<HubCard>,
    /// The work waiting at the person's hubs that they may do, across hubs.
    work: Vec<super::work::Waiting>,
}

pub async fn hub_cards(state: &AppState, hubs: Vec<Hub>) -> Result<Vec<HubCard>, AppError> {
    let ids: Vec<i64> = hubs.iter().map(|h| h.id).collect();
    let totals = crate::db::run(&state.db, move |conn| Ok(inventory::totals(conn, &ids)?)).await?;
    Ok(hubs
        .into_iter()
        .zip(totals)
        .map(|(hub, totals)| HubCard { hub, totals })
        .collect())
}

async fn list(
    user: Authorized<perm::InventoryRead>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let cards = hub_cards(&state, user.scope.hubs.clone()).await?;
    let work = super::work::waiting(&state, &user, user.scope.hubs.clone()).await?;
    render(&ListPage {
        layout: page.layout("Hubs & stock"),
        cards,
        work,
    })
}

/// A hub's stock is listed by item name unless asked otherwise.
const STOCK_ORDER: Sort = Sort::ascending("name");

#[derive(Deserialize)]
pub struct StockQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    low: Option<String>,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The hub's stock as a CSV file (a count sheet, a report), with the page's search, low-stock
/// filter and order.
async fn stock_csv(
    access: HubAccess<perm::InventoryRead>,
    query: web::Query<StockQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (hub_id, low_only) = (access.hub.id, query.low.is_some());
    let q: String = query.q.trim().chars().take(100).collect();
    let sort = Sort::parse(&query.sort, &inventory::STOCK_SORTS, STOCK_ORDER);
    let (rows, _) = crate::db::run(&state.db, move |conn| {
        Ok(inventory::stock_page(
            conn, hub_id, &q, low_only, None, sort,
        )?)
    })
    .await?;
    crate::ui::csv_export::attachment(
        &format!("stock-{}.csv", access.hub.code.to_lowercase()),
        &[
            "sku",
            "item",
            "description",
            "unit",
            "on_hand",
            "reorder_level",
        ],
        rows.into_iter().map(|r| {
            vec![
                r.sku,
                r.name,
                r.description,
                r.unit,
                r.quantity.to_string(),
                r.reorder_level.to_string(),
            ]
        }),
    )
}

#[derive(Template)]
#[template(path = "hubs/detail.html")]
struct DetailPage {
    layout: Layout,
    hub: Hub,
    rows: Vec<StockRow>,
    total: i64,
    q: String,
    low_only: bool,
    pager: crate::ui::pager::Pager,
    section: &'static str,
    /// The reorder levels form, for those who may change them.
    reorder: Option<crate::sync::forms::OpMeta>,
    /// Sortable column headers: item, SKU, on hand, reorder at.
    headers: Vec<crate::ui::sorting::Header>,
    /// The same list (filters and order) as a CSV file.
    csv_href: String,
}

async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    query: web::Query<StockQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (hub_id, q, low_only, page_no) = (
        access.hub.id,
        query.q.trim().chars().take(100).collect::<String>(),
        query.low.is_some(),
        query.page.unwrap_or(0).clamp(0, crate::ui::MAX_PAGE),
    );
    let sort = Sort::parse(&query.sort, &inventory::STOCK_SORTS, STOCK_ORDER);
    let q2 = q.clone();
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        Ok(inventory::stock_page(
            conn,
            hub_id,
            &q2,
            low_only,
            Some(page_no),
            sort,
        )?)
    })
    .await?;
    let filters = [("q", q.as_str()), ("low", if low_only { "1" } else { "" })];
    // Sorting keeps the filters and starts again at the first page.
    let unsorted = crate::ui::pager::Pager::filtered(&format!("/hubs/{hub_id}"), &filters, 0, 0)
        .base()
        .to_string();
    let headers = vec![
        sort.header("sku", "SKU", &unsorted),
        sort.header("name", "Item", &unsorted),
        sort.header("quantity", "On hand", &unsorted),
        sort.header("reorder", "Reorder at", &unsorted),
    ];
    let sort_param = sort.param_unless(STOCK_ORDER);
    let sorted = [filters[0], filters[1], ("sort", sort_param.as_str())];
    let pager =
        crate::ui::pager::Pager::filtered(&format!("/hubs/{hub_id}"), &sorted, page_no, total);
    // The same list, filters and order, as a file.
    let csv_href =
        crate::ui::pager::Pager::filtered(&format!("/hubs/{hub_id}/stock.csv"), &sorted, 0, 0)
            .base()
            .to_string();
    render(&DetailPage {
        csv_href,
        layout: page.layout(access.hub.name.clone()),
        hub: access.hub.clone(),
        rows,
        total,
        q,
        low_only,
        pager,
        section: "stock",
        headers,
        reorder: access
            .can(crate::auth::permissions::Permission::StockAdjust)
            .then(|| {
                crate::sync::forms::OpMeta::new(
                    &state.settings,
                    &access,
                    "stock.reorder_levels",
                    hub_id,
                    None,
                    None,
                )
            }),
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HubSummary {
    pub hub: Hub,
    pub totals: HubTotals,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HubList {
    pub items: Vec<HubSummary>,
}

/// The caller's hubs with their stock totals.
#[utoipa::path(get, path = "/api/v1/hubs", tag = "hubs", responses(
        (status = 200, body = HubList),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden), security(("bearer" = []),
        ("session" = [])))]
pub async fn api_list(
    user: Authorized<perm::InventoryRead>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let cards = hub_cards(&state, user.scope.hubs.clone()).await?;
    let items = cards
        .into_iter()
        .map(|c| HubSummary {
            hub: c.hub,
            totals: c.totals,
        })
        .collect();
    Ok(HttpResponse::Ok().json(HubList { items }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct StockPage {
    pub hub: Hub,
    pub items: Vec<StockRow>,
    pub total_count: i64,
    pub page: i64,
}

/// One page of a hub's stock (50 lines), filtered by `q` (SKU or name) and `low`.
#[utoipa::path(get, path = "/api/v1/hubs/{hub_id}/stock", tag = "hubs",
    params(
        ("hub_id" = i64, Path),
        ("q" = Option<String>, Query),
        ("low" = Option<String>, Query),
        ("page" = Option<i64>, Query, minimum = 0)),
    responses(
        (status = 200, body = StockPage),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_stock(
    access: HubAccess<perm::InventoryRead>,
    query: web::Query<StockQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (hub_id, page_no) = (
        access.hub.id,
        query.page.unwrap_or(0).clamp(0, crate::ui::MAX_PAGE),
    );
    let (q, low) = (query.q, query.low.is_some());
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        Ok(inventory::stock_page(
            conn,
            hub_id,
            q.trim(),
            low,
            Some(page_no),
            STOCK_ORDER,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(StockPage {
        hub: access.hub.clone(),
        items: rows,
        total_count: total,
        page: page_no,
    }))
}
