//! The start page: a dashboard for the user's role and hubs — stock per hub (a server-side SVG
//! chart), low stock, what awaits the user's approval, and recent activity. Anonymous visitors
//! are sent to sign in.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::auth::extract::CurrentUser;
use crate::auth::permissions::Permission;
use crate::error::AppError;
use crate::hubs::pages::{hub_cards, HubCard};
use crate::schema::{audit_log, devices, needs_lists, operations, transfers, users};
use crate::state::AppState;
use crate::web::chart::BarChart;
use crate::web::layout::{render, Layout};
use crate::web::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(dashboard));
}

pub struct Pending {
    pub label: String,
    pub href: String,
}

pub struct Activity {
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: String,
    pub outcome: String,
}

impl Activity {
    pub fn words(&self) -> String {
        crate::audit::words::action_words(&self.action)
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    greeting_name: String,
    role_label: String,
    cards: Vec<HubCard>,
    chart: Option<BarChart>,
    shows_stock: bool,
    low_total: i64,
    pending: Vec<Pending>,
    activity: Vec<Activity>,
    own_issues: i64,
}

async fn dashboard(
    user: CurrentUser,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let shows_stock = user.can(Permission::InventoryRead);
    let cards = if shows_stock {
        hub_cards(&state, user.scope.hubs.clone()).await?
    } else {
        Vec::new()
    };
    let low_total = cards.iter().map(|c| c.totals.low).sum();
    let chart = (!cards.is_empty()).then(|| {
        BarChart::new(
            "Units in stock per hub",
            cards
                .iter()
                .map(|c| (c.hub.name.clone(), c.totals.units))
                .collect(),
        )
    });
    let principal = user.0.clone();
    let (pending, activity, own_issues) = crate::db::run(&state.db, move |conn| {
        let hub_ids = principal.scope.hub_ids();
        let mut pending = Vec::new();
        if principal.can(Permission::NeedsListApprove) {
            let lists: Vec<(uuid::Uuid, i64, String)> = needs_lists::table
                .filter(needs_lists::hub_id.eq_any(&hub_ids))
                .filter(needs_lists::status.eq("submitted"))
                .order(needs_lists::submitted_at)
                .limit(10)
                .select((needs_lists::id, needs_lists::hub_id, needs_lists::title))
                .load(conn)?;
            pending.extend(lists.into_iter().map(|(id, hub, title)| Pending {
                label: format!("Needs list to decide: {title}"),
                href: format!("/hubs/{hub}/needs-lists/{id}"),
            }));
        }
        if principal.can(Permission::TransferApprove) {
            let ts: Vec<(uuid::Uuid, i64)> = transfers::table
                .filter(transfers::from_hub_id.eq_any(&hub_ids))
                .filter(transfers::status.eq("requested"))
                .limit(10)
                .select((transfers::id, transfers::from_hub_id))
                .load(conn)?;
            pending.extend(ts.into_iter().map(|(id, hub)| Pending {
                label: "Transfer request to approve".into(),
                href: format!("/hubs/{hub}/transfers/{id}"),
            }));
        }
        if principal.can(Permission::ReviewResolve) {
            let n: i64 = operations::table
                .filter(operations::hub_id.eq_any(&hub_ids))
                .filter(operations::status.eq_any(["conflict", "pending_review"]))
                .filter(operations::resolved_at.is_null())
                .count()
                .get_result(conn)?;
            if n > 0 {
                pending.push(Pending {
                    label: format!("{n} item(s) in the review queue"),
                    href: "/review".into(),
                });
            }
        }
        if principal.can(Permission::UsersManage) {
            // Devices whose queued entries vanished without arriving (cleared storage, eviction).
            let flagged: Vec<(String, String, Option<String>)> = devices::table
                .inner_join(users::table)
                .filter(devices::flagged_at.is_not_null())
                .filter(users::organisation_id.eq(principal.organisation_id))
                .order(devices::flagged_at.desc())
                .limit(10)
                .select((devices::id, users::username, devices::flag_reason))
                .load(conn)?;
            pending.extend(flagged.into_iter().map(|(device, user, reason)| Pending {
                label: format!("Device {device} of {user}: {}", reason.unwrap_or_default()),
                href: "/audit".into(),
            }));
        }
        // Staff see what happened at their hubs; a customer user only what concerns their own
        // account (hub scope is empty for them).
        let mut query = audit_log::table.into_boxed();
        query = if principal.role == crate::auth::roles::Role::CustomerUser {
            let customer_ids = principal.scope.customer_ids.clone();
            query.filter(
                audit_log::customer_id
                    .eq_any(customer_ids)
                    .or(audit_log::actor_id.eq(principal.user_id)),
            )
        } else {
            query.filter(audit_log::hub_id.eq_any(hub_ids.clone()))
        };
        let activity: Vec<(DateTime<Utc>, Option<String>, String, String)> = query
            .order(audit_log::id.desc())
            .limit(8)
            .select((
                audit_log::occurred_at,
                audit_log::actor_name,
                audit_log::action,
                audit_log::outcome,
            ))
            .load(conn)?;
        let own_issues: i64 = operations::table
            .filter(operations::actor_id.eq(principal.user_id))
            .filter(operations::status.eq_any(["rejected", "conflict", "pending_review"]))
            .filter(operations::resolved_at.is_null())
            .count()
            .get_result(conn)?;
        let activity = activity
            .into_iter()
            .map(|(at, who, action, outcome)| Activity {
                at,
                who: who.unwrap_or_default(),
                action,
                outcome,
            })
            .collect();
        Ok((pending, activity, own_issues))
    })
    .await?;
    render(&Dashboard {
        layout: page.layout("Dashboard"),
        greeting_name: user
            .display_name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        role_label: user.role.label().to_string(),
        cards,
        chart,
        shows_stock,
        low_total,
        pending,
        activity,
        own_issues,
    })
}
