//! A customer's page for admins: its details, active or not, and the users assigned to it; a
//! change of assignment ends those users' other sessions at once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{Hub, Organisation};
use crate::error::AppError;
use crate::schema::{customers, user_customers, users};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, FlashKind, FormEcho, Layout};
use crate::ui::page::{redirect_with_flash, Page};

use super::customer_admin::{managed_hubs, read_input, Assignable, CustomerAdmin, CustomerRow};

#[derive(Template)]
#[template(path = "admin/customer_form.html")]
pub(super) struct EditPage {
    layout: Layout,
    customer: CustomerRow,
    hubs: Vec<(Organisation, Hub)>,
    users: Vec<Assignable>,
    assigned: Vec<i64>,
    errors: Vec<String>,
}

impl EditPage {
    fn is_assigned(&self, id: &i64) -> bool {
        self.assigned.contains(id)
    }
}

/// What the edit page needs: the customer, the hubs it may move to, the users who can be
/// assigned, and the ids of those assigned now.
pub(super) type ForEdit = (
    CustomerRow,
    Vec<(Organisation, Hub)>,
    Vec<Assignable>,
    Vec<i64>,
);

/// A customer the admin manages, with what its edit page needs; 404 for anyone else's.
/// A customer served by one of the hubs this administrator manages; 404 for any other.
pub fn managed_customer(
    conn: &mut PgConnection,
    admin: &Principal,
    id: i64,
) -> Result<CustomerRow, AppError> {
    let hubs = managed_hubs(conn, admin)?;
    customer_among(conn, &hubs, id)
}

pub(super) fn customer_among(
    conn: &mut PgConnection,
    hubs: &[(Organisation, Hub)],
    id: i64,
) -> Result<CustomerRow, AppError> {
    customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()?
        .filter(|c| hubs.iter().any(|(_, h)| h.id == c.hub_id))
        .ok_or_else(|| AppError::not_found("There is no such customer among yours."))
}

pub(super) fn load_for_edit(
    conn: &mut PgConnection,
    admin: &Principal,
    id: i64,
) -> Result<ForEdit, AppError> {
    let hubs = managed_hubs(conn, admin)?;
    let customer = customer_among(conn, &hubs, id)?;
    let people: Vec<(i64, String, String)> = users::table
        .filter(users::organisation_id.eq(customer.organisation_id))
        .filter(users::role.eq_any([Role::SalesRep.as_str(), Role::CustomerUser.as_str()]))
        .filter(users::active.eq(true))
        .order(users::display_name)
        .select((users::id, users::display_name, users::role))
        .load(conn)?;
    let users = people
        .into_iter()
        .map(|(id, display_name, role)| Assignable {
            id,
            display_name,
            role_label: role.parse::<Role>().map(|r| r.label()).unwrap_or("User"),
        })
        .collect();
    let assigned = user_customers::table
        .filter(user_customers::customer_id.eq(id))
        .select(user_customers::user_id)
        .order(user_customers::user_id)
        .load(conn)?;
    Ok((customer, hubs, users, assigned))
}

pub(super) async fn edit_form(
    admin: CustomerAdmin,
    page: Page,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (principal, id) = (admin.user.0.clone(), path.into_inner());
    let (customer, hubs, users, assigned) =
        crate::db::run(&state.db, move |conn| load_for_edit(conn, &principal, id)).await?;
    render_with_status(
        &EditPage {
            layout: page.layout(format!("Customer {}", customer.name)),
            customer,
            hubs,
            users,
            assigned,
            errors: vec![],
        },
        StatusCode::OK,
    )
}

pub(super) async fn update(
    admin: CustomerAdmin,
    page: Page,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (principal, id) = (admin.user.0.clone(), path.into_inner());
    let p2 = principal.clone();
    let (current, hubs, users, assigned) =
        crate::db::run(&state.db, move |conn| load_for_edit(conn, &p2, id)).await?;
    let mut errors = Vec::new();
    let mut input = read_input(&form, &mut errors);
    input.code = current.code.clone();
    errors.retain(|e| !e.starts_with("The customer code"));
    if !hubs
        .iter()
        .any(|(o, h)| h.id == input.hub_id && o.id == current.organisation_id)
    {
        errors.push("Choose a hub of the customer's organisation.".into());
    }
    // Active or not is a choice of two: anything else is refused, never read as "no".
    if !["true", "false"].contains(&form.text("active").as_str()) {
        errors.push("Choose whether the customer is active (Yes or No).".into());
    }
    let wanted: Vec<i64> = form
        .ids("user_id")
        .into_iter()
        .filter(|u| users.iter().any(|a| a.id == *u))
        .collect();
    if !errors.is_empty() {
        let mut layout = page.layout(format!("Customer {}", current.name));
        layout.echo = FormEcho::of(&form);
        return render_with_status(
            &EditPage {
                layout,
                customer: current,
                hubs,
                users,
                assigned: wanted,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let active = form.text("active") == "true";
    let changed_users: Vec<i64> = assigned
        .iter()
        .filter(|u| !wanted.contains(u))
        .chain(wanted.iter().filter(|u| !assigned.contains(u)))
        .copied()
        .collect();
    let p3 = principal.clone();
    let (w2, a2) = (wanted.clone(), assigned.clone());
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let after: CustomerRow = diesel::update(customers::table.find(id))
                .set((
                    customers::name.eq(&input.name),
                    customers::contact_phone.eq(&input.phone),
                    customers::hub_id.eq(input.hub_id),
                    customers::active.eq(active),
                ))
                .returning(CustomerRow::as_returning())
                .get_result(conn)?;
            diesel::delete(user_customers::table.filter(user_customers::customer_id.eq(id)))
                .execute(conn)?;
            let rows: Vec<_> = w2
                .iter()
                .map(|u| {
                    (
                        user_customers::user_id.eq(*u),
                        user_customers::customer_id.eq(id),
                    )
                })
                .collect();
            diesel::insert_into(user_customers::table)
                .values(&rows)
                .execute(conn)?;
            let entry = p3
                .audit_entry("customer.updated")
                .object("customer", id)
                .hub(Some(after.hub_id))
                .change(Some(current.to_json(&a2)), Some(after.to_json(&w2)));
            audit::record(
                conn,
                &Entry {
                    customer_id: Some(id),
                    ..entry
                },
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    // Their scope changed: their sessions and tokens end, as after any change of rights.
    for user_id in changed_users {
        crate::auth::session::end_sessions(&state, &principal, user_id).await?;
    }
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/customers",
        FlashKind::Success,
        "Customer saved.",
    ))
}
