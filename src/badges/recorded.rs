//! Copies recorded at a station (the design's use case 2): the station copied a badge by itself,
//! often while the server was unreachable, kept the copy in its journal and sends it later
//! through `POST /api/v1/sync` as a `badge.copy_record` operation, acting through its own
//! account. The server checks the quota again (its own, not the station's cache) and answers per
//! item; "Insufficient quota" refuses that item only. The station then pulls fresh quotas
//! (`GET /api/v1/sync/pull`, section `badges`), which also hands it a capture envelope for the
//! copies it will record offline next.

use chrono::Utc;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::copies::{check_and_take, dump_mismatch, store_dump};
use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;
use crate::config::Settings;
use crate::schema::{badge_copies, badge_quotas, badges, customers, nfc_stations};
use crate::sync::envelope::{self, Envelope};
use crate::sync::kind::{check_text, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

pub const KIND: &str = "badge.copy_record";

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPayload {
    pub copy_id: Uuid,
    pub customer_id: i64,
    pub badge_uid: String,
    /// Who was at the station.
    pub recorded_by: String,
    /// What the original card held, and the SHA-256 of that JSON text.
    pub dump: Value,
    pub dump_sha256: String,
}

pub struct RecordCopy;

pub static RECORD_COPY: Spec = Spec {
    name: KIND,
    permission: Permission::BadgeCopyRecord,
    finalisable_offline: true,
    done: "Badge copy record",
    entry: "Badge copy record",
    form: None,
    again: None,
};

impl Kind for RecordCopy {
    type Payload = RecordPayload;

    fn spec(&self) -> &Spec {
        &RECORD_COPY
    }
    /// No hub in the target: the station's hub comes from its account, checked when applied.
    fn check(&self, p: &RecordPayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if super::normalise_uid(&p.badge_uid).is_none() {
            errors.push(FieldError::new(
                "badge_uid",
                "a UID is 8 to 20 hexadecimal digits",
            ));
        }
        check_text("recorded_by", &p.recorded_by, 120, &mut errors);
        if p.recorded_by.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "recorded_by",
                "control characters are not allowed",
            ));
        }
        if let Some(why) = dump_mismatch(&p.dump, &p.dump_sha256) {
            errors.push(FieldError::new("dump_sha256", why));
        }
        errors.extend(super::dump_errors(&p.dump));
        if errors.is_empty() {
            errors.extend(super::dump_of_another_card(&p.dump, &p.badge_uid));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: None,
                record_id: Some(p.copy_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &RecordPayload,
    ) -> Result<Applied, Refusal> {
        let uid = super::normalise_uid(&p.badge_uid).unwrap_or_default();
        let station: Option<(i64, i64, bool)> = nfc_stations::table
            .filter(nfc_stations::user_id.eq(ctx.actor.user_id))
            .select((nfc_stations::id, nfc_stations::hub_id, nfc_stations::active))
            .first(conn)
            .optional()?;
        let Some((station_id, hub_id, true)) = station else {
            return Err(Refusal::Forbidden(
                "this account is not an active NFC station".into(),
            ));
        };
        let customer_hub: Option<i64> = customers::table
            .find(p.customer_id)
            .select(customers::hub_id)
            .first(conn)
            .optional()?;
        if !ctx.actor.scope.customer_ids.contains(&p.customer_id) || customer_hub != Some(hub_id) {
            return Err(Refusal::NotFound(
                "there is no such customer at this station's hub".into(),
            ));
        }
        // The server's quota decides, not the station's cache.
        let remaining = check_and_take(conn, p.copy_id, p.customer_id, &uid)?;
        diesel::insert_into(badge_copies::table)
            .values((
                badge_copies::id.eq(p.copy_id),
                badge_copies::customer_id.eq(p.customer_id),
                badge_copies::hub_id.eq(hub_id),
                badge_copies::station_id.eq(station_id),
                badge_copies::badge_uid.eq(&uid),
                badge_copies::status.eq("completed"),
                badge_copies::requested_by.eq(ctx.actor.user_id),
                badge_copies::recorded_by.eq(p.recorded_by.trim()),
                badge_copies::requested_at.eq(ctx.op.captured_at),
                badge_copies::finished_at.eq(ctx.op.captured_at),
                badge_copies::recorded_offline.eq(true),
            ))
            .execute(conn)?;
        store_dump(conn, p.copy_id, &uid, &p.dump, &p.dump_sha256)?;
        let record = json!({ "id": p.copy_id, "customer_id": p.customer_id, "badge_uid": uid, "station_id": station_id, "status": "completed", "recorded_by": p.recorded_by.trim(), "quota_remaining": remaining });
        Ok(Applied {
            server_id: Some(p.copy_id.to_string()),
            object_type: "badge_copy",
            after: Some(record),
            result_version: Some(1),
            events: vec![(
                "copy.completed".into(),
                json!({ "copy_id": p.copy_id, "hub_id": hub_id, "customer_id": p.customer_id, "badge_uid": uid, "station_id": station_id, "recorded_by": p.recorded_by.trim(), "at": ctx.op.captured_at, "offline": true }),
            )],
            ..Default::default()
        })
    }
}

/// What a station or a copy requester learns at pull time: the badges and quotas of the
/// customers in scope (always whole: a few rows per customer), and for a station a capture
/// envelope for the copies it may record offline during the next days.
pub fn pull_section(
    conn: &mut PgConnection,
    settings: &Settings,
    actor: &Principal,
) -> QueryResult<Option<Value>> {
    let records = actor.can(Permission::BadgeCopyRecord);
    if !records && !actor.can(Permission::BadgeCopyRequest) {
        return Ok(None);
    }
    let ids = &actor.scope.customer_ids;
    let quotas: Vec<(i64, i32, i32, String, chrono::DateTime<Utc>)> = badge_quotas::table
        .filter(badge_quotas::customer_id.eq_any(ids))
        .order(badge_quotas::customer_id)
        .select((
            badge_quotas::customer_id,
            badge_quotas::copy_limit,
            badge_quotas::remaining,
            badge_quotas::period,
            badge_quotas::next_reset_at,
        ))
        .load(conn)?;
    let list: Vec<(String, i64, bool)> = badges::table
        .filter(badges::customer_id.eq_any(ids))
        .order(badges::uid)
        .select((badges::uid, badges::customer_id, badges::active))
        .load(conn)?;
    let capture_envelope = records.then(|| {
        envelope::sign(
            settings.secret_key.expose(),
            &Envelope {
                user_id: actor.user_id,
                role: actor.role.as_str().into(),
                hub_id: None,
                kind: KIND.into(),
                schema: 1,
                base_version: None,
                issued_at: Utc::now().timestamp(),
            },
        )
    });
    Ok(Some(json!({
        "quotas": quotas.into_iter().map(|(c, limit, remaining, period, next)| json!({"customer_id": c, "limit": limit, "remaining": remaining, "period": period, "next_reset_at": next})).collect::<Vec<_>>(),
        "badges": list.into_iter().map(|(uid, c, active)| json!({"uid": uid, "customer_id": c, "active": active})).collect::<Vec<_>>(),
        "capture_envelope": capture_envelope,
    })))
}
