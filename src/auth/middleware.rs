//! The authentication middleware: once per request it works out who is calling (bearer token
//! or session cookie), makes sure the browser has a CSRF cookie, and refuses unsafe requests
//! without a valid CSRF token. Extractors then read the result from the request extensions.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use futures_util::StreamExt;

use super::principal::{Account, AuthVia, Principal};
use super::tokens::TokenOwner;
use super::{csrf, session};
use crate::db::snapshot::{Seen, Snapshot};
use crate::error::AppError;
use crate::state::AppState;

/// The CSRF token for this request's browser, for templates.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// A signed-in NFC station (bearer station token).
#[derive(Clone, Debug)]
pub struct StationPrincipal {
    pub station_id: i64,
    pub station_code: String,
    pub hub_id: i64,
}

/// The client address used for throttling and the audit log.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

pub const FLASH_COOKIE: &str = "outpost_flash";
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Paths that need neither a principal nor CSRF checks (no session lookup on every fetch the
/// service worker and the browser make for them; `/metrics` checks its scraper's own token).
fn is_public_static(path: &str) -> bool {
    path.starts_with("/assets/")
        || matches!(
            path,
            "/healthz" | "/readyz" | "/sw.js" | "/manifest.webmanifest" | "/metrics"
        )
}

/// Unsafe requests authenticated by something other than cookies need no CSRF token.
fn csrf_exempt(path: &str) -> bool {
    matches!(path, "/api/v1/token" | "/api/v1/token/revoke")
}

pub fn cookie<'c>(settings: &crate::config::Settings, name: &'c str, value: String) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies)
        .finish()
}

pub fn removal_cookie<'c>(settings: &crate::config::Settings, name: &'c str) -> Cookie<'c> {
    let mut c = cookie(settings, name, String::new());
    c.make_removal();
    c.set_max_age(time::Duration::ZERO);
    c
}

/// The routes a station token may call: the station API and the sync API.
fn station_path(path: &str) -> bool {
    path.starts_with("/api/v1/stations/") || path == "/api/v1/sync" || path == "/api/v1/sync/pull"
}

