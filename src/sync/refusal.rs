//! Why an operation was refused: the kinds' own words (`Refusal`) and the one vocabulary every
//! channel answers with (`RefusalCode`).

use serde_json::Value;

/// Why an operation was not applied.
#[derive(Debug)]
pub enum Refusal {
    Rejected(String),
    /// The record the operation names does not exist (the API answers 404).
    NotFound(String),
    /// The operation clashes with the record's state: a serial already taken, a transition not
    /// allowed from the current status (the API answers 409).
    Clash(String),
    /// Role or scope does not allow it (the API answers 403).
    Forbidden(String),
    /// The customer's copy quota is used up (the API answers 402, as the badge design says).
    QuotaExhausted(String),
    /// A concurrent edit touched the same fields: goes to the review queue.
    Conflict {
        reason: String,
        server_state: Value,
    },
    /// Not the operation's fault: the transaction fails and the client may retry.
    Database(diesel::result::Error),
}

/// Why an operation was refused, in the one vocabulary every channel answers with: the form's
/// page, the batch's JSON (`OpResult::code`) and the REST problem's status (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The record the operation names does not exist.
    NotFound,
    /// The operation clashes with the record's state.
    Clash,
    /// Role or scope does not allow it.
    Forbidden,
    /// The customer's copy quota is used up.
    Quota,
}

impl RefusalCode {
    /// The code as the operation row keeps it (`operations.refusal_code`) and the JSON says it.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::NotFound => "not_found",
            RefusalCode::Clash => "clash",
            RefusalCode::Forbidden => "forbidden",
            RefusalCode::Quota => "quota",
        }
    }

    /// A kept code read back (`as_str`).
    pub fn parse(code: &str) -> Option<RefusalCode> {
        [Self::NotFound, Self::Clash, Self::Forbidden, Self::Quota]
            .into_iter()
            .find(|c| c.as_str() == code)
    }

    /// The HTTP status a refusal with this code is answered with (422 without a code).
    pub fn status(code: Option<RefusalCode>) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match code {
            Some(RefusalCode::NotFound) => StatusCode::NOT_FOUND,
            Some(RefusalCode::Clash) => StatusCode::CONFLICT,
            Some(RefusalCode::Forbidden) => StatusCode::FORBIDDEN,
            Some(RefusalCode::Quota) => StatusCode::PAYMENT_REQUIRED,
            None => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        Refusal::Database(e)
    }
}
