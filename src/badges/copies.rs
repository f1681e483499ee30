//! Badge copies. A copy is requested as an operation (`badge.copy_request`: the quota is
//! checked and taken in the pipeline's transaction; used up → refused, the API answers 402
//! "Insufficient quota", nothing queued), then handed to its station: the station agent
//! long-polls `GET /api/v1/stations/jobs/next` with its station token, which leases the oldest
//! copy waiting for that station; an expired lease offers it again; after `MAX_LEASES` expired
//! leases the copy is abandoned. The station reports the result once (`POST
//! /api/v1/stations/copies/{id}/result`; a repeated report answers with the recorded outcome).
//! A failed or abandoned copy gives its quota back. Every step is audited and published.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::extract::{CurrentUser, Station};
use crate::auth::permissions::Permission;
use crate::error::AppError;
use crate::schema::{badge_copies, badge_dumps, badge_quotas, badges, customers, nfc_stations};
use crate::state::AppState;
use crate::sync::kind::{parse, reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

/// How long a station holds a copy before it is offered again.
pub const LEASE: Duration = Duration::from_secs(60);
/// Expired leases after which a copy is abandoned (and its quota given back).
pub const MAX_LEASES: i32 = 5;
/// The longest a pickup request waits for work.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/badges/copies").post(request_rest))
        .service(web::resource("/api/v1/stations/jobs/next").get(next_job))
        .service(web::resource("/api/v1/stations/copies/{id}/result").post(report));
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPayload {
    pub copy_id: Uuid,
    pub customer_id: i64,
    pub badge_uid: String,
    pub station_id: i64,
}

pub struct RequestCopy;

pub static REQUEST_COPY: Spec = Spec {
    name: "badge.copy_request",
    permission: Permission::BadgeCopyRequest,
    finalisable_offline: true,
    done: "Badge copy request",
    entry: "Badge copy request",
    form: None,
    again: None,
};

impl Kind for RequestCopy {
    fn spec(&self) -> &Spec {
        &REQUEST_COPY
    }
    /// No hub in the target: customer users have no hub scope. Scope is the customer's, checked
    /// when applied.
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: RequestPayload = parse(payload)?;
        if super::normalise_uid(&p.badge_uid).is_none() {
            return Err(vec![FieldError::new(
                "badge_uid",
                "a UID is 8 to 20 hexadecimal digits",
            )]);
        }
        Ok(Target {
            hub_id: None,
            record_id: Some(p.copy_id),
        })
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: RequestPayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let uid = super::normalise_uid(&p.badge_uid).unwrap_or_default();
        if !ctx.actor.scope.customer_ids.contains(&p.customer_id) {
            return Err(Refusal::NotFound(
                "there is no such customer among yours".into(),
            ));
        }
        let hub_id: i64 = customers::table
            .find(p.customer_id)
            .select(customers::hub_id)
            .first(conn)?;
        let station: Option<(i64, bool)> = nfc_stations::table
            .find(p.station_id)
            .select((nfc_stations::hub_id, nfc_stations::active))
            .first(conn)
            .optional()?;
        if station != Some((hub_id, true)) {
            return Err(Refusal::NotFound(
                "there is no such active station at the customer's hub".into(),
            ));
        }
        // The copy transaction of the design: check and take the quota, then record the copy.
        let remaining = check_and_take(conn, p.copy_id, p.customer_id, &uid)?;
        diesel::insert_into(badge_copies::table)
            .values((
                badge_copies::id.eq(p.copy_id),
                badge_copies::customer_id.eq(p.customer_id),
                badge_copies::hub_id.eq(hub_id),
                badge_copies::station_id.eq(p.station_id),
                badge_copies::badge_uid.eq(&uid),
                badge_copies::requested_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        let record = json!({ "id": p.copy_id, "customer_id": p.customer_id, "badge_uid": uid, "station_id": p.station_id, "status": "queued", "quota_remaining": remaining });
        Ok(Applied {
            server_id: Some(p.copy_id.to_string()),
            object_type: "badge_copy",
            after: Some(record.clone()),
            result_version: Some(1),
            events: vec![(
                "copy.requested".into(),
                json!({ "copy_id": p.copy_id, "hub_id": hub_id, "customer_id": p.customer_id, "station_id": p.station_id }),
            )],
            ..Default::default()
        })
    }
}

/// The checks every copy passes, then its quota taken: the badge is registered to the customer
/// and active, the copy id is new, and a copy is left (else "Insufficient quota"). Returns the
/// copies left.
pub(super) fn check_and_take(
    conn: &mut PgConnection,
    copy_id: Uuid,
    customer_id: i64,
    uid: &str,
) -> Result<i32, Refusal> {
    let badge: Option<bool> = badges::table
        .filter(badges::uid.eq(uid))
        .filter(badges::customer_id.eq(customer_id))
        .select(badges::active)
        .first(conn)
        .optional()?;
    match badge {
        None => {
            return Err(Refusal::NotFound(format!(
                "badge {uid} is not registered for this customer"
            )))
        }
        Some(false) => return reject(format!("badge {uid} is deactivated")),
        Some(true) => {}
    }
    if badge_copies::table
        .find(copy_id)
        .count()
        .get_result::<i64>(conn)?
        > 0
    {
        return reject("a copy with this id already exists");
    }
    diesel::update(
        badge_quotas::table
            .find(customer_id)
            .filter(badge_quotas::remaining.gt(0)),
    )
    .set(badge_quotas::remaining.eq(badge_quotas::remaining - 1))
    .returning(badge_quotas::remaining)
    .get_result::<i32>(conn)
    .optional()?
    .ok_or_else(|| Refusal::QuotaExhausted("Insufficient quota".into()))
}

/// Why a dump and its digest do not belong together, if they do not: the digest is the SHA-256
/// (hex) of the dump's JSON text as the server serialises it.
pub(super) fn dump_mismatch(dump: &Value, sha256: &str) -> Option<&'static str> {
    use sha2::{Digest, Sha256};
    (hex::encode(Sha256::digest(dump.to_string().as_bytes())) != sha256.to_lowercase())
        .then_some("dump_sha256 is not the SHA-256 of the dump")
}

/// Keeps what a copied card held, with its digest (for backup and audit).
pub(super) fn store_dump(
    conn: &mut PgConnection,
    copy_id: Uuid,
    uid: &str,
    dump: &Value,
    sha256: &str,
) -> QueryResult<()> {
    diesel::insert_into(badge_dumps::table)
        .values((
            badge_dumps::copy_id.eq(copy_id),
            badge_dumps::badge_uid.eq(uid),
            badge_dumps::data.eq(dump),
            badge_dumps::sha256.eq(sha256.to_lowercase()),
        ))
        .execute(conn)
        .map(|_| ())
}

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
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 402, body = crate::error::Problem, content_type = "application/problem+json", description = "Insufficient quota"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
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

/// A copy as a station receives it.
#[derive(Debug, Serialize, Queryable, utoipa::ToSchema)]
pub struct Job {
    pub copy_id: Uuid,
    pub badge_uid: String,
    pub customer_id: i64,
    pub attempts: i32,
}

/// Leases the oldest copy waiting for this station (or whose lease expired).
fn lease_next(
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
        let job: Job = diesel::update(badge_copies::table.find(id))
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
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
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

/// How a station says a copy failed (the agent's categories; see jobs/station).
pub const ERROR_CATEGORIES: [&str; 7] = [
    "no_reader",
    "no_card",
    "card_removed",
    "wrong_card",
    "authentication_failed",
    "wrong_card_type",
    "write_failed",
];

/// A result refused for what its dump holds (422).
fn unprocessable(e: &FieldError) -> AppError {
    AppError::Unprocessable(format!("{}: {}", e.field, e.message))
}

/// Gives one copy's quota back (never above the limit: a reset may have come in between).
fn give_back(conn: &mut PgConnection, customer_id: i64) -> QueryResult<()> {
    diesel::update(
        badge_quotas::table
            .find(customer_id)
            .filter(badge_quotas::remaining.lt(badge_quotas::copy_limit)),
    )
    .set(badge_quotas::remaining.eq(badge_quotas::remaining + 1))
    .execute(conn)
    .map(|_| ())
}

/// `POST /api/v1/stations/copies/{id}/result`: the station's outcome, applied once. A second
/// report of a finished copy answers with the recorded outcome (`duplicate: true`).
#[utoipa::path(post, path = "/api/v1/stations/copies/{id}/result", tag = "stations", request_body = ResultReport,
    params(("id" = Uuid, Path, description = "The copy's id, as the job named it"),
        ("X-Station-Code" = String, Header, description = "The station's code")),
    responses(
        (status = 200, body = ReportAnswer, description = "Recorded, or a repeat of a recorded report"),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
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
        && !r
            .error_category
            .as_deref()
            .is_some_and(|c| ERROR_CATEGORIES.contains(&c))
    {
        return Err(AppError::BadRequest(format!(
            "a failed copy names its error_category: one of {}",
            ERROR_CATEGORIES.join(", ")
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
            audit::record(conn, &entry)?;
            let topic = if completed { "copy.completed" } else { "copy.failed" };
            crate::events::enqueue(conn, topic, json!({ "copy_id": id, "hub_id": hub_id, "customer_id": customer_id, "badge_uid": uid, "station": who.station_code, "recorded_by": r.recorded_by, "at": Utc::now() }))?;
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
            audit::record(conn, &entry)?;
            crate::events::enqueue(conn, "copy.failed", json!({ "copy_id": id, "hub_id": hub_id, "customer_id": customer_id, "reason": "abandoned" }))?;
        }
        Ok(expired.len())
    })
}
