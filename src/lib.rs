//! Outpost: an offline-first field-operations server.

pub mod accounts;
pub mod admin_jobs;
pub mod audit;
pub mod auth;
pub mod badges;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod hubs;
pub mod inventory;
pub mod jobs;
pub mod kinds;
pub mod live;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod redis_conn;
pub mod sales;
pub mod schema;
pub mod startup;
pub mod state;
pub mod sync;
pub mod task_health;
pub mod telemetry;
pub mod ui;
pub mod warehouse;
pub mod web;
pub mod worker;
pub mod zoho_sync;

/// Every route of the application. Each domain module mounts its own.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    web::configure(cfg);
    accounts::configure(cfg);
    hubs::pages::configure(cfg);
    hubs::work::configure(cfg);
    inventory::intake_pages::configure(cfg);
    inventory::adjust_pages::configure(cfg);
    inventory::distribution_pages::configure(cfg);
    inventory::needs_pages::configure(cfg);
    inventory::transfer_pages::configure(cfg);
    inventory::actions::configure(cfg);
    hubs::admin::configure(cfg);
    hubs::customer_admin::configure(cfg);
    sync::api::configure(cfg);
    catalog::api::configure(cfg);
    warehouse::api::configure(cfg);
    openapi::configure(cfg);
    catalog::pages::configure(cfg);
    // Before the variant pages: `/catalog/variants/new` is not a SKU.
    catalog::manage_pages::configure(cfg);
    catalog::variant_pages::configure(cfg);
    warehouse::configure(cfg);
    admin_jobs::configure(cfg);
    sync::review::configure(cfg);
    sales::configure(cfg);
    badges::configure(cfg);
    live::configure(cfg);
}
