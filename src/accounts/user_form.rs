//! The user form, for a new user and an existing one: the roles, organisations, hubs,
//! customers and flags an admin may give, and what the posted fields say.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::flags::PermissionFlags;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{self, Customer, Hub, Organisation};
use crate::auth::users::{User, UserEdit};
use crate::error::AppError;
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

use super::admin::{assignable_roles, manageable_orgs, Admin};

/// What the create and edit forms show: choices plus what was entered and what is wrong.
#[derive(Template)]
#[template(path = "admin/user_form.html")]
pub(super) struct FormPage {
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

pub(super) struct Choices {
    pub(super) organisations: Vec<Organisation>,
    pub(super) hubs: Vec<Hub>,
    pub(super) customers: Vec<Customer>,
}

pub(super) fn choices(
    conn: &mut PgConnection,
    admin: &Principal,
    organisation_id: i64,
) -> QueryResult<Choices> {
    let organisations = manageable_orgs(conn, admin)?;
    let (hubs, customers) = if organisations.iter().any(|o| o.id == organisation_id) {
        (
            scope::hubs_of_organisation(conn, organisation_id)?,
            scope::customers_of_organisation(conn, organisation_id)?,
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
pub(super) fn form_page(
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

pub(super) async fn new_form(
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
pub(super) fn read_edit(
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
