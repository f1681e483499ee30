//! A station's token, shown once. Rotating asks first (the station stops taking copy jobs until
//! its configuration has the new token). A new token — registered or rotated — is kept in Redis
//! under the admin's own session for a few minutes, and the answer redirects to the page that
//! shows it and takes it out: a reload of that page never rotates again nor shows the token a
//! second time, and the token never travels in a cookie or sits at a POST address.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use redis::AsyncCommands;
use serde_json::json;

use super::stations::StationAdmin;
use crate::audit;
use crate::auth::principal::{AuthVia, Principal};
use crate::error::AppError;
use crate::schema::{api_tokens, hubs, nfc_stations};
use crate::state::AppState;
use crate::ui::layout::{render, render_unkept, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

/// How long a made token waits to be shown.
const KEPT_FOR_SECS: u64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/stations/{id}/rotate")
            .get(confirm)
            .post(rotate),
    )
    .service(web::resource("/admin/stations/token").get(show));
}

#[derive(Template)]
#[template(path = "badges/rotate.html")]
struct ConfirmPage {
    layout: Layout,
    id: i64,
    code: String,
    name: String,
    hub: String,
    online: bool,
}

/// Asks before rotating: what it does to a station that is working.
async fn confirm(
    admin: StationAdmin,
    p: Page,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, hub_ids) = (path.into_inner(), admin.user.scope.hub_ids());
    let station = crate::db::run(&state.db, move |conn| {
        Ok(nfc_stations::table
            .inner_join(hubs::table)
            .filter(nfc_stations::id.eq(id))
            .filter(nfc_stations::hub_id.eq_any(&hub_ids))
            .select((
                nfc_stations::code,
                nfc_stations::name,
                hubs::name,
                nfc_stations::last_seen_at,
            ))
            .first::<(
                String,
                String,
                String,
                Option<chrono::DateTime<chrono::Utc>>,
            )>(conn)
            .optional()?)
    })
    .await?;
    let Some((code, name, hub, last_seen)) = station else {
        return Err(AppError::not_found("There is no such station among yours."));
    };
    render(&ConfirmPage {
        layout: p.layout(format!("Rotate the token of {code}")),
        id,
        online: super::stations::online(last_seen),
        code,
        name,
        hub,
    })
}

/// Revokes the station's tokens, makes a new one and sends the admin to see it once.
async fn rotate(
    admin: StationAdmin,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (who, hub_ids) = (admin.user.0.clone(), admin.user.scope.hub_ids());
    let made = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let station: Option<(String, i64)> = nfc_stations::table
                .find(id)
                .filter(nfc_stations::hub_id.eq_any(&hub_ids))
                .select((nfc_stations::code, nfc_stations::hub_id))
                .first(conn)
                .optional()?;
            let Some((code, hub_id)) = station else {
                return Err(AppError::not_found("There is no such station among yours."));
            };
            let revoked = diesel::update(
                api_tokens::table
                    .filter(api_tokens::station_id.eq(id))
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set(api_tokens::revoked_at.eq(diesel::dsl::now))
            .execute(conn)?;
            let token = crate::auth::tokens::issue_station_token(conn, &code)?;
            audit::record(
                conn,
                &who.audit_entry("station.token_rotated")
                    .object("nfc_station", id)
                    .hub(Some(hub_id))
                    .change(None, Some(json!({ "revoked_tokens": revoked }))),
            )?;
            Ok((code, token))
        })
    })
    .await?;
    show_once(&state, &admin.user, made).await
}

/// Keeps `(code, token)` for the admin's session and redirects to the page that shows it. A
/// principal without a session (an API token) has nowhere to keep it: it is answered at once.
pub(super) async fn show_once(
    state: &AppState,
    admin: &Principal,
    made: (String, String),
) -> Result<HttpResponse, AppError> {
    let AuthVia::Session { key, .. } = &admin.via else {
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "code": made.0, "token": made.1 })));
    };
    let value = serde_json::to_string(&made).unwrap_or_default();
    let mut redis = state.redis.clone();
    let _: () = redis
        .set_ex(kept_under(key), value, KEPT_FOR_SECS)
        .await
        .map_err(AppError::session_store)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/stations/token"))
        .finish())
}

fn kept_under(session_key: &str) -> String {
    format!("{session_key}:new-station-token")
}

#[derive(Template)]
#[template(path = "badges/token.html")]
struct TokenPage {
    layout: Layout,
    code: String,
    token: String,
}

/// The token just made, once; after that (a reload, a second tab) the way back to the list.
async fn show(
    admin: StationAdmin,
    p: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let kept: Option<String> = match &admin.user.via {
        AuthVia::Session { key, .. } => {
            let mut redis = state.redis.clone();
            redis::cmd("GETDEL")
                .arg(kept_under(key))
                .query_async(&mut redis)
                .await
                .map_err(AppError::session_store)?
        }
        AuthVia::Token { .. } => None,
    };
    let Some((code, token)) = kept.and_then(|v| serde_json::from_str::<(String, String)>(&v).ok())
    else {
        return Ok(redirect_with_flash(
            &state.settings,
            "/admin/stations",
            FlashKind::Info,
            "That token was shown once and cannot be shown again. If it was not copied, rotate the station's token.",
        ));
    };
    render_unkept(&TokenPage {
        layout: p.layout(format!("The token of {code}")),
        code,
        token,
    })
}
