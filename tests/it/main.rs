//! Integration tests against real PostgreSQL and Redis. One binary (faster to link than one
//! per file); each module covers one area.

mod common;
mod customers_admin;

mod access_matrix;
mod adjustments;
mod audit_log;
mod auth;
mod badge_copies;
mod badge_trust;
mod badges;
mod browser;
mod cached_reads;
mod catalog_pages;
mod cli;
mod demo_world;
mod fake_zoho;
mod faults;
mod hardening;
mod hub_pages;
mod item_pages;
mod launcher;
mod live;
mod long_lists;
mod migrations;
mod nfc;
mod offline;
mod offline_engines;
mod offline_hardening;
mod outbox_retention;
mod pipeline;
mod query_budget;
mod sales;
mod sales_browser;
mod sales_cart;
mod sales_flags;
mod serial_transfers;
mod stock_count;
mod stock_invariants;
mod stock_truth;
mod ui_forms;
mod warehouse_api;
mod web_shell;
mod workers_over_time;
mod zoho;
mod zoho_budget;
