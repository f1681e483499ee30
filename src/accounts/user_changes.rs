//! What an admin changes about a user: create, edit, reset the password, deactivate or
//! reactivate. A change of role or scope ends the user's other sessions and API tokens at once.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;

use crate::audit;
use crate::auth::password;
use crate::auth::users::{self, NewUser, UserError};
use crate::error::AppError;
use crate::schema::users as users_table;
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, render_with_status, FlashKind};
use crate::ui::page::{redirect_with_flash, Page};

use super::admin::{managed_user, Admin};
use super::user_form::{choices, form_page, read_edit};

pub(super) async fn create(
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
                &p3.audit_entry("user.created")
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

pub(super) async fn edit_form(
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

pub(super) async fn update(
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
                &p3.audit_entry(action)
                    .object("user", user_id)
                    .change(Some(before.to_json()), Some(v2.to_json())),
            )?;
            Ok::<_, AppError>(changed)
        })
    })
    .await?;
    if rights_changed {
        crate::auth::session::end_sessions(&state, &principal, user_id).await?;
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

pub(super) async fn reset_password(
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
                &p2.audit_entry("user.password.reset")
                    .object("user", user.id),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    crate::auth::session::end_sessions(&state, &principal, user_id).await?;
    Ok(redirect_with_flash(
        &state.settings,
        &location,
        FlashKind::Success,
        "Password reset. The user's sessions were signed out.",
    ))
}

pub(super) async fn set_active(
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
                &p2.audit_entry(action).object("user", user.id).change(
                    Some(serde_json::json!({"active": user.active})),
                    Some(serde_json::json!({"active": active})),
                ),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    if !active {
        crate::auth::session::end_sessions(&state, &principal, user_id).await?;
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
