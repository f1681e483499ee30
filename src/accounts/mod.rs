//! The pages of accounts: signing in and out, the administration of users, and the roles page.
//! Who a user is and what they may do — sessions, roles, permissions, scope — is `auth`.

pub mod admin;
pub mod api;
pub mod login;
pub mod roles_page;
pub mod user_changes;
pub mod user_form;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    login::configure(cfg);
    api::configure(cfg);
    admin::configure(cfg);
    roles_page::configure(cfg);
}
