//! Copy quotas: a limit per period (day, week, month) that comes back in full when the period
//! ends. The reset job is idempotent (a period is reset into once, recorded in
//! `badge_quota_resets`) and catches up: a quota whose reset was missed while the workers were
//! down is reset once, into the period that contains now, and the skipped periods are counted.

use chrono::{DateTime, Months, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::audit::{self, Entry};
use crate::schema::{badge_quota_resets, badge_quotas, customers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The start of the period after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Day => start + chrono::Duration::days(1),
            Period::Week => start + chrono::Duration::days(7),
            Period::Month => start
                .checked_add_months(Months::new(1))
                .unwrap_or(start + chrono::Duration::days(31)),
        }
    }

    /// The period containing `now`, stepping on from the period that starts at `start`, and
    /// how many period boundaries were crossed to get there.
    pub fn current(self, start: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, u32) {
        let (mut at, mut steps) = (start, 0u32);
        // A quota left alone for years is caught up in one go, not a loop per day.
        if self == Period::Day && now - at > chrono::Duration::days(2) {
            let days = (now - at).num_days() - 1;
            at += chrono::Duration::days(days);
            steps = u32::try_from(days).unwrap_or(u32::MAX);
        }
        while self.next(at) <= now {
            at = self.next(at);
            steps = steps.saturating_add(1);
        }
        (at, steps)
    }
}

/// One quota reset that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset {
    pub customer_id: i64,
    pub period_start: DateTime<Utc>,
    /// Whole periods that passed without a reset (the workers were down).
    pub skipped: u32,
}

/// What one run of the reset job did: the resets, and the quotas it could not reset.
#[derive(Debug, Default)]
pub struct ResetRun {
    pub resets: Vec<Reset>,
    /// (customer, why): a quota row the job cannot read or write (one edited by hand into
    /// nonsense, say). The others are reset all the same.
    pub failed: Vec<(i64, String)>,
}

/// Resets every quota whose period has ended, each in its own transaction, audited and
/// published. Quotas another worker is resetting right now are skipped (SKIP LOCKED). One
/// quota that cannot be reset does not hold up the others; a lost connection ends the run.
pub fn reset_due(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<ResetRun> {
    let due: Vec<i64> = badge_quotas::table
        .filter(badge_quotas::next_reset_at.le(now))
        .select(badge_quotas::customer_id)
        .order(badge_quotas::customer_id)
        .limit(1000)
        .load(conn)?;
    let mut run = ResetRun::default();
    for customer_id in due {
        match conn.transaction(|conn| reset_one(conn, customer_id, now)) {
            Ok(Some(reset)) => run.resets.push(reset),
            Ok(None) => {}
            Err(e) if connection_lost(&e) => return Err(e),
            Err(e) => run.failed.push((customer_id, e.to_string())),
        }
    }
    Ok(run)
}

/// An error that every other quota would meet too.
fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::BrokenTransactionManager
    )
}

fn reset_one(
    conn: &mut PgConnection,
    customer_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<Reset>> {
    let row: Option<(i32, i32, String, DateTime<Utc>)> = badge_quotas::table
        .find(customer_id)
        .filter(badge_quotas::next_reset_at.le(now))
        .for_update()
        .skip_locked()
        .select((
            badge_quotas::copy_limit,
            badge_quotas::remaining,
            badge_quotas::period,
            badge_quotas::period_start,
        ))
        .first(conn)
        .optional()?;
    let Some((limit, remaining, period, start)) = row else {
        return Ok(None);
    };
    let Some(period) = Period::parse(&period) else {
        return Ok(None);
    };
    let (new_start, steps) = period.current(start, now);
    let skipped = steps.saturating_sub(1);
    let recorded = diesel::insert_into(badge_quota_resets::table)
        .values((
            badge_quota_resets::customer_id.eq(customer_id),
            badge_quota_resets::period_start.eq(new_start),
            badge_quota_resets::skipped.eq(i32::try_from(skipped).unwrap_or(i32::MAX)),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    let hub_id: Option<i64> = customers::table
        .find(customer_id)
        .select(customers::hub_id)
        .first(conn)
        .optional()?;
    // A period already reset into (its reset time went back: a restore, an edit) keeps its
    // allowance, so nobody is refilled twice in one period: the quota is only made due at the
    // period's end again, and that is audited too. (The row is locked: `remaining` is current.)
    let refilled = recorded > 0;
    let after = if refilled { limit } else { remaining };
    diesel::update(badge_quotas::table.find(customer_id))
        .set((
            badge_quotas::remaining.eq(after),
            badge_quotas::period_start.eq(new_start),
            badge_quotas::next_reset_at.eq(period.next(new_start)),
            badge_quotas::updated_at.eq(now),
        ))
        .execute(conn)?;
    let mut changed = json!({ "remaining": after, "period_start": new_start });
    let action = if refilled {
        changed["skipped_periods"] = json!(skipped);
        "badge.quota_reset"
    } else {
        changed["why"] = json!("this period was reset into already");
        "badge.quota_reset_skipped"
    };
    let mut entry = Entry::new(action)
        .object("customer", customer_id)
        .hub(hub_id)
        .change(
            Some(json!({ "remaining": remaining, "period_start": start })),
            Some(changed),
        );
    entry.actor_name = Some("quota reset job".into());
    entry.customer_id = Some(customer_id);
    audit::record(conn, &entry)?;
    if !refilled {
        return Ok(None);
    }
    crate::events::enqueue(
        conn,
        "badge.quota_reset",
        json!({ "customer_id": customer_id, "hub_id": hub_id, "remaining": limit, "period_start": new_start }),
    )?;
    Ok(Some(Reset {
        customer_id,
        period_start: new_start,
        skipped,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn periods_step_by_calendar() {
        assert_eq!(Period::Month.next(at(2026, 1, 31)), at(2026, 2, 28));
        assert_eq!(Period::Week.next(at(2026, 11, 23)), at(2026, 11, 30));
        assert_eq!(
            Period::Day.current(
                at(2026, 11, 1),
                at(2026, 11, 25) + chrono::Duration::hours(5)
            ),
            (at(2026, 11, 25), 24)
        );
        assert_eq!(
            Period::Month.current(at(2026, 8, 1), at(2026, 11, 25)),
            (at(2026, 11, 1), 3)
        );
        assert_eq!(
            Period::Week.current(at(2026, 11, 23), at(2026, 11, 25)),
            (at(2026, 11, 23), 0)
        );
    }
}
