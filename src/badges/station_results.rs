//! What becomes of a copy a station was handed: its reported result, applied once, and the
//! sweeps of copies whose station went quiet (offline notice, abandoned after `MAX_LEASES`).

use outpost_station_wire::ErrorCategory;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::extract::Station;
use crate::error::AppError;
use crate::schema::{badge_copies, nfc_stations};
use crate::state::AppState;

use super::copies::{dump_mismatch, store_dump, MAX_LEASES};
use super::station_jobs::{give_back, unprocessable, ReportAnswer, ResultReport};

/// `POST /api/v1/stations/copies/{id}/result`: the station's outcome, applied once. A second
/// report of a finished copy answers with the recorded outcome (`duplicate: true`).
#[utoipa::path(post, path = "/api/v1/stations/copies/{id}/result", tag = "stations", request_body = ResultReport,
    params(("id" = Uuid, Path, description = "The copy's id, as the job named it"),
        ("X-Station-Code" = String, Header, description = "The station's code")),
    responses(
        (status = 200, body = ReportAnswer, description = "Recorded, or a repeat of a recorded report"),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "No such copy for this station"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json", description = "The copy was never handed to the station"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "The dump is not this copy's badge, or holds control characters"),
    ),
    security(("bearer" = [])))]
pub async fn report(
    station: Station,
    path: web::Path<Uuid>,
    body: web::Json<ResultReport>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let r = body.into_inner();
    let completed = match r.status.as_str() {
        "completed" => true,
        "failed" => false,
        _ => {
            return Err(AppError::BadRequest(
                "status is 'completed' or 'failed'".into(),
            ))
        }
    };
    if !completed
        && r.error_category
            .as_deref()
            .and_then(ErrorCategory::parse)
            .is_none()
    {
        return Err(AppError::BadRequest(format!(
            "a failed copy names its error_category: one of {}",
            ErrorCategory::ALL.map(ErrorCategory::as_str).join(", ")
        )));
    }
    let texts = [r.error.as_deref(), r.recorded_by.as_deref()];
    if texts
        .iter()
        .flatten()
        .any(|t| t.chars().count() > 500 || t.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(AppError::BadRequest(
            "error and recorded_by are at most 500 characters, without control characters".into(),
        ));
    }
    if completed {
        let (Some(dump), Some(sha)) = (&r.dump, &r.dump_sha256) else {
            return Err(AppError::BadRequest(
                "a completed copy carries the card's dump and its dump_sha256".into(),
            ));
        };
        if let Some(why) = dump_mismatch(dump, sha) {
            return Err(AppError::BadRequest(why.into()));
        }
        // The UID is compared with the copy's badge below, once the copy is read.
        if let Some(e) = super::dump_errors(dump).first() {
            return Err(unprocessable(e));
        }
    }
    let who = station.0.clone();
    let answer = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let copy: Option<(i64, i64, String, String)> = badge_copies::table
                .find(id)
                .filter(badge_copies::station_id.eq(who.station_id))
                .for_update()
                .select((badge_copies::customer_id, badge_copies::hub_id, badge_copies::status, badge_copies::badge_uid))
                .first(conn)
                .optional()?;
            // Another station's copy is not found: a token cannot act for another station.
            let Some((customer_id, hub_id, status, uid)) = copy else {
                return Err(AppError::not_found("There is no such copy for this station."));
            };
            if !matches!(status.as_str(), "queued" | "leased") {
                return Ok(ReportAnswer { id, status, duplicate: true });
            }
            if status == "queued" {
                // The station reports what it was handed: a copy never leased was not.
                return Err(AppError::Conflict(
                    "This copy was not handed to this station: pick it up first (GET /api/v1/stations/jobs/next).".into(),
                ));
            }
            if let Some(dump) = r.dump.as_ref().filter(|_| completed) {
                // A dump of another card is not this copy: refused, the copy stays leased and
                // is offered again.
                if let Some(e) = super::dump_of_another_card(dump, &uid) {
                    return Err(unprocessable(&e));
                }
            }
            let next = if completed { "completed" } else { "failed" };
            diesel::update(badge_copies::table.find(id))
                .set((
                    badge_copies::status.eq(next),
                    badge_copies::lease_until.eq(None::<chrono::DateTime<Utc>>),
                    badge_copies::finished_at.eq(diesel::dsl::now),
                    badge_copies::recorded_by.eq(r.recorded_by.clone().unwrap_or_else(|| who.station_code.clone())),
                    badge_copies::error_category.eq(r.error_category.clone()),
                    badge_copies::error.eq(r.error.clone()),
                ))
                .execute(conn)?;
            if completed {
                store_dump(conn, id, &uid, &r.dump.clone().unwrap_or_default(), r.dump_sha256.as_deref().unwrap_or_default())?;
            } else {
                give_back(conn, customer_id)?;
            }
            let mut entry = Entry::new(if completed { "badge.copy_completed" } else { "badge.copy_failed" })
                .object("badge_copy", id)
                .hub(Some(hub_id))
                .change(Some(json!({ "status": status })), Some(json!({ "status": next, "error_category": r.error_category, "error": r.error })));
            entry.actor_name = Some(format!("station {}", who.station_code));
            entry.customer_id = Some(customer_id);
            let topic = if completed { "copy.completed" } else { "copy.failed" };
            let entry = entry.event(topic, json!({ "copy_id": id, "hub_id": hub_id, "customer_id": customer_id, "badge_uid": uid, "station": who.station_code, "recorded_by": r.recorded_by, "at": Utc::now() }));
            audit::record(conn, &entry)?;
            Ok(ReportAnswer { id, status: next.to_string(), duplicate: false })
        })
    })
    .await?;
    crate::events::publish_soon(&state);
    Ok(HttpResponse::Ok().json(answer))
}

