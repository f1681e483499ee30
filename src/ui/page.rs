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
use crate::ui::layout::{Flash, FlashKind, FormEcho, Layout, NavItem, UserBadge};

/// (path, label, permission needed) of every top-level page, in menu order.
const NAV: [(&str, &str, Permission); 17] = [
    ("/", "Dashboard", Permission::DashboardView),
    ("/hubs", "Hubs & stock", Permission::InventoryRead),
    ("/catalog", "Catalog", Permission::CatalogRead),
    ("/warehouse/lookup", "Warehouse", Permission::InventoryRead),
    ("/sales", "Sales", Permission::SalesRead),
    ("/orders", "My orders", Permission::OwnOrdersView),
    ("/badges", "Badges", Permission::BadgeCopyRequest),
    (
        "/badges/copies",
        "Badge copies",
        Permission::BadgeCopiesRead,
    ),
    ("/review", "Review queue", Permission::ReviewResolve),
    ("/sync-issues", "Sync Issues", Permission::DashboardView),
    ("/audit", "Audit log", Permission::AuditRead),
    ("/admin/users", "Users", Permission::UsersManage),
    (
        "/admin/organisations",
        "Organisations & hubs",
        Permission::HubsManage,
    ),
    ("/admin/customers", "Customers", Permission::HubsManage),
    (
        "/admin/stations",
        "NFC stations",
        Permission::StationsManage,
    ),
    ("/admin/roles", "Roles", Permission::RolesView),
    ("/admin/jobs", "Jobs", Permission::JobsManage),
];

pub struct Page {
    pub user: Option<Arc<Principal>>,
    pub csrf_token: String,
    flash: Option<Flash>,
    echo: FormEcho,
    path: String,
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Cookies first: parsing them may write to the extensions, which must not be borrowed.
        let (flash, echo) = req
            .cookie(FLASH_COOKIE)
            .and_then(|c| decode_flash(c.value()))
            .unzip();
        // A flash without typed values (a notice) leaves room for what the address names.
        let echo = match echo {
            Some(typed) if !typed.is_empty() => Some(typed),
            other => correcting(req.query_string()).or(other),
        };
        let ext = req.extensions();
        ready(Ok(Page {
            user: ext.get::<Arc<Principal>>().cloned(),
            csrf_token: ext
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            flash,
            echo: echo.unwrap_or_default(),
            path: req.path().to_string(),
        }))
    }
}

/// A form opened from a Sync Issues row ("Enter it again", `?corrects=<op id>&kind=<kind>`):
/// its hidden fields name the refused entry it corrects, for the form of that kind.
fn correcting(query: &str) -> Option<FormEcho> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let corrects = get("corrects").filter(|v| uuid::Uuid::parse_str(v).is_ok())?;
    let kind = get("kind")?;
    Some(FormEcho(vec![
        ("corrects".into(), corrects),
        ("op_kind".into(), kind),
    ]))
}

impl Page {
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        let mut layout = Layout::new(title);
        layout.csrf_token = self.csrf_token.clone();
        layout.flashes.extend(self.flash.clone());
        layout.echo = self.echo.clone();
        if let Some(user) = &self.user {
            layout.user = Some(UserBadge {
                user_id: user.user_id,
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                role_label: user.role.label().into(),
                hub_label: user.hub_label(),
                counts_stock: user.can(Permission::WarehouseReceive),
            });
            layout.nav = NAV
                .iter()
                .filter(|(href, _, permission)| {
                    // Those who request copies reach their history from Badges.
                    let through_badges =
                        *href == "/badges/copies" && user.can(Permission::BadgeCopyRequest);
                    user.can(*permission) && !through_badges
                })
                .map(|(href, label, _)| NavItem {
                    href,
                    label,
                    current: self.is_current(href),
                })
                .collect();
        }
        layout
    }

    /// What the user typed into the form that was refused just before this page.
    pub fn echo(&self) -> &FormEcho {
        &self.echo
    }

    fn is_current(&self, href: &str) -> bool {
        // A hub's sales pages belong to Sales, not to the hub's stock pages.
        let hub_sales = self.path.starts_with("/hubs/") && self.path.contains("/sales");
        if hub_sales {
            return href == "/sales";
        }
        if href == "/" {
            self.path == "/"
        } else {
            self.path == href || self.path.starts_with(&format!("{href}/"))
        }
    }
}

