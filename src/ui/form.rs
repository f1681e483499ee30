//! Urlencoded form bodies with repeated fields (checkbox groups), which `web::Form` cannot read
//! into a struct. Handlers take `FormFields` and pick what they need.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::error::AppError;

const LIMIT: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        FormFields(pairs)
    }

    /// Reads an urlencoded body (a posted form, or one a device queued).
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        if body.len() > LIMIT {
            return Err(AppError::BadRequest("The form is too large.".into()));
        }
        serde_urlencoded::from_bytes(body)
            .map(FormFields)
            .map_err(|_| AppError::BadRequest("The form could not be read.".into()))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of a field, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    /// Every value of a repeated field, in order, untrimmed positions kept (for line rows).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of a repeated field that parses as an id; anything else is ignored.
    pub fn ids(&self, name: &str) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl FromRequest for FormFields {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let is_form = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        Box::pin(async move {
            if !is_form {
                return Err(AppError::BadRequest(
                    "Expected a form submission (application/x-www-form-urlencoded).".into(),
                ));
            }
            let body = body
                .await
                .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
            FormFields::parse(&body)
        })
    }
}
