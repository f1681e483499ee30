//! A cart's page: its lines, totals and invoices, refreshed by htmx while an invoice renders.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use uuid::Uuid;

use super::invoices::{self, Invoice};
use super::{lines, Sale};
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::flags::PermissionFlags;
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::money;
use crate::schema::{customers, organisations, sales};
use crate::state::AppState;
use crate::sync::forms::OpMeta;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

use super::new_sale::StockOption;
use super::pages::{not_found, parse_id};
use crate::ui::filters;

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

pub(super) async fn load_cart(
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
            super::new_sale::stock_options(conn, sale.hub_id)?
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
pub(super) struct DetailPage {
    pub(super) layout: Layout,
    pub(super) cart: Cart,
}

#[derive(Template)]
#[template(path = "sales/_cart.html")]
pub(super) struct CartFragment {
    pub(super) layout: Layout,
    pub(super) cart: Cart,
}

pub(super) async fn detail(
    access: HubAccess<perm::SalesRead>,
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
pub(super) struct InvoicesFragment {
    cart: Cart,
}

/// The invoices box, polled by htmx while a PDF is rendering.
pub(super) async fn invoice_status(
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
