//! Sign-in and sign-out pages. Messages and timing are the same whether or not the username
//! exists; failures are throttled and audited; the session id and the CSRF cookie are replaced
//! at sign-in.

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::audit::{self, Entry};
use crate::auth::extract::{CurrentUser, MaybeUser};
use crate::auth::middleware::{cookie, removal_cookie, ClientAddr};
use crate::auth::{csrf, password, session, throttle, users};
use crate::error::AppError;
use crate::state::AppState;
use crate::ui::layout::{render_with_status, FlashKind, Layout};
use crate::ui::page::{redirect, redirect_with_flash, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/login").get(login_form).post(login_submit))
        .service(web::resource("/logout").post(logout));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
    demo_logins: Vec<(&'static str, &'static str)>,
    demo_password: &'static str,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in (no open redirects). Browsers drop tabs and
/// newlines from URLs and read `\\` as `/`, so `/\t/evil` or `/\\evil` would leave the site: any
/// control character, backslash or leading `//` sends the user home instead.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 2048
                && !n
                    .chars()
                    .any(|c| c.is_control() || c == '\\' || c.is_whitespace())
                && !n.contains("://") =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn login_page(
    state: &AppState,
    layout: Layout,
    username: String,
    next: String,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let demo = state.demo_mode;
    render_with_status(
        &LoginPage {
            layout,
            username,
            next,
            demo_logins: if demo {
                crate::demo::seed::DEMO_LOGINS.to_vec()
            } else {
                Vec::new()
            },
            demo_password: crate::demo::seed::DEMO_PASSWORD,
        },
        status,
    )
}

async fn login_form(
    page: Page,
    user: MaybeUser,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if user.0.is_some() {
        return Ok(redirect(&next));
    }
    login_page(
        &state,
        page.layout("Sign in"),
        String::new(),
        next,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// The outcome of checking credentials, shared by the sign-in page and the token endpoint.
pub enum CredentialCheck {
    Valid(users::User),
    Invalid,
    Throttled(std::time::Duration),
}

/// Throttle, verify (always running argon2, against a dummy hash for unknown names), record.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password_text: &str,
    addr: &str,
    channel: &'static str,
) -> Result<CredentialCheck, AppError> {
    if let Err(wait) = throttle::check(state, username, addr)
        .await
        .map_err(AppError::session_store)?
    {
        return Ok(CredentialCheck::Throttled(wait));
    }
    let (name, pw) = (username.to_string(), password_text.to_string());
    let addr_owned = addr.to_string();
    let user = crate::db::run(&state.db, move |conn| {
        let user = users::find_by_username(conn, &name)?;
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .unwrap_or(password::dummy_hash());
        let matches = password::verify(&pw, hash);
        let ok = matches && user.as_ref().is_some_and(|u| u.active);
        let action = if ok {
            "auth.login.succeeded"
        } else {
            "auth.login.failed"
        };
        let mut entry = Entry::new(action).outcome(if ok { "applied" } else { "rejected" });
        entry.actor_id = user.as_ref().map(|u| u.id);
        entry.actor_name = Some(name.chars().take(64).collect());
        entry.role_at_apply = user.as_ref().map(|u| u.role.clone());
        entry.client_addr = Some(addr_owned);
        entry.after = Some(serde_json::json!({ "channel": channel }));
        audit::record(conn, &entry)?;
        Ok(if ok { user } else { None })
    })
    .await?;
    match user {
        Some(u) => {
            throttle::clear(state, username)
                .await
                .map_err(AppError::session_store)?;
            Ok(CredentialCheck::Valid(u))
        }
        None => {
            throttle::record_failure(state, username, addr)
                .await
                .map_err(AppError::session_store)?;
            Ok(CredentialCheck::Invalid)
        }
    }
}

pub fn wait_message(wait: std::time::Duration) -> String {
    format!(
        "Too many sign-in attempts. Wait {} seconds and try again.",
        wait.as_secs().max(1)
    )
}

async fn login_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let addr = req
        .extensions()
        .get::<ClientAddr>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let username = form.username.trim().to_string();
    if username.is_empty() || form.password.is_empty() {
        let layout = page
            .layout("Sign in")
            .with_flash(FlashKind::Error, "Enter your username and password.");
        return login_page(
            &state,
            layout,
            username,
            next,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match check_credentials(&state, &username, &form.password, &addr, "web").await? {
        CredentialCheck::Throttled(wait) => {
            let layout = page
                .layout("Sign in")
                .with_flash(FlashKind::Error, wait_message(wait));
            let mut res = login_page(
                &state,
                layout,
                username,
                next,
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                wait.as_secs().max(1).into(),
            );
            Ok(res)
        }
        CredentialCheck::Invalid => {
            let layout = page
                .layout("Sign in")
                .with_flash(FlashKind::Error, "Unknown username or wrong password.");
            login_page(&state, layout, username, next, StatusCode::UNAUTHORIZED)
        }
        CredentialCheck::Valid(user) => {
            // A fresh session id (never the one the browser arrived with) and a fresh CSRF cookie.
            if let Some(old) = req.cookie(session::COOKIE) {
                if let Ok(Some(s)) = session::load(&state, old.value()).await {
                    let _ = session::destroy(&state, &s).await;
                }
            }
            let token = session::create(&state, user.id)
                .await
                .map_err(AppError::session_store)?;
            Ok(HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, next))
                .cookie(cookie(&state.settings, session::COOKIE, token))
                .cookie(cookie(
                    &state.settings,
                    csrf::COOKIE,
                    session::random_token(),
                ))
                .finish())
        }
    }
}

async fn logout(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if let Some(c) = req.cookie(session::COOKIE) {
        if let Ok(Some(s)) = session::load(&state, c.value()).await {
            session::destroy(&state, &s)
                .await
                .map_err(AppError::session_store)?;
        }
    }
    let entry = user.audit_entry("auth.logout");
    crate::db::run(&state.db, move |conn| Ok(audit::record(conn, &entry)?)).await?;
    let mut res = redirect_with_flash(
        &state.settings,
        "/login",
        FlashKind::Info,
        "You have signed out.",
    );
    // The service worker deletes this user's stored pages and ends their offline access; the
    // HTTP cache never held a signed-in page (the session middleware marks them no-store).
    // Entries still queued on the device (this user's or a colleague's on a shared device)
    // stay sealed there until their own author signs in again.
    res.add_cookie(&removal_cookie(&state.settings, session::COOKIE))
        .map_err(AppError::internal)?;
    res.add_cookie(&cookie(
        &state.settings,
        csrf::COOKIE,
        session::random_token(),
    ))
    .map_err(AppError::internal)?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(super::safe_next(Some("/audit?x=1")), "/audit?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/\t/evil.example",
            "/\t\\evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\u{0}x",
        ] {
            assert_eq!(super::safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(super::safe_next(None), "/");
    }
}
