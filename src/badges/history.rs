//! Asking for a copy from the browser, and the copy history: filters (station, customer,
//! status, time range, user), paged by keyset; the same rows as CSV are `copy_export`.
//! Everyone sees only the copies of the customers in their scope (a customer user: their own
//! account's).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::perm;
use crate::db::keyset::{time_key, Col, Order, Walk};
use crate::error::AppError;
use crate::schema::{badge_copies, customers, nfc_stations, users};
use crate::state::AppState;
use crate::sync::forms;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};
use crate::ui::pager::{Pager, Total, COUNT_UP_TO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/badges/copies").get(list).post(request))
        .service(web::resource("/badges/copies.csv").get(super::copy_export::csv))
        .service(web::resource("/badges/copies/{id}/dump").get(dump));
}

/// `POST /badges/copies`: the copy form of the badges page, as a `badge.copy_request`.
async fn request(
    req: HttpRequest,
    user: CurrentUser,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let payload = json!({
        "copy_id": form.text("record_id"),
        "customer_id": form.text("customer_id").parse::<i64>().unwrap_or(0),
        "badge_uid": form.text("badge_uid"),
        "station_id": form.text("station_id").parse::<i64>().unwrap_or(0),
    });
    let posted = forms::Posted::new("badge.copy_request", payload, vec![]);
    // What the copy comes to depends on the station: said once the copy is queued (the
    // pipeline checks the station is one of the user's; this only chooses the words).
    let station_id = form.text("station_id").parse::<i64>().unwrap_or(0);
    let last_seen = crate::db::run(&state.db, move |conn| {
        Ok(crate::schema::nfc_stations::table
            .find(station_id)
            .select(crate::schema::nfc_stations::last_seen_at)
            .first::<Option<DateTime<Utc>>>(conn)
            .optional()?
            .flatten())
    })
    .await?;
    let done = if super::stations::online(last_seen) {
        "Copy queued: the station picks it up in a moment.".to_string()
    } else if last_seen.is_none() {
        "Copy queued, but the station has never connected: the copy waits, with its quota taken, until it connects.".to_string()
    } else {
        format!(
            "Copy queued, but the station is {}: the copy waits, with its quota taken, until the station connects again.",
            super::stations::state_words(last_seen)
        )
    };
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page("/badges/copies"),
        |_| done,
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    let reason = refused
        .errors
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    Ok(redirect_with_flash(
        &state.settings,
        "/badges",
        FlashKind::Error,
        &format!("No copy was queued: {reason}"),
    ))
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub station: String,
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub user: String,
    /// Keyset pages (`ui::keyset`): the edge row's key.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

impl Filters {
    /// The history's address with these filters (not the page).
    fn address(&self) -> String {
        let kept = [
            ("station", &self.station),
            ("customer", &self.customer),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("user", &self.user),
        ];
        Pager::filtered("/badges/copies", &kept.map(|(k, v)| (k, v.as_str())), 0, 0)
            .base()
            .to_string()
    }
}

#[derive(Queryable)]
pub struct CopyRow {
    pub id: Uuid,
    pub requested_at: DateTime<Utc>,
    pub customer: String,
    pub badge_uid: String,
    pub station: String,
    pub status: String,
    /// The user who asked for it (none for copies recorded at a station).
    pub requested_by: Option<String>,
    pub recorded_by: String,
    pub error: Option<String>,
    /// Copied at the station on its own (often offline), not asked for at the server.
    pub recorded_offline: bool,
}

/// Copy states, and how people call them.
pub const STATUSES: [(&str, &str); 5] = [
    ("queued", "Waiting for the station"),
    ("leased", "At the station"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("abandoned", "Abandoned"),
];

impl CopyRow {
    pub fn status_label(&self) -> &'static str {
        STATUSES
            .iter()
            .find(|(s, _)| *s == self.status)
            .map_or("Unknown", |(_, l)| *l)
    }
}

fn day(text: &str) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The copy history newest first, the id breaking ties (`ui::keyset`).
pub(super) static NEWEST_FIRST: Order = Order {
    columns: &[
        ("badge_copies.requested_at", Col::Time),
        ("badge_copies.id", Col::Uuid),
    ],
};

/// Copies with their customer, station and requester.
type CopyQuery = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::LeftJoinOn<
        diesel::dsl::InnerJoin<
            diesel::dsl::InnerJoin<badge_copies::table, customers::table>,
            nfc_stations::table,
        >,
        users::table,
        diesel::dsl::Eq<diesel::dsl::Nullable<users::id>, badge_copies::requested_by>,
    >,
    diesel::pg::Pg,
>;

/// The copies of the customers in scope that the filters keep.
pub(super) fn filtered(customers_in_scope: &[i64], f: &Filters) -> CopyQuery {
    let mut q = badge_copies::table
        .inner_join(customers::table)
        .inner_join(nfc_stations::table)
        .left_join(users::table.on(users::id.nullable().eq(badge_copies::requested_by)))
        .filter(badge_copies::customer_id.eq_any(customers_in_scope.to_vec()))
        .into_boxed();
    if !f.station.trim().is_empty() {
        q = q.filter(nfc_stations::code.eq(f.station.trim().to_uppercase()));
    }
    if !f.customer.trim().is_empty() {
        q = q.filter(
            customers::name.ilike(format!("%{}%", f.customer.trim().replace(['%', '_'], ""))),
        );
    }
    if !f.status.is_empty() {
        q = q.filter(badge_copies::status.eq(f.status.clone()));
    }
    if let Some(from) = day(&f.from) {
        q = q.filter(badge_copies::requested_at.ge(from));
    }
    if let Some(to) = day(&f.to) {
        q = q.filter(badge_copies::requested_at.lt(to + chrono::Duration::days(1)));
    }
    if !f.user.trim().is_empty() {
        q = q.filter(users::username.eq(f.user.trim().to_string()));
    }
    q
}

/// The `n` rows of `q` that `walk` reads.
pub(super) fn load(
    conn: &mut PgConnection,
    q: CopyQuery,
    walk: Walk,
    n: i64,
) -> QueryResult<Vec<CopyRow>> {
    walk.rows(q, n)
        .select((
            badge_copies::id,
            badge_copies::requested_at,
            customers::name,
            badge_copies::badge_uid,
            nfc_stations::code,
            badge_copies::status,
            users::username.nullable(),
            badge_copies::recorded_by,
            badge_copies::error,
            badge_copies::recorded_offline,
        ))
        .load(conn)
}

#[derive(Template)]
#[template(path = "badges/copies.html")]
struct CopiesPage {
    layout: Layout,
    rows: Vec<CopyRow>,
    f: Filters,
    /// The filters as a query string, for the CSV link.
    query: String,
    can_see_dumps: bool,
    /// Whether the user requests copies (and came from Badges); an auditor only reads.
    requests: bool,
    statuses: [(&'static str, &'static str); 5],
    pager: Pager,
}

async fn list(
    user: Authorized<perm::BadgeCopiesRead>,
    page: Page,
    f: web::Query<Filters>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (scope, mut filters) = (user.scope.customer_ids.clone(), f.into_inner());
    let turned = crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    let fetch = keyset::fetch(
        &keyset::Start::parse(&filters.after, &filters.before),
        &NEWEST_FIRST,
        true,
    );
    let (walk, f) = (fetch.walk.clone(), filters.clone());
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
        let total = crate::db::count_up_to(filtered(&scope, &f), COUNT_UP_TO, conn)?;
        Ok((
            load(conn, filtered(&scope, &f), walk, keyset::FETCH)?,
            total,
        ))
    })
    .await?;
    let base = filters.address();
    let total = Total::Counted(total);
    let (rows, pager) = Pager::keyset_page(fetched, &fetch.start, base.clone(), true, total, |r| {
        vec![time_key(r.requested_at), r.id.to_string()]
    });
    render(&CopiesPage {
        layout: {
            let mut layout = page.layout("Badge copies");
            layout
                .flashes
                .extend(turned.map(crate::ui::layout::Flash::info));
            layout
        },
        rows,
        query: base
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default(),
        f: filters,
        can_see_dumps: user.can(crate::auth::permissions::Permission::StationsManage),
        requests: user.can(crate::auth::permissions::Permission::BadgeCopyRequest),
        statuses: STATUSES,
        pager,
    })
}

