//! Users, passwords, roles and permissions, sessions, CSRF, API tokens, and the extractors
//! that enforce role and scope on every handler.

pub mod admin;
pub mod api;
pub mod costs;
pub mod csrf;
pub mod extract;
pub mod flags;
pub mod login;
pub mod middleware;
pub mod password;
pub mod permissions;
pub mod principal;
pub mod roles;
pub mod roles_page;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod users;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    login::configure(cfg);
    api::configure(cfg);
    admin::configure(cfg);
    roles_page::configure(cfg);
}
