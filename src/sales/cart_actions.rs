//! What a cart's forms post (add, change or remove a line, confirm, cancel, invoice), as
//! operations: with htmx the cart is answered in place, without JavaScript the page again.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::cart_lines::LineEdit;
use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::money;
use crate::state::AppState;
use crate::sync::forms::{self};
use crate::sync::operation::{FieldError, OpStatus};
use crate::ui::form::FormFields;
use crate::ui::layout::{render, FlashKind, FormEcho};
use crate::ui::page::{redirect_with_echo, Page};

use super::cart_page::{load_cart, CartFragment};
use super::new_sale::{parse_line, refusal_text, FormLine};
use super::pages::parse_id;

/// The operation a cart form stands for, and what to tell the person when it is applied;
/// `None` for an action a sale does not have.
pub fn posted_action(
    action: &str,
    hub_id: i64,
    sale_id: &str,
    form: &FormFields,
) -> Option<(forms::Posted, &'static str)> {
    let mut errors = Vec::new();
    let (kind, payload, done) = action_payload(action, hub_id, sale_id, form, &mut errors)?;
    Some((forms::Posted::new(kind, payload, errors), done))
}

pub(super) fn action_payload(
    action: &str,
    hub_id: i64,
    sale_id: &str,
    form: &FormFields,
    errors: &mut Vec<FieldError>,
) -> Option<(&'static str, Value, &'static str)> {
    let reference = json!({ "sale_id": sale_id, "hub_id": hub_id });
    Some(match action {
        "add" => {
            let typed = FormLine {
                item: form.text("line_item"),
                serial: form.text("line_serial"),
                qty: form.text("line_qty"),
                price: form.text("line_price"),
                discount: form.text("line_discount"),
                foc: form.text("line_foc") == "1",
            };
            let line = parse_line(1, &typed, errors);
            if line.is_none() {
                errors.push(FieldError::new(
                    "item",
                    "choose an item or scan a serial number",
                ));
            }
            (
                "sale.update",
                json!({ "sale_id": sale_id, "hub_id": hub_id, "add_lines": line.into_iter().collect::<Vec<_>>() }),
                "Line added.",
            )
        }
        "line" => {
            let line_no = form.text("line_no").parse::<i32>().unwrap_or(0);
            let mut edit = LineEdit {
                line_no,
                remove: form.text("remove") == "1",
                ..Default::default()
            };
            let mut message = "Line updated.";
            if !edit.remove {
                if form.text("qty") != form.text("orig_qty") {
                    edit.quantity = Some(form.text("qty").trim().parse().unwrap_or_else(|_| {
                        errors.push(FieldError::new(
                            format!("lines[{line_no}].quantity"),
                            "enter a whole number",
                        ));
                        1
                    }));
                }
                if form.text("price") != form.text("orig_price") {
                    edit.unit_price_cents =
                        Some(money::parse_cents(&form.text("price")).unwrap_or_else(|| {
                            errors.push(FieldError::new(
                                format!("lines[{line_no}].unit_price"),
                                "enter an amount such as 12.50",
                            ));
                            0
                        }));
                    message = "Price updated";
                }
                if form.text("discount") != form.text("orig_discount") {
                    edit.discount_bp = Some(
                        money::parse_percent_bp(&form.text("discount")).unwrap_or_else(|| {
                            errors.push(FieldError::new(
                                format!("lines[{line_no}].discount"),
                                "enter a percentage from 0 to 100",
                            ));
                            0
                        }),
                    );
                    message = "Price updated";
                }
                let foc = form.text("foc") == "1";
                if foc != (form.text("orig_foc") == "1") {
                    edit.foc = Some(foc);
                    message = if foc {
                        "Marked free of charge"
                    } else {
                        "Price updated"
                    };
                }
            } else {
                message = "Line removed.";
            }
            (
                "sale.update",
                json!({ "sale_id": sale_id, "hub_id": hub_id, "edit_lines": [edit] }),
                message,
            )
        }
        "details" => {
            let mut p = reference.clone();
            if form.text("notes") != form.text("orig_notes") {
                p["notes"] = json!(form.text("notes"));
            }
            if let Ok(c) = form.text("customer_id").parse::<i64>() {
                if form.text("customer_id") != form.text("orig_customer_id") {
                    p["customer_id"] = json!(c);
                }
            }
            ("sale.update", p, "Changes saved.")
        }
        "confirm" => (
            "sale.confirm",
            reference,
            "Sale confirmed; the stock has been taken out.",
        ),
        "cancel" => ("sale.cancel", reference, "Sale cancelled."),
        "invoice" => (
            "invoice.issue",
            json!({ "invoice_id": form.text("record_id"), "sale_id": sale_id, "hub_id": hub_id }),
            "Invoice issued; the PDF is being rendered.",
        ),
        "credit" => (
            "invoice.credit",
            json!({ "credit_note_id": form.text("record_id"), "invoice_id": form.text("invoice_id"), "hub_id": hub_id, "reason": form.text("reason"), "restock": form.text("restock") == "1" }),
            "Credit note issued; the PDF is being rendered.",
        ),
        _ => return None,
    })
}

pub(super) fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request") && !forms::is_replay(req)
}

/// `POST /hubs/{hub}/sales/{id}/{action}`: every cart form. htmx gets the cart fragment back
/// (or, after a refusal, only the message, so the form keeps what was typed); without
/// JavaScript the answer is a redirect with a message; a replay gets JSON.
pub(super) async fn act(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64, String, String)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (hub_id, sale_text, action) = path.into_inner();
    let sale_id = parse_id(&sale_text)?;
    let Some((posted, done)) = posted_action(&action, hub_id, &sale_text, &form) else {
        return Err(AppError::NotFound(format!(
            "'{action}' is not an action of a sale."
        )));
    };
    let result = forms::submit(&state, &user, &req, &form, posted).await?;
    let location = format!("/hubs/{hub_id}/sales/{sale_id}");
    let ok = matches!(result.status, OpStatus::Applied | OpStatus::Duplicate);
    if is_htmx(&req) {
        if !ok {
            let (class, text) = match result.status {
                OpStatus::PendingReview => (
                    "flash-warning",
                    "Saved — awaiting online confirmation by a manager.".to_string(),
                ),
                OpStatus::Conflict => (
                    "flash-warning",
                    format!(
                        "Not applied: {}. It is in Sync Issues for review.",
                        result.reason.clone().unwrap_or_default()
                    ),
                ),
                _ => ("flash-error", refusal_text(&result)),
            };
            return Ok(HttpResponse::Ok()
                .insert_header(("HX-Retarget", "#cart-message"))
                .insert_header(("HX-Reswap", "innerHTML"))
                .content_type("text/html; charset=utf-8")
                .body(format!(
                    "<p class=\"flash {class}\" role=\"alert\">{}</p>",
                    askama_escape(&text)
                )));
        }
        let mut cart = load_cart(&state, &user, sale_id, false).await?;
        cart.message = Some(("flash-success", done.to_string()));
        return render(&CartFragment {
            layout: page.layout(""),
            cart,
        });
    }
    if let Some(res) = forms::respond(&req, &state.settings, &result, &location, done) {
        return Ok(res);
    }
    Ok(redirect_with_echo(
        &state.settings,
        &location,
        FlashKind::Error,
        &format!("Not done: {}", refusal_text(&result)),
        FormEcho::of(&form),
    ))
}

pub(super) fn askama_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}
