//! The audit page for auditors and admins: filters, pagination, CSV export. Rows are limited to
//! the viewer's scope: their hubs, or (for rows without a hub) actors of their organisation.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{audit_log, users};
use crate::state::AppState;
use crate::ui::csv_export::Chunk;
use crate::ui::layout::{render, Flash, Layout};
use crate::ui::page::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").get(page))
        .service(web::resource("/audit.csv").get(csv_export));
}

/// Rows the CSV export reads per statement: it streams them out and reads on.
const CSV_CHUNK: i64 = 2_000;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub hub: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub offline: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// Keyset pages (`ui::keyset`): the edge row's id.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

impl Filters {
    fn date(value: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()
    }

    /// The query string for the same filters (links to other pages and to the CSV).
    pub fn query(&self) -> String {
        let pairs: Vec<(&str, String)> = [
            ("user", &self.user),
            ("hub", &self.hub),
            ("action", &self.action),
            ("object", &self.object),
            ("offline", &self.offline),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_name: Option<String>,
    pub role_at_capture: Option<String>,
    pub role_at_apply: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub offline: bool,
    pub operation_id: Option<uuid::Uuid>,
    pub outcome: String,
    pub hub_id: Option<i64>,
    pub client_addr: Option<String>,
}

impl AuditRow {
    pub fn when(&self) -> String {
        self.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
    pub fn json(value: &Option<serde_json::Value>) -> String {
        value.as_ref().map(|v| v.to_string()).unwrap_or_default()
    }
    /// Takes cost fields out of the change, for a viewer without `can_see_cost`.
    fn hide_costs_unless(&mut self, sees_costs: bool) {
        if !sees_costs {
            for v in [&mut self.before, &mut self.after].into_iter().flatten() {
                crate::auth::costs::strip_costs(v);
            }
        }
    }

    pub fn before_text(&self) -> String {
        Self::json(&self.before)
    }
    /// The role in words ("Depot manager"); a role no longer known is shown as recorded.
    pub fn role_words(&self) -> String {
        let recorded = self.role_at_apply.clone().unwrap_or_default();
        recorded
            .parse::<crate::auth::roles::Role>()
            .map(|r| r.label().to_string())
            .unwrap_or(recorded)
    }
    /// The action in words ("Intake recorded"); the code stays in the filter and the export.
    pub fn action_words(&self) -> String {
        crate::audit::words::action_words(&self.action)
    }
    pub fn before_fields(&self) -> Vec<crate::ui::readable::Field> {
        self.before
            .as_ref()
            .map(crate::ui::readable::fields)
            .unwrap_or_default()
    }
    pub fn after_fields(&self) -> Vec<crate::ui::readable::Field> {
        self.after
            .as_ref()
            .map(crate::ui::readable::fields)
            .unwrap_or_default()
    }
    pub fn after_text(&self) -> String {
        Self::json(&self.after)
    }
}

type Boxed<'a> = audit_log::BoxedQuery<'a, diesel::pg::Pg>;

/// The rows the viewer may see, narrowed by the filters.
fn scoped_query(viewer: &Principal, f: &Filters) -> Result<Boxed<'static>, AppError> {
    let hub_ids = viewer.scope.hub_ids();
    let own_org_users = users::table
        .filter(users::organisation_id.eq(viewer.organisation_id))
        .select(users::id.nullable());
    let mut q = audit_log::table
        .filter(
            audit_log::hub_id
                .eq_any(hub_ids)
                .or(audit_log::hub_id.is_null().and(
                    audit_log::actor_id
                        .is_null()
                        .or(audit_log::actor_id.eq_any(own_org_users)),
                )),
        )
        .into_boxed();
    if !f.user.is_empty() {
        q = q.filter(audit_log::actor_name.eq(f.user.trim().to_lowercase()));
    }
    if !f.hub.is_empty() {
        let hub: i64 = f.hub.parse().map_err(|_| {
            AppError::BadRequest("The hub filter must be a hub from the list.".into())
        })?;
        q = q.filter(audit_log::hub_id.eq(hub));
    }
    if !f.action.is_empty() {
        // The start of a code ("auth.login"), or an action's words ("Signed in").
        let code_start = format!("{}%", f.action.trim().replace('%', "").replace('_', "\\_"));
        let named = super::audit_actions::codes_named(&f.action);
        q = q.filter(
            audit_log::action
                .like(code_start)
                .or(audit_log::action.eq_any(named)),
        );
    }
    if !f.object.is_empty() {
        q = q.filter(audit_log::object_type.eq(f.object.trim().to_string()));
    }
    match f.offline.as_str() {
        "" => {}
        "yes" => q = q.filter(audit_log::offline.eq(true)),
        "no" => q = q.filter(audit_log::offline.eq(false)),
        _ => {
            return Err(AppError::BadRequest(
                "The offline filter is 'yes', 'no' or empty.".into(),
            ))
        }
    }
    if !f.from.is_empty() {
        let d = Filters::date(&f.from)
            .ok_or_else(|| AppError::BadRequest("'From' must be a date like 2026-11-24.".into()))?;
        q = q.filter(
            audit_log::occurred_at.ge(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
        );
    }
    if !f.to.is_empty() {
        let d = Filters::date(&f.to)
            .ok_or_else(|| AppError::BadRequest("'To' must be a date like 2026-11-24.".into()))?;
        let end = d
            .succ_opt()
            .unwrap_or(d)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        q = q.filter(audit_log::occurred_at.lt(end));
    }
    Ok(q)
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditRow>,
    filters: Filters,
    hubs: Vec<crate::auth::scope::Hub>,
    /// The actions offered by name in the Action filter.
    actions: Vec<(&'static str, String)>,
    pager: crate::ui::pager::Pager,
    openable: super::audit_objects::Openable,
}

impl AuditPage {
    fn object_of(&self, row: &AuditRow) -> Option<super::audit_objects::ObjectLink> {
        let hubs: Vec<i64> = self.hubs.iter().map(|h| h.id).collect();
        self.openable
            .link(&hubs, &row.object_type, &row.object_id, row.hub_id)
    }
    fn hub_name(&self, id: &Option<i64>) -> String {
        id.and_then(|id| self.hubs.iter().find(|h| h.id == id))
            .map(|h| h.code.clone())
            .unwrap_or_default()
    }
    fn hub_selected(&self, id: &i64) -> bool {
        self.filters.hub == id.to_string()
    }
}

async fn page(
    viewer: Authorized<perm::AuditRead>,
    page: Page,
    filters: web::Query<Filters>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut filters = filters.into_inner();
    let turned = crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    let start = crate::ui::keyset::Start::parse(&filters.after, &filters.before);
    let query = scoped_query(&viewer, &filters)?;
    // Keyset pages by id: the rows past the edge row, newest first (reversed going back). A key
    // that is not an id starts at the first page.
    let edge: Option<i64> = match start.key() {
        Some([id]) => id.parse().ok(),
        _ => None,
    };
    let start = if edge.is_some() {
        start
    } else {
        crate::ui::keyset::Start::First
    };
    let backwards = start.backwards();
    let fetched: Vec<AuditRow> = crate::db::run(&state.db, move |conn| {
        let query = match (edge, backwards) {
            (None, _) => query.order(audit_log::id.desc()),
            (Some(id), false) => query
                .filter(audit_log::id.lt(id))
                .order(audit_log::id.desc()),
            (Some(id), true) => query
                .filter(audit_log::id.gt(id))
                .order(audit_log::id.asc()),
        };
        Ok(query
            .limit(crate::ui::keyset::FETCH)
            .select(AuditRow::as_select())
            .load(conn)?)
    })
    .await?;
    let base = format!("/audit?{}", filters.query());
    // The audit log shows no total: counting a year of rows is what its pages avoid.
    let (mut rows, pager) = crate::ui::pager::Pager::keyset_page(
        fetched,
        &start,
        base,
        true,
        crate::ui::pager::Total::Counted(0),
        |r: &AuditRow| vec![r.id.to_string()],
    );
    let sees_costs = viewer.flags.can_see_cost;
    rows.iter_mut()
        .for_each(|r| r.hide_costs_unless(sees_costs));
    let mut layout = page.layout("Audit log");
    layout.flashes.extend(turned.map(Flash::info));
    render(&AuditPage {
        layout,
        openable: super::audit_objects::Openable::for_viewer(&viewer),
        rows,
        filters,
        hubs: viewer.scope.hubs.clone(),
        actions: super::audit_actions::named(),
        pager,
    })
}

async fn csv_export(
    viewer: Authorized<perm::AuditRead>,
    filters: web::Query<Filters>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (viewer, mut filters) = (viewer.user.0.clone(), filters.into_inner());
    crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    // Fails before the download starts when the filters do not read.
    scoped_query(&viewer, &filters)?;
    let sees_costs = viewer.flags.can_see_cost;
    let db = state.db.clone();
    let read = move |after: Option<i64>| {
        let (viewer, filters, db) = (viewer.clone(), filters.clone(), db.clone());
        async move {
            let query = scoped_query(&viewer, &filters)?;
            let mut rows: Vec<AuditRow> = crate::db::run(&db, move |conn| {
                Ok(query
                    .filter(audit_log::id.gt(after.unwrap_or(0)))
                    .order(audit_log::id.asc())
                    .limit(CSV_CHUNK)
                    .select(AuditRow::as_select())
                    .load(conn)?)
            })
            .await?;
            rows.iter_mut()
                .for_each(|r| r.hide_costs_unless(sees_costs));
            let next = (rows.len() as i64 == CSV_CHUNK)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            Ok(Chunk {
                rows: rows.iter().map(AuditRow::csv_record).collect(),
                next,
            })
        }
    };
    crate::ui::csv_export::streamed(
        "outpost-audit.csv",
        &[
            "id",
            "occurred_at",
            "actor",
            "role_at_capture",
            "role_at_apply",
            "action",
            "object_type",
            "object_id",
            "outcome",
            "offline",
            "operation_id",
            "hub_id",
            "client_addr",
            "before",
            "after",
        ],
        read,
    )
    .await
}

impl AuditRow {
    /// The row as the CSV export writes it.
    fn csv_record(&self) -> Vec<String> {
        let r = self;
        vec![
            r.id.to_string(),
            r.occurred_at.to_rfc3339(),
            r.actor_name.clone().unwrap_or_default(),
            r.role_at_capture.clone().unwrap_or_default(),
            r.role_at_apply.clone().unwrap_or_default(),
            r.action.clone(),
            r.object_type.clone().unwrap_or_default(),
            r.object_id.clone().unwrap_or_default(),
            r.outcome.clone(),
            r.offline.to_string(),
            r.operation_id.map(|u| u.to_string()).unwrap_or_default(),
            r.hub_id.map(|h| h.to_string()).unwrap_or_default(),
            r.client_addr.clone().unwrap_or_default(),
            r.before_text(),
            r.after_text(),
        ]
    }
}
