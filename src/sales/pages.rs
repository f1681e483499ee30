//! Sales pages: the sales list, the new-sale form (works offline: a whole cart in one entry,
//! "Save and confirm" included), the cart page with htmx line edits (plain forms without
//! JavaScript), invoices and credit notes, and a customer user's own orders.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::cart::{LineEdit, SaleLineInput};
use super::invoices::{self, Invoice};
use super::{lines, Sale};
use crate::auth::extract::{Authorized, CurrentUser, HubAccess};
use crate::auth::flags::PermissionFlags;
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::hubs::Hub;
use crate::money;
use crate::schema::{
    customers, hubs, inventory_items, organisations, product_families, product_identities,
    product_variants, sales, stock_levels,
};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta};
use crate::sync::operation::{FieldError, OpResult, OpStatus};
use crate::web::form::FormFields;
use crate::web::layout::{render, render_with_status, FlashKind, FormEcho, Layout};
use crate::web::page::{redirect_with_echo, redirect_with_flash, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sales").get(list))
        .service(web::resource("/orders").get(orders))
        .service(web::resource("/orders/{id}").get(order))
        .service(web::resource("/hubs/{hub_id}/sales").post(create))
        .service(web::resource("/hubs/{hub_id}/sales/new").get(new_form))
        .service(web::resource("/hubs/{hub_id}/sales/{id}").get(detail))
        .service(web::resource("/hubs/{hub_id}/sales/{id}/invoice-status").get(invoice_status))
        .service(web::resource("/hubs/{hub_id}/sales/{id}/{action}").post(act));
}

fn not_found() -> AppError {
    AppError::not_found("There is no such sale among yours.")
}

fn parse_id(text: &str) -> Result<Uuid, AppError> {
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

type RowQuery<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoin<diesel::dsl::InnerJoin<sales::table, hubs::table>, customers::table>,
    diesel::pg::Pg,
>;

fn rows_query<'a>() -> RowQuery<'a> {
    sales::table
        .inner_join(hubs::table)
        .inner_join(customers::table)
        .into_boxed()
}

/// One page of sales, newest first.
fn load_rows(conn: &mut PgConnection, q: RowQuery<'_>, page: i64) -> QueryResult<Vec<SaleRow>> {
    q.order((sales::created_at.desc(), sales::id))
        .limit(crate::web::pager::PER_PAGE)
        .offset(crate::web::pager::Pager::offset(page))
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
struct ListPage {
    layout: Layout,
    rows: Vec<SaleRow>,
    status: String,
    hubs: Vec<Hub>,
    pager: crate::web::pager::Pager,
}

/// `GET /sales`: the sales of the user's hubs (a sales rep's: of their customers), newest first.
async fn list(
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
        .clamp(0, crate::web::MAX_PAGE);
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
        let total: i64 = filtered().count().get_result(conn)?;
        Ok((load_rows(conn, filtered(), page_no)?, total))
    })
    .await?;
    let pager =
        crate::web::pager::Pager::filtered("/sales", &[("status", &status)], page_no, total);
    render(&ListPage {
        layout: page.layout("Sales"),
        rows,
        status,
        hubs: user.scope.hubs.clone(),
        pager,
    })
}

/// A stock line offered in the item picker: "SKU — name · N on hand · price".
/// An item of the hub's stock in the item picker.
pub struct StockOption {
    pub sku: String,
    /// "Name · 12 on hand · 1,450.00"
    pub label: String,
    /// The list price as the price field takes it ("1450.00"), to prefill it.
    pub price: String,
}

