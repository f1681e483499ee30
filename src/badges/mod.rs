//! Badge copy service (issue 12), first part: customers' badges and their copy quotas, kept
//! by administrators, seen by the customer's own users, and reset every period by a cron job.

pub mod admin;
pub mod copies;
mod copy_export;
pub mod history;
pub mod own_page;
pub mod quota;
pub mod recorded;
pub mod station_jobs;
pub mod station_results;
pub mod station_tokens;
pub mod stations;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{badge_quotas, badges};

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    admin::configure(cfg);
    copies::configure(cfg);
    stations::configure(cfg);
    station_tokens::configure(cfg);
    history::configure(cfg);
}

pub const BADGE_TYPES: [(&str, &str); 4] = [
    ("mifare_classic_1k", "MIFARE Classic 1K"),
    ("ntag213", "NTAG213"),
    ("ntag215", "NTAG215"),
    ("ntag216", "NTAG216"),
];

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = badges)]
pub struct Badge {
    pub id: i64,
    pub customer_id: i64,
    pub uid: String,
    pub badge_type: String,
    pub label: String,
    pub active: bool,
}

impl Badge {
    pub fn type_label(&self) -> &'static str {
        BADGE_TYPES
            .iter()
            .find(|(k, _)| *k == self.badge_type)
            .map(|(_, l)| *l)
            .unwrap_or("Other")
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = badge_quotas)]
pub struct Quota {
    pub copy_limit: i32,
    pub remaining: i32,
    pub period: String,
    pub next_reset_at: DateTime<Utc>,
}

impl Quota {
    pub fn period_label(&self) -> &'static str {
        match self.period.as_str() {
            "day" => "per day",
            "week" => "per week",
            _ => "per month",
        }
    }
}

pub fn of_customer(
    conn: &mut PgConnection,
    customer_id: i64,
) -> QueryResult<(Vec<Badge>, Option<Quota>)> {
    let list = badges::table
        .filter(badges::customer_id.eq(customer_id))
        .order((badges::active.desc(), badges::uid))
        .select(Badge::as_select())
        .load(conn)?;
    let quota = badge_quotas::table
        .find(customer_id)
        .select(Quota::as_select())
        .first(conn)
        .optional()?;
    Ok((list, quota))
}

/// What is wrong with a card's dump sent by a station, as field errors: every text in it free of
/// control characters (a dump is shown in the history and exported, and `jsonb` cannot hold
/// NUL), and a `uid` it names. Station results and `badge.copy_record` items are checked alike.
pub fn dump_errors(dump: &serde_json::Value) -> Vec<crate::sync::operation::FieldError> {
    let mut errors = Vec::new();
    crate::sync::checks::control_characters("dump", dump, &mut errors);
    if errors.is_empty() && dump_uid(dump).is_none() {
        errors.push(crate::sync::operation::FieldError::new(
            "dump.uid",
            "the dump names the card's UID (8 to 20 hexadecimal digits)",
        ));
    }
    errors
}

/// Why a dump is not of `badge_uid`, if it is not: a copy of another card is not this copy.
pub fn dump_of_another_card(
    dump: &serde_json::Value,
    badge_uid: &str,
) -> Option<crate::sync::operation::FieldError> {
    (dump_uid(dump) != normalise_uid(badge_uid)).then(|| {
        crate::sync::operation::FieldError::new(
            "dump.uid",
            "the dump is of another card than this copy's badge",
        )
    })
}

fn dump_uid(dump: &serde_json::Value) -> Option<String> {
    dump.get("uid")
        .and_then(serde_json::Value::as_str)
        .and_then(normalise_uid)
}

/// A UID as cards report it, normalised: hex digits, upper case, no separators.
pub fn normalise_uid(text: &str) -> Option<String> {
    let uid: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_uppercase();
    ((8..=20).contains(&uid.len())
        && uid.len().is_multiple_of(2)
        && uid.chars().all(|c| c.is_ascii_hexdigit()))
    .then_some(uid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uids_are_normalised_or_refused() {
        assert_eq!(super::normalise_uid("04:ab:12:cd"), Some("04AB12CD".into()));
        assert_eq!(
            super::normalise_uid("04 AB 12 CD 34 56 78"),
            Some("04AB12CD345678".into())
        );
        for bad in ["", "04AB12", "04AB12CDX", "04AB12C", "04\u{0}AB12CD"] {
            assert_eq!(super::normalise_uid(bad), None, "{bad:?}");
        }
    }
}
