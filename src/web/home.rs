//! The start page: a dashboard of the user's hubs. Anonymous visitors are sent to sign in.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::extract::CurrentUser;
use crate::auth::permissions::Permission;
use crate::error::AppError;
use crate::hubs::pages::{hub_cards, HubCard};
use crate::state::AppState;
use crate::web::layout::{render, Layout};
use crate::web::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(dashboard));
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    greeting_name: String,
    role_label: String,
    cards: Vec<HubCard>,
    shows_stock: bool,
    low_total: i64,
    can_audit: bool,
    can_admin: bool,
}

async fn dashboard(user: CurrentUser, page: Page, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let shows_stock = user.can(Permission::InventoryRead);
    let cards = if shows_stock { hub_cards(&state, user.scope.hubs.clone()).await? } else { Vec::new() };
    let low_total = cards.iter().map(|c| c.totals.low).sum();
    render(&Dashboard {
        layout: page.layout("Dashboard"),
        greeting_name: user.display_name.split_whitespace().next().unwrap_or_default().to_string(),
        role_label: user.role.label().to_string(),
        cards,
        shows_stock,
        low_total,
        can_audit: user.can(Permission::AuditRead),
        can_admin: user.can(Permission::UsersManage),
    })
}