fn stock_options(conn: &mut PgConnection, hub_id: i64) -> QueryResult<Vec<StockOption>> {
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

fn sellable_customers(
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
fn typed_rows(f: &FormFields) -> Vec<FormLine> {
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
fn form_lines(form: Option<&FormFields>, blank: usize) -> Vec<FormLine> {
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
fn parse_line(n: usize, line: &FormLine, errors: &mut Vec<FieldError>) -> Option<SaleLineInput> {
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

fn posted_lines(form: &FormFields, errors: &mut Vec<FieldError>) -> Vec<SaleLineInput> {
    typed_rows(form)
        .iter()
        .enumerate()
        .filter_map(|(i, line)| parse_line(i + 1, line, errors))
        .collect()
}

#[derive(Template)]
#[template(path = "sales/new.html")]
struct NewPage {
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

async fn new_page(
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

async fn new_form(
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
async fn create(
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

fn refusal_text(result: &OpResult) -> String {
    forms::form_errors(result)
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cart line as the page shows it.
pub struct CartLine {
    pub no: i32,
    pub name: String,
    pub sku: String,
    pub serial: Option<String>,
    pub quantity: i64,
    pub list: String,
    pub unit: String,
    pub unit_plain: String,
    pub discount: String,
    pub discount_plain: String,
    pub foc: bool,
    pub changed: bool,
    pub net: String,
    pub cost: Option<String>,
    pub meta: Option<OpMeta>,
}

/// Everything the cart fragment shows.
pub struct Cart {
    pub sale: Sale,
    pub hub_id: i64,
    pub customer: String,
    pub lines: Vec<CartLine>,
    pub subtotal: String,
    pub discount: String,
    pub tax_label: String,
    pub tax: String,
    pub total: String,
    pub currency: String,
    pub margin: Option<String>,
    pub flags: PermissionFlags,
    pub add: Option<OpMeta>,
    pub confirm: Option<OpMeta>,
    pub cancel: Option<OpMeta>,
    pub issue: Option<OpMeta>,
    pub credit: Option<(Uuid, OpMeta)>,
    pub invoices: Vec<Invoice>,
    pub stock: Vec<StockOption>,
    pub message: Option<(&'static str, String)>,
    pub customer_view: bool,
}

impl Cart {
    pub fn rendering(&self) -> bool {
        self.invoices.iter().any(|i| i.render_status != "ready")
    }
}

async fn load_cart(
    state: &AppState,
    user: &Principal,
    sale_id: Uuid,
    customer_view: bool,
) -> Result<Cart, AppError> {
    let who = user.clone();
    let settings = state.settings.clone();
    crate::db::run(&state.db, move |conn| {
        let sale: Sale = sales::table
            .find(sale_id)
            .select(Sale::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(not_found)?;
        if !super::visible_to(&who, sale.hub_id, sale.customer_id)
            || customer_view && sale.status == "draft"
        {
            return Err(not_found());
        }
        let customer: String = customers::table
            .find(sale.customer_id)
            .select(customers::name)
            .first(conn)?;
        let currency: String = organisations::table
            .find(sale.organisation_id)
            .select(organisations::currency)
            .first(conn)?;
        let lines = lines(conn, sale.id)?;
        let totals = super::totals(&sale, &lines);
        let invoices = invoices::of_sale(conn, sale.id)?;
        let selling = !customer_view && who.can(Permission::SalesCreate);
        let draft = sale.status == "draft" && selling;
        let meta = |kind: &'static str, record: Uuid, version: Option<i32>| {
            OpMeta::new(&settings, &who, kind, sale.hub_id, Some(record), version)
        };
        let see_cost = who.flags.can_see_cost && !customer_view;
        let cost_total: Option<i64> = lines
            .iter()
            .map(|l| l.cost_cents().map(|c| c.saturating_mul(l.quantity)))
            .sum();
        let cart_lines = lines
            .iter()
            .map(|l| CartLine {
                no: l.line_no,
                name: l.name.clone(),
                sku: l.sku.clone(),
                serial: l.serial.clone(),
                quantity: l.quantity,
                list: money::format_cents(l.list_price_cents),
                unit: money::format_cents(l.unit_price_cents),
                unit_plain: format!(
                    "{}.{:02}",
                    l.unit_price_cents / 100,
                    l.unit_price_cents % 100
                ),
                discount: if l.discount_bp > 0 {
                    outpost_jobs::invoice::format_percent(l.discount_bp)
                } else {
                    String::new()
                },
                discount_plain: if l.discount_bp > 0 {
                    format!("{}", l.discount_bp as f64 / 100.0)
                } else {
                    String::new()
                },
                foc: l.foc,
                changed: !l.foc && l.unit_price_cents != l.list_price_cents,
                net: money::format_cents(l.amounts().net),
                cost: l.cost_cents().filter(|_| see_cost).map(money::format_cents),
                meta: draft.then(|| meta("sale.update", sale.id, Some(sale.version))),
            })
            .collect();
        let has_invoice = invoices.iter().any(|i| i.kind == "invoice");
        let credit = invoices
            .iter()
            .find(|i| {
                i.kind == "invoice" && !invoices.iter().any(|c| c.credits_invoice_id == Some(i.id))
            })
            .filter(|_| selling)
            .map(|i| (i.id, meta("invoice.credit", Uuid::new_v4(), None)));
        let confirmed = sale.status == "confirmed" && selling;
        let stock = if draft {
            super::pages::stock_options(conn, sale.hub_id)?
        } else {
            Vec::new()
        };
        Ok(Cart {
            hub_id: sale.hub_id,
            customer,
            lines: cart_lines,
            subtotal: money::format_cents(totals.subtotal),
            discount: money::format_cents(totals.discount),
            tax_label: format!(
                "Tax ({})",
                outpost_jobs::invoice::format_percent(sale.tax_rate_bp)
            ),
            tax: money::format_cents(totals.tax),
            total: money::format_cents(totals.total),
            currency,
            margin: cost_total
                .filter(|_| see_cost)
                .map(|c| money::format_cents(totals.subtotal - c)),
            flags: who.flags,
            add: draft.then(|| meta("sale.update", sale.id, Some(sale.version))),
            confirm: draft.then(|| meta("sale.confirm", sale.id, Some(sale.version))),
            cancel: draft.then(|| meta("sale.cancel", sale.id, Some(sale.version))),
            issue: (confirmed && !has_invoice).then(|| meta("invoice.issue", Uuid::new_v4(), None)),
            credit,
            invoices,
            stock,
            message: None,
            customer_view,
            sale,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "sales/detail.html")]
struct DetailPage {
    layout: Layout,
    cart: Cart,
}

#[derive(Template)]
#[template(path = "sales/_cart.html")]
struct CartFragment {
    layout: Layout,
    cart: Cart,
}

async fn detail(
    access: HubAccess<perm::SalesCreate>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path.1)?;
    let cart = load_cart(&state, &access, id, false).await?;
    if cart.hub_id != access.hub.id {
        return Err(not_found());
    }
    render(&DetailPage {
        layout: page.layout(format!("Sale to {}", cart.customer)),
        cart,
    })
}

#[derive(Template)]
#[template(path = "sales/_invoices.html")]
struct InvoicesFragment {
    cart: Cart,
}

/// The invoices box, polled by htmx while a PDF is rendering.
async fn invoice_status(
    user: CurrentUser,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path.1)?;
    let customer_view = user.role == crate::auth::roles::Role::CustomerUser;
    let cart = load_cart(&state, &user, id, customer_view).await?;
    if !invoices::may_open(&user, cart.sale.hub_id, cart.sale.customer_id) {
        return Err(not_found());
    }
    render(&InvoicesFragment { cart })
}

/// What a cart form posts, as the operation it stands for.
/// The operation a cart form stands for, and what to tell the person when it is applied;
/// `None` for an action a sale does not have.
pub fn posted_action(
    action: &str,
    hub_id: i64,
    sale_id: &str,
    form: &FormFields,
) -> Option<(forms::Posted, &'static str)> {
    let mut errors = Vec::new();
    let (kind, payload, done) = action_payload(action, hub_id, sale_id, form, &mut errors)?;
    Some((forms::Posted::new(kind, payload, errors), done))
}

fn action_payload(
    action: &str,
    hub_id: i64,
    sale_id: &str,
    form: &FormFields,
    errors: &mut Vec<FieldError>,
) -> Option<(&'static str, Value, &'static str)> {
    let reference = json!({ "sale_id": sale_id, "hub_id": hub_id });
    Some(match action {
        "add" => {
            let typed = FormLine {
                item: form.text("line_item"),
                serial: form.text("line_serial"),
                qty: form.text("line_qty"),
                price: form.text("line_price"),
                discount: form.text("line_discount"),
                foc: form.text("line_foc") == "1",
            };
            let line = parse_line(1, &typed, errors);
            if line.is_none() {
                errors.push(FieldError::new(
                    "item",
                    "choose an item or scan a serial number",
                ));
            }
            (
                "sale.update",
                json!({ "sale_id": sale_id, "hub_id": hub_id, "add_lines": line.into_iter().collect::<Vec<_>>() }),
                "Line added.",
            )
        }
        "line" => {
            let line_no = form.text("line_no").parse::<i32>().unwrap_or(0);
            let mut edit = LineEdit {
                line_no,
                remove: form.text("remove") == "1",
                ..Default::default()
            };
            let mut message = "Line updated.";
            if !edit.remove {
                if form.text("qty") != form.text("orig_qty") {
                    edit.quantity = Some(form.text("qty").trim().parse().unwrap_or_else(|_| {
                        errors.push(FieldError::new(
                            format!("lines[{line_no}].quantity"),
                            "enter a whole number",
                        ));
                        1
                    }));
                }
                if form.text("price") != form.text("orig_price") {
                    edit.unit_price_cents =
                        Some(money::parse_cents(&form.text("price")).unwrap_or_else(|| {
                            errors.push(FieldError::new(
                                format!("lines[{line_no}].unit_price"),
                                "enter an amount such as 12.50",
                            ));
                            0
                        }));
                    message = "Price updated";
                }
                if form.text("discount") != form.text("orig_discount") {
                    edit.discount_bp = Some(
                        money::parse_percent_bp(&form.text("discount")).unwrap_or_else(|| {
                            errors.push(FieldError::new(
                                format!("lines[{line_no}].discount"),
                                "enter a percentage from 0 to 100",
                            ));
                            0
                        }),
                    );
                    message = "Price updated";
                }
                let foc = form.text("foc") == "1";
                if foc != (form.text("orig_foc") == "1") {
                    edit.foc = Some(foc);
                    message = if foc {
                        "Marked free of charge"
                    } else {
                        "Price updated"
                    };
                }
            } else {
                message = "Line removed.";
            }
            (
                "sale.update",
                json!({ "sale_id": sale_id, "hub_id": hub_id, "edit_lines": [edit] }),
                message,
            )
        }
        "details" => {
            let mut p = reference.clone();
            if form.text("notes") != form.text("orig_notes") {
                p["notes"] = json!(form.text("notes"));
            }
            if let Ok(c) = form.text("customer_id").parse::<i64>() {
                if form.text("customer_id") != form.text("orig_customer_id") {
                    p["customer_id"] = json!(c);
                }
            }
            ("sale.update", p, "Changes saved.")
        }
        "confirm" => (
            "sale.confirm",
            reference,
            "Sale confirmed; the stock has been taken out.",
        ),
        "cancel" => ("sale.cancel", reference, "Sale cancelled."),
        "invoice" => (
            "invoice.issue",
            json!({ "invoice_id": form.text("record_id"), "sale_id": sale_id, "hub_id": hub_id }),
            "Invoice issued; the PDF is being rendered.",
        ),
        "credit" => (
            "invoice.credit",
            json!({ "credit_note_id": form.text("record_id"), "invoice_id": form.text("invoice_id"), "hub_id": hub_id, "reason": form.text("reason"), "restock": form.text("restock") == "1" }),
            "Credit note issued; the PDF is being rendered.",
        ),
        _ => return None,
    })
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request") && !forms::is_replay(req)
}

/// `POST /hubs/{hub}/sales/{id}/{action}`: every cart form. htmx gets the cart fragment back
/// (or, after a refusal, only the message, so the form keeps what was typed); without
/// JavaScript the answer is a redirect with a message; a replay gets JSON.
async fn act(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64, String, String)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (hub_id, sale_text, action) = path.into_inner();
    let sale_id = parse_id(&sale_text)?;
    let Some((posted, done)) = posted_action(&action, hub_id, &sale_text, &form) else {
        return Err(AppError::NotFound(format!(
            "'{action}' is not an action of a sale."
        )));
    };
    let result = forms::submit(&state, &user, &req, &form, posted).await?;
    let location = format!("/hubs/{hub_id}/sales/{sale_id}");
    let ok = matches!(result.status, OpStatus::Applied | OpStatus::Duplicate);
    if is_htmx(&req) {
        if !ok {
            let (class, text) = match result.status {
                OpStatus::PendingReview => (
                    "flash-warning",
                    "Saved — awaiting online confirmation by a manager.".to_string(),
                ),
                OpStatus::Conflict => (
                    "flash-warning",
                    format!(
                        "Not applied: {}. It is in Sync Issues for review.",
                        result.reason.clone().unwrap_or_default()
                    ),
                ),
                _ => ("flash-error", refusal_text(&result)),
            };
            return Ok(HttpResponse::Ok()
                .insert_header(("HX-Retarget", "#cart-message"))
                .insert_header(("HX-Reswap", "innerHTML"))
                .content_type("text/html; charset=utf-8")
                .body(format!(
                    "<p class=\"flash {class}\" role=\"alert\">{}</p>",
                    askama_escape(&text)
                )));
        }
        let mut cart = load_cart(&state, &user, sale_id, false).await?;
        cart.message = Some(("flash-success", done.to_string()));
        return render(&CartFragment {
            layout: page.layout(""),
            cart,
        });
    }
    if let Some(res) = forms::respond(&req, &state.settings, &result, &location, done) {
        return Ok(res);
    }
    Ok(redirect_with_echo(
        &state.settings,
        &location,
        FlashKind::Error,
        &format!("Not done: {}", refusal_text(&result)),
        FormEcho::of(&form),
    ))
}

fn askama_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[derive(Template)]
#[template(path = "sales/orders.html")]
struct OrdersPage {
    layout: Layout,
    rows: Vec<SaleRow>,
    pager: crate::web::pager::Pager,
}

/// `GET /orders`: a customer user's confirmed orders.
async fn orders(
    user: Authorized<perm::OwnOrdersView>,
    page: Page,
    query: web::Query<crate::web::pager::PageQuery>,
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
        let total: i64 = own().count().get_result(conn)?;
        Ok((load_rows(conn, own(), page_no)?, total))
    })
    .await?;
    render(&OrdersPage {
        layout: page.layout("My orders"),
        rows,
        pager: crate::web::pager::Pager::new("/orders", page_no, total),
    })
}

async fn order(
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
