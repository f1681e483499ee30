//! The copy API: a copy requested over REST, and a station's next job, leased to it by long
//! poll (`GET /api/v1/stations/jobs/next`).

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::extract::{CurrentUser, Station};
use crate::error::AppError;
use crate::schema::{badge_copies, badge_quotas, nfc_stations};
use crate::state::AppState;
use crate::sync::operation::FieldError;

use super::copies::{LEASE, MAX_LEASES, MAX_WAIT};

/// A copy request as the REST API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequestBody {
    /// The client's id for the copy (a UUID); made up by the server when absent.
    #[serde(default)]
    pub copy_id: Option<Uuid>,
    pub customer_id: i64,
    /// The badge's UID as the reader shows it (hex, separators allowed).
    #[schema(example = "04AB12CD")]
    pub badge_uid: String,
    pub station_id: i64,
}

/// `POST /api/v1/badges/copies`: a copy request through the REST API (402 when the quota is
/// used up).
#[utoipa::path(post, path = "/api/v1/badges/copies", tag = "badges", request_body = CopyRequestBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID")),
    responses(
        (status = 201, description = "Queued for the station"),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized,
        (status = 402, body = crate::error::Problem, content_type = "application/problem+json", description = "Insufficient quota"),
        crate::error::problems::Forbidden,
        crate::error::problems::NotFound,
        crate::error::problems::Unprocessable,
    ),
    security(("bearer" = [])))]
pub async fn request_rest(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<CopyRequestBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let payload = json!({
        "copy_id": b.copy_id.unwrap_or_else(Uuid::new_v4),
        "customer_id": b.customer_id,
        "badge_uid": b.badge_uid,
        "station_id": b.station_id,
    });
    crate::sync::rest::run(&req, &state, &user, "badge.copy_request", payload, true).await
}

/// A copy as a station receives it: the type the station agent reads, from the crate both
/// sides compile.
pub use outpost_station_wire::Job;

/// Leases the oldest copy waiting for this station (or whose lease expired).
pub(super) fn lease_next(
    conn: &mut PgConnection,
    station_id: i64,
) -> QueryResult<Option<(Job, chrono::DateTime<Utc>)>> {
    conn.transaction(|conn| {
        let now = Utc::now();
        let next: Option<Uuid> = badge_copies::table
            .filter(badge_copies::station_id.eq(station_id))
            .filter(
                badge_copies::status.eq("queued").or(badge_copies::status
                    .eq("leased")
                    .and(badge_copies::lease_until.lt(now))),
            )
            .filter(badge_copies::attempts.lt(MAX_LEASES))
            .order(badge_copies::requested_at)
            .for_update()
            .skip_locked()
            .select(badge_copies::id)
            .first(conn)
            .optional()?;
        let Some(id) = next else {
            return Ok(None);
        };
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let (copy_id, badge_uid, customer_id, attempts) =
            diesel::update(badge_copies::table.find(id))
                .set((
                    badge_copies::status.eq("leased"),
                    badge_copies::lease_until.eq(until),
                    badge_copies::attempts.eq(badge_copies::attempts + 1),
                ))
                .returning((
                    badge_copies::id,
                    badge_copies::badge_uid,
                    badge_copies::customer_id,
                    badge_copies::attempts,
                ))
                .get_result(conn)?;
        let job = Job {
            copy_id,
            badge_uid,
            customer_id,
            attempts,
        };
        Ok(Some((job, until)))
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait for a copy when none is waiting (at most 30).
    #[param(maximum = 30)]
    wait: Option<u64>,
}

/// A copy leased to the station until `lease_until`; offered again after that.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobOffer {
    pub job: Job,
    pub lease_until: chrono::DateTime<Utc>,
}

/// How the server took a station's report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportAnswer {
    pub id: Uuid,
    /// The copy's status now: completed or failed (or what it was, for a repeat).
    pub status: String,
    /// The copy had been reported already; nothing changed.
    pub duplicate: bool,
}

