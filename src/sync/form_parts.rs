//! The parts every form page is made of besides its own fields: item lines and prices read
//! from the fields and shown back, the hub's item picker, the hidden operation fields and the
//! status after errors.

use actix_web::http::StatusCode;

use super::kind::LineInput;
use super::operation::FieldError;
use crate::auth::principal::Principal;
use crate::config::Settings;
use crate::ui::form::FormFields;

use super::forms::OpMeta;

/// A price a person typed ("1,250.50", "12") in currency units, read as sales read prices (at
/// most two decimals, never negative); a field error in words otherwise.
pub fn price(form: &FormFields, name: &str, errors: &mut Vec<FieldError>) -> f64 {
    match crate::money::parse_cents(&form.text(name)) {
        Some(cents) => crate::money::cents_to_units(cents),
        None => {
            errors.push(FieldError::new(name, "enter a price, e.g. 14.50"));
            0.0
        }
    }
}

/// Item lines from parallel `line_sku` / `line_qty` (and optional expiry and lot) fields.
/// Blank rows are skipped; unreadable numbers are field errors.
pub fn lines(form: &FormFields, errors: &mut Vec<FieldError>) -> Vec<LineInput> {
    let skus = form.all("line_sku");
    let qtys = form.all("line_qty");
    let expiries = form.all("line_expiry");
    let lots = form.all("line_lot");
    let mut out = Vec::new();
    // Lines are numbered as the form shows them again: blank rows left out.
    let mut n = 0;
    for (i, sku) in skus.iter().enumerate() {
        let qty = qtys.get(i).cloned().unwrap_or_default();
        if sku.is_empty() && qty.is_empty() {
            continue;
        }
        n += 1;
        let quantity = match qty.parse::<i64>() {
            Ok(q) => q,
            Err(_) => {
                errors.push(FieldError::new(
                    format!("lines[{n}].quantity"),
                    "enter a whole number",
                ));
                continue;
            }
        };
        let expiry_on = match expiries.get(i).map(String::as_str) {
            None | Some("") => None,
            Some(d) => match d.parse() {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        format!("lines[{n}].expiry"),
                        "enter a date",
                    ));
                    None
                }
            },
        };
        // The whole text: a SKU, or an item's name (resolved when the entry is applied).
        let sku = sku.trim().to_string();
        out.push(LineInput {
            variant_id: None,
            sku: Some(sku),
            quantity,
            expiry_on,
            lot: lots.get(i).cloned().filter(|l| !l.is_empty()),
        });
    }
    out
}

/// A canonical text of the posted lines ("SKU:QTY,…"), to tell whether an edit changed them.
pub fn lines_signature(form: &FormFields) -> String {
    let qtys = form.all("line_qty");
    form.all("line_sku")
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| {
            format!(
                "{}:{}",
                s.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_uppercase(),
                qtys.get(i).map(String::as_str).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Rows to show in a line table: what was entered, padded with blank rows.
#[derive(Clone, Debug, Default)]
pub struct LineRow {
    pub sku: String,
    pub qty: String,
    pub expiry: String,
    pub lot: String,
    /// What is wrong with this line, after a refusal (empty when nothing is).
    pub error: String,
}

/// The rows of a line table, with each line's errors on its row.
pub fn line_rows_with_errors(
    form: Option<&FormFields>,
    blank: usize,
    errors: &[FieldError],
) -> Vec<LineRow> {
    let mut rows = line_rows(form, blank);
    for e in errors {
        if let Some(row) = e.line().and_then(|n| rows.get_mut(n.wrapping_sub(1))) {
            let text = match e.line_field() {
                Some(part) => format!("{part}: {}", e.message),
                None => e.message.clone(),
            };
            if !row.error.is_empty() {
                row.error.push_str("; ");
            }
            row.error.push_str(&text);
        }
    }
    rows
}

pub fn line_rows(form: Option<&FormFields>, blank: usize) -> Vec<LineRow> {
    let mut rows: Vec<LineRow> = match form {
        Some(f) => {
            let (skus, qtys, exp, lots) = (
                f.all("line_sku"),
                f.all("line_qty"),
                f.all("line_expiry"),
                f.all("line_lot"),
            );
            skus.iter()
                .enumerate()
                .filter(|(i, s)| !s.is_empty() || qtys.get(*i).is_some_and(|q| !q.is_empty()))
                .map(|(i, s)| LineRow {
                    sku: s.clone(),
                    qty: qtys.get(i).cloned().unwrap_or_default(),
                    expiry: exp.get(i).cloned().unwrap_or_default(),
                    lot: lots.get(i).cloned().unwrap_or_default(),
                    error: String::new(),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let target = (rows.len() + 2).max(blank);
    rows.resize(target, LineRow::default());
    rows
}
/// What every offline-capable create form needs besides its own fields: its hidden operation
/// fields (a new op id when shown again), the item picker, and the status (422 after errors).
pub struct FormBasics {
    pub meta: OpMeta,
    pub catalog: Vec<(String, String)>,
    pub status: StatusCode,
}

pub async fn basics(
    state: &crate::state::AppState,
    user: &Principal,
    hub_id: i64,
    kind: &'static str,
    form: Option<&FormFields>,
    errors: &[FieldError],
) -> Result<FormBasics, crate::error::AppError> {
    let catalog = crate::db::run(&state.db, move |conn| Ok(stock_options(conn, hub_id)?)).await?;
    Ok(FormBasics {
        meta: create_meta(&state.settings, user, hub_id, kind, form),
        catalog,
        status: status_after(errors),
    })
}

/// The hidden fields of a create form: new ones, or for a form shown again after a refusal,
/// a new op id for the same record.
pub fn create_meta(
    settings: &Settings,
    user: &Principal,
    hub_id: i64,
    kind: &'static str,
    form: Option<&FormFields>,
) -> OpMeta {
    match form {
        Some(f) => OpMeta::retry(settings, user, f, kind, hub_id, None),
        None => OpMeta::new(settings, user, kind, hub_id, None, None),
    }
}

/// 422 for a form shown again with errors, else 200.
pub fn status_after(errors: &[FieldError]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}
/// Active catalog items for a hub's item pickers: the SKU, and its description with what the
/// hub has on hand ("Rice 25 kg bag · 1,200 on hand"), so a person sees stock while choosing.
pub fn stock_options(
    conn: &mut diesel::PgConnection,
    hub_id: i64,
) -> diesel::QueryResult<Vec<(String, String)>> {
    use diesel::prelude::*;
    let rows: Vec<(String, String, Option<i64>)> = crate::schema::product_variants::table
        .left_join(
            crate::schema::stock_levels::table.on(crate::schema::stock_levels::variant_id
                .eq(crate::schema::product_variants::id)
                .and(crate::schema::stock_levels::hub_id.eq(hub_id))),
        )
        .filter(crate::schema::product_variants::active.eq(true))
        .order(crate::schema::product_variants::full_sku)
        .select((
            crate::schema::product_variants::full_sku,
            crate::schema::product_variants::description,
            crate::schema::stock_levels::quantity.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(sku, description, on_hand)| {
            // An item the hub does not hold is said so, not offered as if it were there.
            let here = match on_hand.unwrap_or(0) {
                0 => "none here".to_string(),
                n => format!("{} on hand", crate::ui::chart::grouped(n)),
            };
            (sku, format!("{description} · {here}"))
        })
        .collect())
}
