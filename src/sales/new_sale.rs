//! The new-sale form: works offline (a whole cart in one entry, "Save and confirm" included),
//! with the hub's stock and the customers a person may sell to in its pickers.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::cart::SaleLineInput;
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::flags::PermissionFlags;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::money;
use crate::schema::{
    customers, inventory_items, product_families, product_identities, product_variants,
    stock_levels,
};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta};
use crate::sync::operation::{FieldError, OpResult, OpStatus};
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

/// An item of the hub's stock in the item picker.
pub struct StockOption {
    pub sku: String,
    /// "Name · 12 on hand · 1,450.00"
    pub label: String,
    /// The list price as the price field takes it ("1450.00"), to prefill it.
    pub price: String,
}

pub(super) fn stock_options(conn: &mut PgConnection, hub_id: i64) -> QueryResult<Vec<StockOption>> {
    let rows: Vec<(String, String, i64, i64)> = stock_levels::table
        .inner_join(
            product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table)),
        )
        .filter(stock_levels::hub_id.eq(hub_id))
        .filter(stock_levels::quantity.gt(0))
        .order(product_families::base_name)
        .select((
            product_variants::full_sku,
            product_families::base_name,
            stock_levels::quantity,
            product_variants::listing_price_cents,
        ))
        .load(conn)?;
    // Of what is on hand, the serial-numbered items are sold by serial number, not by quantity.
    let serials: std::collections::HashMap<String, i64> = inventory_items::table
        .inner_join(product_variants::table)
        .filter(inventory_items::hub_id.eq(hub_id))
        .filter(inventory_items::status.eq_any(crate::inventory::ledger::IN_STOCK))
        .group_by(product_variants::full_sku)
        .select((product_variants::full_sku, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(sku, name, qty, price)| {
            let by_serial = match serials.get(&sku) {
                Some(n) => format!(" ({n} by serial number)"),
                None => String::new(),
            };
            StockOption {
                label: format!(
                    "{name} · {qty} on hand{by_serial} · {}",
                    money::format_cents(price)
                ),
                sku,
                price: money::plain_cents(price),
            }
        })
        .collect())
}

pub(super) fn sellable_customers(
    conn: &mut PgConnection,
    user: &Principal,
    hub_id: i64,
) -> QueryResult<Vec<(i64, String)>> {
    customers::table
        .filter(customers::hub_id.eq(hub_id))
        .filter(customers::active.eq(true))
        .filter(customers::id.eq_any(&user.scope.customer_ids))
        .order(customers::name)
        .select((customers::id, customers::name))
        .load(conn)
}

/// One row of the new-sale form, as typed.
#[derive(Clone, Debug, Default)]
pub struct FormLine {
    pub item: String,
    pub serial: String,
    pub qty: String,
    pub price: String,
    pub discount: String,
    pub foc: bool,
}

/// Every row of a posted line table, in order, blank rows included (a row's number is its
/// place in the table, as the FOC checkboxes' values say).
pub(super) fn typed_rows(f: &FormFields) -> Vec<FormLine> {
    let (items, serials, qtys, prices, discounts, focs) = (
        f.all("line_item"),
        f.all("line_serial"),
        f.all("line_qty"),
        f.all("line_price"),
        f.all("line_discount"),
        f.all("line_foc"),
    );
    let get = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
    (0..items.len().max(serials.len()))
        .map(|i| FormLine {
            item: get(&items, i),
            serial: get(&serials, i),
            qty: get(&qtys, i),
            price: get(&prices, i),
            discount: get(&discounts, i),
            foc: focs.contains(&(i + 1).to_string()),
        })
        .collect()
}

/// The rows to show again after a refusal: what was typed, then blank rows.
pub(super) fn form_lines(form: Option<&FormFields>, blank: usize) -> Vec<FormLine> {
    let mut rows: Vec<FormLine> = form
        .map(typed_rows)
        .unwrap_or_default()
        .into_iter()
        .filter(|l| !l.item.is_empty() || !l.serial.is_empty())
        .collect();
    let target = (rows.len() + 2).max(blank);
    rows.resize(target, FormLine::default());
    rows
}

/// Parses one typed line; `None` for a blank row.
pub(super) fn parse_line(
    n: usize,
    line: &FormLine,
    errors: &mut Vec<FieldError>,
) -> Option<SaleLineInput> {
    let FormLine {
        item,
        serial,
        qty,
        price,
        discount,
        foc,
    } = line;
    if item.trim().is_empty() && serial.trim().is_empty() {
        return None;
    }
    let quantity = match qty.trim() {
        "" => 1,
        q => q.parse::<i64>().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                "enter a whole number",
            ));
            1
        }),
    };
    let unit_price_cents = match price.trim() {
        "" => None,
        p => money::parse_cents(p).or_else(|| {
            errors.push(FieldError::new(
                format!("lines[{n}].unit_price"),
                "enter an amount such as 12.50",
            ));
            None
        }),
    };
    let discount_bp = money::parse_percent_bp(discount).unwrap_or_else(|| {
        errors.push(FieldError::new(
            format!("lines[{n}].discount"),
            "enter a percentage from 0 to 100",
        ));
        0
    });
    Some(SaleLineInput {
        sku: Some(item.trim().to_string()).filter(|s| !s.is_empty()),
        serial: Some(serial.trim().to_string()).filter(|s| !s.is_empty()),
        quantity,
        unit_price_cents,
        discount_bp,
        foc: *foc,
        ..Default::default()
    })
}

