//! The start page: a dashboard for the user's role and hubs — counters (what waits for them,
//! the review queue, conflicts, failed jobs, low stock), their hubs, trends over two weeks
//! (server-side SVG charts) and the activity log with filters. The part below the greeting is a
//! fragment (`/dashboard/live`) that the page reloads, throttled, whenever an event in the
//! viewer's scope arrives on `/events` (htmx SSE): live with JavaScript, complete without.
//! Anonymous visitors are sent to sign in.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::auth::extract::CurrentUser;
use crate::auth::permissions::Permission;
use crate::db::snapshot::Seen;
use crate::error::AppError;
use crate::hubs::pages::{hub_cards, HubCard};
use crate::schema::{audit_log, customers, users};
use crate::state::AppState;
use crate::ui::chart::BarChart;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;
use crate::web::next_steps::{self, Action};
use crate::web::waiting;

use super::home_parts::{Activity, ActivityFilters, Charts, Tile, OUTCOMES};
use crate::ui::filters;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(dashboard))
        .service(web::resource("/dashboard/live").get(live_fragment));
}

pub use crate::web::waiting::Pending;

/// Everything below the greeting.
pub(super) struct Live {
    query: String,
    filters: ActivityFilters,
    filters_open: bool,
    tiles: Vec<Tile>,
    cards: Vec<HubCard>,
    chart: Option<BarChart>,
    charts: Option<Charts>,
    shows_stock: bool,
    low_total: i64,
    pending: Vec<Pending>,
    activity: Vec<Activity>,
    own_issues: i64,
    hubs: Vec<(i64, String)>,
    customers: Vec<(i64, String)>,
    outcomes: [(&'static str, &'static str); 5],
}

