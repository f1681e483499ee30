//! Badges and quotas pages: administrators keep a customer's badges (add, deactivate) and
//! its copy quota (limit and period); the customer's own users see them at `/badges`. Every
//! change is audited.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;

use super::quota::Period;
use super::{of_customer, Badge, Quota, BADGE_TYPES};
use crate::audit;
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::hubs::customer_admin::CustomerRow;
use crate::hubs::customer_edit::managed_customer;
use crate::schema::{badge_quotas, badges};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

type CustomerAdmin = Authorized<perm::HubsManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/customers/{id}/badges")
            .get(page)
            .post(add_badge),
    )
    .service(web::resource("/admin/customers/{id}/badges/{badge}/active").post(set_active))
    .service(web::resource("/admin/customers/{id}/quota").post(set_quota))
    .service(web::resource("/badges").get(super::own_page::own));
}

#[derive(Template)]
#[template(path = "badges/customer.html")]
struct BadgesPage {
    layout: Layout,
    customer: CustomerRow,
    badges: Vec<Badge>,
    quota: Option<Quota>,
    types: &'static [(&'static str, &'static str)],
}

async fn page(
    admin: CustomerAdmin,
    page: Page,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (admin.user.0.clone(), path.into_inner());
    let (customer, (badges, quota)) = crate::db::run(&state.db, move |conn| {
        let customer = managed_customer(conn, &who, id)?;
        Ok((customer, of_customer(conn, id)?))
    })
    .await?;
    render(&BadgesPage {
        layout: page.layout(format!("Badges · {}", customer.name)),
        customer,
        badges,
        quota,
        types: &BADGE_TYPES,
    })
}

fn back(state: &AppState, id: i64, kind: FlashKind, text: &str) -> Result<HttpResponse, AppError> {
    Ok(redirect_with_flash(
        &state.settings,
        &format!("/admin/customers/{id}/badges"),
        kind,
        text,
    ))
}

async fn add_badge(
    admin: CustomerAdmin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let Some(uid) = super::normalise_uid(&form.text("uid")) else {
        return back(&state, id, FlashKind::Error, "Nothing was saved: a UID is 8 to 20 hexadecimal digits, as the reader shows it (e.g. 04AB12CD).");
    };
    let badge_type = form.text("badge_type");
    if !BADGE_TYPES.iter().any(|(k, _)| *k == badge_type) {
        return back(
            &state,
            id,
            FlashKind::Error,
            "Nothing was saved: choose the card type.",
        );
    }
    let label = form.text("label").trim().to_string();
    if label.chars().count() > 200 || label.chars().any(char::is_control) {
        return back(
            &state,
            id,
            FlashKind::Error,
            "Nothing was saved: the label is at most 200 characters, without control characters.",
        );
    }
    let who = admin.user.0.clone();
    let added = crate::db::run(&state.db, move |conn| {
        let customer = managed_customer(conn, &who, id)?;
        conn.transaction(|conn| {
            let inserted = diesel::insert_into(badges::table)
                .values((badges::customer_id.eq(customer.id), badges::uid.eq(&uid), badges::badge_type.eq(&badge_type), badges::label.eq(&label)))
                .on_conflict(badges::uid)
                .do_nothing()
                .returning(badges::id)
                .get_result::<i64>(conn)
                .optional()?;
            let Some(badge_id) = inserted else {
                return Ok(false);
            };
            let mut entry = who.audit_entry("badge.created")
                .object("badge", badge_id)
                .hub(Some(customer.hub_id))
                .change(None, Some(json!({ "uid": uid, "badge_type": badge_type, "label": label, "customer_id": customer.id })));
            entry.customer_id = Some(customer.id);
            audit::record(conn, &entry)?;
            Ok::<_, AppError>(true)
        })
    })
    .await?;
    if added {
        back(&state, id, FlashKind::Success, "Badge added.")
    } else {
        back(
            &state,
            id,
            FlashKind::Error,
            "Nothing was saved: a badge with this UID is already registered.",
        )
    }
}

