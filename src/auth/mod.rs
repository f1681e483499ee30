//! Users, passwords and roles.

pub mod password;
pub mod roles;
pub mod users;
