//! The REST API's write endpoints are operations too: this turns a JSON request into an
//! operation (the `Idempotency-Key` header is its op id), runs the pipeline, and answers with
//! the status codes a REST client expects.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::kind::RefusalCode;
use super::operation::{OpStatus, Operation};
use super::pipeline;
use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Runs `kind` with `payload` for the signed-in caller. `created`: answer 201 when applied.
pub async fn run(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    kind: &str,
    payload: Value,
    created: bool,
) -> Result<HttpResponse, AppError> {
    let op_id = match req
        .headers()
        .get("Idempotency-Key")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Uuid::new_v4(),
        Some(key) => key.trim().parse().map_err(|_| {
            AppError::BadRequest("The Idempotency-Key header must be a UUID.".into())
        })?,
    };
    let op = Operation {
        op_id,
        kind: kind.to_string(),
        payload,
        base_version: None,
        captured_at: Utc::now(),
        device_id: None,
        offline: false,
        envelope: None,
        corrects: None,
    };
    let result = pipeline::submit(state, user.0.clone(), op).await?;
    let problem = |status: StatusCode, detail: String, extra: Value| {
        let mut body = json!({ "type": "about:blank", "title": crate::error::title_for(status), "status": status.as_u16(), "detail": detail, "instance": req.path(), "op_id": op_id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(body)
    };
    let reason = result.reason.clone().unwrap_or_default();
    Ok(match result.status {
        OpStatus::Applied => HttpResponse::build(if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        })
        .json(result.record.unwrap_or(Value::Null)),
        OpStatus::Duplicate => match result.record {
            Some(record) => HttpResponse::Ok()
                .insert_header(("Idempotent-Replayed", "true"))
                .json(record),
            // A refusal repeated has the first answer's status; anything else under a used
            // key (bad input, a conflict, a review) is a clash with that first use.
            None => problem(
                result
                    .code
                    .map_or(StatusCode::CONFLICT, |c| RefusalCode::status(Some(c))),
                format!("This Idempotency-Key was used before: {reason}"),
                json!({}),
            ),
        },
        OpStatus::PendingReview => HttpResponse::Accepted()
            .json(json!({ "op_id": op_id, "status": "pending_review", "reason": reason })),
        OpStatus::Conflict => problem(
            StatusCode::CONFLICT,
            reason,
            json!({ "server_state": result.server_state }),
        ),
        OpStatus::Rejected if !result.errors.is_empty() => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            reason,
            json!({ "errors": result.errors }),
        ),
        OpStatus::Rejected => problem(RefusalCode::status(result.code), reason, json!({})),
    })
}
