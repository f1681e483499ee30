//! `GET /api/v1/sync/pull`: what changed since a moment, within the caller's scope — stock of
//! their hubs, the catalog, their hubs' needs lists, the results of their own operations, and
//! for badge work the quotas, badges and a capture envelope.
//!
//! Two sections grow with history (a year of a driver's operations, of a hub's needs lists):
//! they come `limit` rows at a time in (time, id) order, and an answer cut short says `more`
//! and gives `next`, the address of the rest. The rest continues from the first answer's
//! `server_time` (a client keeps that as its next `since`) and holds only the paged sections:
//! stock, catalog and badges are whole in the first answer and would only repeat.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::extract::CurrentUser;
use crate::auth::permissions::Permission;
use crate::db::keyset::{time_key, Col, Order, Walk};
use crate::error::AppError;
use crate::schema::{
    needs_lists, operations, product_families, product_identities, product_variants, stock_levels,
};
use crate::state::AppState;

/// Rows of each growing section per answer, unless the caller asks for fewer (or more, up to
/// `MAX_LIMIT`). `limit=0` asks for the whole sections only (a station wants its badges).
const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 1_000;

#[derive(Deserialize)]
pub struct PullQuery {
    since: Option<String>,
    limit: Option<String>,
    /// Where an answer cut short stopped (`next`).
    after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PullAnswer {
    /// Keep this as the next pull's `since` (the same in every part of one pull).
    pub server_time: DateTime<Utc>,
    pub since: DateTime<Utc>,
    #[schema(value_type = Vec<Object>)]
    pub stock: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub catalog: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub needs_lists: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub operations: Vec<Value>,
    /// For those who request or record badge copies: `{quotas, badges, capture_envelope}`
    /// (quotas and badges of the customers in scope, always whole; the envelope for a station's
    /// offline copies).
    #[schema(value_type = Option<Object>)]
    pub badges: Option<Value>,
    /// Operations or needs lists were cut at `limit`: fetch `next` for the rest.
    pub more: bool,
    pub next: Option<String>,
}

/// Where a pull stopped: its moment, and the last (time, id) of each paged section sent.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Cursor {
    at: DateTime<Utc>,
    ops: Option<(DateTime<Utc>, Uuid)>,
    needs: Option<(DateTime<Utc>, Uuid)>,
}

/// What changed since a moment, within the caller's scope, a page of the growing sections at a
/// time.
#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync", params(
        ("since" = Option<String>, Query, description = "RFC 3339 timestamp, or 0 for everything"),
        ("limit" = Option<i64>, Query, description = "Operations and needs lists per answer (0–1000, default 500)"),
        ("after" = Option<String>, Query, description = "Where an answer cut short stopped: use its `next`")),
    responses(
        (status = 200, body = PullAnswer),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized),
    security(("bearer" = []), ("session" = [])))]
pub async fn pull(
    user: CurrentUser,
    query: web::Query<PullQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let since = read_since(q.since.as_deref())?;
    let limit = read_limit(q.limit.as_deref())?;
    let resumed = q.after.as_deref().map(read_cursor).transpose()?;
    let first = resumed.is_none();
    let cursor = resumed.unwrap_or_else(|| Cursor {
        at: Utc::now(),
        ..Cursor::default()
    });
    let hub_ids = user.scope.hub_ids();
    let user_id = user.user_id;
    let sees_stock = user.can(Permission::InventoryRead);
    let sees_catalog = user.can(Permission::CatalogRead);
    let (actor, settings) = (user.0.clone(), state.settings.clone());
    let c = cursor.clone();
    let answer = crate::db::run(&state.db, move |conn| {
        let badges = if first {
            (super::registry::hooks().badges_pull)(conn, &settings, &actor)?
        } else {
            None
        };
        let stock = if first && sees_stock {
            stock(conn, &hub_ids, since)?
        } else {
            Vec::new()
        };
        let catalog = if first && sees_catalog {
            catalog(conn, since)?
        } else {
            Vec::new()
        };
        // Needs lists go to those who see the hub's stock (not to a station's account).
        let needs_hubs = if sees_stock { hub_ids } else { Vec::new() };
        let (needs, needs_more, needs_edge) = needs(conn, &needs_hubs, since, &c, limit)?;
        let (ops, ops_more, ops_edge) = own_operations(conn, user_id, since, &c, limit)?;
        Ok((
            badges,
            stock,
            catalog,
            (needs, needs_more, needs_edge),
            (ops, ops_more, ops_edge),
        ))
    })
    .await?;
    let (badges, stock, catalog, (needs, needs_more, needs_edge), (ops, ops_more, ops_edge)) =
        answer;
    let more = needs_more || ops_more;
    let next = more.then(|| {
        let rest = Cursor {
            at: cursor.at,
            ops: ops_edge.or(cursor.ops),
            needs: needs_edge.or(cursor.needs),
        };
        let token = serde_json::to_string(&rest).unwrap_or_default();
        let query = serde_urlencoded::to_string([
            ("since", since.to_rfc3339()),
            ("limit", limit.to_string()),
            ("after", token),
        ])
        .unwrap_or_default();
        format!("/api/v1/sync/pull?{query}")
    });
    Ok(HttpResponse::Ok().json(PullAnswer {
        server_time: cursor.at,
        since,
        stock,
        catalog,
        needs_lists: needs,
        operations: ops,
        badges,
        more,
        next,
    }))
}

