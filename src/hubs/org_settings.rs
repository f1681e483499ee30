//! An organisation's sales settings: the tax rate and currency new sales take, and what its
//! invoices print of the seller (address, tax id) and of payment (the terms, from which each
//! invoice's due date follows). Saved together, audited, used by sales and invoices made after.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;

use super::admin::{visible_orgs, HubAdmin};
use crate::audit;
use crate::error::AppError;
use crate::schema::organisations;
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::FlashKind;
use crate::ui::page::redirect_with_flash;

/// The settings as posted, checked; or what is wrong, in words.
struct Posted {
    tax_bp: i32,
    currency: String,
    address: String,
    tax_id: String,
    terms_days: i32,
}

fn read(form: &FormFields) -> Result<Posted, &'static str> {
    let tax_bp = crate::money::parse_percent_bp(&form.text("tax_percent"))
        .ok_or("the tax rate is a percentage from 0 to 100, such as 15 or 7.5")?;
    let currency = form.text("currency").trim().to_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err("the currency is a three-letter code such as JMD or USD");
    }
    // Printed on invoices: what no operation's text may hold either.
    let refused = crate::sync::checks::is_refused_control;
    let address = form.text("address");
    if address.chars().any(refused) {
        return Err("the address contains a control character (such as NUL); remove it");
    }
    // A line each, blank lines left out; at most five.
    let address: Vec<String> = address
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if address.len() > 5 || address.iter().any(|l| l.chars().count() > 80) {
        return Err("the address is at most five lines of 80 characters");
    }
    let tax_id: String = form.text("tax_id").trim().to_string();
    if tax_id.chars().any(|c| c.is_control() || refused(c)) {
        return Err("the tax ID contains a control character (such as NUL); remove it");
    }
    if tax_id.chars().count() > 64 {
        return Err("the tax ID is at most 64 characters");
    }
    let terms_days = match form.text("payment_terms_days").trim() {
        "" => 30,
        v => v
            .parse::<i32>()
            .ok()
            .filter(|d| (0..=365).contains(d))
            .ok_or("the payment terms are a number of days from 0 (due on receipt) to 365")?,
    };
    Ok(Posted {
        tax_bp,
        currency,
        address: address.join("\n"),
        tax_id,
        terms_days,
    })
}

pub(super) async fn set_sales_settings(
    admin: HubAdmin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let back = |kind, text: &str| {
        Ok(redirect_with_flash(
            &state.settings,
            "/admin/organisations",
            kind,
            text,
        ))
    };
    let posted = match read(&form) {
        Ok(p) => p,
        Err(why) => return back(FlashKind::Error, &format!("Nothing was saved: {why}.")),
    };
    let principal = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        let org = visible_orgs(conn, &principal)?
            .into_iter()
            .find(|o| o.id == organisation_id)
            .ok_or_else(|| {
                AppError::not_found("There is no such organisation among those you manage.")
            })?;
        conn.transaction(|conn| {
            diesel::update(organisations::table.find(org.id))
                .set((
                    organisations::sales_tax_bp.eq(posted.tax_bp),
                    organisations::currency.eq(&posted.currency),
                    organisations::address.eq(&posted.address),
                    organisations::tax_id.eq(&posted.tax_id),
                    organisations::payment_terms_days.eq(posted.terms_days),
                ))
                .execute(conn)?;
            let settings = |bp: i32, cur: &str, addr: &str, tax: &str, days: i32| {
                serde_json::json!({ "sales_tax_bp": bp, "currency": cur, "address": addr, "tax_id": tax, "payment_terms_days": days })
            };
            audit::record(
                conn,
                &principal
                    .audit_entry("organisation.sales_settings_changed")
                    .object("organisation", org.id)
                    .change(
                        Some(settings(org.sales_tax_bp, &org.currency, &org.address, &org.tax_id, org.payment_terms_days)),
                        Some(settings(posted.tax_bp, &posted.currency, &posted.address, &posted.tax_id, posted.terms_days)),
                    ),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    back(
        FlashKind::Success,
        "Sales settings saved; new sales and invoices use them.",
    )
}
