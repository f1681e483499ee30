//! Work waiting at each hub: distribution drafts to confirm, needs lists to decide, transfers to
//! approve, dispatch or receive, and items at or below their reorder level. One query answers
//! it for any set of hubs; the hubs page lists it across hubs (the logistics manager's "work to
//! do") and each hub's tabs show their own counts. Only the work the person may do is counted.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::auth::extract::HubAccess;
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hubs/{hub_id}/tab-counts").get(tab_counts));
}

/// A kind of waiting work: its code in the query, the permission that does it, the hub tab it
/// is done from, and how one and many are said.
pub struct WorkKind {
    pub code: &'static str,
    pub permission: Permission,
    pub tab: &'static str,
    pub one: &'static str,
    pub many: &'static str,
}

pub const KINDS: [WorkKind; 6] = [
    WorkKind {
        code: "confirm",
        permission: Permission::DistributionConfirm,
        tab: "distributions",
        one: "distribution draft to confirm",
        many: "distribution drafts to confirm",
    },
    WorkKind {
        code: "decide",
        permission: Permission::NeedsListApprove,
        tab: "needs-lists",
        one: "needs list to decide",
        many: "needs lists to decide",
    },
    WorkKind {
        code: "approve",
        permission: Permission::TransferApprove,
        tab: "transfers",
        one: "transfer to approve",
        many: "transfers to approve",
    },
    WorkKind {
        code: "dispatch",
        permission: Permission::TransferDispatch,
        tab: "transfers",
        one: "transfer to dispatch",
        many: "transfers to dispatch",
    },
    WorkKind {
        code: "receive",
        permission: Permission::TransferDispatch,
        tab: "transfers",
        one: "transfer to receive",
        many: "transfers to receive",
    },
    WorkKind {
        code: "low",
        permission: Permission::InventoryRead,
        tab: "",
        one: "item at or below its reorder level",
        many: "items at or below their reorder level",
    },
];

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    hub_id: i64,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counts of waiting work at the given hubs, all kinds, in one statement.
fn count(conn: &mut PgConnection, hub_ids: &[i64]) -> QueryResult<Vec<Counted>> {
    diesel::sql_query(
        "SELECT hub_id, code, count(*)::bigint AS n FROM ( \
           SELECT hub_id, 'confirm' AS code FROM distributions WHERE status = 'draft' AND hub_id = ANY($1) \
           UNION ALL SELECT hub_id, 'decide' FROM needs_lists WHERE status = 'submitted' AND hub_id = ANY($1) \
           UNION ALL SELECT from_hub_id, 'approve' FROM transfers WHERE status = 'requested' AND from_hub_id = ANY($1) \
           UNION ALL SELECT from_hub_id, 'dispatch' FROM transfers WHERE status = 'approved' AND from_hub_id = ANY($1) \
           UNION ALL SELECT to_hub_id, 'receive' FROM transfers WHERE status = 'dispatched' AND to_hub_id = ANY($1) \
           UNION ALL SELECT hub_id, 'low' FROM stock_levels WHERE quantity <= reorder_level AND reorder_level > 0 AND hub_id = ANY($1) \
         ) w GROUP BY hub_id, code",
    )
    .bind::<Array<BigInt>, _>(hub_ids)
    .load(conn)
}

/// One line of work: so many of a kind at a hub, and where it is done.
pub struct Waiting {
    pub hub: Hub,
    pub n: i64,
    pub kind: &'static WorkKind,
}

impl Waiting {
    pub fn words(&self) -> String {
        let what = if self.n == 1 {
            self.kind.one
        } else {
            self.kind.many
        };
        format!("{} {what}", crate::ui::chart::grouped(self.n))
    }
    pub fn href(&self) -> String {
        match self.kind.tab {
            "" => format!("/hubs/{}", self.hub.id),
            tab => format!("/hubs/{}/{tab}", self.hub.id),
        }
    }
}

/// The work waiting at `hubs` (some of the person's own) that they may do, hub by hub in the
/// order given.
pub async fn waiting(
    state: &AppState,
    user: &Principal,
    hubs: Vec<Hub>,
) -> Result<Vec<Waiting>, AppError> {
    let ids: Vec<i64> = hubs.iter().map(|h| h.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let counted = crate::db::run(&state.db, move |conn| Ok(count(conn, &ids)?)).await?;
    let mut out = Vec::new();
    for hub in hubs {
        for kind in KINDS.iter().filter(|k| user.can(k.permission)) {
            if let Some(c) = counted
                .iter()
                .find(|c| c.hub_id == hub.id && c.code == kind.code)
            {
                out.push(Waiting {
                    hub: hub.clone(),
                    n: c.n,
                    kind,
                });
            }
        }
    }
    Ok(out)
}

/// The counts a hub's tabs show, swapped into the tabs when the page has loaded (the tabs work
/// without them; they are a hint, not a way in).
#[derive(Template)]
#[template(path = "hubs/_tab_counts.html")]
struct TabCounts {
    stock: String,
    distributions: String,
    needs: String,
    transfers: String,
}

async fn tab_counts(
    access: HubAccess<perm::InventoryRead>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // Counted at this hub only.
    let mine = waiting(&state, &access, vec![access.hub.clone()]).await?;
    let sum = |tab: &str| -> i64 { mine.iter().filter(|w| w.kind.tab == tab).map(|w| w.n).sum() };
    let label = |n: i64, words: &str| {
        if n == 0 {
            String::new()
        } else {
            format!("{} {words}", crate::ui::chart::grouped(n))
        }
    };
    // Counts change with every entry; never keep them.
    crate::ui::layout::render_unkept(&TabCounts {
        stock: label(sum(""), "low"),
        distributions: label(sum("distributions"), "to confirm"),
        needs: label(sum("needs-lists"), "to decide"),
        transfers: label(sum("transfers"), "waiting"),
    })
}
