//! The OpenAPI 3 document of the JSON API, generated from the handlers' annotations, and a
//! browsable page of it rendered on the server (works offline, no third-party assets).

use actix_web::{web, HttpResponse};
use askama::Template;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::AppError;
pub use crate::error::Problem;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

#[derive(OpenApi)]
#[openapi(
    info(title = "Outpost API", version = "1", description = "Tokens, hubs and stock, the offline sync API, the catalog and serialized warehouse inventory (the USAV API). Authenticate with a bearer token from POST /api/v1/token (OAuth 2.0 password grant). Writes accept an Idempotency-Key header (a UUID): a repeat returns the first result."),
    paths(
        crate::accounts::api::token,
        crate::accounts::api::revoke,
        crate::accounts::api::me,
        crate::hubs::pages::api_list,
        crate::hubs::pages::api_stock,
        crate::sync::api::push,
        crate::sync::pull::pull,
        crate::web::offline::report,
        crate::catalog::api::create_family,
        crate::catalog::api::create_identity,
        crate::catalog::api::get_identity,
        crate::catalog::api::create_variant,
        crate::catalog::api::get_variant,
        crate::catalog::api::patch_variant,
        crate::warehouse::api::receive,
        crate::warehouse::api::move_item,
        crate::warehouse::api_reads::list,
        crate::warehouse::api_reads::get_item,
        crate::warehouse::api_reads::by_serial,
        crate::warehouse::api_reads::audit,
        crate::warehouse::api_reads::transactions,
        crate::warehouse::api::patch_item,
        crate::warehouse::api::delete_item,
        crate::warehouse::api::reserve,
        crate::warehouse::api::sell,
        crate::warehouse::api_reads::summary,
        crate::warehouse::api_reads::total_value,
        crate::badges::station_jobs::request_rest,
        crate::badges::station_jobs::next_job,
        crate::badges::station_results::report,
        crate::accounts::api::station_me,
    ),
    components(schemas(Problem, crate::badges::station_jobs::CopyRequestBody, crate::badges::station_jobs::ResultReport, crate::badges::station_jobs::JobOffer, crate::badges::station_jobs::ReportAnswer)),
    modifiers(&Security),
    tags((name = "auth", description = "OAuth 2.0 tokens and the caller"), (name = "hubs", description = "Hubs in the caller's scope and their stock"), (name = "sync", description = "Offline operations: push, pull, device reports"), (name = "catalog", description = "Families, identities (UPIS-H) and variants (SKUs)"), (name = "inventory", description = "Serialized items, moves and the transaction log"), (name = "stations", description = "NFC stations (station token + X-Station-Code): copies to make, their results"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Access token from POST /api/v1/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("outpost_session"))),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/openapi.json").get(spec))
        .service(web::resource("/api/docs").get(docs));
}

async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document().to_pretty_json().unwrap_or_default())
}

pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub statuses: String,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    layout: Layout,
    endpoints: Vec<Endpoint>,
}

/// The API at a glance for people; the full schemas are in /api/openapi.json.
async fn docs(page: Page) -> Result<HttpResponse, AppError> {
    let doc = serde_json::to_value(document()).map_err(AppError::internal)?;
    let mut endpoints = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let mut statuses: Vec<&String> = op["responses"]
                    .as_object()
                    .map(|r| r.keys().collect())
                    .unwrap_or_default();
                statuses.sort();
                endpoints.push(Endpoint {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: op["summary"]
                        .as_str()
                        .or(op["description"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    statuses: statuses
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    render(&DocsPage {
        layout: page.layout("API"),
        endpoints,
    })
}
