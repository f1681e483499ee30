//! Devices tell the server, on every contact, how many of the user's operations they still
//! hold, how many they created in all and how many the user discarded on purpose. A device
//! whose operations vanished without arriving (cleared storage, Safari's 7-day eviction) is
//! flagged for the admins.
//!
//! A device record belongs to its user: one browser shared by two people is two records, and
//! reporting someone else's device id touches nothing of theirs.
//!
//! Why the sums can only miss, never invent, a loss: every operation the device created is
//! still pending on it, was discarded there, or arrived here (`operations.device_id`, counted
//! in `device_arrivals` as each one is recorded). The device counts `created`, `pending` and
//! `discarded` first; arrivals are counted here later, so an operation that arrives in between
//! is counted twice, never zero times.

use diesel::prelude::*;

use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{device_arrivals, devices};
use crate::state::AppState;

/// What a device says of the user's queue on it.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueReport {
    pub pending: i32,
    /// Operations created on the device for this user, in all (its high-water mark).
    pub created: i64,
    /// Operations the user discarded on the device without sending them, in all.
    pub discarded: i64,
}

/// No device queues a trillion operations; the bound keeps every sum below far from overflow.
const MAX_COUNT: i64 = 1_000_000_000_000;

pub async fn report(
    state: &AppState,
    user: &Principal,
    device_id: &str,
    queue: QueueReport,
) -> Result<(), AppError> {
    // Characters, as the database counts them (not bytes).
    if !(8..=64).contains(&device_id.chars().count())
        || device_id.chars().any(char::is_control)
        || queue.pending < 0
        || queue.created < 0
        || queue.discarded < 0
        || queue.created > MAX_COUNT
        || queue.discarded > MAX_COUNT
    {
        return Err(AppError::BadRequest(format!(
            "device_id is 8–64 characters; counts are between 0 and {MAX_COUNT}"
        )));
    }
    let (device, user_id, organisation_id) =
        (device_id.to_string(), user.user_id, user.organisation_id);
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let before: Option<(i64, i64, i64, i64)> = devices::table
                .find((user_id, &device))
                .for_update()
                .select((
                    devices::highest_seq,
                    devices::discarded_count,
                    devices::counted_before,
                    devices::lost,
                ))
                .first(conn)
                .optional()?;
            // Kept by the operations' own transactions (migration `device_arrivals`).
            let arrived: i64 = device_arrivals::table
                .find((user_id, &device))
                .select(device_arrivals::n)
                .first(conn)
                .optional()?
                .unwrap_or(0);
            let (counted_before, lost) = match before {
                Some((created, discarded, counted_before, lost)) => {
                    // The counters went back: the device's storage was wiped and started again.
                    // What it had created before still counts.
                    let reset = queue.created < created || queue.discarded < discarded;
                    let carried = if reset { created - discarded } else { 0 };
                    (counted_before.saturating_add(carried), lost)
                }
                None => (0, 0),
            };
            let expected = counted_before
                .saturating_add(queue.created)
                .saturating_sub(queue.discarded)
                .saturating_sub(i64::from(queue.pending));
            let missing = expected.saturating_sub(arrived);
            diesel::insert_into(devices::table)
                .values((
                    devices::id.eq(&device),
                    devices::user_id.eq(user_id),
                    devices::pending_count.eq(queue.pending),
                    devices::highest_seq.eq(queue.created),
                    devices::discarded_count.eq(queue.discarded),
                    devices::counted_before.eq(counted_before),
                ))
                .on_conflict((devices::user_id, devices::id))
                .do_update()
                .set((
                    devices::pending_count.eq(queue.pending),
                    devices::highest_seq.eq(queue.created),
                    devices::discarded_count.eq(queue.discarded),
                    devices::counted_before.eq(counted_before),
                    devices::last_seen_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            if missing > lost {
                let gone = missing - lost;
                let reason = format!(
                    "{gone} queued {} disappeared from the device without reaching the server",
                    if gone == 1 { "entry" } else { "entries" }
                );
                diesel::update(devices::table.find((user_id, &device)))
                    .set((
                        devices::flagged_at.eq(diesel::dsl::now),
                        devices::flag_reason.eq(&reason),
                        devices::lost.eq(missing),
                    ))
                    .execute(conn)?;
                crate::events::enqueue(
                    conn,
                    "device.vanished",
                    serde_json::json!({ "device_id": device, "user_id": user_id, "organisation_id": organisation_id, "reason": reason }),
                )?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await
}
