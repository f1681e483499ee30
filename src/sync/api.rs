//! The sync API: `POST /api/v1/sync` takes a device's queued operations (in order, each through
//! the pipeline, one result per operation); `GET /api/v1/sync/pull` (`pull`) gives the caller a
//! scoped picture of what changed since a moment.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::form_routes::{self, QueuedForm, Step};
use super::operation::OpStatus;
use super::operation::{FieldError, OpResult, Operation};
use super::{devices, forms, pipeline};
use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Operations accepted in one request.
pub const MAX_BATCH: usize = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/sync").post(push))
        .service(web::resource("/api/v1/sync/pull").get(super::pull::pull));
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PushBody {
    #[serde(default)]
    device_id: Option<String>,
    /// Operations the device still holds after this batch, and the highest sequence it created.
    #[serde(default)]
    pending_count: Option<i32>,
    #[serde(default)]
    highest_seq: Option<i64>,
    /// Operations the user discarded on the device without sending them, in all.
    #[serde(default)]
    discarded_count: Option<i64>,
    /// Operations in captured order: `{op_id, kind, payload, captured_at, base_version?, device_id?, offline?, envelope?}`,
    /// or a form the browser saved offline: `{form: {action, body}}` (the path it was posted to and
    /// its urlencoded fields, read as that form's page reads them; a request with the
    /// `X-Outpost-Replay` header may hold only these).
    #[schema(value_type = Vec<Object>)]
    operations: Vec<Value>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PushResults {
    /// One `{index, result}` per operation, in order; result is `{op_id, status, server_id?, reason?, server_state?, errors?}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    pub server_time: chrono::DateTime<Utc>,
}

/// Push a device's queued operations: each goes through the pipeline, in order.
#[utoipa::path(post, path = "/api/v1/sync", tag = "sync", request_body = PushBody,
    responses(
        (status = 200, body = PushResults),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized,
        crate::error::problems::Unprocessable),
    security(("bearer" = []), ("session" = [])))]
pub async fn push(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<PushBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    if body.operations.len() > MAX_BATCH {
        return Err(AppError::Unprocessable(format!(
            "at most {MAX_BATCH} operations per request; send the rest in another batch"
        )));
    }
    // A device replaying its queue proves itself with the replay header instead of a CSRF
    // token; it sends only the forms it saved, each checked against its capture envelope.
    let forms_only = forms::is_replay(&req);
    let mut items = Vec::with_capacity(body.operations.len());
    for raw in body.operations {
        items.push(read_item(raw, body.device_id.as_deref(), forms_only));
    }
    let turn = state.ingest.turn().await;
    let results = run_items(&state, &user, items).await?;
    drop(turn);
    let results: Vec<Value> = results
        .into_iter()
        .enumerate()
        .map(|(index, result)| json!({ "index": index, "result": result }))
        .collect();
    if let Some(device) = body.device_id.as_deref() {
        devices::report(
            &state,
            &user,
            device,
            devices::QueueReport {
                pending: body.pending_count.unwrap_or(0),
                created: body.highest_seq.unwrap_or(0),
                discarded: body.discarded_count.unwrap_or(0),
            },
        )
        .await?;
    }
    Ok(HttpResponse::Ok().json(PushResults {
        results,
        server_time: Utc::now(),
    }))
}

/// One item of a batch, read: its operations in order, or the answer that refuses it.
type Item = Result<Vec<Step>, Box<OpResult>>;

/// Reads an item: an operation, or (`{"form": {action, body}}`) a form a device queued.
fn read_item(raw: Value, device_id: Option<&str>, forms_only: bool) -> Item {
    if let Some(form) = raw.get("form") {
        let form: QueuedForm = serde_json::from_value(form.clone())
            .map_err(|e| unreadable(&raw, "form", &e.to_string()))?;
        return form_routes::resolve(&form);
    }
    if forms_only {
        return Err(unreadable(
            &raw,
            "operation",
            "a replay from the browser sends the forms it saved",
        ));
    }
    let mut op = serde_json::from_value::<Operation>(raw.clone())
        .map_err(|e| unreadable(&raw, "operation", &e.to_string()))?;
    if op.device_id.is_none() {
        op.device_id = device_id.map(str::to_string);
    }
    Ok(vec![Step::First(op)])
}

/// The answer to an item that could not be read. Without a readable op id there is nothing to
/// remember; the device is told which item by its place in the answer.
fn unreadable(raw: &Value, field: &str, message: &str) -> Box<OpResult> {
    let op_id = raw
        .get("op_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let message = message.split(" at line ").next().unwrap_or(message);
    Box::new(OpResult::invalid(
        op_id,
        vec![FieldError::new(field, message.to_string())],
    ))
}

/// Runs the items through the pipeline in order, in as few runs as their steps allow: a step
/// that waits for the one before it (`Then`) is sent only once that one was applied. One
/// result per item: its last step's.
async fn run_items(
    state: &AppState,
    user: &CurrentUser,
    items: Vec<Item>,
) -> Result<Vec<OpResult>, AppError> {
    let mut results: Vec<Option<OpResult>> = (0..items.len()).map(|_| None).collect();
    // Operations waiting to run, with the item each answers for.
    let mut run: Vec<(usize, Operation)> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let steps = match item {
            Ok(steps) => steps,
            Err(refused) => {
                results[index] = Some(*refused);
                continue;
            }
        };
        for step in steps {
            match step {
                Step::First(op) => run.push((index, op)),
                Step::Then(op) => {
                    flush(state, user, &mut run, &mut results).await?;
                    let saved = results[index].as_ref().is_some_and(|r| {
                        matches!(r.status, OpStatus::Applied | OpStatus::Duplicate)
                    });
                    if saved {
                        run.push((index, op));
                    }
                }
            }
        }
    }
    flush(state, user, &mut run, &mut results).await?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| *unreadable(&Value::Null, "operation", "not sent")))
        .collect())
}

/// Runs the waiting operations together and files each result under its item.
async fn flush(
    state: &AppState,
    user: &CurrentUser,
    run: &mut Vec<(usize, Operation)>,
    results: &mut [Option<OpResult>],
) -> Result<(), AppError> {
    if run.is_empty() {
        return Ok(());
    }
    let (indexes, ops): (Vec<usize>, Vec<Operation>) = std::mem::take(run).into_iter().unzip();
    let applied = pipeline::submit_all(state, user.0.clone(), ops).await?;
    for (index, result) in indexes.into_iter().zip(applied) {
        results[index] = Some(result);
    }
    Ok(())
}
