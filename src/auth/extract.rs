//! Role and scope checks as actix extractors, so a handler's signature states what it needs and
//! cannot forget to check it:
//! - `CurrentUser`: someone is signed in (401 → sign-in page or JSON).
//! - `Authorized<perm::X>`: signed in and the role allows X (403, audited).
//! - `HubAccess<perm::X>`: as above, for the hub named by `{hub_id}` in the path, which must be
//!   in the user's scope (404 otherwise, audited, so other hubs' ids cannot be probed).

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};

use super::middleware::StationPrincipal;
use super::permissions::perm::Marker;
use super::principal::Principal;
use crate::audit;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::state::AppState;

/// The signed-in user.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Arc<Principal>);

impl Deref for CurrentUser {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Arc<Principal>>()
                .cloned()
                .map(CurrentUser)
                .ok_or(AppError::Unauthorized),
        )
    }
}

/// The signed-in user, or nobody (for pages that render either way).
pub struct MaybeUser(pub Option<Arc<Principal>>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(MaybeUser(
            req.extensions().get::<Arc<Principal>>().cloned(),
        )))
    }
}

/// A signed-in user whose role allows `P`.
pub struct Authorized<P: Marker> {
    pub user: CurrentUser,
    _permission: PhantomData<P>,
}

impl<P: Marker> Deref for Authorized<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.user
    }
}

impl<P: Marker + 'static> FromRequest for Authorized<P> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = req.extensions().get::<Arc<Principal>>().cloned();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let path = req.path().to_string();
        Box::pin(async move {
            let user = CurrentUser(user.ok_or(AppError::Unauthorized)?);
            if !user.can(P::PERMISSION) {
                deny(state, &user, "auth.permission.denied", &path, None).await;
                return Err(AppError::Forbidden(format!(
                    "Your role ({}) does not allow this: {}.",
                    user.role.label(),
                    P::PERMISSION.label().to_lowercase()
                )));
            }
            Ok(Authorized {
                user,
                _permission: PhantomData,
            })
        })
    }
}

/// A signed-in user allowed `P` at the hub named by the `{hub_id}` path segment.
pub struct HubAccess<P: Marker> {
    pub user: CurrentUser,
    pub hub: Hub,
    _permission: PhantomData<P>,
}

impl<P: Marker> Deref for HubAccess<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.user
    }
}

impl<P: Marker + 'static> FromRequest for HubAccess<P> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authorized = Authorized::<P>::from_request(req, payload);
        let hub_id = req.match_info().get("hub_id").map(str::to_string);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let path = req.path().to_string();
        Box::pin(async move {
            let Authorized { user, .. } = authorized.await?;
            let id = hub_id.and_then(|h| h.parse::<i64>().ok());
            match id.and_then(|id| user.hub(id).cloned()) {
                Some(hub) => Ok(HubAccess {
                    user,
                    hub,
                    _permission: PhantomData,
                }),
                None => {
                    // Same answer whether the hub exists elsewhere or not at all.
                    deny(state, &user, "auth.scope.denied", &path, id).await;
                    Err(AppError::NotFound(
                        "There is no such hub among yours.".into(),
                    ))
                }
            }
        })
    }
}

/// An NFC station authenticated by its station token.
pub struct Station(pub Arc<StationPrincipal>);

impl FromRequest for Station {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A station token is bound to its device: the station must also name itself.
        let claimed = req
            .headers()
            .get("X-Station-Code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        ready(
            match req.extensions().get::<Arc<StationPrincipal>>().cloned() {
                Some(s) if claimed.as_deref() == Some(s.station_code.as_str()) => Ok(Station(s)),
                Some(_) => Err(AppError::Forbidden(
                    "This station token belongs to another station.".into(),
                )),
                None => Err(AppError::Unauthorized),
            },
        )
    }
}

/// Denials are audited; a failure to audit is logged but does not turn a 403 into a 500.
async fn deny(
    state: Option<web::Data<AppState>>,
    user: &Principal,
    action: &'static str,
    path: &str,
    hub_id: Option<i64>,
) {
    let Some(state) = state else { return };
    // Only record a hub id that exists in the user's own scope; an out-of-scope id is kept in
    // the object id text so the audit row leaks nothing through a foreign key either.
    let entry = user
        .audit_entry(action)
        .object("route", path)
        .outcome("denied")
        .hub(hub_id.filter(|h| user.scope.has_hub(*h)));
    if let Err(e) = crate::db::run(&state.db, move |conn| Ok(audit::record(conn, &entry)?)).await {
        tracing::error!(error = %e, "could not audit a denial");
    }
}
