//! Organisations, hubs and customers as far as access goes, and the scope rule that decides
//! which of them a user may see (the hubs' own pages are in `crate::hubs`). Agency independence lives here: an agency's hubs are in no one's scope but its own
//! users', government users included.

use diesel::prelude::*;
use serde::Serialize;

use super::roles::Role;
use crate::schema::{customers, hubs, organisations, user_customers, user_hubs};

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = hubs)]
pub struct Hub {
    pub id: i64,
    pub organisation_id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

impl Hub {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "main" => "Main hub",
            "sub" => "Sub-hub",
            _ => "Agency hub",
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = organisations)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// Sales tax in basis points, charged on every sale of the organisation's hubs.
    pub sales_tax_bp: i32,
    /// ISO 4217 code printed on invoices.
    pub currency: String,
    /// The seller's address printed on invoices, a line each.
    pub address: String,
    pub tax_id: String,
    /// Days from issue to the due date an invoice prints (0: due on receipt).
    pub payment_terms_days: i32,
}

impl Organisation {
    /// The tax rate as people type it ("15", "7.5").
    pub fn tax_percent(&self) -> String {
        let whole = self.sales_tax_bp / 100;
        match self.sales_tax_bp % 100 {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }
}

/// What a user may see: hubs and customers, resolved once per request.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub hubs: Vec<Hub>,
    pub customer_ids: Vec<i64>,
    /// For a customer user: the names of their own customer accounts (shown in the header).
    pub customer_names: Vec<String>,
}

impl Scope {
    pub fn has_hub(&self, hub_id: i64) -> bool {
        self.hubs.iter().any(|h| h.id == hub_id)
    }
    pub fn hub_ids(&self) -> Vec<i64> {
        self.hubs.iter().map(|h| h.id).collect()
    }
}

/// The hubs in a user's scope: those assigned to them, plus every hub of their own organisation
/// for roles that oversee it, minus any agency hub that belongs to another organisation.
pub fn scope_for(
    conn: &mut PgConnection,
    user_id: i64,
    organisation_id: i64,
    role: Role,
) -> QueryResult<Scope> {
    // A customer user sees their own account, nothing of the hub that serves it: no stock, no
    // activity, no serialized items. Pages and APIs filter by hub scope, which is empty.
    if role == Role::CustomerUser {
        let own: Vec<(i64, String)> = user_customers::table
            .inner_join(customers::table)
            .filter(user_customers::user_id.eq(user_id))
            .order(customers::name)
            .select((customers::id, customers::name))
            .load(conn)?;
        let (customer_ids, customer_names) = own.into_iter().unzip();
        return Ok(Scope {
            hubs: Vec::new(),
            customer_ids,
            customer_names,
        });
    }
    // The assignments are a subquery: one round trip for the hubs (the principal is loaded on
    // every request).
    let assigned = user_hubs::table
        .filter(user_hubs::user_id.eq(user_id))
        .select(user_hubs::hub_id);
    let mut query = hubs::table.inner_join(organisations::table).into_boxed();
    query = if role.sees_whole_organisation() {
        query.filter(
            hubs::id
                .eq_any(assigned)
                .or(hubs::organisation_id.eq(organisation_id)),
        )
    } else {
        query.filter(hubs::id.eq_any(assigned))
    };
    let hubs: Vec<Hub> = query
        .filter(
            organisations::kind
                .ne("agency")
                .or(hubs::organisation_id.eq(organisation_id)),
        )
        .order((hubs::kind, hubs::name))
        .select(Hub::as_select())
        .load(conn)?;
    let hub_ids: Vec<i64> = hubs.iter().map(|h| h.id).collect();
    // Customers are in scope when assigned directly, or (for staff) when served by a hub in scope.
    // A sales rep sells only to the customers assigned to them, at their hubs.
    let customer_ids: Vec<i64> = if role == Role::SalesRep {
        user_customers::table
            .inner_join(customers::table)
            .filter(user_customers::user_id.eq(user_id))
            .filter(customers::hub_id.eq_any(&hub_ids))
            .filter(customers::active.eq(true))
            .select(customers::id)
            .load(conn)?
    } else {
        customers::table
            .filter(customers::hub_id.eq_any(&hub_ids))
            .filter(customers::active.eq(true))
            .select(customers::id)
            .load(conn)?
    };
    Ok(Scope {
        hubs,
        customer_ids,
        customer_names: Vec::new(),
    })
}

/// Who may do `permission` at a hub: the active users whose role allows it and whose scope
/// (the rule of `scope_for`, read the other way round) holds the hub. Display names, at most
/// `limit`. A needs list is submitted only when someone can decide it (issue 30, finding 3).
pub fn who_can(
    conn: &mut PgConnection,
    permission: super::permissions::Permission,
    hub_id: i64,
    limit: i64,
) -> QueryResult<Vec<String>> {
    use crate::schema::users;
    let roles: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| r.allows(permission) && *r != &Role::CustomerUser)
        .map(Role::as_str)
        .collect();
    let whole: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| r.sees_whole_organisation())
        .map(Role::as_str)
        .collect();
    let (hub_org, hub_org_kind): (i64, String) = hubs::table
        .inner_join(organisations::table)
        .filter(hubs::id.eq(hub_id))
        .select((hubs::organisation_id, organisations::kind))
        .first(conn)?;
    let assigned = user_hubs::table
        .filter(user_hubs::hub_id.eq(hub_id))
        .select(user_hubs::user_id);
    let mut query = users::table
        .filter(users::active.eq(true))
        .filter(users::role.eq_any(roles))
        .filter(
            users::organisation_id
                .eq(hub_org)
                .and(users::role.eq_any(whole))
                .or(users::id.eq_any(assigned)),
        )
        .into_boxed();
    // An agency's hubs are its own users' alone.
    if hub_org_kind == "agency" {
        query = query.filter(users::organisation_id.eq(hub_org));
    }
    query
        .order(users::display_name)
        .limit(limit)
        .select(users::display_name)
        .load(conn)
}

pub fn organisation(conn: &mut PgConnection, id: i64) -> QueryResult<Organisation> {
    organisations::table
        .find(id)
        .select(Organisation::as_select())
        .first(conn)
}

pub fn all_organisations(conn: &mut PgConnection) -> QueryResult<Vec<Organisation>> {
    organisations::table
        .order(organisations::name)
        .select(Organisation::as_select())
        .load(conn)
}

pub fn hubs_of_organisation(
    conn: &mut PgConnection,
    organisation_id: i64,
) -> QueryResult<Vec<Hub>> {
    hubs::table
        .filter(hubs::organisation_id.eq(organisation_id))
        .order(hubs::name)
        .select(Hub::as_select())
        .load(conn)
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub organisation_id: i64,
    pub hub_id: i64,
    pub code: String,
    pub name: String,
}

pub fn customers_of_organisation(
    conn: &mut PgConnection,
    organisation_id: i64,
) -> QueryResult<Vec<Customer>> {
    customers::table
        .filter(customers::organisation_id.eq(organisation_id))
        .order(customers::name)
        .select(Customer::as_select())
        .load(conn)
}
