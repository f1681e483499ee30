//! `/warehouse/items/{id}`: one serialized item with its history, and what may be done to it
//! from the browser — reserve, sell (the sales flags are checked when it applies), change its
//! location or cost, delete its record — each an operation on the pipeline, offered only to the
//! roles that may do it and only from the statuses it can happen in.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::{items_query, status_words, transactions_for_serial, ItemRow, Transaction};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::inventory::ledger::in_stock;
use crate::schema::{hubs, product_families, product_identities, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, Layout};
use crate::ui::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/warehouse/items/{id}").get(show))
        .service(web::resource("/warehouse/items/{id}/{action}").post(act));
}

/// What the page says about the item beyond its row.
pub struct Detail {
    pub item: ItemRow,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub hub_name: String,
    pub list_price_cents: i64,
    pub history: Vec<Transaction>,
    /// Whether a sale in progress holds the item: only that sale sells or releases it.
    pub in_a_sale: bool,
}

/// The action forms the person may use on this item now (each with its own op id).
pub struct Actions {
    pub reserve: Option<OpMeta>,
    pub sell: Option<OpMeta>,
    pub edit: Option<OpMeta>,
    pub delete: Option<OpMeta>,
    pub can_move: bool,
}

#[derive(Template)]
#[template(path = "warehouse/item.html")]
struct ItemPage {
    layout: Layout,
    d: Detail,
    actions: Actions,
    /// The form fields as posted after a refusal, else as stored.
    price: String,
    location: String,
    cost: String,
    /// Cost is shown, and offered for change, only to those with `can_see_cost`.
    see_cost: bool,
    errors: Vec<FieldError>,
}

impl ItemPage {
    fn status_words(&self) -> &'static str {
        status_words(&self.d.item.status)
    }
    fn money(&self, cents: &Option<i64>) -> String {
        cents.map_or_else(|| "—".into(), crate::money::format_cents)
    }
    fn list_price(&self) -> String {
        crate::money::format_cents(self.d.list_price_cents)
    }
}

async fn load(state: &AppState, user: &Principal, id: i64) -> Result<Detail, AppError> {
    let hub_ids = user.scope.hub_ids();
    crate::db::run(&state.db, move |conn| {
        let Some((item, sku)) = items_query(hub_ids.clone())
            .filter(crate::schema::inventory_items::id.eq(id))
            .select((ItemRow::as_select(), product_variants::full_sku))
            .first::<(ItemRow, String)>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let (name, description, list_price_cents): (String, String, i64) = product_variants::table
            .inner_join(product_identities::table.inner_join(product_families::table))
            .filter(product_variants::id.eq(item.variant_id))
            .select((
                product_families::base_name,
                product_variants::description,
                product_variants::listing_price_cents,
            ))
            .first(conn)?;
        let hub_name = hubs::table
            .find(item.hub_id)
            .select(hubs::name)
            .first(conn)?;
        let history = transactions_for_serial(conn, &item.serial_number, &hub_ids)?;
        let in_a_sale = super::item_steps::held_by_cart(conn, item.id)?.is_some();
        Ok(Some(Detail {
            item,
            sku,
            name,
            description,
            hub_name,
            list_price_cents,
            history,
            in_a_sale,
        }))
    })
    .await?
    // Another hub's item is as absent as one that does not exist.
    .ok_or_else(|| AppError::not_found("There is no item with that number at your hubs."))
}

async fn show(
    user: Authorized<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64,)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let d = load(&state, &user, path.into_inner().0).await?;
    item_page(&state, &page, &user, d, None, vec![])
}

fn item_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    d: Detail,
    posted: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let status = d.item.status.as_str();
    let meta = |allowed: bool, kind: &'static str| {
        allowed.then(|| OpMeta::new(&state.settings, user, kind, d.item.hub_id, None, None))
    };
    let sells = user.can(Permission::WarehouseSell);
    let actions = Actions {
        reserve: meta(sells && status == "AVAILABLE", "warehouse.reserve"),
        sell: meta(sells && in_stock(status) && !d.in_a_sale, "warehouse.sell"),
        edit: meta(user.can(Permission::WarehouseItemEdit), "warehouse.update"),
        delete: meta(
            user.can(Permission::WarehouseItemDelete) && in_stock(status) && !d.in_a_sale,
            "warehouse.delete",
        ),
        can_move: user.can(Permission::WarehouseReceive) && in_stock(status),
    };
    let plain = |cents: Option<i64>| cents.map(crate::money::plain_cents);
    let field = |name: &str, stored: Option<String>| {
        posted.map_or_else(|| stored.unwrap_or_default(), |f| f.text(name))
    };
    let price = field(
        "sale_price",
        plain(d.item.sale_price_cents.or(Some(d.list_price_cents))),
    );
    let location = field("location_code", Some(d.item.location_code.clone()));
    let cost = field("cost_basis", plain(d.item.cost_basis_cents));
    render_with_status(
        &ItemPage {
            layout: page.layout(format!("Item {}", d.item.serial_number)),
            d,
            actions,
            price,
            location,
            cost,
            see_cost: crate::auth::costs::sees_costs(Some(user)),
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

/// The operation an action form stands for, or `None` for an action that does not exist.
pub fn posted(item_id: i64, action: &str, form: &FormFields) -> Option<Posted> {
    let mut errors = Vec::new();
    let (kind, payload) = match action {
        "reserve" => (
            "warehouse.reserve",
            serde_json::json!({ "item_id": item_id }),
        ),
        "sell" => {
            let price = forms::price(form, "sale_price", &mut errors);
            (
                "warehouse.sell",
                serde_json::json!({ "item_id": item_id, "sale_price": price }),
            )
        }
        "edit" => {
            let mut payload = serde_json::json!({
                "item_id": item_id,
                "location_code": form.text("location_code"),
            });
            // A blank cost leaves the cost as it is.
            if !form.text("cost_basis").is_empty() {
                payload["cost_basis"] =
                    serde_json::json!(forms::price(form, "cost_basis", &mut errors));
            }
            ("warehouse.update", payload)
        }
        "delete" => {
            if !form.has("confirm") {
                errors.push(FieldError::new(
                    "confirm",
                    "tick the box to confirm that this item's record is to be deleted",
                ));
            }
            (
                "warehouse.delete",
                serde_json::json!({ "item_id": item_id }),
            )
        }
        _ => return None,
    };
    Some(Posted::new(kind, payload, errors))
}

async fn act(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64, String)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let posted = posted(id, &action, &form)
        .ok_or_else(|| AppError::not_found("There is no such action on an item."))?;
    let (location, done) = match action.as_str() {
        "reserve" => (format!("/warehouse/items/{id}"), "Item reserved."),
        "sell" => (format!("/warehouse/items/{id}"), "Item sold."),
        "edit" => (format!("/warehouse/items/{id}"), "Item saved."),
        _ => (
            "/warehouse/items".to_string(),
            "The item's record was deleted.",
        ),
    };
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&location),
        |_| done.into(),
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    let d = load(&state, &user, id).await?;
    refused.show_now(|errors| item_page(&state, &page, &user, d, Some(&form), errors))
}