/// `GET /api/v1/stations/jobs/next?wait=25`: the next copy for this station, leased to it;
/// 204 when none came within the wait.
#[utoipa::path(get, path = "/api/v1/stations/jobs/next", tag = "stations", params(WaitQuery,
        ("X-Station-Code" = String, Header, description = "The station's code: a station token acts only for its own station")),
    responses(
        (status = 200, body = JobOffer, description = "A copy, leased to this station"),
        (status = 204, description = "No copy came within the wait"),
        crate::error::problems::BadRequest,
        crate::error::problems::Unauthorized,
        crate::error::problems::Forbidden,
    ),
    security(("bearer" = [])))]
pub async fn next_job(
    station: Station,
    query: web::Query<WaitQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let wait = Duration::from_secs(query.wait.unwrap_or(0));
    if wait > MAX_WAIT {
        return Err(AppError::BadRequest(format!(
            "wait is at most {} seconds",
            MAX_WAIT.as_secs()
        )));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let station_id = station.0.station_id;
    loop {
        let found = crate::db::run(&state.db, move |conn| {
            let came_online = conn.transaction(|conn| {
                // Seen now; the flag flips (and the news goes out) only for a station that was
                // announced offline, once even when two pickups race.
                let back: Option<(i64, String)> = diesel::update(
                    nfc_stations::table
                        .find(station_id)
                        .filter(nfc_stations::announced_online.eq(false)),
                )
                .set((
                    nfc_stations::last_seen_at.eq(diesel::dsl::now),
                    nfc_stations::announced_online.eq(true),
                ))
                .returning((nfc_stations::hub_id, nfc_stations::code))
                .get_result(conn)
                .optional()?;
                let came_back = back.is_some();
                match back {
                    Some((hub_id, code)) => crate::events::enqueue(
                        conn,
                        "station.online",
                        json!({ "station_id": station_id, "hub_id": hub_id, "station": code }),
                    )?,
                    None => {
                        diesel::update(nfc_stations::table.find(station_id))
                            .set(nfc_stations::last_seen_at.eq(diesel::dsl::now))
                            .execute(conn)?;
                    }
                }
                QueryResult::Ok(came_back)
            })?;
            Ok((came_online, lease_next(conn, station_id)?))
        })
        .await?;
        let (came_online, found) = found;
        if came_online {
            crate::events::publish_soon(&state);
        }
        if let Some((job, until)) = found {
            return Ok(HttpResponse::Ok().json(JobOffer {
                job,
                lease_until: until,
            }));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(HttpResponse::NoContent().finish());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A station's outcome of one copy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultReport {
    /// "completed" or "failed".
    #[schema(example = "completed")]
    pub status: String,
    /// Why a copy failed: no_reader, no_card, card_removed, wrong_card, authentication_failed,
    /// wrong_card_type or write_failed.
    #[serde(default)]
    pub error_category: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// The card's data, kept with its SHA-256 (hex of the JSON text the station hashed); its
    /// `uid` is the copy's badge and no text in it holds a control character.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub dump: Option<Value>,
    #[serde(default)]
    pub dump_sha256: Option<String>,
    /// Who was at the station.
    #[serde(default)]
    pub recorded_by: Option<String>,
}

/// A result refused for what its dump holds (422).
pub(super) fn unprocessable(e: &FieldError) -> AppError {
    AppError::Unprocessable(format!("{}: {}", e.field, e.message))
}

/// Gives one copy's quota back (never above the limit: a reset may have come in between).
pub(super) fn give_back(conn: &mut PgConnection, customer_id: i64) -> QueryResult<()> {
    diesel::update(
        badge_quotas::table
            .find(customer_id)
            .filter(badge_quotas::remaining.lt(badge_quotas::copy_limit)),
    )
    .set(badge_quotas::remaining.eq(badge_quotas::remaining + 1))
    .execute(conn)
    .map(|_| ())
}