/// Announces stations that stopped asking for work (run by the worker's station sweep).
pub fn announce_offline(conn: &mut PgConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let gone: Vec<(i64, i64, String)> = diesel::update(
            nfc_stations::table
                .filter(nfc_stations::announced_online.eq(true))
                .filter(nfc_stations::last_seen_at.lt(Utc::now() - chrono::Duration::seconds(60))),
        )
        .set(nfc_stations::announced_online.eq(false))
        .returning((nfc_stations::id, nfc_stations::hub_id, nfc_stations::code))
        .get_results(conn)?;
        for (id, hub_id, code) in &gone {
            crate::events::enqueue(
                conn,
                "station.offline",
                json!({ "station_id": id, "hub_id": hub_id, "station": code }),
            )?;
        }
        Ok(gone.len())
    })
}

/// Abandons copies whose last lease ran out after `MAX_LEASES` offers, giving their quota
/// back (run by the worker's station sweep).
pub fn abandon_expired(conn: &mut PgConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let expired: Vec<(Uuid, i64, i64)> = badge_copies::table
            .filter(badge_copies::status.eq("leased"))
            .filter(badge_copies::lease_until.lt(Utc::now()))
            .filter(badge_copies::attempts.ge(MAX_LEASES))
            .for_update()
            .skip_locked()
            .select((badge_copies::id, badge_copies::customer_id, badge_copies::hub_id))
            .load(conn)?;
        for (id, customer_id, hub_id) in &expired {
            diesel::update(badge_copies::table.find(id))
                .set((
                    badge_copies::status.eq("abandoned"),
                    badge_copies::lease_until.eq(None::<chrono::DateTime<Utc>>),
                    badge_copies::finished_at.eq(diesel::dsl::now),
                    badge_copies::error_category.eq("abandoned"),
                    badge_copies::error.eq(format!("no result after {MAX_LEASES} offers to the station")),
                ))
                .execute(conn)?;
            give_back(conn, *customer_id)?;
            let mut entry = Entry::new("badge.copy_abandoned").object("badge_copy", id).hub(Some(*hub_id));
            entry.actor_name = Some("station sweep".into());
            entry.customer_id = Some(*customer_id);
            let entry = entry.event("copy.failed", json!({ "copy_id": id, "hub_id": hub_id, "customer_id": customer_id, "reason": "abandoned" }));
            audit::record(conn, &entry)?;
        }
        Ok(expired.len())
    })
}
