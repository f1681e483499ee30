//! The top floor: the pages that compose several features — the dashboard, the audit log —,
//! what a browser needs to work offline (the service worker, the working set), health checks,
//! and the static assets' route.

pub mod audit_actions;
pub mod audit_log;
pub mod audit_objects;
pub mod health;
pub mod home;
pub mod home_parts;
pub mod metrics_page;
pub mod next_steps;
pub mod offline;
pub mod trends;
pub mod waiting;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::ui::assets::configure(cfg);
    health::configure(cfg);
    metrics_page::configure(cfg);
    home::configure(cfg);
    offline::configure(cfg);
    audit_log::configure(cfg);
}