/// A cookie holds about 4 KB; a form too large to echo comes back with its defaults.
const MAX_ECHO: usize = 3000;

fn encode_flash(kind: FlashKind, text: &str, echo: &FormEcho) -> String {
    let k = match kind {
        FlashKind::Success => "s",
        FlashKind::Error => "e",
        FlashKind::Info => "i",
        FlashKind::Warning => "w",
    };
    let head = [
        ("k".to_string(), k.to_string()),
        ("t".to_string(), text.to_string()),
    ];
    let fields = echo.0.iter().map(|(n, v)| (format!("f.{n}"), v.clone()));
    let full = serde_urlencoded::to_string(head.iter().cloned().chain(fields).collect::<Vec<_>>())
        .unwrap_or_default();
    if full.len() <= MAX_ECHO {
        full
    } else {
        serde_urlencoded::to_string(head).unwrap_or_default()
    }
}

fn decode_flash(value: &str) -> Option<(Flash, FormEcho)> {
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
    let echo = FormEcho::from_pairs(
        pairs
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("f.").map(|k| (k.to_string(), v.clone()))),
    );
    Some((Flash { kind, text }, echo))
}

/// 303 See Other to `location`, with a message shown once on the next page.
pub fn redirect_with_flash(
    settings: &Settings,
    location: &str,
    kind: FlashKind,
    text: &str,
) -> HttpResponse {
    redirect_with_echo(settings, location, kind, text, FormEcho::default())
}

/// Like `redirect_with_flash`, after a refused form: the next page shows the form again with
/// what the user typed (see `FormEcho`).
pub fn redirect_with_echo(
    settings: &Settings,
    location: &str,
    kind: FlashKind,
    text: &str,
    echo: FormEcho,
) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .cookie(cookie(
            settings,
            FLASH_COOKIE,
            encode_flash(kind, text, &echo),
        ))
        .finish()
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// The record a page's address names (`/hubs/{hub}/<what>s/{id}`): a 404 in words when the id
/// is not one ("There is no such transfer.").
pub fn record_id(text: &str, what: &str) -> Result<uuid::Uuid, crate::error::AppError> {
    text.parse()
        .map_err(|_| crate::error::AppError::not_found(format!("There is no such {what}.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn flashes_survive_the_cookie_round_trip() {
        let (f, echo) = decode_flash(&encode_flash(
            FlashKind::Success,
            "Saved; 3 items & more",
            &FormEcho::default(),
        ))
        .unwrap();
        assert_eq!(f.kind, FlashKind::Success);
        assert_eq!(f.text, "Saved; 3 items & more");
        assert!(echo.is_empty());
        assert!(decode_flash("garbage").is_none());
    }

    #[test]
    fn a_refused_form_comes_back_as_typed_without_its_operation_fields() {
        let posted = [
            ("qty_1", "38"),
            ("note", "a & b"),
            ("op_id", "x"),
            ("csrf_token", "t"),
            ("orig_notes", "o"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let cookie = encode_flash(FlashKind::Error, "Not done", &FormEcho::from_pairs(posted));
        let (_, echo) = decode_flash(&cookie).unwrap();
        assert_eq!(echo.line_qty(&1, 40), "38");
        assert_eq!(echo.value_or("note", ""), "a & b");
        assert_eq!(echo.value_or("op_id", "fresh"), "fresh");
        assert_eq!(echo.value_or("orig_notes", "server"), "server");
        // Too large for a cookie: the message still comes through.
        let big = FormEcho::from_pairs([("note".to_string(), "x".repeat(5000))]);
        let (f, echo) = decode_flash(&encode_flash(FlashKind::Error, "Not done", &big)).unwrap();
        assert_eq!(f.text, "Not done");
        assert!(echo.is_empty());
    }
}
