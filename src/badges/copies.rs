//! Badge copies. A copy is requested as an operation (`badge.copy_request`: the quota is
//! checked and taken in the pipeline's transaction; used up → refused, the API answers 402
//! "Insufficient quota", nothing queued), then handed to its station: the station agent
//! long-polls `GET /api/v1/stations/jobs/next` with its station token, which leases the oldest
//! copy waiting for that station; an expired lease offers it again; after `MAX_LEASES` expired
//! leases the copy is abandoned. The station reports the result once (`POST
//! /api/v1/stations/copies/{id}/result`; a repeated report answers with the recorded outcome).
//! A failed or abandoned copy gives its quota back. Every step is audited and published.

use std::time::Duration;

use actix_web::web;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::permissions::Permission;
use crate::schema::{badge_copies, badge_dumps, badge_quotas, badges, customers, nfc_stations};
use crate::sync::kind::{reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

/// How long a station holds a copy before it is offered again.
pub const LEASE: Duration = Duration::from_secs(60);
/// Expired leases after which a copy is abandoned (and its quota given back).
pub const MAX_LEASES: i32 = 5;
/// The longest a pickup request waits for work.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::{station_jobs, station_results};
    cfg.service(web::resource("/api/v1/badges/copies").post(station_jobs::request_rest))
        .service(web::resource("/api/v1/stations/jobs/next").get(station_jobs::next_job))
        .service(
            web::resource("/api/v1/stations/copies/{id}/result").post(station_results::report),
        );
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
    type Payload = RequestPayload;

    fn spec(&self) -> &Spec {
        &REQUEST_COPY
    }
    /// No hub in the target: customer users have no hub scope. Scope is the customer's, checked
    /// when applied.
    fn check(&self, p: &RequestPayload) -> Result<Target, Vec<FieldError>> {
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
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &RequestPayload,
    ) -> Result<Applied, Refusal> {
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
