//! Warehouse pages: a scanner-friendly receive form that stays open for the next scan, moves,
//! and a lookup by serial or SKU with each item's history.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use super::{items_query, load_items, transactions_for_serial, Item, ItemRow, Transaction};
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::schema::{inventory_transactions, product_variants};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta};
use crate::sync::operation::{FieldError, OpStatus};
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/warehouse/receive")
            .get(receive_form)
            .post(receive),
    )
    .service(
        web::resource("/warehouse/move")
            .get(move_form)
            .post(move_item),
    )
    .service(web::resource("/warehouse/lookup").get(lookup));
}

#[derive(Queryable)]
pub struct Received {
    pub serial_number: String,
    pub sku: String,
    pub location: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "warehouse/receive.html")]
struct ReceivePage {
    layout: Layout,
    meta: OpMeta,
    hubs: Vec<Hub>,
    hub_id: i64,
    sku: String,
    location: String,
    serial: String,
    errors: Vec<FieldError>,
    recent: Vec<Received>,
    catalog: Vec<(String, String)>,
}

async fn receive_page(
    state: &AppState,
    page: &Page,
    user: &crate::auth::principal::Principal,
    form: Option<&FormFields>,
    errors: Vec<FieldError>,
    done: Option<String>,
) -> Result<HttpResponse, AppError> {
    let hub_id = form
        .and_then(|f| f.text("hub_id").parse().ok())
        .or_else(|| user.scope.hubs.first().map(|h| h.id))
        .unwrap_or(0);
    let user_id = user.user_id;
    let (recent, catalog) = crate::db::run(&state.db, move |conn| {
        let recent: Vec<Received> = inventory_transactions::table
            .inner_join(product_variants::table)
            .filter(inventory_transactions::user_id.eq(user_id))
            .filter(inventory_transactions::action.eq("RECEIVE"))
            .filter(inventory_transactions::created_at.gt(Utc::now() - chrono::Duration::hours(12)))
            .order(inventory_transactions::id.desc())
            .limit(25)
            .select((
                inventory_transactions::serial_number,
                product_variants::full_sku,
                inventory_transactions::to_location,
                inventory_transactions::created_at,
            ))
            .load(conn)?;
        Ok((recent, crate::inventory::catalog_options(conn)?))
    })
    .await?;
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let keep = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    let data = ReceivePage {
        layout: match done {
            Some(message) => page
                .layout("Receive items")
                .with_flash(crate::ui::layout::FlashKind::Success, message),
            None => page.layout("Receive items"),
        },
        // The hub is chosen on the form: the envelope names none (scope is checked at replay).
        meta: OpMeta::unscoped(&state.settings, user, "warehouse.receive", None),
        hubs: user.scope.hubs.clone(),
        hub_id,
        sku: keep("variant_sku"),
        location: keep("location_code"),
        // After a successful scan the serial field is empty for the next one.
        serial: if errors.is_empty() {
            String::new()
        } else {
            keep("serial_number")
        },
        errors,
        recent,
        catalog,
    };
    render_with_status(&data, status)
}

async fn receive_form(
    user: Authorized<perm::WarehouseReceive>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    receive_page(&state, &page, &user, None, vec![], None).await
}

async fn receive(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id: i64 = form.text("hub_id").parse().unwrap_or(0);
    let posted = super::scan_forms::receive(hub_id, &form);
    let result = forms::submit(&state, &user, &req, &form, posted).await?;
    if let Some(res) = forms::respond(
        &req,
        &state.settings,
        &result,
        "/warehouse/receive",
        "Received.",
    )
    .filter(|_| result.status != OpStatus::Applied)
    {
        return Ok(res);
    }
    let (errors, done) = if result.status == OpStatus::Applied {
        (
            vec![],
            Some(format!(
                "Received {} at {}.",
                form.text("serial_number"),
                form.text("location_code")
            )),
        )
    } else {
        (forms::form_errors(&result), None)
    };
    // The form stays open, keeping hub, SKU and location, ready for the next scan.
    receive_page(&state, &page, &user, Some(&form), errors, done).await
}

#[derive(Template)]
#[template(path = "warehouse/move.html")]
struct MovePage {
    layout: Layout,
    meta: OpMeta,
    serial: String,
    errors: Vec<FieldError>,
}

