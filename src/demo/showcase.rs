//! What `outpost demo` and `outpost seed-demo` add to the demo world for people trying Outpost
//! (issue 30, finding 4): the customers' badges and copy quotas, so the badge pages are not
//! empty to a new user. The tests' demo world leaves them out (their badge scenarios set their
//! own); adding them twice changes nothing.

use diesel::prelude::*;

use crate::badges::quota::Period;
use crate::schema::{badge_quotas, badges, customers};

/// A badge as (UID, type, label).
type Card = (&'static str, &'static str, &'static str);

/// (customer code, badges, copies per period, period)
const BADGES: [(&str, &[Card], i32, Period); 2] = [
    (
        "TT-SHELTER",
        &[
            ("04A1C2D3E4F501", "ntag215", "Front door — staff"),
            ("5E7A19C3", "mifare_classic_1k", "Store room"),
        ],
        10,
        Period::Month,
    ),
    (
        "STA-CLINIC",
        &[("04B7E21A6C3D80", "ntag213", "Pharmacy door")],
        5,
        Period::Week,
    ),
];

/// The demo world as people meet it: seeded once, with the showcase added (both idempotent).
pub fn seed_for_people(conn: &mut PgConnection) -> anyhow::Result<super::seed::SeedOutcome> {
    let outcome = super::seed::seed(conn)?;
    add(conn)?;
    Ok(outcome)
}

pub fn add(conn: &mut PgConnection) -> QueryResult<()> {
    conn.transaction(|conn| {
        let now = chrono::Utc::now();
        for (code, cards, limit, period) in BADGES {
            let Some(customer) = customers::table
                .filter(customers::code.eq(code))
                .select(customers::id)
                .first::<i64>(conn)
                .optional()?
            else {
                continue;
            };
            for (uid, kind, label) in cards {
                diesel::insert_into(badges::table)
                    .values((
                        badges::customer_id.eq(customer),
                        badges::uid.eq(uid),
                        badges::badge_type.eq(kind),
                        badges::label.eq(label),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
            }
            diesel::insert_into(badge_quotas::table)
                .values((
                    badge_quotas::customer_id.eq(customer),
                    badge_quotas::copy_limit.eq(limit),
                    badge_quotas::remaining.eq(limit),
                    badge_quotas::period.eq(period.as_str()),
                    badge_quotas::period_start.eq(now),
                    badge_quotas::next_reset_at.eq(period.next(now)),
                ))
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        Ok(())
    })
}