pub async fn authenticate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if is_public_static(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let addr = client_addr(&req, state.settings.trust_proxy);
    req.extensions_mut().insert(ClientAddr(addr.clone()));

    // 1. Who is calling.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let mut clear_session_cookie = false;
    let token_auth = bearer.is_some();
    if let Some(token) = bearer {
        match resolve_token(&state, token, addr.clone()).await {
            Ok(Some(Resolved::User(p))) => {
                req.extensions_mut().insert(Arc::new(p));
            }
            Ok(Some(Resolved::Station(s, account))) => {
                // A station token opens the station API and the sync API (through which the
                // station records copies it made offline), nothing made for people: no page,
                // dashboard or other API answers it, whatever that route itself checks.
                if !station_path(req.path()) {
                    let res = req.error_response(AppError::Forbidden(
                        "A station token is for the station and sync APIs only.".into(),
                    ));
                    return Ok(res.map_into_boxed_body());
                }
                // A station token is bound to its device: its account acts only when the
                // station also names itself (the `Station` extractor checks the same).
                let named = req
                    .headers()
                    .get("X-Station-Code")
                    .is_some_and(|v| v.as_bytes() == s.station_code.as_bytes());
                if let Some(p) = account.filter(|_| named) {
                    req.extensions_mut().insert(Arc::new(p));
                }
                req.extensions_mut().insert(Arc::new(s));
            }
            Ok(None) => {
                let res = req.error_response(AppError::InvalidToken);
                return Ok(res.map_into_boxed_body());
            }
            Err(e) => return Ok(req.error_response(e).map_into_boxed_body()),
        }
    } else if let Some(cookie) = req.cookie(session::COOKIE) {
        match load_session(&state, cookie.value(), addr.clone()).await {
            Ok(Some((p, seen))) => {
                req.extensions_mut().insert(Arc::new(p));
                req.extensions_mut().insert(Seen(seen));
            }
            Ok(None) => clear_session_cookie = true,
            Err(e) => return Ok(req.error_response(e).map_into_boxed_body()),
        }
    }

    // 2. The browser's CSRF cookie, created on first contact.
    let (csrf_cookie, new_csrf_cookie) = match req.cookie(csrf::COOKIE) {
        Some(c) if !c.value().is_empty() => (c.value().to_string(), None),
        _ => {
            let value = session::random_token();
            (value.clone(), Some(value))
        }
    };
    let secret = state.settings.secret_key.expose().to_string();
    req.extensions_mut()
        .insert(CsrfToken(csrf::token_for(&secret, &csrf_cookie)));

    // 3. Unsafe requests by cookie must prove they come from our own pages.
    // A replay from the service worker carries the custom replay header instead of a (possibly
    // expired) CSRF token. A cross-site page cannot send a custom header without a CORS
    // preflight, which this server never grants; and the pipeline then insists on the form's
    // signed capture envelope for this same user (docs/security.md).
    // Only the offline-capable forms (all under /hubs/) accept replays, one by one or in
    // batches through the sync API (which then takes only such forms).
    let replay = (req.path().starts_with("/hubs/") || req.path() == "/api/v1/sync")
        && req.headers().contains_key(csrf::REPLAY_HEADER)
        && req.extensions().get::<Arc<Principal>>().is_some();
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !token_auth && !replay && !csrf_exempt(req.path()) {
        let submitted = match req
            .headers()
            .get(csrf::HEADER)
            .and_then(|v| v.to_str().ok())
        {
            Some(t) => Some(t.to_string()),
            None => form_token(&mut req).await,
        };
        let valid = new_csrf_cookie.is_none()
            && submitted.is_some_and(|t| csrf::verify(&secret, &csrf_cookie, &t));
        if !valid {
            let res = req.error_response(AppError::Forbidden(
                "This form has expired or did not come from Outpost, so nothing was saved. Reload the page and try again.".into(),
            ));
            return Ok(res.map_into_boxed_body());
        }
    }

    let had_flash = req.cookie(FLASH_COOKIE).is_some();
    let offline_page = req.method() == Method::GET && offline_cacheable(req.path());
    let principal = req.extensions().get::<Arc<Principal>>().cloned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(p) = principal.filter(|_| res.status().is_success()) {
        mark_for_offline(&mut res, &p, offline_page, &state.settings);
    }

    // 4. Cookie upkeep on the way out.
    let sets_cookie = |res: &ServiceResponse<BoxBody>, name: &str| {
        res.response().cookies().any(|c| c.name() == name)
    };
    if let Some(value) = new_csrf_cookie {
        if !sets_cookie(&res, csrf::COOKIE) {
            res.response_mut()
                .add_cookie(&cookie(&state.settings, csrf::COOKIE, value))?;
        }
    }
    if clear_session_cookie && !sets_cookie(&res, session::COOKIE) {
        res.response_mut()
            .add_cookie(&removal_cookie(&state.settings, session::COOKIE))?;
    }
    // A flash is shown once: the page that displayed it (any non-redirect) clears it.
    if had_flash && !res.status().is_redirection() && !sets_cookie(&res, FLASH_COOKIE) {
        res.response_mut()
            .add_cookie(&removal_cookie(&state.settings, FLASH_COOKIE))?;
    }
    Ok(res)
}

/// Pages a user needs in the field, which the service worker may keep for offline use.
fn offline_cacheable(path: &str) -> bool {
    path == "/"
        || path == "/hubs"
        || path.starts_with("/hubs/")
        || path == "/sync-issues"
        || path == "/sales"
        || path.starts_with("/warehouse/") // the scanner pages: basements lose the signal
}