async fn move_form(
    user: Authorized<perm::WarehouseReceive>,
    page: Page,
    query: web::Query<LookupQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render(&MovePage {
        layout: page.layout("Move an item"),
        // The item's record decides the hub: the envelope names none.
        meta: OpMeta::unscoped(&state.settings, &user, "warehouse.move", None),
        serial: query.q.clone(),
        errors: vec![],
    })
}

async fn move_item(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let serial = form.text("serial_number");
    let posted = super::scan_forms::relocate(&form);
    let location = format!(
        "/warehouse/lookup?{}",
        serde_urlencoded::to_string([("q", serial.as_str())]).unwrap_or_default()
    );
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&location),
        |_| "Item moved.".into(),
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    refused.show_now(|errors| {
        render(&MovePage {
            layout: page.layout("Move an item"),
            meta: OpMeta::unscoped(&state.settings, &user, "warehouse.move", Some(&form)),
            serial,
            errors,
        })
    })
}

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    q: String,
}

pub struct Found {
    pub item: Item,
    pub history: Vec<Transaction>,
}

impl Found {
    pub fn status_words(&self) -> &'static str {
        super::status_words(&self.item.status)
    }
}

#[derive(Template)]
#[template(path = "warehouse/lookup.html")]
struct LookupPage {
    layout: Layout,
    q: String,
    found: Vec<Found>,
    /// When the text is a SKU: the item and its stock at each of the user's hubs, so a SKU
    /// that is not tracked by serial number still answers something useful.
    sku: Option<SkuStock>,
    can_move: bool,
}

pub struct SkuStock {
    pub full_sku: String,
    pub description: String,
    /// (hub name, units in stock) at the user's hubs that hold a level for it.
    pub levels: Vec<(String, i64)>,
}

async fn lookup(
    user: Authorized<perm::InventoryRead>,
    page: Page,
    query: web::Query<LookupQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.trim().to_string();
    let hubs = user.scope.hub_ids();
    let key = q.clone();
    let (found, sku) = if q.is_empty() {
        (Vec::new(), None)
    } else {
        crate::db::run(&state.db, move |conn| {
            let by_serial: Vec<(ItemRow, String)> = items_query(hubs.clone())
                .filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "upper(inventory_items.serial_number) = upper(",
                    )
                    .bind::<diesel::sql_types::Text, _>(key.clone())
                    .sql(")"),
                )
                .select((ItemRow::as_select(), product_variants::full_sku))
                .load(conn)?;
            if !by_serial.is_empty() {
                // One serial number: the item with its whole history.
                let mut found = Vec::new();
                for item in load_items(by_serial) {
                    let history = transactions_for_serial(conn, &item.serial_number, &hubs)?;
                    found.push(Found { item, history });
                }
                return Ok((found, None));
            }
            let Some(v) = crate::catalog::variant_by_sku(conn, &key)? else {
                return Ok((Vec::new(), None));
            };
            // A SKU: its stock at each hub, and its serialized items (histories are one click
            // away, on each serial number).
            let items: Vec<(ItemRow, String)> = items_query(hubs.clone())
                .filter(crate::schema::inventory_items::variant_id.eq(v.id))
                .limit(100)
                .select((ItemRow::as_select(), product_variants::full_sku))
                .load(conn)?;
            let levels = crate::schema::stock_levels::table
                .inner_join(crate::schema::hubs::table)
                .filter(crate::schema::stock_levels::variant_id.eq(v.id))
                .filter(crate::schema::stock_levels::hub_id.eq_any(&hubs))
                .order(crate::schema::hubs::name)
                .select((
                    crate::schema::hubs::name,
                    crate::schema::stock_levels::quantity,
                ))
                .load(conn)?;
            let found = load_items(items)
                .into_iter()
                .map(|item| Found {
                    item,
                    history: Vec::new(),
                })
                .collect();
            Ok((
                found,
                Some(SkuStock {
                    full_sku: v.full_sku,
                    description: v.description,
                    levels,
                }),
            ))
        })
        .await?
    };
    render(&LookupPage {
        layout: page.layout("Look up an item"),
        q,
        found,
        sku,
        can_move: user.can(crate::auth::permissions::Permission::WarehouseReceive),
    })
}
