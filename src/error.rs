//! The one application error type. Handlers return `AppError`; the response is rendered once,
//! by `web::errors`, as an HTML page for people or `application/problem+json` under `/api/`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("Sign in to continue.")]
    Unauthorized,
    #[error("The access token is invalid, expired or revoked.")]
    InvalidToken,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// PostgreSQL aborted the transaction to break a deadlock or a serialization conflict
    /// with another writer: running it again succeeds (the pipeline does, then says 503).
    #[error("The server is busy with other changes to the same records. Please try again.")]
    Contended(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// What a person or client is told about an error; attached to the response so the renderer
/// can choose HTML or problem+json by the request.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub title: &'static str,
    pub detail: String,
}

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    pub fn database_unavailable(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "database unavailable");
        AppError::ServiceUnavailable(
            "The database is not reachable right now. Please try again shortly.".into(),
        )
    }

    pub fn session_store(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "session store unavailable");
        AppError::ServiceUnavailable(
            "Sessions are unavailable right now. Please try again shortly.".into(),
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound("That record does not exist.".into()),
            // Input that slipped past validation but that the database itself refuses is still
            // the caller's bad input, not a server fault: say so instead of answering 500.
            Error::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                tracing::warn!(
                    constraint = info.constraint_name().unwrap_or(""),
                    "check constraint refused input"
                );
                AppError::Unprocessable("A value is out of the allowed range or format.".into())
            }
            // PostgreSQL broke a deadlock or a serialization conflict by aborting this
            // transaction: running it again succeeds.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                AppError::Contended(info.message().to_string())
            }
            Error::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                AppError::Contended(info.message().to_string())
            }
            // A pooled connection that died with the server (restart, failover): the pool no
            // longer pings on every checkout, so the first use of such a connection lands here.
            // The request is refused whole (its transaction never committed); retrying works.
            Error::DatabaseError(_, ref info) if is_connection_lost(&e) => {
                AppError::database_unavailable(info.message())
            }
            Error::DatabaseError(_, info) if info.message().contains("invalid byte sequence") => {
                AppError::BadRequest("Text may not contain NUL characters or invalid UTF-8.".into())
            }
            other => AppError::Internal(other.into()),
        }
    }
}

pub fn title_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Sign in required",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Request too large",
        415 => "Unsupported media type",
        422 => "Invalid input",
        429 => "Too many requests",
        503 => "Service unavailable",
        s if s >= 500 => "Something went wrong",
        _ => "Request failed",
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthorized | AppError::InvalidToken => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::ServiceUnavailable(_) | AppError::Contended(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            AppError::Internal(e) => {
                // The chain goes to the log (with the request id); the user gets a reference.
                tracing::error!(error = ?e, "internal error");
                "An unexpected error happened. It has been logged; please quote the reference below if you report it.".to_string()
            }
            other => other.to_string(),
        };
        let mut res = HttpResponse::new(status);
        if matches!(self, AppError::Unauthorized | AppError::InvalidToken) {
            res.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer realm=\"outpost\""),
            );
        }
        if matches!(
            self,
            AppError::ServiceUnavailable(_) | AppError::Contended(_)
        ) {
            // The outage is expected to be short (a restart, a failover): say when to retry.
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        res.extensions_mut().insert(ErrorInfo {
            title: title_for(status),
            detail,
        });
        res
    }
}

/// Whether a database error says the connection itself is gone (a restart, a failover), not
/// that the statement was wrong.
pub fn is_connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("terminating connection")
                || m.contains("server closed the connection")
                || m.contains("no connection to the server")
                || m.contains("connection to server")
        }
        _ => false,
    }
}

/// An RFC 9457 problem document, as every error of the API is answered.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[schema(example = "about:blank")]
    pub r#type: String,
    #[schema(example = "Not found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    pub detail: String,
    pub instance: Option<String>,
}

/// The API's error answers as reusable OpenAPI responses, one per status, each an RFC 9457
/// problem document: an endpoint lists the ones it can give (`responses(…, problems::NotFound)`)
/// instead of spelling the problem out again.
pub mod problems {
    use super::Problem;

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 400,
        description = "The request could not be read",
        content_type = "application/problem+json"
    )]
    pub struct BadRequest(pub Problem);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 401,
        description = "No valid bearer token or session",
        content_type = "application/problem+json"
    )]
    pub struct Unauthorized(pub Problem);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 403,
        description = "The caller's role or scope does not allow it",
        content_type = "application/problem+json"
    )]
    pub struct Forbidden(pub Problem);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 404,
        description = "No such record among the caller's",
        content_type = "application/problem+json"
    )]
    pub struct NotFound(pub Problem);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 409,
        description = "It clashes with the record's state",
        content_type = "application/problem+json"
    )]
    pub struct Conflict(pub Problem);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 422,
        description = "The values were refused, field by field",
        content_type = "application/problem+json"
    )]
    pub struct Unprocessable(pub Problem);
}
