//! What every page's frame needs: who is signed in, where they may go, and messages to show.
//! Each page template struct carries a `Layout`; `templates/base.html` renders it.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::ui::assets;

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavItem>,
    pub flashes: Vec<Flash>,
    pub csrf_token: String,
    /// What the user typed into a form that was refused: shown again instead of the defaults.
    pub echo: FormEcho,
}

/// The values of a refused form, for templates to put back into its fields. Hidden operation
/// fields (op id, envelope, CSRF token, originals) are never echoed: a retry is a new attempt
/// against the record as it is now.
#[derive(Clone, Debug, Default)]
pub struct FormEcho(pub Vec<(String, String)>);

impl FormEcho {
    const NOT_ECHOED: [&'static str; 7] = [
        "csrf_token",
        "op_id",
        "envelope",
        "record_id",
        "base_version",
        "captured_at",
        "device_id",
    ];

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        FormEcho(
            pairs
                .into_iter()
                .filter(|(k, _)| !Self::NOT_ECHOED.contains(&k.as_str()) && !k.starts_with("orig_"))
                .collect(),
        )
    }

    /// The values of a posted form, to show it again after a refusal.
    pub fn of(form: &crate::ui::form::FormFields) -> Self {
        Self::from_pairs(form.pairs().iter().cloned())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The typed value of a field, or the page's default when the form was not refused.
    pub fn value_or(&self, name: &str, default: impl std::fmt::Display) -> String {
        self.get(name)
            .map(str::to_string)
            .unwrap_or_else(|| default.to_string())
    }

    /// A per-line quantity field (`qty_<line_no>`).
    pub fn line_qty(&self, line_no: &i32, default: impl std::fmt::Display) -> String {
        self.value_or(&format!("qty_{line_no}"), default)
    }

    /// Whether a select's option (or a radio) was the one chosen.
    pub fn chose(&self, name: &str, value: impl std::fmt::Display) -> bool {
        self.get(name) == Some(value.to_string().as_str())
    }

    /// The refused entry a resend corrects, given back to the form of the kind that was refused
    /// (not to the page's other forms): a correction refused again keeps what it corrects, so
    /// the next attempt that applies still closes the first refusal.
    pub fn corrects_for(&self, kind: &str) -> Option<&str> {
        if self.get("op_kind") != Some(kind) {
            return None;
        }
        self.get("corrects")
            .filter(|id| uuid::Uuid::parse_str(id).is_ok())
    }

    pub fn to_fields(&self) -> crate::ui::form::FormFields {
        crate::ui::form::FormFields::from_pairs(self.0.clone())
    }
}

/// The header's summary of the signed-in user.
#[derive(Clone, Debug)]
pub struct UserBadge {
    /// The signed-in user's id: the page script sends only this user's queued entries.
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role_label: String,
    pub hub_label: String,
    /// Counts a location's stock (the hub pages' Counts tab is shown to them alone).
    pub counts_stock: bool,
}

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Clone, Debug)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    /// A note for the page, in words.
    pub fn info(text: String) -> Self {
        Flash {
            kind: FlashKind::Info,
            text,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
    Info,
    Warning,
}

impl FlashKind {
    pub fn css(&self) -> &'static str {
        match self {
            FlashKind::Success => "flash-success",
            FlashKind::Error => "flash-error",
            FlashKind::Info => "flash-info",
            FlashKind::Warning => "flash-warning",
        }
    }
    /// Errors interrupt a screen reader; the rest wait their turn.
    pub fn role(&self) -> &'static str {
        match self {
            FlashKind::Error => "alert",
            _ => "status",
        }
    }
}

impl Layout {
    pub fn new(title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            ..Default::default()
        }
    }

    pub fn with_flash(mut self, kind: FlashKind, text: impl Into<String>) -> Self {
        self.flashes.push(Flash {
            kind,
            text: text.into(),
        });
        self
    }

    pub fn css_url(&self) -> &'static str {
        assets::url("app.css")
    }
    pub fn htmx_url(&self) -> &'static str {
        assets::url("htmx.min.js")
    }
    pub fn htmx_sse_url(&self) -> &'static str {
        assets::url("htmx-sse.js")
    }
    pub fn icon_url(&self) -> &'static str {
        assets::url("icon.svg")
    }
    pub fn store_url(&self) -> &'static str {
        assets::url("store.js")
    }
    pub fn forms_url(&self) -> &'static str {
        assets::url("forms.js")
    }
    pub fn offline_url(&self) -> &'static str {
        assets::url("offline.js")
    }
    /// When the page was rendered: shown as "last synced at" when it is later served offline.
    pub fn rendered_at(&self) -> String {
        chrono::Utc::now().to_rfc3339()
    }
}

/// Renders a template as an HTML response with the given status.
pub fn render_with_status(
    template: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let body = template.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

pub fn render(template: &impl Template) -> Result<HttpResponse, AppError> {
    render_with_status(template, StatusCode::OK)
}

/// `render` for a page no browser or proxy may keep (a secret shown once, a card's dump, counts
/// that change with every entry).
pub fn render_unkept(template: &impl Template) -> Result<HttpResponse, AppError> {
    let mut res = render(template)?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
