//! NFC stations: the list with online/offline state (seen by the server in the last minute),
//! queue depth and last activity; registering a station shows its token once
//! (`station_tokens`, which also rotates a token). Audited.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::audit;
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::schema::{badge_copies, hubs, nfc_stations};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

pub(super) type StationAdmin = Authorized<perm::StationsManage>;

/// A station counts as online when it asked for work within this long.
const ONLINE_WITHIN: chrono::Duration = chrono::Duration::seconds(60);

/// Whether a station last seen at `last_seen` counts as online now.
pub(super) fn online(last_seen: Option<DateTime<Utc>>) -> bool {
    last_seen.is_some_and(|t| Utc::now() - t < ONLINE_WITHIN)
}

/// A station's state in words: "online", "offline since 2026-12-07 10:42 UTC", "never
/// connected".
pub(super) fn state_words(last_seen: Option<DateTime<Utc>>) -> String {
    match last_seen {
        _ if online(last_seen) => "online".into(),
        Some(t) => format!("offline since {}", t.format("%Y-%m-%d %H:%M UTC")),
        None => "never connected".into(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/stations").get(list).post(register));
}

/// id, code, name, hub name, reader, active, last seen.
type StationBasics = (
    i64,
    String,
    String,
    String,
    String,
    bool,
    Option<DateTime<Utc>>,
);

pub struct StationRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub hub: String,
    pub reader: String,
    pub active: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub queued: i64,
    pub last_copy: Option<DateTime<Utc>>,
}

impl StationRow {
    pub fn online(&self) -> bool {
        online(self.last_seen)
    }
    pub fn last_activity(&self) -> String {
        match self.last_seen.max(self.last_copy) {
            Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
            None => "never".into(),
        }
    }
}

#[derive(Template)]
#[template(path = "badges/stations.html")]
struct StationsPage {
    layout: Layout,
    rows: Vec<StationRow>,
    hubs: Vec<Hub>,
}

async fn page(
    admin: &StationAdmin,
    page: &Page,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let hub_ids = admin.user.scope.hub_ids();
    let rows = crate::db::run(&state.db, move |conn| {
        let stations: Vec<StationBasics> = nfc_stations::table
            .inner_join(hubs::table)
            .filter(nfc_stations::hub_id.eq_any(&hub_ids))
            .order(nfc_stations::code)
            .select((
                nfc_stations::id,
                nfc_stations::code,
                nfc_stations::name,
                hubs::name,
                nfc_stations::reader_name,
                nfc_stations::active,
                nfc_stations::last_seen_at,
            ))
            .load(conn)?;
        let mut rows = Vec::new();
        for (id, code, name, hub, reader, active, last_seen) in stations {
            let queued: i64 = badge_copies::table
                .filter(badge_copies::station_id.eq(id))
                .filter(badge_copies::status.eq_any(["queued", "leased"]))
                .count()
                .get_result(conn)?;
            let last_copy: Option<DateTime<Utc>> = badge_copies::table
                .filter(badge_copies::station_id.eq(id))
                .select(diesel::dsl::max(badge_copies::finished_at))
                .first(conn)?;
            rows.push(StationRow {
                id,
                code,
                name,
                hub,
                reader,
                active,
                last_seen,
                queued,
                last_copy,
            });
        }
        Ok(rows)
    })
    .await?;
    render(&StationsPage {
        layout: page.layout("NFC stations"),
        rows,
        hubs: admin.user.scope.hubs.clone(),
    })
}

async fn list(
    admin: StationAdmin,
    p: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(&admin, &p, &state).await
}

fn back(state: &AppState, text: &str) -> Result<HttpResponse, AppError> {
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/stations",
        FlashKind::Error,
        text,
    ))
}

/// Registers a station with its own account (role NfcStation, scoped to the station's hub),
/// through which it records copies made while the server was unreachable. `None` when the code
/// (or the account's name) is taken.
pub fn create(
    conn: &mut PgConnection,
    hub_id: i64,
    code: &str,
    name: &str,
    reader: &str,
) -> QueryResult<Option<i64>> {
    use crate::schema::{user_hubs, users};
    conn.transaction(|conn| {
        let taken: i64 = nfc_stations::table
            .filter(nfc_stations::code.eq(code))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Ok(None);
        }
        let organisation_id: i64 = hubs::table
            .find(hub_id)
            .select(hubs::organisation_id)
            .first(conn)?;
        let user_id: Option<i64> = diesel::insert_into(users::table)
            .values((
                users::username.eq(format!("station.{}", code.to_lowercase())),
                users::display_name.eq(format!("Station {code}")),
                users::role.eq(crate::auth::roles::Role::NfcStation.as_str()),
                users::organisation_id.eq(organisation_id),
                // Not a PHC string: never verifies, so the account cannot sign in.
                users::password_hash.eq("!"),
            ))
            .on_conflict_do_nothing()
            .returning(users::id)
            .get_result(conn)
            .optional()?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        diesel::insert_into(user_hubs::table)
            .values((user_hubs::user_id.eq(user_id), user_hubs::hub_id.eq(hub_id)))
            .execute(conn)?;
        diesel::insert_into(nfc_stations::table)
            .values((
                nfc_stations::hub_id.eq(hub_id),
                nfc_stations::code.eq(code),
                nfc_stations::name.eq(name),
                nfc_stations::reader_name.eq(reader),
                nfc_stations::user_id.eq(user_id),
            ))
            .returning(nfc_stations::id)
            .get_result(conn)
            .map(Some)
    })
}

/// Registers a station and shows its token once.
async fn register(
    admin: StationAdmin,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let code = form.text("code").trim().to_uppercase();
    if !(3..=32).contains(&code.len())
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return back(&state, "Nothing was saved: a station code is 3 to 32 letters, digits, '_' or '-', such as PARIS_01.");
    }
    let name = form.text("name").trim().to_string();
    let reader = form.text("reader_name").trim().to_string();
    if name.is_empty()
        || name.chars().count() > 120
        || reader.chars().count() > 120
        || format!("{name}{reader}").chars().any(char::is_control)
    {
        return back(&state, "Nothing was saved: the name is 1 to 120 characters and the reader name at most 120, without control characters.");
    }
    let Ok(hub_id) = form.text("hub_id").parse::<i64>() else {
        return back(&state, "Nothing was saved: choose the station's hub.");
    };
    if !admin.user.scope.has_hub(hub_id) {
        return back(&state, "Nothing was saved: choose one of your hubs.");
    }
    let who = admin.user.0.clone();
    let made = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let Some(id) = create(conn, hub_id, &code, &name, &reader)? else {
                return Ok(None);
            };
            let token = crate::auth::tokens::issue_station_token(conn, &code)?;
            audit::record(
                conn,
                &who.audit_entry("station.registered")
                    .object("nfc_station", id)
                    .hub(Some(hub_id))
                    .change(
                        None,
                        Some(json!({ "code": code, "name": name, "reader_name": reader })),
                    ),
            )?;
            Ok::<_, AppError>(Some((code, token)))
        })
    })
    .await?;
    match made {
        Some(made) => super::station_tokens::show_once(&state, &admin.user, made).await,
        None => back(
            &state,
            "Nothing was saved: a station with this code exists.",
        ),
    }
}
