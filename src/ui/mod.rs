//! What every page is made with: the layout, forms, lists and their pagers, charts, CSV exports,
//! readable values, error pages and the static assets. Features build their pages from these;
//! the pages that compose several features (the dashboard, the audit log) are in `web`.

pub mod assets;
pub mod chart;
pub mod csv_export;
pub mod date_range;
pub mod errors;
pub mod filters;
pub mod form;
pub mod keyset;
pub mod layout;
pub mod page;
pub mod pager;
pub mod readable;
pub mod sorting;

/// The highest page number a list accepts; beyond it a list is simply empty (and no arithmetic
/// on page numbers can overflow).
pub const MAX_PAGE: i64 = 1_000_000;
