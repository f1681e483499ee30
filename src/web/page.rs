//! The `Page` extractor: everything a server-rendered page needs for its frame (who is signed
//! in, navigation for their role, the CSRF token, a flash message), and the redirect-with-flash
//! helper used after successful form posts (Post/Redirect/Get).

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::{ready, Ready};

use crate::auth::middleware::{cookie, CsrfToken, FLASH_COOKIE};
use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;
use crate::config::Settings;
use crate::error::AppError;
use crate::web::layout::{Flash, FlashKind, Layout, NavItem, UserBadge};

/// (path, label, permission needed) of every top-level page, in menu order.
const NAV: [(&str, &str, Permission); 11] = [
    ("/", "Dashboard", Permission::DashboardView),
    ("/hubs", "Hubs & stock", Permission::InventoryRead),
    ("/catalog", "Catalog", Permission::CatalogRead),
    ("/warehouse/lookup", "Warehouse", Permission::InventoryRead),
    ("/review", "Review queue", Permission::ReviewResolve),
    ("/sync-issues", "Sync Issues", Permission::DashboardView),
    ("/audit", "Audit log", Permission::AuditRead),
    ("/admin/users", "Users", Permission::UsersManage),
    (
        "/admin/organisations",
        "Organisations & hubs",
        Permission::HubsManage,
    ),
    ("/admin/roles", "Roles", Permission::RolesView),
    ("/admin/jobs", "Jobs", Permission::JobsManage),
];

pub struct Page {
    pub user: Option<Arc<Principal>>,
    pub csrf_token: String,
    flash: Option<Flash>,
    path: String,
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ext = req.extensions();
        ready(Ok(Page {
            user: ext.get::<Arc<Principal>>().cloned(),
            csrf_token: ext
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            flash: req
                .cookie(FLASH_COOKIE)
                .and_then(|c| decode_flash(c.value())),
            path: req.path().to_string(),
        }))
    }
}

impl Page {
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        let mut layout = Layout::new(title);
        layout.csrf_token = self.csrf_token.clone();
        layout.flashes.extend(self.flash.clone());
        if let Some(user) = &self.user {
            layout.user = Some(UserBadge {
                user_id: user.user_id,
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                role_label: user.role.label().into(),
                hub_label: user.hub_label(),
            });
            layout.nav = NAV
                .iter()
                .filter(|(_, _, permission)| user.can(*permission))
                .map(|(href, label, _)| NavItem {
                    href,
                    label,
                    current: self.is_current(href),
                })
                .collect();
        }
        layout
    }

    fn is_current(&self, href: &str) -> bool {
        if href == "/" {
            self.path == "/"
        } else {
            self.path == href || self.path.starts_with(&format!("{href}/"))
        }
    }
}

fn encode_flash(kind: FlashKind, text: &str) -> String {
    let k = match kind {
        FlashKind::Success => "s",
        FlashKind::Error => "e",
        FlashKind::Info => "i",
        FlashKind::Warning => "w",
    };
    serde_urlencoded::to_string([("k", k), ("t", text)]).unwrap_or_default()
}

fn decode_flash(value: &str) -> Option<Flash> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(value).ok()?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let kind = match get("k")?.as_str() {
        "s" => FlashKind::Success,
        "e" => FlashKind::Error,
        "w" => FlashKind::Warning,
        _ => FlashKind::Info,
    };
    let text: String = get("t")?.chars().take(300).collect();
    Some(Flash { kind, text })
}

/// 303 See Other to `location`, with a message shown once on the next page.
pub fn redirect_with_flash(
    settings: &Settings,
    location: &str,
    kind: FlashKind,
    text: &str,
) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .cookie(cookie(settings, FLASH_COOKIE, encode_flash(kind, text)))
        .finish()
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn flashes_survive_the_cookie_round_trip() {
        let f = decode_flash(&encode_flash(FlashKind::Success, "Saved; 3 items & more")).unwrap();
        assert_eq!(f.kind, FlashKind::Success);
        assert_eq!(f.text, "Saved; 3 items & more");
        assert!(decode_flash("garbage").is_none());
    }
}
