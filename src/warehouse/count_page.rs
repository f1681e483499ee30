//! The stock count page: a hub's location counted by scanning what is on it (offline-capable;
//! a count saved offline waits for a manager's review).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::{json, Value};

use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::perm;
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render_with_status, Layout};
use crate::ui::page::Page;

const KIND: &str = "stock.count";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hubs/{hub_id}/counts").get(form).post(count));
}

#[derive(Template)]
#[template(path = "warehouse/count.html")]
struct CountPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    location: String,
    serials: String,
    note: String,
    errors: Vec<FieldError>,
}

async fn form(
    access: HubAccess<perm::WarehouseReceive>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    show(&state, &page, &access, &access.hub, None, vec![])
}

fn show(
    state: &AppState,
    page: &Page,
    user: &crate::auth::principal::Principal,
    hub: &Hub,
    form: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let text = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    render_with_status(
        &CountPage {
            layout: page.layout(format!("Count a location · {}", hub.name)),
            hub: hub.clone(),
            section: "counts",
            meta: forms::create_meta(&state.settings, user, hub.id, KIND, form),
            location: text("location_code"),
            serials: text("serial_numbers"),
            note: text("note"),
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

/// The operation a count form stands for: one serial number per line (as a scanner types them).
pub fn posted(hub_id: i64, form: &FormFields) -> Posted {
    let serials: Vec<String> = form
        .text("serial_numbers")
        .split(['\n', '\r', ',', ' ', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let payload = json!({
        "count_id": form.text("record_id"),
        "hub_id": hub_id,
        "location_code": form.text("location_code").trim(),
        "serial_numbers": serials,
        "empty": form.text("empty") == "1",
        "note": Some(form.text("note")).filter(|n| !n.trim().is_empty()),
    });
    Posted::new(KIND, payload, Vec::new())
}

async fn count(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = path.into_inner().0;
    let here = format!("/hubs/{hub_id}/counts");
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Page(&here),
        |result| result.record.as_ref().map(summary).unwrap_or_default(),
    )
    .await?;
    answer
        .or_show(|hub, errors| async move { show(&state, &page, &user, &hub, Some(&form), errors) })
        .await
}

/// What a count changed, in a sentence: "A1-S2 counted: 12 in place; 2 now missing (SN-1, SN-2)."
fn summary(record: &Value) -> String {
    let named = |key: &str| -> Vec<String> {
        record[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut parts = vec![format!(
        "{} in place",
        record["confirmed"].as_u64().unwrap_or(0)
    )];
    for (key, words) in [
        ("moved_here", "moved here"),
        ("found", "found again"),
        ("missing", "now missing"),
        (
            "reserved_not_found",
            "reserved but not found (a sale holds them)",
        ),
    ] {
        let serials = named(key);
        if !serials.is_empty() {
            parts.push(format!(
                "{} {words} ({})",
                serials.len(),
                serials.join(", ")
            ));
        }
    }
    format!(
        "{} counted: {}.",
        record["location_code"].as_str().unwrap_or_default(),
        parts.join("; ")
    )
}
