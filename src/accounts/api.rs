//! The token endpoint (OAuth 2.0 password and refresh-token grants, RFC 6749 §4.3 and §6),
//! revocation (RFC 7009), and `/api/v1/me`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::login::{check_credentials, wait_message, CredentialCheck};
use crate::audit::{self, Entry};
use crate::auth::extract::{CurrentUser, Station};
use crate::auth::middleware::ClientAddr;
use crate::auth::principal::MeView;
use crate::auth::tokens::{self, RefreshError};
use crate::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/token").post(token))
        .service(web::resource("/api/v1/token/revoke").post(revoke))
        .service(web::resource("/api/v1/me").get(me))
        .service(web::resource("/api/v1/stations/me").get(station_me));
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

/// An RFC 6749 error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// OAuth 2.0 token endpoint: `grant_type=password` (username, password) or
/// `grant_type=refresh_token` (refresh_token; rotates the pair).
#[utoipa::path(post, path = "/api/v1/token", tag = "auth", request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = crate::auth::tokens::TokenPair),
        (status = 400, body = OAuthError),
        (status = 429, body = OAuthError)))]
pub async fn token(
    req: HttpRequest,
    form: web::Form<TokenRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let addr = req
        .extensions()
        .get::<ClientAddr>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let form = form.into_inner();
    match form.grant_type.as_deref() {
        Some("password") => {
            let (Some(username), Some(password)) = (
                form.username.filter(|u| !u.is_empty()),
                form.password.filter(|p| !p.is_empty()),
            ) else {
                return Ok(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "username and password are required",
                ));
            };
            match check_credentials(&state, &username, &password, &addr, "api").await? {
                CredentialCheck::Throttled(wait) => {
                    let mut res = oauth_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "slow_down",
                        &wait_message(wait),
                    );
                    res.headers_mut().insert(
                        actix_web::http::header::RETRY_AFTER,
                        wait.as_secs().max(1).into(),
                    );
                    Ok(res)
                }
                CredentialCheck::Invalid => Ok(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown username or wrong password",
                )),
                CredentialCheck::Valid(user) => {
                    let settings = state.settings.clone();
                    let pair = crate::db::run(&state.db, move |conn| {
                        Ok(tokens::issue(conn, user.id, &settings)?)
                    })
                    .await?;
                    Ok(HttpResponse::Ok()
                        .insert_header(("Cache-Control", "no-store"))
                        .json(pair))
                }
            }
        }
        Some("refresh_token") => {
            let Some(raw) = form.refresh_token.filter(|t| !t.is_empty()) else {
                return Ok(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                ));
            };
            let settings = state.settings.clone();
            let outcome = crate::db::run(&state.db, move |conn| {
                Ok(match tokens::refresh(conn, &raw, &settings) {
                    Ok((pair, user_id)) => {
                        let mut entry = Entry::new("auth.token.refreshed").object("user", user_id);
                        entry.actor_id = Some(user_id);
                        entry.client_addr = Some(addr);
                        audit::record(conn, &entry)?;
                        Ok(pair)
                    }
                    Err(RefreshError::Invalid) => Err(()),
                    Err(RefreshError::Database(e)) => return Err(e.into()),
                })
            })
            .await?;
            Ok(match outcome {
                Ok(pair) => HttpResponse::Ok()
                    .insert_header(("Cache-Control", "no-store"))
                    .json(pair),
                Err(()) => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is invalid, expired or revoked",
                ),
            })
        }
        Some(_) => Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use grant_type=password or grant_type=refresh_token",
        )),
        None => Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RevokeRequest {
    token: Option<String>,
}

/// Always 200 for a well-formed request, whether or not the token existed (RFC 7009 §2.2).
/// Revoke a token (and its family). Answers 200 whether or not the token existed (RFC 7009).
#[utoipa::path(post, path = "/api/v1/token/revoke", tag = "auth", request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "revoked, or unknown"),
        (status = 400, body = OAuthError)))]
pub async fn revoke(
    form: web::Form<RevokeRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(raw) = form.into_inner().token.filter(|t| !t.is_empty()) else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        ));
    };
    crate::db::run(&state.db, move |conn| {
        if tokens::revoke(conn, &raw)? {
            audit::record(conn, &Entry::new("auth.token.revoked"))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// Who the caller is: role, hubs, customers, flags and permissions.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses(
        (status = 200, body = MeView),
        crate::error::problems::Unauthorized), security(("bearer" = []),
        ("session" = [])))]
pub async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(MeView::from(&*user))
}

/// The station the token belongs to (and a sign of life: its last contact is now).
#[utoipa::path(get, path = "/api/v1/stations/me", tag = "stations",
    params(("X-Station-Code" = String, Header, description = "The station's code")),
    responses(
        (status = 200, description = "station_id, code and hub_id", body = Object),
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden),
    security(("bearer" = [])))]
pub async fn station_me(
    station: Station,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = station.0.station_id;
    crate::db::run(&state.db, move |conn| {
        use crate::schema::nfc_stations;
        use diesel::prelude::*;
        diesel::update(nfc_stations::table.find(id))
            .set(nfc_stations::last_seen_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "station_id": station.0.station_id, "code": station.0.station_code, "hub_id": station.0.hub_id })))
}