async fn set_active(
    admin: CustomerAdmin,
    path: web::Path<(i64, i64)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, badge_id) = path.into_inner();
    let active = form.text("active") == "true";
    let who = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        let customer = managed_customer(conn, &who, id)?;
        conn.transaction(|conn| {
            let changed = diesel::update(
                badges::table
                    .find(badge_id)
                    .filter(badges::customer_id.eq(customer.id)),
            )
            .set(badges::active.eq(active))
            .execute(conn)?;
            if changed == 0 {
                return Err(AppError::not_found(
                    "There is no such badge for this customer.",
                ));
            }
            let mut entry = who
                .audit_entry(if active {
                    "badge.activated"
                } else {
                    "badge.deactivated"
                })
                .object("badge", badge_id)
                .hub(Some(customer.hub_id))
                .change(
                    Some(json!({ "active": !active })),
                    Some(json!({ "active": active })),
                );
            entry.customer_id = Some(customer.id);
            audit::record(conn, &entry)?;
            Ok(())
        })
    })
    .await?;
    back(
        &state,
        id,
        FlashKind::Success,
        if active {
            "Badge reactivated."
        } else {
            "Badge deactivated."
        },
    )
}

/// Sets the limit and period. A new quota starts its first period now, full; a changed limit
/// keeps what was used this period (remaining moves by the difference, never below zero).
async fn set_quota(
    admin: CustomerAdmin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let Some(limit) = form
        .text("copy_limit")
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|l| (0..=1_000_000).contains(l))
    else {
        return back(
            &state,
            id,
            FlashKind::Error,
            "Nothing was saved: the limit is a whole number from 0 to 1,000,000.",
        );
    };
    let Some(period) = Period::parse(&form.text("period")) else {
        return back(
            &state,
            id,
            FlashKind::Error,
            "Nothing was saved: choose a period.",
        );
    };
    let who = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        let customer = managed_customer(conn, &who, id)?;
        conn.transaction(|conn| {
            let before: Option<(i32, i32, String)> = badge_quotas::table
                .find(customer.id)
                .for_update()
                .select((badge_quotas::copy_limit, badge_quotas::remaining, badge_quotas::period))
                .first(conn)
                .optional()?;
            let now = Utc::now();
            let remaining = match before {
                Some((old_limit, old_remaining, _)) => (old_remaining + limit - old_limit).clamp(0, limit),
                None => limit,
            };
            match before {
                Some((_, _, ref old_period)) if old_period == period.as_str() => {
                    diesel::update(badge_quotas::table.find(customer.id))
                        .set((badge_quotas::copy_limit.eq(limit), badge_quotas::remaining.eq(remaining), badge_quotas::updated_at.eq(now)))
                        .execute(conn)?;
                }
                _ => {
                    diesel::insert_into(badge_quotas::table)
                        .values((
                            badge_quotas::customer_id.eq(customer.id),
                            badge_quotas::copy_limit.eq(limit),
                            badge_quotas::remaining.eq(remaining),
                            badge_quotas::period.eq(period.as_str()),
                            badge_quotas::period_start.eq(now),
                            badge_quotas::next_reset_at.eq(period.next(now)),
                        ))
                        .on_conflict(badge_quotas::customer_id)
                        .do_update()
                        .set((
                            badge_quotas::copy_limit.eq(limit),
                            badge_quotas::remaining.eq(remaining),
                            badge_quotas::period.eq(period.as_str()),
                            badge_quotas::period_start.eq(now),
                            badge_quotas::next_reset_at.eq(period.next(now)),
                            badge_quotas::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            let mut entry = who.audit_entry("badge.quota_set")
                .object("customer", customer.id)
                .hub(Some(customer.hub_id))
                .change(
                    before.map(|(l, r, p)| json!({ "copy_limit": l, "remaining": r, "period": p })),
                    Some(json!({ "copy_limit": limit, "remaining": remaining, "period": period.as_str() })),
                );
            entry.customer_id = Some(customer.id);
            audit::record(conn, &entry)?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    back(&state, id, FlashKind::Success, "Quota saved.")
}
