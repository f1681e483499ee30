//! `/admin/roles`: the permission matrix, read-only, straight from `Role::allows`.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::extract::Authorized;
use crate::auth::permissions::{perm, Permission};
use crate::auth::roles::Role;
use crate::error::AppError;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/roles").get(matrix));
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct MatrixPage {
    layout: Layout,
    roles: Vec<Role>,
    rows: Vec<(Permission, Vec<bool>)>,
}

async fn matrix(_user: Authorized<perm::RolesView>, page: Page) -> Result<HttpResponse, AppError> {
    let roles = Role::ALL.to_vec();
    let rows = Permission::ALL
        .iter()
        .map(|p| (*p, roles.iter().map(|r| r.allows(*p)).collect()))
        .collect();
    render(&MatrixPage {
        layout: page.layout("Roles and permissions"),
        roles,
        rows,
    })
}
