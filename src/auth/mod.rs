//! Users, passwords, roles and permissions, sessions, CSRF, API tokens, and the extractors
//! that enforce role and scope on every handler.

pub mod costs;
pub mod csrf;
pub mod extract;
pub mod flags;
pub mod middleware;
pub mod password;
pub mod permissions;
pub mod principal;
pub mod roles;
pub mod scope;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod users;
