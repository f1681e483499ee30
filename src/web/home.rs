//! The start page. Until someone signs in it sends them to the sign-in page.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::layout::{render, Layout};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(start)).service(web::resource("/login").get(login_form));
}

async fn start() -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", "/login")).finish()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    demo_logins: Vec<(&'static str, &'static str)>,
    demo_password: &'static str,
}

async fn login_form(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let demo = state.demo_mode;
    render(&LoginPage {
        layout: Layout::new("Sign in"),
        username: String::new(),
        demo_logins: if demo { crate::demo::seed::DEMO_LOGINS.to_vec() } else { Vec::new() },
        demo_password: crate::demo::seed::DEMO_PASSWORD,
    })
}
