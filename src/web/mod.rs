//! The web shell: layout, error pages, static assets, health checks and the start page.

pub mod assets;
pub mod chart;
pub mod csv_export;
pub mod errors;
pub mod form;
pub mod health;
pub mod home;
pub mod layout;
pub mod offline;
pub mod page;
pub mod pager;
pub mod readable;
pub mod sorting;
pub mod trends;
pub mod waiting;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    health::configure(cfg);
    home::configure(cfg);
    offline::configure(cfg);
}

/// The highest page number a list accepts; beyond it a list is simply empty (and no arithmetic
/// on page numbers can overflow).
pub const MAX_PAGE: i64 = 1_000_000;
