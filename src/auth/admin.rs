//! User administration: list, create, edit (role, hubs, customers, flags), reset password,
//! deactivate. A SuperAdmin administers every organisation's accounts; an Admin only their own.
//! A change of role or scope ends the user's other sessions and API tokens at once.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use super::extract::Authorized;
use super::flags::PermissionFlags;
use super::permissions::perm;
use super::principal::Principal;
use super::roles::Role;
use super::users::{self, NewUser, User, UserEdit, UserError};
use super::{password, session, tokens};
use crate::audit::{self, Entry};
use crate::error::AppError;
use crate::hubs::{self, Customer, Hub, Organisation};
use crate::schema::users as users_table;
use crate::state::AppState;
use crate::web::form::FormFields;
use crate::web::layout::{render, render_with_status, FlashKind, Layout};
use crate::web::page::{redirect_with_flash, Page};

type Admin = Authorized<perm::UsersManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/users").get(list).post(create))
        .service(web::resource("/admin/users/new").get(new_form))
        .service(
            web::resource("/admin/users/{user_id}")
                .get(edit_form)
                .post(update),
        )
        .service(web::resource("/admin/users/{user_id}/password").post(reset_password))
        .service(web::resource("/admin/users/{user_id}/active").post(set_active));
}

/// Organisations whose accounts this admin may manage.
fn manageable_orgs(conn: &mut PgConnection, admin: &Principal) -> QueryResult<Vec<Organisation>> {
    let all = hubs::all_organisations(conn)?;
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
fn assignable_roles(admin: &Principal) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::NfcStation)
        .filter(|r| *r != Role::SuperAdmin || admin.role == Role::SuperAdmin)
        .collect()
}

