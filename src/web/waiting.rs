//! What waits for the viewer, for the dashboard: the counters of its tiles and the list of
//! things to decide, each in one statement (the dashboard reloads on every event in scope).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};

use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;

#[derive(QueryableByName, Default)]
pub struct Counters {
    #[diesel(sql_type = BigInt)]
    pub review: i64,
    #[diesel(sql_type = BigInt)]
    pub conflicts: i64,
    /// The viewer's own refused or waiting operations.
    #[diesel(sql_type = BigInt)]
    pub own_issues: i64,
    /// Invoices that failed to render and items Zoho gave up on.
    #[diesel(sql_type = BigInt)]
    pub failed_jobs: i64,
}

/// Counts are only taken for what the viewer may act on; the others stay zero.
pub fn counters(conn: &mut PgConnection, principal: &Principal) -> QueryResult<Counters> {
    diesel::sql_query(
        "SELECT \
           (SELECT count(*) FROM operations WHERE $3 AND hub_id = ANY($1) \
              AND status = 'pending_review' AND resolved_at IS NULL) AS review, \
           (SELECT count(*) FROM operations WHERE $3 AND hub_id = ANY($1) \
              AND status = 'conflict' AND resolved_at IS NULL) AS conflicts, \
           (SELECT count(*) FROM operations WHERE actor_id = $2 \
              AND status IN ('rejected', 'conflict', 'pending_review') AND resolved_at IS NULL) AS own_issues, \
           (SELECT count(*) FROM invoices WHERE $4 AND render_status = 'failed') \
             + (SELECT count(*) FROM product_variants WHERE $4 AND zoho_sync_status = 'ERROR') AS failed_jobs",
    )
    .bind::<Array<BigInt>, _>(principal.scope.hub_ids())
    .bind::<BigInt, _>(principal.user_id)
    .bind::<Bool, _>(principal.can(Permission::ReviewResolve))
    .bind::<Bool, _>(principal.can(Permission::JobsManage))
    .get_result(conn)
}

pub struct Pending {
    pub label: String,
    pub href: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    hub_id: Option<i64>,
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = Text)]
    detail: String,
}

/// Needs lists to decide, transfers to approve, the review queue (from `counters`), devices
/// whose queued entries vanished, then the viewer's work in progress (`next_steps::WORK_SQL`),
/// at most ten of each, in that order, in one statement.
pub fn pending(
    conn: &mut PgConnection,
    principal: &Principal,
    counters: &Counters,
) -> QueryResult<Vec<Pending>> {
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT kind, id, hub_id, label, detail FROM ( \
           (SELECT 1 AS grp, row_number() OVER (ORDER BY submitted_at) AS ord, 'needs' AS kind, \
                   id::text AS id, hub_id, title AS label, '' AS detail \
              FROM needs_lists WHERE $2 AND hub_id = ANY($1) AND status = 'submitted' \
              ORDER BY submitted_at LIMIT 10) \
           UNION ALL \
           (SELECT 2, row_number() OVER (ORDER BY created_at), 'transfer', id::text, from_hub_id, '', '' \
              FROM transfers WHERE $3 AND from_hub_id = ANY($1) AND status = 'requested' \
              ORDER BY created_at LIMIT 10) \
           UNION ALL \
           (SELECT 3, row_number() OVER (ORDER BY d.flagged_at DESC), 'device', d.id, NULL, u.username, \
                   coalesce(d.flag_reason, '') \
              FROM devices d JOIN users u ON u.id = d.user_id \
              WHERE $4 AND d.flagged_at IS NOT NULL AND u.organisation_id = $5 \
              ORDER BY d.flagged_at DESC LIMIT 10) \
           UNION ALL {} \
         ) p ORDER BY grp, ord",
        crate::web::next_steps::WORK_SQL
    ))
    .bind::<Array<BigInt>, _>(principal.scope.hub_ids())
    .bind::<Bool, _>(principal.can(Permission::NeedsListApprove))
    .bind::<Bool, _>(principal.can(Permission::TransferApprove))
    .bind::<Bool, _>(principal.can(Permission::UsersManage))
    .bind::<BigInt, _>(principal.organisation_id)
    .bind::<Bool, _>(principal.can(Permission::TransferDispatch))
    .bind::<Bool, _>(principal.can(Permission::DistributionConfirm))
    .bind::<Bool, _>(principal.can(Permission::SalesCreate))
    .bind::<Bool, _>(principal.can(Permission::NeedsListCreate))
    .bind::<BigInt, _>(principal.user_id)
    .load(conn)?;
    let mut pending = Vec::new();
    let in_review = counters.review + counters.conflicts;
    let mut review_shown = false;
    for row in rows {
        // The review queue comes after the decisions, before devices and work in progress.
        if !matches!(row.kind.as_str(), "needs" | "transfer") && !review_shown {
            review_shown = true;
            pending.extend(review_item(in_review));
        }
        let hub = row.hub_id.unwrap_or_default();
        if let Some(work) = crate::web::next_steps::item(&row.kind, hub, &row.id, &row.label) {
            pending.push(work);
            continue;
        }
        pending.push(match row.kind.as_str() {
            "needs" => Pending {
                label: format!("Needs list to decide: {}", row.label),
                href: format!("/hubs/{hub}/needs-lists/{}", row.id),
            },
            "transfer" => Pending {
                label: "Transfer request to approve".into(),
                href: format!("/hubs/{hub}/transfers/{}", row.id),
            },
            _ => Pending {
                label: format!("Device {} of {}: {}", row.id, row.label, row.detail),
                href: "/audit".into(),
            },
        });
    }
    if !review_shown {
        pending.extend(review_item(in_review));
    }
    Ok(pending)
}

fn review_item(n: i64) -> Option<Pending> {
    (n > 0).then(|| Pending {
        label: if n == 1 {
            "1 entry in the review queue".into()
        } else {
            format!("{n} entries in the review queue")
        },
        href: "/review".into(),
    })
}
