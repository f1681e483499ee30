//! What the browser needs to work offline: the service worker (served from the site root so it
//! controls every page, never cached by HTTP so a deploy reaches devices at once), the web app
//! manifest, and the endpoint where devices report their queue.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::registry;
use crate::ui::assets;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sw.js").get(service_worker))
        .service(web::resource("/manifest.webmanifest").get(manifest))
        .service(web::resource("/api/v1/devices/report").post(report))
        .service(web::resource("/offline/working-set").get(working_set));
}

/// Open records per kind and hub stored for offline use; older ones are opened online.
const OPEN_RECORDS: i64 = 50;

/// The pages a signed-in user needs offline: the dashboard, their Sync Issues, and at each hub
/// of theirs the hub page, the lists they use, the forms they may fill in and the open records
/// they may act on. The service worker stores them after sign-in and after each sync; each page
/// is fetched (and so checked for scope) like any visit.
async fn working_set(
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    use crate::auth::permissions::Permission as P;
    use crate::schema::{distributions, needs_lists, sales, transfers};
    use diesel::prelude::*;
    let mut pages = vec!["/".to_string(), "/sync-issues".to_string()];
    if !user.can(P::InventoryRead) {
        return Ok(
            HttpResponse::Ok().json(serde_json::json!({ "user_id": user.user_id, "pages": pages }))
        );
    }
    let hubs = user.scope.hubs.clone();
    let hub_ids = user.scope.hub_ids();
    // Each kind's offline form names the pages it needs (`Spec::form`).
    for hub in &hubs {
        let base = format!("/hubs/{}", hub.id);
        pages.push(base.clone());
        for (kind, form) in registry::forms() {
            let writes = user.can(kind.permission()) && (form.at_main_hub || hub.kind != "main");
            let wanted = form
                .list
                .into_iter()
                .chain(form.pages.iter().copied().filter(|_| writes));
            for page in wanted {
                let url = match page.starts_with('/') {
                    true => page.to_string(),
                    false => format!("{base}/{page}"),
                };
                if !pages.contains(&url) {
                    pages.push(url);
                }
            }
        }
    }
    let selling = user.can(P::SalesCreate);
    let rep_customers =
        (user.role == crate::auth::roles::Role::SalesRep).then(|| user.scope.customer_ids.clone());
    let open = crate::db::run(&state.db, move |conn| {
        let mut open: Vec<String> = Vec::new();
        let drafts: Vec<(i64, uuid::Uuid)> = distributions::table
            .filter(distributions::hub_id.eq_any(&hub_ids))
            .filter(distributions::status.eq("draft"))
            .order(distributions::created_at.desc())
            .limit(OPEN_RECORDS)
            .select((distributions::hub_id, distributions::id))
            .load(conn)?;
        open.extend(
            drafts
                .into_iter()
                .map(|(h, id)| format!("/hubs/{h}/distributions/{id}")),
        );
        let lists: Vec<(i64, uuid::Uuid)> = needs_lists::table
            .filter(needs_lists::hub_id.eq_any(&hub_ids))
            .filter(needs_lists::status.eq_any(["draft", "submitted"]))
            .order(needs_lists::updated_at.desc())
            .limit(OPEN_RECORDS)
            .select((needs_lists::hub_id, needs_lists::id))
            .load(conn)?;
        open.extend(
            lists
                .into_iter()
                .map(|(h, id)| format!("/hubs/{h}/needs-lists/{id}")),
        );
        let moving: Vec<(i64, i64, uuid::Uuid)> = transfers::table
            .filter(
                transfers::from_hub_id
                    .eq_any(&hub_ids)
                    .or(transfers::to_hub_id.eq_any(&hub_ids)),
            )
            .filter(transfers::status.eq_any(["requested", "approved", "dispatched"]))
            .order(transfers::created_at.desc())
            .limit(OPEN_RECORDS)
            .select((transfers::from_hub_id, transfers::to_hub_id, transfers::id))
            .load(conn)?;
        for (from, to, id) in moving {
            // Shown at whichever end is the user's (both, when they have both hubs).
            for hub in [from, to].into_iter().filter(|h| hub_ids.contains(h)) {
                open.push(format!("/hubs/{hub}/transfers/{id}"));
            }
        }
        // Open carts: a sales rep's for their own customers.
        if selling {
            let mut carts = sales::table
                .filter(sales::hub_id.eq_any(&hub_ids))
                .filter(sales::status.eq("draft"))
                .into_boxed();
            if let Some(customers) = rep_customers {
                carts = carts.filter(sales::customer_id.eq_any(customers));
            }
            let carts: Vec<(i64, uuid::Uuid)> = carts
                .order(sales::created_at.desc())
                .limit(OPEN_RECORDS)
                .select((sales::hub_id, sales::id))
                .load(conn)?;
            open.extend(
                carts
                    .into_iter()
                    .map(|(h, id)| format!("/hubs/{h}/sales/{id}")),
            );
        }
        Ok(open)
    })
    .await?;
    pages.extend(open);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "user_id": user.user_id, "pages": pages })))
}

const SW_SOURCE: &str = include_str!("../../assets/sw.js");

/// The service worker with this build's asset URLs filled in.
pub fn service_worker_source() -> String {
    let precache: Vec<&str> = assets::all_urls().collect();
    let finalisable: Vec<&str> = registry::all()
        .iter()
        .filter(|k| k.finalisable_offline())
        .map(|k| k.name())
        .collect();
    SW_SOURCE
        .replace("__VERSION__", &assets::version())
        .replace(
            "__PRECACHE__",
            &serde_json::to_string(&precache).unwrap_or_default(),
        )
        .replace(
            "__FINALISABLE__",
            &serde_json::to_string(&finalisable).unwrap_or_default(),
        )
        .replace("__QUEUEABLE__", &registry::queueable_pattern())
        .replace("__STORE_URL__", assets::url("store.js"))
        .replace("__CSS_URL__", assets::url("app.css"))
        .replace("__OFFLINE_JS_URL__", assets::url("offline.js"))
}

async fn service_worker() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("Service-Worker-Allowed", "/"))
        .body(service_worker_source())
}

async fn manifest() -> HttpResponse {
    let body = serde_json::json!({
        "name": "Outpost",
        "short_name": "Outpost",
        "description": "Field operations that keep working offline",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f8",
        "theme_color": "#0f4c5c",
        "icons": [{ "src": assets::url("icon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any" }],
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/manifest+json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body.to_string())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Report {
    device_id: String,
    /// The caller's operations the device still holds.
    pending_count: i32,
    /// How many operations the device created for the caller, in all.
    highest_seq: i64,
    /// How many of those the caller discarded on the device without sending them, in all.
    #[serde(default)]
    discarded_count: i64,
}

/// A device reports how many of the caller's operations it holds, created and discarded.
#[utoipa::path(post, path = "/api/v1/devices/report", tag = "sync", request_body = Report,
    responses(
        (status = 204, description = "noted"),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized),
    security(("bearer" = []), ("session" = [])))]
pub async fn report(
    user: CurrentUser,
    body: web::Json<Report>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    crate::sync::devices::report(
        &state,
        &user,
        &body.device_id,
        crate::sync::devices::QueueReport {
            pending: body.pending_count,
            created: body.highest_seq,
            discarded: body.discarded_count,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
