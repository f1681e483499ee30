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
use crate::db::keyset::{time_key, Col, Order};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::{customers, hubs, sales};
use crate::state::AppState;
use crate::ui::keyset;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;
use crate::ui::pager::{Counting, Total};

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

/// Sales newest first, the id breaking ties (`ui::keyset`).
static NEWEST_FIRST: Order = Order {
    columns: &[("sales.created_at", Col::Time), ("sales.id", Col::Uuid)],
};

/// One page of sales, newest first, from `start`, with its links (`ui::keyset`), given the
/// list's total and its address with its filters. `q` is the list's filtered query.
fn keyset_page(
    state: &AppState,
    q: impl FnOnce(&mut PgConnection) -> QueryResult<(RowQuery<'static>, Total)> + Send + 'static,
    start: &keyset::Start,
    base: String,
) -> impl std::future::Future<Output = Result<(Vec<SaleRow>, crate::ui::pager::Pager), AppError>> {
    let fetch = keyset::fetch(start, &NEWEST_FIRST, true);
    let db = state.db.clone();
    async move {
        let walk = fetch.walk.clone();
        let (fetched, total) = crate::db::run(&db, move |conn| {
            let (q, total) = q(conn)?;
            let rows = walk
                .rows(q, keyset::FETCH)
                .select((
                    sales::id,
                    sales::hub_id,
                    hubs::name,
                    customers::name,
                    sales::status,
                    sales::created_at,
                ))
                .load::<SaleRow>(conn)?;
            Ok((rows, total))
        })
        .await?;
        Ok(crate::ui::pager::Pager::keyset_page(
            fetched,
            &fetch.start,
            base,
            true,
            total,
            |r: &SaleRow| vec![time_key(r.created_at), r.id.to_string()],
        ))
    }
}

#[derive(Template)]
#[template(path = "sales/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    rows: Vec<SaleRow>,
    status: String,
    hubs: Vec<Hub>,
    /// The viewer sells, but no hub of theirs serves a customer of theirs yet.
    no_customers: bool,
    pager: crate::ui::pager::Pager,
}

/// `GET /sales`: the sales of the user's hubs (a sales rep's: of their customers), newest first.
pub(super) async fn list(
    user: Authorized<perm::SalesRead>,
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
    let start = keyset::Start::parse(
        query.get("after").map_or("", String::as_str),
        query.get("before").map_or("", String::as_str),
    );
    let filter = status.clone();
    let list = move |conn: &mut PgConnection| {
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
        // A sales rep sees their customers' sales only: those are counted.
        let counting = Counting {
            list: List::Sales,
            hubs: hub_ids.clone(),
            status: (!filter.is_empty()).then(|| filter.clone()),
            narrowed: rep,
        };
        let total = counting.total(conn, |c| {
            crate::db::count_up_to(filtered(), crate::ui::pager::COUNT_UP_TO, c)
        })?;
        Ok((filtered(), total))
    };
    let base = crate::ui::pager::Pager::filtered("/sales", &[("status", &status)], 0, 0);
    let (rows, pager) = keyset_page(&state, list, &start, base.base().to_string()).await?;
    // New sale, at each hub that serves a customer of theirs: for those who sell (an auditor
    // reads). Without one, the page says why there is no button instead of offering a dead end.
    let sells = user.can(crate::auth::permissions::Permission::SalesCreate);
    let customers = user.scope.customer_ids.clone();
    let served: Vec<i64> = if sells {
        crate::db::run(&state.db, move |conn| {
            Ok(customers::table
                .filter(customers::id.eq_any(customers))
                .select(customers::hub_id)
                .distinct()
                .load(conn)?)
        })
        .await?
    } else {
        Vec::new()
    };
    let hubs: Vec<Hub> = user
        .scope
        .hubs
        .iter()
        .filter(|h| served.contains(&h.id))
        .cloned()
        .collect();
    render(&ListPage {
        layout: page.layout("Sales"),
        rows,
        status,
        no_customers: sells && hubs.is_empty(),
        hubs,
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
    query: web::Query<crate::ui::pager::ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let customers = user.scope.customer_ids.clone();
    let start = keyset::Start::parse(&query.after, &query.before);
    let own = move |conn: &mut PgConnection| {
        let own = || {
            rows_query()
                .filter(sales::customer_id.eq_any(customers.clone()))
                .filter(sales::status.ne("draft"))
        };
        let total = crate::db::count_up_to(own(), crate::ui::pager::COUNT_UP_TO, conn)?;
        Ok((own(), Total::Counted(total)))
    };
    let (rows, pager) = keyset_page(&state, own, &start, "/orders".to_string()).await?;
    render(&OrdersPage {
        layout: page.layout("My orders"),
        rows,
        pager,
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