#[derive(Template)]
#[template(path = "badges/dump.html")]
struct DumpPage {
    layout: Layout,
    badge_uid: String,
    sha256: String,
    data: String,
    at: DateTime<Utc>,
}

/// `GET /badges/copies/{id}/dump`: what the copied card held, for those who manage stations
/// (the card data is a key to the customer's doors: nobody else sees it).
async fn dump(
    user: Authorized<perm::StationsManage>,
    page: Page,
    path: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    use crate::schema::badge_dumps;
    let (id, hubs) = (path.into_inner(), user.scope.hub_ids());
    let found: Option<(String, String, serde_json::Value, DateTime<Utc>)> =
        crate::db::run(&state.db, move |conn| {
            Ok(badge_dumps::table
                .inner_join(badge_copies::table)
                .filter(badge_dumps::copy_id.eq(id))
                .filter(badge_copies::hub_id.eq_any(hubs))
                .select((
                    badge_dumps::badge_uid,
                    badge_dumps::sha256,
                    badge_dumps::data,
                    badge_dumps::created_at,
                ))
                .first(conn)
                .optional()?)
        })
        .await?;
    let Some((badge_uid, sha256, data, at)) = found else {
        return Err(AppError::not_found(
            "There is no dump of this copy among yours.",
        ));
    };
    crate::ui::layout::render_unkept(&DumpPage {
        layout: page.layout(format!("Dump of {badge_uid}")),
        badge_uid,
        sha256,
        data: serde_json::to_string_pretty(&data).unwrap_or_default(),
        at,
    })
}