pub(super) fn posted_lines(form: &FormFields, errors: &mut Vec<FieldError>) -> Vec<SaleLineInput> {
    typed_rows(form)
        .iter()
        .enumerate()
        .filter_map(|(i, line)| parse_line(i + 1, line, errors))
        .collect()
}

#[derive(Template)]
#[template(path = "sales/new.html")]
pub(super) struct NewPage {
    layout: Layout,
    hub: Hub,
    meta: OpMeta,
    /// The capture envelope of the confirmation that "Save and confirm" sends after the cart.
    confirm_envelope: String,
    customers: Vec<(i64, String)>,
    customer_id: String,
    notes: String,
    rows: Vec<FormLine>,
    stock: Vec<StockOption>,
    flags: PermissionFlags,
    errors: Vec<FieldError>,
}

pub(super) async fn new_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    hub: &Hub,
    form: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let (hub_id, who) = (hub.id, user.clone());
    let (customers, stock) = crate::db::run(&state.db, move |conn| {
        Ok((
            sellable_customers(conn, &who, hub_id)?,
            stock_options(conn, hub_id)?,
        ))
    })
    .await?;
    let meta = forms::create_meta(&state.settings, user, hub.id, "sale.create", form);
    let status = forms::status_after(&errors);
    let text = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    let confirm_envelope = OpMeta::new(
        &state.settings,
        user,
        "sale.confirm",
        hub.id,
        Some(meta.record_id),
        None,
    )
    .envelope;
    render_with_status(
        &NewPage {
            layout: page.layout(format!("New sale · {}", hub.name)),
            hub: hub.clone(),
            meta,
            confirm_envelope,
            customers,
            customer_id: text("customer_id"),
            notes: text("notes"),
            rows: form_lines(form, 4),
            stock,
            flags: user.flags,
            errors,
        },
        status,
    )
}

pub(super) async fn new_form(
    access: HubAccess<perm::SalesCreate>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    new_page(&state, &page, &access, &access.hub, None, vec![]).await
}

/// The operations a new-sale form stands for: the cart and, with `then=confirm`, its
/// confirmation, with the fields it is sent with (to be sent only once the cart is saved). The
/// confirmation's op id is derived from the form's, so a replay is exactly-once too.
pub fn posted_sale(
    hub_id: i64,
    form: &FormFields,
) -> (forms::Posted, Option<(FormFields, forms::Posted)>) {
    let mut errors = Vec::new();
    let customer_id = form.text("customer_id").parse::<i64>().unwrap_or_else(|_| {
        errors.push(FieldError::new("customer", "choose a customer"));
        0
    });
    let lines = posted_lines(form, &mut errors);
    let sale_id = form.text("record_id");
    let payload = json!({ "sale_id": sale_id, "hub_id": hub_id, "customer_id": customer_id, "notes": form.text("notes"), "lines": lines });
    let cart = forms::Posted::new("sale.create", payload, errors);
    if form.text("then") != "confirm" {
        return (cart, None);
    }
    let confirm_op = Uuid::new_v5(
        &form.text("op_id").parse().unwrap_or_default(),
        b"sale.confirm",
    );
    let fields = FormFields::from_pairs(
        form.pairs()
            .iter()
            .map(|(k, v)| match k.as_str() {
                "op_id" => (k.clone(), confirm_op.to_string()),
                // A replay is checked against an envelope signed for its own kind.
                "envelope" => (k.clone(), form.text("confirm_envelope")),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    );
    let confirm = forms::Posted::new(
        "sale.confirm",
        json!({ "sale_id": sale_id, "hub_id": hub_id }),
        vec![],
    );
    (cart, Some((fields, confirm)))
}

/// `POST /hubs/{hub}/sales`: a cart in one entry; with `then=confirm`, confirmed right after
/// (its own operation, whose id is derived from the form's, so a replay is exactly-once too).
pub(super) async fn create(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = path.into_inner().0;
    let sale_id = form.text("record_id");
    let (cart, confirm) = posted_sale(hub_id, &form);
    let mut result = forms::submit(&state, &user, &req, &form, cart).await?;
    let location = format!("/hubs/{hub_id}/sales/{sale_id}");
    let mut done = "Sale saved as a draft.";
    if let Some((fields, confirm)) = confirm {
        if matches!(result.status, OpStatus::Applied | OpStatus::Duplicate) {
            result = forms::submit(&state, &user, &req, &fields, confirm).await?;
            done = "Sale confirmed; the stock has been taken out.";
        }
    }
    if let Some(res) = forms::respond(&req, &state.settings, &result, &location, done) {
        return Ok(res);
    }
    if form.text("then") == "confirm"
        && result.op_id != form.text("op_id").parse::<Uuid>().unwrap_or_default()
    {
        // The draft was saved; only the confirmation was refused: show it on the cart.
        return Ok(redirect_with_flash(
            &state.settings,
            &location,
            FlashKind::Error,
            &format!("Saved as a draft, not confirmed: {}", refusal_text(&result)),
        ));
    }
    let hub = forms::own_hub(&user, hub_id)?;
    new_page(
        &state,
        &page,
        &user,
        &hub,
        Some(&form),
        forms::form_errors(&result),
    )
    .await
}

pub(super) fn refusal_text(result: &OpResult) -> String {
    forms::form_errors(result)
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}
