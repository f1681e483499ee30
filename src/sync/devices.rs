//! Devices tell the server, on every contact, how many operations they still hold and the
//! highest sequence number they have created. A device whose pending operations vanished
//! without arriving (cleared storage, Safari's 7-day eviction) is flagged for the admins.

use diesel::prelude::*;

use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{devices, operations};
use crate::state::AppState;

pub async fn report(
    state: &AppState,
    user: &Principal,
    device_id: &str,
    pending: i32,
    highest_seq: i64,
) -> Result<(), AppError> {
    // Characters, as the database counts them (not bytes).
    if !(8..=64).contains(&device_id.chars().count())
        || device_id.contains('\0')
        || pending < 0
        || highest_seq < 0
    {
        return Err(AppError::BadRequest(
            "device_id is 8–64 characters; counts are not negative".into(),
        ));
    }
    let (device, user_id) = (device_id.to_string(), user.user_id);
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let before: Option<(i32, i64, chrono::DateTime<chrono::Utc>)> =
                devices::table.find(&device).for_update().select((devices::pending_count, devices::highest_seq, devices::last_seen_at)).first(conn).optional()?;
            let mut flag: Option<String> = None;
            if let Some((was_pending, _, last_seen)) = before {
                let arrived: i64 = operations::table.filter(operations::device_id.eq(&device)).filter(operations::received_at.ge(last_seen)).count().get_result(conn)?;
                let missing = i64::from(was_pending) - arrived - i64::from(pending);
                if missing > 0 {
                    flag = Some(format!("{missing} queued operation(s) disappeared from the device without reaching the server"));
                }
            }
            diesel::insert_into(devices::table)
                .values((devices::id.eq(&device), devices::user_id.eq(user_id), devices::pending_count.eq(pending), devices::highest_seq.eq(highest_seq)))
                .on_conflict(devices::id)
                .do_update()
                .set((devices::user_id.eq(user_id), devices::pending_count.eq(pending), devices::highest_seq.eq(highest_seq), devices::last_seen_at.eq(diesel::dsl::now)))
                .execute(conn)?;
            if let Some(reason) = flag {
                diesel::update(devices::table.find(&device)).set((devices::flagged_at.eq(diesel::dsl::now), devices::flag_reason.eq(reason))).execute(conn)?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await
}
