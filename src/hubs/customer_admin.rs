//! Customers administration: an organisation's customers, each served by one of its hubs, and
//! who sells to them (sales reps) or signs in for them (customer users). Every change is
//! audited; a change of who is assigned ends those users' sessions, as any change of rights does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde_json::json;

use super::{Hub, Organisation};
use crate::audit::{self, Entry};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::error::AppError;
use crate::schema::{customers, hubs, organisations, user_customers, users};
use crate::state::AppState;
use crate::web::form::FormFields;
use crate::web::layout::{render_with_status, FlashKind, FormEcho, Layout};
use crate::web::page::{redirect_with_flash, Page};

type CustomerAdmin = Authorized<perm::HubsManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
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
    fn to_json(&self, assigned: &[i64]) -> serde_json::Value {
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
fn managed_hubs(
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
struct ListPage {
    layout: Layout,
    rows: Vec<(CustomerRow, String, i64)>,
    hubs: Vec<(Organisation, Hub)>,
    errors: Vec<String>,
}

async fn list(
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

async fn list_page(
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
struct CustomerInput {
    code: String,
    name: String,
    phone: Option<String>,
    hub_id: i64,
}

fn read_input(form: &FormFields, errors: &mut Vec<String>) -> CustomerInput {
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

async fn create(
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
            let entry = Entry::by(&p2, "customer.created")
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

#[derive(Template)]
#[template(path = "admin/customer_form.html")]
struct EditPage {
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
type ForEdit = (
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

fn customer_among(
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

fn load_for_edit(conn: &mut PgConnection, admin: &Principal, id: i64) -> Result<ForEdit, AppError> {
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

async fn edit_form(
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

async fn update(
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
            let entry = Entry::by(&p3, "customer.updated")
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
        crate::auth::admin::end_sessions(&state, &principal, user_id).await?;
    }
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/customers",
        FlashKind::Success,
        "Customer saved.",
    ))
}
