//! What each role does next, for the home page (issue 30, finding 1): the work that is open at
//! the viewer's hubs and is theirs to move on (a transfer on its way in to receive, one approved
//! to dispatch, a draft to confirm or finish), the role's everyday actions as buttons, and for a
//! customer's own user, their badge copies and orders instead of the organisation's activity.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable};

use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::web::waiting::Pending;

/// Work in progress at the viewer's hubs that waits for them, ten of each kind at most, oldest
/// first: transfers on their way in (to receive), transfers approved to leave (to dispatch),
/// draft distributions (to confirm), and their own draft sales and needs lists (to finish).
/// Part of `waiting::pending`'s statement (its columns, and its binds: $1 the hubs, $6 may
/// dispatch, $7 may confirm distributions, $8 may sell, $9 may make needs lists, $10 the
/// user); each part is read through its (hub, status) index.
pub const WORK_SQL: &str = "\
   (SELECT 4 AS grp, row_number() OVER (ORDER BY t.updated_at) AS ord, 'inbound' AS kind, \
           t.id::text AS id, t.to_hub_id AS hub_id, h.name AS label, '' AS detail \
      FROM transfers t JOIN hubs h ON h.id = t.from_hub_id \
     WHERE $6 AND t.to_hub_id = ANY($1) AND t.status = 'dispatched' \
     ORDER BY t.updated_at LIMIT 10) \
   UNION ALL \
   (SELECT 5, row_number() OVER (ORDER BY t.updated_at), 'dispatch', t.id::text, t.from_hub_id, h.name, '' \
      FROM transfers t JOIN hubs h ON h.id = t.to_hub_id \
     WHERE $6 AND t.from_hub_id = ANY($1) AND t.status = 'approved' \
     ORDER BY t.updated_at LIMIT 10) \
   UNION ALL \
   (SELECT 6, row_number() OVER (ORDER BY d.created_at), 'distribution', d.id::text, d.hub_id, d.recipient, '' \
      FROM distributions d WHERE $7 AND d.hub_id = ANY($1) AND d.status = 'draft' \
     ORDER BY d.created_at LIMIT 10) \
   UNION ALL \
   (SELECT 7, row_number() OVER (ORDER BY s.created_at), 'sale', s.id::text, s.hub_id, c.name, '' \
      FROM sales s JOIN customers c ON c.id = s.customer_id \
     WHERE $8 AND s.hub_id = ANY($1) AND s.status = 'draft' AND s.created_by = $10 \
     ORDER BY s.created_at LIMIT 10) \
   UNION ALL \
   (SELECT 8, row_number() OVER (ORDER BY n.created_at), 'draft_needs', n.id::text, n.hub_id, n.title, '' \
      FROM needs_lists n WHERE $9 AND n.hub_id = ANY($1) AND n.status = 'draft' \
       AND n.created_by = $10 \
     ORDER BY n.created_at LIMIT 10)";

/// A row of `WORK_SQL` as an item of the list, or `None` for another kind of row.
pub fn item(kind: &str, hub: i64, id: &str, name: &str) -> Option<Pending> {
    let (label, href) = match kind {
        "inbound" => (
            format!("Transfer from {name} on its way in: receive it"),
            format!("/hubs/{hub}/transfers/{id}"),
        ),
        "dispatch" => (
            format!("Transfer to {name} approved: dispatch it"),
            format!("/hubs/{hub}/transfers/{id}"),
        ),
        "distribution" => (
            format!("Distribution to {name} to confirm"),
            format!("/hubs/{hub}/distributions/{id}"),
        ),
        "sale" => (
            format!("Draft sale for {name}: finish or cancel it"),
            format!("/hubs/{hub}/sales/{id}"),
        ),
        "draft_needs" => (
            format!("Needs list not yet submitted: {name}"),
            format!("/hubs/{hub}/needs-lists/{id}"),
        ),
        _ => return None,
    };
    Some(Pending { label, href })
}

/// A button on the home page.
pub struct Action {
    pub label: &'static str,
    pub href: String,
}

/// The role's everyday actions, most used first, at the viewer's first hub (the one a person
/// of one hub works at; someone of several finds the others on Hubs). Managers decide from the
/// list of what waits; their buttons are where the rest of their work starts.
pub fn actions(principal: &Principal) -> Vec<Action> {
    let hub = principal.scope.hubs.first().map(|h| h.id);
    let at = |path: &str| hub.map(|h| format!("/hubs/{h}/{path}"));
    let wanted: &[(&'static str, Permission, Option<String>)] = &match principal.role {
        Role::WarehouseOp => vec![
            (
                "Receive items",
                Permission::WarehouseReceive,
                Some("/warehouse/receive".into()),
            ),
            (
                "Record an intake",
                Permission::IntakeCreate,
                at("intakes/new"),
            ),
            (
                "New distribution",
                Permission::DistributionCreate,
                at("distributions/new"),
            ),
        ],
        Role::Driver => vec![(
            "New distribution",
            Permission::DistributionCreate,
            at("distributions/new"),
        )],
        Role::SalesRep => vec![
            ("New sale", Permission::SalesCreate, at("sales/new")),
            ("Sales", Permission::SalesRead, Some("/sales".into())),
        ],
        Role::DepotManager => vec![
            (
                "Record an intake",
                Permission::IntakeCreate,
                at("intakes/new"),
            ),
            (
                "New distribution",
                Permission::DistributionCreate,
                at("distributions/new"),
            ),
            (
                "New needs list",
                Permission::NeedsListCreate,
                at("needs-lists/new"),
            ),
        ],
        Role::CustomerUser => vec![
            (
                "Request a badge copy",
                Permission::BadgeCopyRequest,
                Some("/badges".into()),
            ),
            (
                "My orders",
                Permission::OwnOrdersView,
                Some("/orders".into()),
            ),
        ],
        Role::LogisticsManager => vec![
            (
                "Request a transfer",
                Permission::TransferRequest,
                at("transfers/new"),
            ),
            (
                "Review queue",
                Permission::ReviewResolve,
                Some("/review".into()),
            ),
        ],
        Role::Admin | Role::SuperAdmin => vec![
            (
                "New user",
                Permission::UsersManage,
                Some("/admin/users/new".into()),
            ),
            ("Audit log", Permission::AuditRead, Some("/audit".into())),
        ],
        Role::Auditor => vec![
            ("Audit log", Permission::AuditRead, Some("/audit".into())),
            ("Sales", Permission::SalesRead, Some("/sales".into())),
        ],
        _ => Vec::new(),
    };
    wanted
        .iter()
        .filter(|(_, permission, _)| principal.can(*permission))
        .filter_map(|(label, _, href)| href.clone().map(|href| Action { label, href }))
        .collect()
}

/// A customer's own user: the copies left this period and the orders placed.
#[derive(QueryableByName, Default)]
pub struct CustomerFigures {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub copies_left: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub copy_limit: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
}

pub fn customer_figures(
    conn: &mut PgConnection,
    principal: &Principal,
) -> QueryResult<CustomerFigures> {
    diesel::sql_query(
        "SELECT (SELECT sum(remaining)::bigint FROM badge_quotas WHERE customer_id = ANY($1)) AS copies_left, \
                (SELECT sum(copy_limit)::bigint FROM badge_quotas WHERE customer_id = ANY($1)) AS copy_limit, \
                (SELECT count(*) FROM (SELECT 1 FROM sales WHERE customer_id = ANY($1) \
                   AND status <> 'draft' LIMIT 1000) o) AS orders",
    )
    .bind::<Array<BigInt>, _>(&principal.scope.customer_ids)
    .get_result(conn)
}
