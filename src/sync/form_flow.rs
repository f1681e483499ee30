//! The flow of a page form that makes an operation: posted, answered (a redirect, or JSON for a
//! replay) or — refused — shown again with its messages and the refusal's status.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::forms::{form_errors, respond, submit, Posted};
use super::operation::{FieldError, OpResult};
use crate::auth::principal::Principal;
use crate::ui::form::FormFields;

/// Where to go after a create form: the new record, or the list it belongs to.
pub fn created_location(result: &OpResult, list: &str) -> String {
    match &result.server_id {
        Some(id) => format!("{list}/{id}"),
        None => list.to_string(),
    }
}

/// Where an applied form at a hub sends the person: the record it created, or a page.
pub enum Then<'a> {
    /// `list/<record id>` when the operation created one, else `list`.
    Record(&'a str),
    Page(&'a str),
}

/// What a form posted at a hub comes to: the answer to send (a redirect, or JSON for a
/// replay), or — refused — the user's hub and why, to show the form again with.
pub enum Answer {
    Done(HttpResponse),
    Again(crate::auth::scope::Hub, Refused),
}

impl Answer {
    /// The answer to send, or — refused — the form's page at the user's hub (`page(hub,
    /// errors)`), shown again with the messages and the refusal's status.
    pub async fn or_show<F>(
        self,
        page: impl FnOnce(crate::auth::scope::Hub, Vec<FieldError>) -> F,
    ) -> Result<HttpResponse, crate::error::AppError>
    where
        F: std::future::Future<Output = Result<HttpResponse, crate::error::AppError>>,
    {
        match self {
            Answer::Done(res) => Ok(res),
            Answer::Again(hub, refused) => refused.show(|errors| page(hub, errors)).await,
        }
    }
}

/// A refused page form, to be shown again: the messages, and the status its refusal answers
/// with in every channel (`RefusalCode::status`: 409 for a clash with the record's state, 403,
/// 404, 402), or 422 for entries to correct.
pub struct Refused {
    pub errors: Vec<FieldError>,
    pub status: StatusCode,
}

impl Refused {
    fn of(result: &OpResult) -> Refused {
        Refused {
            errors: form_errors(result),
            status: if result.errors.is_empty() {
                super::kind::RefusalCode::status(result.code)
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
        }
    }

    /// The form's page, shown again with the messages, answered with the refusal's status.
    pub async fn show<F>(
        self,
        page: impl FnOnce(Vec<FieldError>) -> F,
    ) -> Result<HttpResponse, crate::error::AppError>
    where
        F: std::future::Future<Output = Result<HttpResponse, crate::error::AppError>>,
    {
        let mut res = page(self.errors).await?;
        *res.status_mut() = self.status;
        Ok(res)
    }

    /// `show` for a page rendered without waiting.
    pub fn show_now(
        self,
        page: impl FnOnce(Vec<FieldError>) -> Result<HttpResponse, crate::error::AppError>,
    ) -> Result<HttpResponse, crate::error::AppError> {
        let mut res = page(self.errors)?;
        *res.status_mut() = self.status;
        Ok(res)
    }
}

/// What a posted page form needs of its request: the state, the signed-in user and the request.
pub type PostedBy<'a> = (
    &'a crate::state::AppState,
    &'a crate::auth::extract::CurrentUser,
    &'a HttpRequest,
);

/// The one flow of every page form that makes an operation: it goes through the pipeline, and
/// the result is answered (`respond`: a redirect, or JSON for a replay) or — refused — the
/// form is to be shown again with these errors.
pub async fn post(
    (state, user, req): PostedBy<'_>,
    form: &FormFields,
    posted: Posted,
    then: Then<'_>,
    done: impl FnOnce(&OpResult) -> String,
) -> Result<Result<HttpResponse, Refused>, crate::error::AppError> {
    let result = submit(state, user, req, form, posted).await?;
    let location = match then {
        Then::Record(list) => created_location(&result, list),
        Then::Page(page) => page.to_string(),
    };
    Ok(
        match respond(req, &state.settings, &result, &location, &done(&result)) {
            Some(res) => Ok(res),
            None => Err(Refused::of(&result)),
        },
    )
}

/// `post` for a form at a hub: shown again only at one of the user's own hubs.
pub async fn post_at_hub(
    by: PostedBy<'_>,
    form: &FormFields,
    (hub_id, posted): (i64, Posted),
    then: Then<'_>,
    done: impl FnOnce(&OpResult) -> String,
) -> Result<Answer, crate::error::AppError> {
    Ok(match post(by, form, posted, then, done).await? {
        Ok(res) => Answer::Done(res),
        Err(refused) => Answer::Again(own_hub(by.1, hub_id)?, refused),
    })
}

/// The hub to show a refused form again at: only one of the user's own; elsewhere the
/// refusal is all they get.
pub fn own_hub(
    user: &Principal,
    hub_id: i64,
) -> Result<crate::auth::scope::Hub, crate::error::AppError> {
    user.hub(hub_id)
        .cloned()
        .ok_or_else(|| crate::error::AppError::NotFound("There is no such hub among yours.".into()))
}
