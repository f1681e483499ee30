//! Customers administration: an organisation's customers, each served by one of its hubs, and
//! who sells to them (sales reps) or signs in for them (customer users). Every change is
//! audited; a change of who is assigned ends those users' sessions, as any change of rights does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde_json::json;

use crate::audit::{self, Entry};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{Hub, Organisation};
use crate::error::AppError;
use crate::schema::{customers, hubs, organisations, user_customers};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, FlashKind, FormEcho, Layout};
use crate::ui::page::{redirect_with_flash, Page};

pub(super) type CustomerAdmin = Authorized<perm::HubsManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::customer_edit::{edit_form, update};
    cfg.service(web::resource("/admin/customers").get(list).post(create))
        .service(
            web::resource("/admin/customers/{id}")
                .get(edit_form)
                .post(update),
        );
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: i64,
    pub organisation_id: i64,
    pub hub_id: i64,
    pub code: String,
    pub name: String,
    pub contact_phone: Option<String>,
    pub active: bool,
}

impl CustomerRow {
    pub fn phone(&self) -> &str {
        self.contact_phone.as_deref().unwrap_or("")
    }
    pub(super) fn to_json(&self, assigned: &[i64]) -> serde_json::Value {
        json!({ "code": self.code, "name": self.name, "contact_phone": self.contact_phone, "hub_id": self.hub_id, "active": self.active, "user_ids": assigned })
    }
}

/// A user who can be assigned to customers: sales reps and customer users.
pub struct Assignable {
    pub id: i64,
    pub display_name: String,
    pub role_label: &'static str,
}

/// The hubs an admin may put customers at: every hub of the organisations they manage.
pub(super) fn managed_hubs(
    conn: &mut PgConnection,
    admin: &Principal,
) -> QueryResult<Vec<(Organisation, Hub)>> {
    let mut query = hubs::table.inner_join(organisations::table).into_boxed();
    if admin.role != Role::SuperAdmin {
        query = query.filter(hubs::organisation_id.eq(admin.organisation_id));
    }
    query
        .order((organisations::name, hubs::name))
        .select((Organisation::as_select(), Hub::as_select()))
        .load(conn)
}

#[derive(Template)]
#[template(path = "admin/customers.html")]
pub(super) struct ListPage {
    layout: Layout,
    rows: Vec<(CustomerRow, String, i64)>,
    hubs: Vec<(Organisation, Hub)>,
    errors: Vec<String>,
}

pub(super) async fn list(
    admin: CustomerAdmin,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list_page(
        &admin,
        page.layout("Customers"),
        &state,
        vec![],
        StatusCode::OK,
    )
    .await
}

pub(super) async fn list_page(
    admin: &Principal,
    layout: Layout,
    state: &AppState,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let admin = admin.clone();
    let (rows, hubs) = crate::db::run(&state.db, move |conn| {
        let hubs = managed_hubs(conn, &admin)?;
        let hub_ids: Vec<i64> = hubs.iter().map(|(_, h)| h.id).collect();
        // Each customer's number of assigned people, counted in the same statement.
        let people = user_customers::table
            .filter(user_customers::customer_id.eq(customers::id))
            .count()
            .single_value()
            .assume_not_null();
        let rows: Vec<(CustomerRow, String, i64)> = customers::table
            .inner_join(hubs::table)
            .filter(customers::hub_id.eq_any(&hub_ids))
            .order((customers::active.desc(), customers::name))
            .select((CustomerRow::as_select(), hubs::name, people))
            .load(conn)?;
        Ok((rows, hubs))
    })
    .await?;
    render_with_status(
        &ListPage {
            layout,
            rows,
            hubs,
            errors,
        },
        status,
    )
}

/// The fields of the customer forms, checked. Errors are sentences for people.
pub(super) struct CustomerInput {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) phone: Option<String>,
    pub(super) hub_id: i64,
}

pub(super) fn read_input(form: &FormFields, errors: &mut Vec<String>) -> CustomerInput {
    let code = form.text("code").to_uppercase();
    let name = form.text("name");
    let phone = Some(form.text("contact_phone")).filter(|p| !p.is_empty());
    if !(2..=16).contains(&code.len())
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errors.push("The customer code is 2–16 letters, digits or '-'.".into());
    }
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push("Enter the customer's name (up to 200 characters).".into());
    }
    if phone
        .as_deref()
        .is_some_and(|p| p.chars().count() > 40 || p.chars().any(char::is_control))
    {
        errors.push("The phone number is at most 40 characters.".into());
    }
    let hub_id = form.text("hub_id").parse().unwrap_or(0);
    CustomerInput {
        code,
        name,
        phone,
        hub_id,
    }
}

pub(super) async fn create(
    admin: CustomerAdmin,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut errors = Vec::new();
    let input = read_input(&form, &mut errors);
    let principal = admin.user.0.clone();
    let refused = |errors: Vec<String>| {
        let mut layout = page.layout("Customers");
        layout.echo = FormEcho::of(&form);
        list_page(
            &principal,
            layout,
            &state,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if !errors.is_empty() {
        return refused(errors).await;
    }
    let p2 = principal.clone();
    let created = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let Some((org, _)) = managed_hubs(conn, &p2)?
                .into_iter()
                .find(|(_, h)| h.id == input.hub_id)
            else {
                return Ok(Err(
                    "Choose a hub of an organisation you manage.".to_string()
                ));
            };
            let row: Option<CustomerRow> = diesel::insert_into(customers::table)
                .values((
                    customers::organisation_id.eq(org.id),
                    customers::hub_id.eq(input.hub_id),
                    customers::code.eq(&input.code),
                    customers::name.eq(&input.name),
                    customers::contact_phone.eq(&input.phone),
                ))
                .on_conflict_do_nothing()
                .returning(CustomerRow::as_returning())
                .get_result(conn)
                .optional()?;
            let Some(row) = row else {
                return Ok(Err(format!(
                    "A customer with code '{}' already exists.",
                    input.code
                )));
            };
            let entry = p2
                .audit_entry("customer.created")
                .object("customer", row.id)
                .hub(Some(row.hub_id))
                .change(None, Some(row.to_json(&[])));
            audit::record(
                conn,
                &Entry {
                    customer_id: Some(row.id),
                    ..entry
                },
            )?;
            Ok::<_, AppError>(Ok(row))
        })
    })
    .await?;
    match created {
        Ok(row) => Ok(redirect_with_flash(
            &state.settings,
            &format!("/admin/customers/{}", row.id),
            FlashKind::Success,
            &format!("Customer '{}' created.", row.name),
        )),
        Err(message) => refused(vec![message]).await,
    }
}