/// Tells the service worker whose page this is, the scope it was rendered for (a change empties
/// that user's cache), until when the device may open it offline, and whether to keep it.
fn mark_for_offline(
    res: &mut ServiceResponse<BoxBody>,
    p: &Principal,
    cacheable: bool,
    settings: &crate::config::Settings,
) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if !is_html {
        return;
    }
    let scope = {
        use sha2::{Digest, Sha256};
        let mut hubs = p.scope.hub_ids();
        hubs.sort_unstable();
        hex::encode(
            &Sha256::digest(format!("{}|{:?}|{:?}", p.role, hubs, p.scope.customer_ids).as_bytes())
                [..8],
        )
    };
    let until = (chrono::Utc::now() + settings.offline_session).to_rfc3339();
    let headers = res.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-outpost-user", p.user_id.to_string());
    // Usernames are ASCII by rule; the sign-in page names whose entries wait on the device.
    set("x-outpost-username", p.username.clone());
    set("x-outpost-scope", scope);
    set("x-outpost-offline-until", until);
    if cacheable {
        set("x-outpost-offline", "cache".into());
    }
    // A signed-in page is never kept in the browser's HTTP cache: the service worker keeps
    // the ones meant for offline use, per user, and deletes them at sign-out, so nothing of a
    // user's is left on a shared device. (Clear-Site-Data at sign-out did that job before; in
    // WebKit it held the sign-out's redirect for 30 s and the form was then sent again.)
    // A page that already said no-store (one showing a secret) keeps its own words.
    let no_store = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store"));
    if !no_store {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
}

fn client_addr(req: &ServiceRequest, trust_proxy: bool) -> String {
    if trust_proxy {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Reads an urlencoded body to find its CSRF token, then puts the body back for the handler.
async fn form_token(req: &mut ServiceRequest) -> Option<String> {
    let is_form = req
        .content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded");
    if !is_form {
        return None;
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let token = csrf::token_in_form(&body);
    req.set_payload(actix_web::dev::Payload::from(body));
    token
}

enum Resolved {
    User(Principal),
    /// A station, with its account (for the sync API) unless that account was disabled.
    Station(StationPrincipal, Option<Principal>),
}

async fn resolve_token(
    state: &AppState,
    token: String,
    addr: String,
) -> Result<Option<Resolved>, AppError> {
    crate::db::run(&state.db, move |conn| {
        Ok(match super::tokens::authenticate(conn, &token)? {
            Some(TokenOwner::User { user_id, token_id }) => {
                Principal::load(conn, user_id, AuthVia::Token { token_id }, Some(addr))?
                    .map(Resolved::User)
            }
            Some(TokenOwner::Station {
                station_id,
                station_code,
                hub_id,
                user_id,
                token_id,
            }) => Some(Resolved::Station(
                StationPrincipal {
                    station_id,
                    station_code,
                    hub_id,
                },
                Principal::load(conn, user_id, AuthVia::Token { token_id }, Some(addr))?,
            )),
            None => None,
        })
    })
    .await
}

/// The session's principal, and the database snapshot read to find it. The account is reused
/// from this process's cache while nothing has been committed since it was loaded.
async fn load_session(
    state: &AppState,
    cookie: &str,
    addr: String,
) -> Result<Option<(Principal, Snapshot)>, AppError> {
    let Some(s) = session::load(state, cookie)
        .await
        .map_err(AppError::session_store)?
    else {
        return Ok(None);
    };
    let key = s.key.clone();
    let seen = state.caches.snapshots.read(&state.db).await?;
    let user_id = s.data.user_id;
    let account = state
        .service::<super::principal::AccountCache>()
        .0
        .get_or_compute(&seen, user_id, || {
            crate::db::run(&state.db, move |conn| {
                Ok(Account::load(conn, user_id)?.map(Arc::new))
            })
        })
        .await?;
    let via = AuthVia::Session {
        key: s.key,
        started_at: s.data.started_ms(),
    };
    let found = account
        .and_then(|a| a.signed_in(via, Some(addr)))
        .map(|p| (p, seen));
    if found.is_none() {
        // The user was disabled or removed, or their sessions were ended: this one ends too.
        let mut conn = state.redis.clone();
        let _: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
    }
    Ok(found)
}