/// The live part alone (what `/dashboard/live` answers).
#[derive(Template)]
#[template(path = "dashboard_live.html")]
pub(super) struct LiveFragment {
    live: Live,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub(super) struct Dashboard {
    layout: Layout,
    greeting_name: String,
    role_label: String,
    /// The role's everyday actions, as buttons under the greeting.
    actions: Vec<Action>,
    /// The rendered `LiveFragment`.
    live_html: Arc<str>,
}

pub(super) async fn gather(
    principal: std::sync::Arc<crate::auth::principal::Principal>,
    state: &AppState,
    filters: ActivityFilters,
) -> Result<Live, AppError> {
    let shows_stock = principal.can(Permission::InventoryRead);
    let cards = if shows_stock {
        hub_cards(state, principal.scope.hubs.clone()).await?
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
    let (f, inner) = (filters.clone(), principal.clone());
    // Today's units per hub, from the cards: the stock trend is walked back from them.
    let units_now: Vec<(String, i64)> = cards
        .iter()
        .map(|c| (c.hub.name.clone(), c.totals.units))
        .collect();
    let (pending, activity, own_issues, tiles, charts, customers) =
        crate::db::run(&state.db, move |conn| {
            let principal = inner;
            let hub_ids = principal.scope.hub_ids();
            let counts = waiting::counters(conn, &principal)?;
            let pending = waiting::pending(conn, &principal, &counts)?;
            let mut tiles = vec![Tile {
                label: "Waiting for you",
                count: pending.len() as i64,
                // Nothing to jump to when nothing waits (the list is then not on the page).
                href: if pending.is_empty() {
                    ""
                } else {
                    "#pending-title"
                },
                attention: !pending.is_empty(),
            }];
            if principal.can(Permission::ReviewResolve) {
                tiles.push(Tile {
                    label: "Waiting for review",
                    count: counts.review,
                    href: "/review",
                    attention: counts.review > 0,
                });
                tiles.push(Tile {
                    label: "Conflicts",
                    count: counts.conflicts,
                    href: "/review",
                    attention: counts.conflicts > 0,
                });
            }
            if principal.role == crate::auth::roles::Role::CustomerUser {
                let figures = next_steps::customer_figures(conn, &principal)?;
                if let Some(left) = figures.copies_left {
                    tiles.push(Tile {
                        label: "Badge copies left",
                        count: left,
                        href: "/badges",
                        attention: left == 0 && figures.copy_limit.unwrap_or(0) > 0,
                    });
                }
                tiles.push(Tile {
                    label: "Orders",
                    count: figures.orders,
                    href: "/orders",
                    attention: false,
                });
            }
            if principal.can(Permission::JobsManage) {
                tiles.push(Tile {
                    label: "Failed jobs",
                    count: counts.failed_jobs,
                    href: "/admin/jobs",
                    attention: counts.failed_jobs > 0,
                });
            }
            // Staff see what happened at their hubs; a customer user only what concerns their own
            // account (hub scope is empty for them).
            let mut query = audit_log::table.into_boxed();
            query = if principal.role == crate::auth::roles::Role::CustomerUser {
                let customer_ids = principal.scope.customer_ids.clone();
                // Their account's history, not their own refused clicks or entries (finding 1).
                query
                    .filter(
                        audit_log::customer_id
                            .eq_any(customer_ids)
                            .or(audit_log::actor_id.eq(principal.user_id)),
                    )
                    .filter(audit_log::outcome.ne_all(["denied", "rejected"]))
            } else {
                query.filter(audit_log::hub_id.eq_any(hub_ids.clone()))
            };
            if let Ok(hub) = f.hub.trim().parse::<i64>() {
                query = query.filter(audit_log::hub_id.eq(hub));
            }
            if let Ok(customer) = f.customer.trim().parse::<i64>() {
                query = query.filter(audit_log::customer_id.eq(customer));
            }
            let station = f.station.trim();
            if !station.is_empty() {
                let pattern = format!(
                    "%station {}%",
                    station.replace(['\\', '%'], "").replace('_', "\\_")
                );
                query = query.filter(audit_log::actor_name.ilike(pattern));
            }
            if let Some(d) = ActivityFilters::day(&f.from) {
                query = query.filter(
                    audit_log::occurred_at.ge(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
                );
            }
            if let Some(d) = ActivityFilters::day(&f.to) {
                query = query.filter(
                    audit_log::occurred_at.lt((d + chrono::Duration::days(1))
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc()),
                );
            }
            if OUTCOMES.iter().any(|(o, _)| *o == f.status) {
                query = query.filter(audit_log::outcome.eq(f.status.clone()));
            }
            let user = f.user.trim().to_lowercase();
            if !user.is_empty() {
                let ids = users::table
                    .filter(users::username.eq(user))
                    .select(users::id.nullable());
                query = query.filter(audit_log::actor_id.eq_any(ids));
            }
            let activity: Vec<(DateTime<Utc>, Option<String>, String, String)> = query
                .order(audit_log::id.desc())
                .limit(if f.is_set() { 50 } else { 12 })
                .select((
                    audit_log::occurred_at,
                    audit_log::actor_name,
                    audit_log::action,
                    audit_log::outcome,
                ))
                .load(conn)?;
            let own_issues = counts.own_issues;
            let activity = activity
                .into_iter()
                .map(|(at, who, action, outcome)| Activity {
                    at,
                    who: who.unwrap_or_default(),
                    action,
                    outcome,
                })
                .collect();
            let charts = if principal.can(Permission::DashboardView) && !hub_ids.is_empty() {
                use crate::web::trends;
                let with_jobs = principal.can(Permission::JobsManage);
                let mut points = trends::load(conn, &hub_ids, with_jobs)?;
                Some(Charts {
                    operations: trends::operations_per_hub(&mut points),
                    stock: principal
                        .can(Permission::InventoryRead)
                        .then(|| trends::stock_per_hub(&mut points, units_now)),
                    copies: (principal.can(Permission::BadgeCopyRequest)
                        || principal.can(Permission::StationsManage))
                    .then(|| trends::copies_per_station(&mut points)),
                    trouble: trends::conflicts_and_failures(&mut points, with_jobs),
                })
            } else {
                None
            };
            let customers: Vec<(i64, String)> =
                if principal.role == crate::auth::roles::Role::CustomerUser {
                    Vec::new()
                } else {
                    customers::table
                        .filter(customers::id.eq_any(&principal.scope.customer_ids))
                        .order(customers::name)
                        .limit(300)
                        .select((customers::id, customers::name))
                        .load(conn)?
                };
            Ok((pending, activity, own_issues, tiles, charts, customers))
        })
        .await?;
    let mut tiles = tiles;
    if shows_stock {
        tiles.push(Tile {
            label: "Low stock lines",
            count: low_total,
            href: "/hubs",
            attention: low_total > 0,
        });
    }
    tiles.push(Tile {
        label: "Your sync issues",
        count: own_issues,
        href: "/sync-issues",
        attention: own_issues > 0,
    });
    Ok(Live {
        query: filters.query(),
        filters_open: filters.is_set(),
        filters,
        tiles,
        cards,
        chart,
        charts,
        shows_stock,
        low_total,
        pending,
        activity,
        own_issues,
        hubs: principal
            .scope
            .hubs
            .iter()
            .map(|h| (h.id, h.name.clone()))
            .collect(),
        customers,
        outcomes: OUTCOMES,
    })
}

pub(super) async fn dashboard(
    user: CurrentUser,
    page: Page,
    filters: web::Query<ActivityFilters>,
    seen: Option<web::ReqData<Seen>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut filters = filters.into_inner();
    let turned = crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    let live_html = live_html(&user, seen, &state, filters).await?;
    let mut layout = page.layout("Dashboard");
    layout
        .flashes
        .extend(turned.map(crate::ui::layout::Flash::info));
    render(&Dashboard {
        layout,
        greeting_name: user
            .display_name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        role_label: user.role.label().to_string(),
        actions: next_steps::actions(&user),
        live_html,
    })
}

/// `GET /dashboard/live`: the part of the dashboard that changes, for htmx to swap in.
pub(super) async fn live_fragment(
    user: CurrentUser,
    filters: web::Query<ActivityFilters>,
    seen: Option<web::ReqData<Seen>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut filters = filters.into_inner();
    crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    let html = live_html(&user, seen, &state, filters).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(html.to_string()))
}

/// The live part, rendered. The unfiltered view is what everyone opens, and every event
/// reloads it: it is reused while the database is as it was when it was drawn (`db::snapshot`;
/// `seen` is this request's reading), so a room of managers watching it costs the database
/// one statement a request until something changes.
pub(super) async fn live_html(
    user: &CurrentUser,
    seen: Option<web::ReqData<Seen>>,
    state: &AppState,
    filters: ActivityFilters,
) -> Result<Arc<str>, AppError> {
    let reusable = seen
        .filter(|_| filters == ActivityFilters::default())
        .map(|seen| seen.into_inner().0);
    let draw = move || async move {
        let live = gather(user.0.clone(), state, filters).await?;
        let html: Arc<str> = LiveFragment { live }
            .render()
            .map_err(AppError::internal)?
            .into();
        Ok(html)
    };
    match reusable {
        Some(at) => {
            let key = (user.user_id, Utc::now().date_naive());
            state.caches.dashboards.get_or_compute(&at, key, draw).await
        }
        None => draw().await,
    }
}
