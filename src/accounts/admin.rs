//! User administration: list, create, edit (role, hubs, customers, flags), reset password,
//! deactivate. A SuperAdmin administers every organisation's accounts; an Admin only their own.
//! A change of role or scope ends the user's other sessions and API tokens at once.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{self, Organisation};
use crate::auth::users::User;
use crate::error::AppError;
use crate::schema::users as users_table;
use crate::state::AppState;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

pub(super) type Admin = Authorized<perm::UsersManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::user_changes::{create, edit_form, reset_password, set_active, update};
    cfg.service(web::resource("/admin/users").get(list).post(create))
        .service(web::resource("/admin/users/new").get(super::user_form::new_form))
        .service(
            web::resource("/admin/users/{user_id}")
                .get(edit_form)
                .post(update),
        )
        .service(web::resource("/admin/users/{user_id}/password").post(reset_password))
        .service(web::resource("/admin/users/{user_id}/active").post(set_active));
}

/// Organisations whose accounts this admin may manage.
pub(super) fn manageable_orgs(
    conn: &mut PgConnection,
    admin: &Principal,
) -> QueryResult<Vec<Organisation>> {
    let all = scope::all_organisations(conn)?;
    Ok(if admin.role == Role::SuperAdmin {
        all
    } else {
        all.into_iter()
            .filter(|o| o.id == admin.organisation_id)
            .collect()
    })
}

/// Roles this admin may hand out: only a SuperAdmin creates SuperAdmins; station accounts are
/// made by registering a station.
pub(super) fn assignable_roles(admin: &Principal) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::NfcStation)
        .filter(|r| *r != Role::SuperAdmin || admin.role == Role::SuperAdmin)
        .collect()
}

/// Loads a user this admin may manage; anyone else is "not found".
pub(super) fn managed_user(
    conn: &mut PgConnection,
    admin: &Principal,
    user_id: i64,
) -> Result<User, AppError> {
    let orgs: Vec<i64> = manageable_orgs(conn, admin)?.iter().map(|o| o.id).collect();
    let user = users_table::table
        .find(user_id)
        .filter(users_table::organisation_id.eq_any(orgs))
        // Station accounts live and die with their station (/admin/stations).
        .filter(users_table::role.ne(Role::NfcStation.as_str()))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::not_found("There is no such user among the accounts you manage.")
        })?;
    if user.role() == Role::SuperAdmin && admin.role != Role::SuperAdmin {
        return Err(AppError::not_found(
            "There is no such user among the accounts you manage.",
        ));
    }
    Ok(user)
}

pub struct UserRow {
    pub user: User,
    pub organisation: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub(super) struct ListPage {
    layout: Layout,
    rows: Vec<UserRow>,
    q: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn list(
    admin: Admin,
    page: Page,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner().q.trim().to_lowercase();
    let principal = admin.user.0.clone();
    let filter = q.clone();
    let rows = crate::db::run(&state.db, move |conn| {
        let orgs = manageable_orgs(conn, &principal)?;
        let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
        let mut query = users_table::table
            .filter(users_table::organisation_id.eq_any(ids))
            .filter(users_table::role.ne(Role::NfcStation.as_str()))
            .into_boxed();
        if !filter.is_empty() {
            let pattern = format!("%{}%", filter.replace('%', "\\%").replace('_', "\\_"));
            query = query.filter(
                users_table::username
                    .ilike(pattern.clone())
                    .or(users_table::display_name.ilike(pattern)),
            );
        }
        let users: Vec<User> = query
            .order(users_table::username)
            .limit(500)
            .select(User::as_select())
            .load(conn)?;
        Ok(users
            .into_iter()
            .filter(|u| u.role() != Role::SuperAdmin || principal.role == Role::SuperAdmin)
            .map(|u| {
                let organisation = orgs
                    .iter()
                    .find(|o| o.id == u.organisation_id)
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                UserRow {
                    user: u,
                    organisation,
                }
            })
            .collect())
    })
    .await?;
    render(&ListPage {
        layout: page.layout("Users"),
        rows,
        q,
    })
}