/// Loads a user this admin may manage; anyone else is "not found".
fn managed_user(
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
struct ListPage {
    layout: Layout,
    rows: Vec<UserRow>,
    q: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

async fn list(
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

/// What the create and edit forms show: choices plus what was entered and what is wrong.
#[derive(Template)]
#[template(path = "admin/user_form.html")]
struct FormPage {
    layout: Layout,
    editing: Option<User>,
    organisations: Vec<Organisation>,
    organisation_id: i64,
    hubs: Vec<Hub>,
    customers: Vec<Customer>,
    roles: Vec<Role>,
    username: String,
    values: UserEdit,
    errors: Vec<(&'static str, String)>,
    flag_names: [(&'static str, &'static str); 4],
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    fn has_hub(&self, id: &i64) -> bool {
        self.values.hub_ids.contains(id)
    }
    fn has_customer(&self, id: &i64) -> bool {
        self.values.customer_ids.contains(id)
    }
    fn has_flag(&self, name: &str) -> bool {
        self.values.flags.get(name)
    }
    fn org_name(&self, id: &i64) -> String {
        self.organisations
            .iter()
            .find(|o| o.id == *id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    }
}

struct Choices {
    organisations: Vec<Organisation>,
    hubs: Vec<Hub>,
    customers: Vec<Customer>,
}

fn choices(
    conn: &mut PgConnection,
    admin: &Principal,
    organisation_id: i64,
) -> QueryResult<Choices> {
    let organisations = manageable_orgs(conn, admin)?;
    let (hubs, customers) = if organisations.iter().any(|o| o.id == organisation_id) {
        (
            hubs::hubs_of_organisation(conn, organisation_id)?,
            hubs::customers_of_organisation(conn, organisation_id)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Choices {
        organisations,
        hubs,
        customers,
    })
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    page: &Page,
    admin: &Principal,
    c: Choices,
    editing: Option<User>,
    organisation_id: i64,
    username: String,
    values: UserEdit,
    errors: Vec<(&'static str, String)>,
) -> FormPage {
    let title = match &editing {
        Some(u) => format!("Edit {}", u.username),
        None => "New user".to_string(),
    };
    FormPage {
        layout: page.layout(title),
        editing,
        organisations: c.organisations,
        organisation_id,
        hubs: c.hubs,
        customers: c.customers,
        roles: assignable_roles(admin),
        username,
        values,
        errors,
        flag_names: PermissionFlags::NAMES,
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    organisation: Option<i64>,
}

async fn new_form(
    admin: Admin,
    page: Page,
    query: web::Query<NewQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let org = query.organisation.unwrap_or(principal.organisation_id);
    let c = crate::db::run(&state.db, move |conn| Ok(choices(conn, &principal, org)?)).await?;
    let values = UserEdit {
        display_name: String::new(),
        role: Role::WarehouseOp,
        hub_ids: vec![],
        customer_ids: vec![],
        flags: PermissionFlags::default(),
    };
    render(&form_page(
        &page,
        &admin,
        c,
        None,
        org,
        String::new(),
        values,
        vec![],
    ))
}

/// Reads the shared fields of the create/edit forms and checks them against the choices.
fn read_edit(
    form: &FormFields,
    admin: &Principal,
    c: &Choices,
    errors: &mut Vec<(&'static str, String)>,
) -> UserEdit {
    let display_name = form.text("display_name");
    if display_name.is_empty() || display_name.chars().count() > 100 {
        errors.push((
            "display_name",
            "Enter the person's full name (up to 100 characters).".into(),
        ));
    }
    let role = match form.text("role").parse::<Role>() {
        Ok(r) if assignable_roles(admin).contains(&r) => r,
        _ => {
            errors.push(("role", "Choose one of the listed roles.".into()));
            Role::CustomerUser
        }
    };
    let hub_ids = form.ids("hub");
    if hub_ids.iter().any(|h| !c.hubs.iter().any(|x| x.id == *h)) {
        errors.push((
            "hub",
            "Only hubs of the user's own organisation can be assigned.".into(),
        ));
    }
    let customer_ids = form.ids("customer");
    if customer_ids
        .iter()
        .any(|id| !c.customers.iter().any(|x| x.id == *id))
    {
        errors.push((
            "customer",
            "Only customers of the user's own organisation can be assigned.".into(),
        ));
    }
    // Roles that work at a hub and see nothing without one.
    if hub_ids.is_empty()
        && matches!(
            role,
            Role::DepotManager | Role::WarehouseOp | Role::SalesRep | Role::Driver
        )
    {
        errors.push((
            "hub",
            format!(
                "A {} works at a hub: choose at least one.",
                role.label().to_lowercase()
            ),
        ));
    }
    let flags = PermissionFlags {
        can_change_price: form.has("can_change_price"),
        can_sell_below_cost: form.has("can_sell_below_cost"),
        can_add_foc: form.has("can_add_foc"),
        can_see_cost: form.has("can_see_cost"),
    };
    // Sales flags mean something only to those who sell.
    if !role.allows(crate::auth::permissions::Permission::SalesCreate)
        && !role.allows(crate::auth::permissions::Permission::WarehouseSell)
        && (flags.can_change_price
            || flags.can_sell_below_cost
            || flags.can_add_foc
            // An auditor may be shown costs; other non-sellers have no use for them.
            || (flags.can_see_cost && role != Role::Auditor))
    {
        errors.push((
            "flags",
            format!(
                "Sales permissions do not apply to a {}: clear them, or choose a role that sells.",
                role.label().to_lowercase()
            ),
        ));
    }
    UserEdit {
        display_name,
        role,
        hub_ids,
        customer_ids,
        flags,
    }
}

async fn create(
    admin: Admin,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let org: i64 = form.text("organisation_id").parse().unwrap_or(0);
    let p2 = principal.clone();
    let c = crate::db::run(&state.db, move |conn| Ok(choices(conn, &p2, org)?)).await?;
    let mut errors = Vec::new();
    if !c.organisations.iter().any(|o| o.id == org) {
        errors.push((
            "organisation_id",
            "Choose an organisation you manage.".into(),
        ));
    }
    let username = form.text("username").to_lowercase();
    if !users::valid_username(&username) {
        errors.push(("username", UserError::BadUsername.to_string()));
    }
    let pw = form.text("password");
    if pw.chars().count() < password::MIN_PASSWORD_LEN {
        errors.push((
            "password",
            format!("At least {} characters.", password::MIN_PASSWORD_LEN),
        ));
    }
    let values = read_edit(&form, &principal, &c, &mut errors);
    if !errors.is_empty() {
        return render_with_status(
            &form_page(&page, &principal, c, None, org, username, values, errors),
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (p3, v2, name2) = (principal.clone(), values.clone(), username.clone());
    let created = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let new = NewUser {
                username: &name2,
                display_name: &v2.display_name,
                role: v2.role,
                organisation_id: org,
                password: &pw,
                hub_ids: &v2.hub_ids,
            };
            let user = match users::create(conn, &new) {
                Ok(u) => u,
                Err(UserError::Exists(_)) => return Ok(None),
                Err(UserError::Database(e)) => return Err(e.into()),
                Err(e) => return Err(AppError::BadRequest(e.to_string())),
            };
            users::apply_edit(conn, user.id, &v2)?;
            audit::record(
                conn,
                &Entry::by(&p3, "user.created")
                    .object("user", user.id)
                    .change(None, Some(v2.to_json())),
            )?;
            Ok(Some(user.id))
        })
    })
    .await?;
    match created {
        Some(_) => Ok(redirect_with_flash(
            &state.settings,
            "/admin/users",
            FlashKind::Success,
            &format!("User '{username}' created."),
        )),
        None => {
            let errors = vec![("username", format!("The username '{username}' is taken."))];
            render_with_status(
                &form_page(&page, &principal, c, None, org, username, values, errors),
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn edit_form(
    admin: Admin,
    page: Page,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let user_id = path.into_inner();
    let (user, values, c) = crate::db::run(&state.db, move |conn| {
        let user = managed_user(conn, &principal, user_id)?;
        let (_, values) = users::snapshot(conn, user.id)?;
        let c = choices(conn, &principal, user.organisation_id)?;
        Ok((user, values, c))
    })
    .await?;
    let (org, username) = (user.organisation_id, user.username.clone());
    render(&form_page(
        &page,
        &admin,
        c,
        Some(user),
        org,
        username,
        values,
        vec![],
    ))
}

/// Ends a user's other sessions and API tokens after their rights changed.
pub(crate) async fn end_sessions(
    state: &AppState,
    admin: &Principal,
    user_id: i64,
) -> Result<(), AppError> {
    let keep = if admin.user_id == user_id {
        admin.session_key().map(str::to_string)
    } else {
        None
    };
    session::end_all_for_user(state, user_id, keep.as_deref())
        .await
        .map_err(AppError::session_store)?;
    crate::db::run(&state.db, move |conn| {
        Ok(tokens::revoke_all_for_user(conn, user_id)?)
    })
    .await?;
    Ok(())
}

async fn update(
    admin: Admin,
    page: Page,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let user_id = path.into_inner();
    let p2 = principal.clone();
    let (user, c) = crate::db::run(&state.db, move |conn| {
        let user = managed_user(conn, &p2, user_id)?;
        let c = choices(conn, &p2, user.organisation_id)?;
        Ok((user, c))
    })
    .await?;
    let mut errors = Vec::new();
    let values = read_edit(&form, &principal, &c, &mut errors);
    if user.id == principal.user_id && values.role != principal.role {
        errors.push((
            "role",
            "You cannot change your own role; ask another administrator.".into(),
        ));
    }
    if !errors.is_empty() {
        let (org, username) = (user.organisation_id, user.username.clone());
        return render_with_status(
            &form_page(
                &page,
                &principal,
                c,
                Some(user),
                org,
                username,
                values,
                errors,
            ),
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (p3, v2) = (principal.clone(), values.clone());
    let rights_changed = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let (_, before) = users::snapshot(conn, user_id)?;
            users::apply_edit(conn, user_id, &v2)?;
            let changed = before.changes_rights(&v2);
            let action = if before.role != v2.role {
                "user.role.changed"
            } else {
                "user.updated"
            };
            audit::record(
                conn,
                &Entry::by(&p3, action)
                    .object("user", user_id)
                    .change(Some(before.to_json()), Some(v2.to_json())),
            )?;
            Ok::<_, AppError>(changed)
        })
    })
    .await?;
    if rights_changed {
        end_sessions(&state, &principal, user_id).await?;
    }
    let message = if rights_changed {
        format!(
            "Saved. {}'s other sessions were signed out so the new rights apply at once.",
            user.username
        )
    } else {
        "Saved.".to_string()
    };
    Ok(redirect_with_flash(
        &state.settings,
        &format!("/admin/users/{user_id}"),
        FlashKind::Success,
        &message,
    ))
}

async fn reset_password(
    admin: Admin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let user_id = path.into_inner();
    let pw = form.text("new_password");
    let location = format!("/admin/users/{user_id}");
    if pw.chars().count() < password::MIN_PASSWORD_LEN {
        // Check the target exists and is ours before saying anything about the form.
        let p2 = principal.clone();
        crate::db::run(&state.db, move |conn| {
            managed_user(conn, &p2, user_id).map(|_| ())
        })
        .await?;
        return Ok(redirect_with_flash(
            &state.settings,
            &location,
            FlashKind::Error,
            &format!(
                "The new password must be at least {} characters; nothing was changed.",
                password::MIN_PASSWORD_LEN
            ),
        ));
    }
    let p2 = principal.clone();
    crate::db::run(&state.db, move |conn| {
        let user = managed_user(conn, &p2, user_id)?;
        let hash = password::hash(&pw).map_err(|e| AppError::BadRequest(e.to_string()))?;
        conn.transaction(|conn| {
            diesel::update(users_table::table.find(user.id))
                .set((
                    users_table::password_hash.eq(hash),
                    users_table::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                &Entry::by(&p2, "user.password.reset").object("user", user.id),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    end_sessions(&state, &principal, user_id).await?;
    Ok(redirect_with_flash(
        &state.settings,
        &location,
        FlashKind::Success,
        "Password reset. The user's sessions were signed out.",
    ))
}

async fn set_active(
    admin: Admin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = admin.user.0.clone();
    let user_id = path.into_inner();
    let active = form.text("active") == "true";
    if user_id == principal.user_id && !active {
        return Ok(redirect_with_flash(
            &state.settings,
            &format!("/admin/users/{user_id}"),
            FlashKind::Error,
            "You cannot deactivate your own account.",
        ));
    }
    let p2 = principal.clone();
    crate::db::run(&state.db, move |conn| {
        let user = managed_user(conn, &p2, user_id)?;
        conn.transaction(|conn| {
            diesel::update(users_table::table.find(user.id))
                .set((
                    users_table::active.eq(active),
                    users_table::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            let action = if active {
                "user.activated"
            } else {
                "user.deactivated"
            };
            audit::record(
                conn,
                &Entry::by(&p2, action).object("user", user.id).change(
                    Some(serde_json::json!({"active": user.active})),
                    Some(serde_json::json!({"active": active})),
                ),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    if !active {
        end_sessions(&state, &principal, user_id).await?;
    }
    let message = if active {
        "Account reactivated."
    } else {
        "Account deactivated: the user is signed out everywhere and can no longer sign in."
    };
    Ok(redirect_with_flash(
        &state.settings,
        &format!("/admin/users/{user_id}"),
        FlashKind::Success,
        message,
    ))
}
