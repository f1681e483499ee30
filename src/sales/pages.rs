//! Sales pages: the sales list and a customer user's own orders, and the routes of the new-sale
//! form (`new_sale`), the cart page (`cart_page`) and its forms (`cart_actions`).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::schema::{customers, hubs, sales};
use crate::state::AppState;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

use super::cart_page::{load_cart, DetailPage};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sales").get(list))
        .service(web::resource("/orders").get(orders))
        .service(web::resource("/orders/{id}").get(order))
        .service(web::resource("/hubs/{hub_id}/sales").post(super::new_sale::create))
        .service(web::resource("/hubs/{hub_id}/sales/new").get(super::new_sale::new_form))
        .service(web::resource("/hubs/{hub_id}/sales/{id}").get(super::cart_page::detail))
        .service(
            web::resource("/hubs/{hub_id}/sales/{id}/invoice-status")
                .get(super::cart_page::invoice_status),
        )
        .service(
            web::resource("/hubs/{hub_id}/sales/{id}/{action}").post(super::cart_actions::act),
        );
}

pub(super) fn not_found() -> AppError {
    AppError::not_found("There is no such sale among yours.")
}

pub(super) fn parse_id(text: &str) -> Result<Uuid, AppError> {
    text.parse().map_err(|_| not_found())
}

/// A row of the sales lists.
#[derive(Clone, Debug, Queryable)]
pub struct SaleRow {
    pub id: Uuid,
    pub hub_id: i64,
    pub hub_name: String,
    pub customer_name: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub(super) type RowQuery<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoin<diesel::dsl::InnerJoin<sales::table, hubs::table>, customers::table>,
    diesel::pg::Pg,
>;

pub(super) fn rows_query<'a>() -> RowQuery<'a> {
    sales::table
        .inner_join(hubs::table)
        .inner_join(customers::table)
        .into_boxed()
}

/// One page of sales, newest first.
pub(super) fn load_rows(
    conn: &mut PgConnection,
    q: RowQuery<'_>,
    page: i64,
) -> QueryResult<Vec<SaleRow>> {
    q.order((sales::created_at.desc(), sales::id))
        .limit(crate::ui::pager::PER_PAGE)
        .offset(crate::ui::pager::Pager::offset(page))
        .select((
            sales::id,
            sales::hub_id,
            hubs::name,
            customers::name,
            sales::status,
            sales::created_at,
        ))
        .load(conn)
}

#[derive(Template)]
#[template(path = "sales/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    rows: Vec<SaleRow>,
    status: String,
    hubs: Vec<Hub>,
    pager: crate::ui::pager::Pager,
}

/// `GET /sales`: the sales of the user's hubs (a sales rep's: of their customers), newest first.
pub(super) async fn list(
    user: Authorized<perm::SalesCreate>,
    page: Page,
    query: web::Query<std::collections::HashMap<String, String>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let status = query
        .get("status")
        .cloned()
        .filter(|s| ["draft", "confirmed", "cancelled"].contains(&s.as_str()))
        .unwrap_or_default();
    let (hub_ids, customer_ids, rep) = (
        user.scope.hub_ids(),
        user.scope.customer_ids.clone(),
        user.role == crate::auth::roles::Role::SalesRep,
    );
    let page_no = query
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, crate::ui::MAX_PAGE);
    let filter = status.clone();
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        let filtered = || {
            let mut q = rows_query().filter(sales::hub_id.eq_any(hub_ids.clone()));
            if rep {
                q = q.filter(sales::customer_id.eq_any(customer_ids.clone()));
            }
            if !filter.is_empty() {
                q = q.filter(sales::status.eq(filter.clone()));
            }
            q
        };
        let total = crate::db::count_up_to(filtered(), crate::ui::pager::COUNT_UP_TO, conn)?;
        Ok((load_rows(conn, filtered(), page_no)?, total))
    })
    .await?;
    let pager = crate::ui::pager::Pager::filtered("/sales", &[("status", &status)], page_no, total);
    render(&ListPage {
        layout: page.layout("Sales"),
        rows,
        status,
        hubs: user.scope.hubs.clone(),
        pager,
    })
}

/// A stock line offered in the item picker: "SKU — name · N on hand · price".
#[derive(Template)]
#[template(path = "sales/orders.html")]
pub(super) struct OrdersPage {
    layout: Layout,
    rows: Vec<SaleRow>,
    pager: crate::ui::pager::Pager,
}

/// `GET /orders`: a customer user's confirmed orders.
pub(super) async fn orders(
    user: Authorized<perm::OwnOrdersView>,
    page: Page,
    query: web::Query<crate::ui::pager::PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let customers = user.scope.customer_ids.clone();
    let page_no = query.number();
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        let own = || {
            rows_query()
                .filter(sales::customer_id.eq_any(customers.clone()))
                .filter(sales::status.ne("draft"))
        };
        let total = crate::db::count_up_to(own(), crate::ui::pager::COUNT_UP_TO, conn)?;
        Ok((load_rows(conn, own(), page_no)?, total))
    })
    .await?;
    render(&OrdersPage {
        layout: page.layout("My orders"),
        rows,
        pager: crate::ui::pager::Pager::new("/orders", page_no, total),
    })
}

pub(super) async fn order(
    user: Authorized<perm::OwnOrdersView>,
    page: Page,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let cart = load_cart(&state, &user, parse_id(&path)?, true).await?;
    let mut res = render(&DetailPage {
        layout: page.layout(format!("Order for {}", cart.customer)),
        cart,
    })?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