fn read_since(since: Option<&str>) -> Result<DateTime<Utc>, AppError> {
    match since {
        None | Some("") | Some("0") => Ok(DateTime::<Utc>::UNIX_EPOCH),
        Some(s) => s.parse().map_err(|_| {
            AppError::BadRequest(
                "since must be an RFC 3339 timestamp such as 2026-11-24T10:00:00Z, or 0".into(),
            )
        }),
    }
}

fn read_limit(limit: Option<&str>) -> Result<i64, AppError> {
    match limit {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "limit must be a whole number from 0 to {MAX_LIMIT}"
                ))
            }),
    }
}

fn read_cursor(after: &str) -> Result<Cursor, AppError> {
    serde_json::from_str(after).map_err(|_| {
        AppError::BadRequest(
            "after is not where a pull stopped: use the `next` of the answer before".into(),
        )
    })
}

fn stock(conn: &mut PgConnection, hubs: &[i64], since: DateTime<Utc>) -> QueryResult<Vec<Value>> {
    let rows: Vec<(i64, i64, i64, i64)> = stock_levels::table
        .filter(stock_levels::hub_id.eq_any(hubs))
        .filter(stock_levels::updated_at.gt(since))
        .select((
            stock_levels::hub_id,
            stock_levels::variant_id,
            stock_levels::quantity,
            stock_levels::reorder_level,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(h, v, q, r)| json!({"hub_id": h, "variant_id": v, "quantity": q, "reorder_level": r}),
        )
        .collect())
}

fn catalog(conn: &mut PgConnection, since: DateTime<Utc>) -> QueryResult<Vec<Value>> {
    let rows: Vec<(i64, String, String, String, bool)> = product_variants::table
        .inner_join(product_identities::table.inner_join(product_families::table))
        .filter(product_variants::updated_at.gt(since))
        .select((
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            product_variants::unit,
            product_variants::active,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, sku, name, unit, active)| json!({"variant_id": id, "sku": sku, "name": name, "unit": unit, "active": active}))
        .collect())
}

/// The orders the paged sections are walked in (`db::keyset`): time, then id, oldest first.
static RECEIVED: Order = Order {
    columns: &[
        ("operations.received_at", Col::Time),
        ("operations.id", Col::Uuid),
    ],
};
static UPDATED: Order = Order {
    columns: &[
        ("needs_lists.updated_at", Col::Time),
        ("needs_lists.id", Col::Uuid),
    ],
};

/// The walk of `order` past the (time, id) a section stopped at; from its start without one.
fn past(order: &'static Order, edge: Option<(DateTime<Utc>, Uuid)>) -> Walk {
    let start = Walk::start(order, false);
    edge.and_then(|(t, id)| start.after(&[time_key(t), id.to_string()]))
        .unwrap_or(start)
}

/// A paged section: its rows, whether more follow, and the (time, id) of its last row.
type Section = (Vec<Value>, bool, Option<(DateTime<Utc>, Uuid)>);

/// A section from its `limit + 1` fetched rows: the page as JSON, whether more follow, and the
/// (time, id) of the page's last row.
fn section<T>(
    mut rows: Vec<T>,
    limit: i64,
    edge: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    json: impl Fn(T) -> Value,
) -> Section {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let last = rows.last().map(edge);
    (rows.into_iter().map(json).collect(), more, last)
}

/// The caller's own operations received since `since` (and before the pull's moment), after
/// the cursor's edge, in (received_at, id) order.
fn own_operations(
    conn: &mut PgConnection,
    user_id: i64,
    since: DateTime<Utc>,
    cursor: &Cursor,
    limit: i64,
) -> QueryResult<Section> {
    type OpRow = (
        Uuid,
        DateTime<Utc>,
        Uuid,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let q = operations::table
        .filter(operations::actor_id.eq(user_id))
        .filter(operations::received_at.gt(since))
        .filter(operations::received_at.le(cursor.at))
        .into_boxed();
    let rows: Vec<OpRow> = past(&RECEIVED, cursor.ops)
        .rows(q, limit + 1)
        .select((
            operations::id,
            operations::received_at,
            operations::op_id,
            operations::kind,
            operations::status,
            operations::reason,
            operations::server_id,
        ))
        .load(conn)?;
    Ok(section(
        rows,
        limit,
        |r| (r.1, r.0),
        |(_, _, op, k, s, r, sid)| json!({"op_id": op, "kind": k, "status": s, "reason": r, "server_id": sid}),
    ))
}

/// Needs lists of `hubs` changed since `since` (and before the pull's moment), after the
/// cursor's edge, in (updated_at, id) order.
fn needs(
    conn: &mut PgConnection,
    hubs: &[i64],
    since: DateTime<Utc>,
    cursor: &Cursor,
    limit: i64,
) -> QueryResult<Section> {
    type NeedsRow = (Uuid, DateTime<Utc>, i64, String, String, i32);
    let q = needs_lists::table
        .filter(needs_lists::hub_id.eq_any(hubs))
        .filter(needs_lists::updated_at.gt(since))
        .filter(needs_lists::updated_at.le(cursor.at))
        .into_boxed();
    let rows: Vec<NeedsRow> = past(&UPDATED, cursor.needs)
        .rows(q, limit + 1)
        .select((
            needs_lists::id,
            needs_lists::updated_at,
            needs_lists::hub_id,
            needs_lists::title,
            needs_lists::status,
            needs_lists::version,
        ))
        .load(conn)?;
    Ok(section(
        rows,
        limit,
        |r| (r.1, r.0),
        |(id, _, h, t, s, v)| json!({"id": id, "hub_id": h, "title": t, "status": s, "version": v}),
    ))
}
