//! Buttons and small forms on detail pages (confirm, cancel, submit, decide, approve,
//! dispatch, receive, edit a draft) all post here: one endpoint that turns the form into the
//! kind's payload and runs it through the pipeline like any other operation.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::forms;
use crate::sync::kind::{Form, Read};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{FlashKind, FormEcho};
use crate::ui::page::redirect_with_echo;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hubs/{hub_id}/actions/{kind}").post(act));
}

/// Where the record's detail page is, by kind.
fn detail_path(kind: &str, hub_id: i64, record: &str) -> String {
    let section = match kind.split('.').next().unwrap_or_default() {
        "distribution" => "distributions",
        "needs_list" => "needs-lists",
        _ => "transfers",
    };
    format!("/hubs/{hub_id}/{section}/{record}")
}

/// Quantities posted as `qty_<line_no>` fields, with the serial numbers of a line's
/// serial-numbered items where the page asked for them (`serials_<line_no>`: one per line, or
/// separated by spaces or commas, as a scanner types them).
fn line_quantities(form: &FormFields, field: &str, errors: &mut Vec<FieldError>) -> Vec<Value> {
    let mut out = Vec::new();
    for line_no in form.ids("line_no") {
        let raw = form.text(&format!("qty_{line_no}"));
        let serials = format!("serials_{line_no}");
        if raw.is_empty() {
            if !form.text(&serials).is_empty() {
                errors.push(FieldError::new(
                    format!("line {line_no}"),
                    "enter a quantity",
                ));
            }
            continue;
        }
        match raw.parse::<i64>() {
            Ok(q) => {
                let mut line = json!({ "line_no": line_no, field: q });
                if form.has(&serials) {
                    let text = form.text(&serials);
                    let named: Vec<&str> = text
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .filter(|s| !s.is_empty())
                        .collect();
                    line["serial_numbers"] = json!(named);
                }
                out.push(line)
            }
            Err(_) => errors.push(FieldError::new(
                format!("line {line_no}"),
                "enter a whole number",
            )),
        }
    }
    out
}

/// The offline form of an action kind: its button or small form on a record's page, posted to
/// `actions/<kind>` and read by [`posted`].
pub(super) const fn action_form(path: &'static str) -> Form {
    Form {
        path,
        read: |at| posted(at.kind, at.hub_id, at.form).and_then(Read::one),
        list: None,
        pages: &[],
        at_main_hub: true,
    }
}

/// The operation an action form of a record's page stands for; `None` for a kind that is not
/// one of these actions.
pub fn posted(kind: &str, hub_id: i64, form: &FormFields) -> Option<forms::Posted> {
    let mut errors = Vec::new();
    let payload = payload(kind, hub_id, form, &mut errors)?;
    Some(forms::Posted::new(kind, payload, errors))
}

fn payload(
    kind: &str,
    hub_id: i64,
    form: &FormFields,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let record = form.text("record_id");
    let note = Some(form.text("note")).filter(|n| !n.is_empty());
    Some(match kind {
        "distribution.confirm" | "distribution.cancel" => {
            json!({ "distribution_id": record, "hub_id": hub_id })
        }
        "distribution.update" => {
            // Only fields that differ from what the form showed, so concurrent edits of other
            // fields merge instead of conflicting.
            let mut p = json!({ "distribution_id": record, "hub_id": hub_id });
            for field in ["recipient", "notes"] {
                if form.text(field) != form.text(&format!("orig_{field}")) {
                    p[field] = json!(form.text(field));
                }
            }
            if forms::lines_signature(form) != form.text("orig_lines") {
                p["lines"] = json!(forms::lines(form, errors));
            }
            p
        }
        "needs_list.submit" => json!({ "needs_list_id": record, "hub_id": hub_id }),
        "needs_list.decide" => {
            let mut p = json!({ "needs_list_id": record, "hub_id": hub_id, "decision": form.text("decision"), "note": note, "lines": line_quantities(form, "approved_qty", errors) });
            if let Ok(from) = form.text("transfer_from_hub_id").parse::<i64>() {
                p["transfer_from_hub_id"] = json!(from);
                p["transfer_id"] = json!(form.text("new_transfer_id"));
            }
            p
        }
        "transfer.approve" | "transfer.dispatch" | "transfer.receive" => {
            let mut p = json!({ "transfer_id": record, "hub_id": hub_id, "lines": line_quantities(form, "quantity", errors), "note": note });
            let location = form.text("location_code");
            if !location.is_empty() {
                p["location_code"] = json!(location);
            }
            p
        }
        _ => return None,
    })
}

async fn act(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, String)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (hub_id, kind) = path.into_inner();
    let Some(posted) = posted(&kind, hub_id, &form) else {
        return Err(AppError::NotFound(format!(
            "'{kind}' is not an action of this page."
        )));
    };
    let location = detail_path(&kind, hub_id, &form.text("record_id"));
    let done = match kind.as_str() {
        "distribution.confirm" => "Distribution confirmed; the stock has been taken out.",
        "distribution.cancel" => "Distribution cancelled.",
        "distribution.update" => "Changes saved.",
        "needs_list.submit" => "Needs list submitted for approval.",
        "needs_list.decide" => "Decision recorded.",
        "transfer.approve" => "Transfer approved.",
        "transfer.dispatch" => "Transfer dispatched; the stock is in transit.",
        _ => "Receipt recorded; the stock is in the hub.",
    };
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&location),
        |_| done.into(),
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    let message = refused
        .errors
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    // Back to the page with what was typed, so the user corrects it instead of retyping.
    Ok(redirect_with_echo(
        &state.settings,
        &location,
        FlashKind::Error,
        &format!("Not done: {message}"),
        FormEcho::of(&form),
    ))
}
