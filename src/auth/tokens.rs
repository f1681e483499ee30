//! API tokens for non-browser clients. Tokens are random, stored only as SHA-256 hashes,
//! expire, and can be revoked. A refresh rotates: the old refresh token is revoked and a new
//! pair issued in the same family; presenting a rotated refresh token again (a stolen copy)
//! revokes the whole family. Station tokens are a separate kind, bound to one NFC station.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::session::{digest, random_token};
use crate::config::Settings;
use crate::schema::{api_tokens, nfc_stations, users};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// Who a valid bearer token speaks for.
#[derive(Clone, Debug)]
pub enum TokenOwner {
    User {
        user_id: i64,
        token_id: i64,
    },
    Station {
        station_id: i64,
        station_code: String,
        hub_id: i64,
        /// The station's own account, through which it records copies (role NfcStation).
        user_id: i64,
        token_id: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

const PREFIX_ACCESS: &str = "opa_";
const PREFIX_REFRESH: &str = "opr_";
const PREFIX_STATION: &str = "ops_";

fn insert(
    conn: &mut PgConnection,
    kind: &str,
    raw: &str,
    user_id: Option<i64>,
    station_id: Option<i64>,
    family: Uuid,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::kind.eq(kind),
            api_tokens::token_hash.eq(digest(raw)),
            api_tokens::user_id.eq(user_id),
            api_tokens::station_id.eq(station_id),
            api_tokens::family.eq(family),
            api_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
}

fn issue_in_family(
    conn: &mut PgConnection,
    user_id: i64,
    family: Uuid,
    settings: &Settings,
) -> QueryResult<TokenPair> {
    let now = Utc::now();
    let access = format!("{PREFIX_ACCESS}{}", random_token());
    let refresh = format!("{PREFIX_REFRESH}{}", random_token());
    insert(
        conn,
        "access",
        &access,
        Some(user_id),
        None,
        family,
        now + settings.access_token_ttl,
    )?;
    insert(
        conn,
        "refresh",
        &refresh,
        Some(user_id),
        None,
        family,
        now + settings.refresh_token_ttl,
    )?;
    Ok(TokenPair {
        access_token: access,
        token_type: "bearer",
        expires_in: settings.access_token_ttl.as_secs(),
        refresh_token: refresh,
    })
}

/// A new access + refresh pair for a user who just proved their password.
pub fn issue(conn: &mut PgConnection, user_id: i64, settings: &Settings) -> QueryResult<TokenPair> {
    conn.transaction(|conn| issue_in_family(conn, user_id, Uuid::new_v4(), settings))
}

/// Exchanges a refresh token for a new pair (rotation with reuse detection).
pub fn refresh(
    conn: &mut PgConnection,
    raw: &str,
    settings: &Settings,
) -> Result<(TokenPair, i64), RefreshError> {
    // The outer Result is the transaction's: an inner `Err` still commits, so a family revoked
    // on reuse stays revoked although the refresh itself fails.
    conn.transaction::<Result<(TokenPair, i64), RefreshError>, diesel::result::Error, _>(|conn| {
        let row: Option<RefreshRow> = api_tokens::table
            .filter(api_tokens::token_hash.eq(digest(raw)))
            .filter(api_tokens::kind.eq("refresh"))
            .select((
                api_tokens::id,
                api_tokens::user_id,
                api_tokens::family,
                api_tokens::expires_at,
                api_tokens::revoked_at,
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((_id, Some(user_id), family, expires_at, revoked_at)) = row else {
            return Ok(Err(RefreshError::Invalid));
        };
        if revoked_at.is_some() {
            // A rotated token came back: someone holds a copy. End the whole family.
            revoke_family(conn, family)?;
            return Ok(Err(RefreshError::Invalid));
        }
        let active: bool = users::table
            .find(user_id)
            .select(users::active)
            .first(conn)?;
        if expires_at <= Utc::now() || !active {
            return Ok(Err(RefreshError::Invalid));
        }
        // The old pair ends; a new one continues the family.
        diesel::update(
            api_tokens::table
                .filter(api_tokens::family.eq(family))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(conn)?;
        Ok(Ok((
            issue_in_family(conn, user_id, family, settings)?,
            user_id,
        )))
    })?
}

/// A refresh token's row: id, owner, family, expiry, revocation.
type RefreshRow = (i64, Option<i64>, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

fn revoke_family(conn: &mut PgConnection, family: Uuid) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::family.eq(family))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
}

/// Revokes a token (and, for a user token, the rest of its family). Unknown tokens are ignored,
/// as RFC 7009 asks.
pub fn revoke(conn: &mut PgConnection, raw: &str) -> QueryResult<bool> {
    let family: Option<Uuid> = api_tokens::table
        .filter(api_tokens::token_hash.eq(digest(raw)))
        .select(api_tokens::family)
        .first(conn)
        .optional()?;
    match family {
        Some(f) => revoke_family(conn, f).map(|n| n > 0),
        None => Ok(false),
    }
}

/// Ends every API token of a user (role or scope changed, account disabled).
pub fn revoke_all_for_user(conn: &mut PgConnection, user_id: i64) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
}

/// Resolves a bearer token to its owner when it is an unexpired, unrevoked access or station token.
pub fn authenticate(conn: &mut PgConnection, raw: &str) -> QueryResult<Option<TokenOwner>> {
    let kind = if raw.starts_with(PREFIX_ACCESS) {
        "access"
    } else if raw.starts_with(PREFIX_STATION) {
        "station"
    } else {
        return Ok(None);
    };
    let row: Option<(i64, Option<i64>, Option<i64>)> = api_tokens::table
        .filter(api_tokens::token_hash.eq(digest(raw)))
        .filter(api_tokens::kind.eq(kind))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.gt(diesel::dsl::now))
        .select((api_tokens::id, api_tokens::user_id, api_tokens::station_id))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((token_id, Some(user_id), None)) => Some(TokenOwner::User { user_id, token_id }),
        Some((token_id, None, Some(station_id))) => nfc_stations::table
            .find(station_id)
            .filter(nfc_stations::active.eq(true))
            .select((
                nfc_stations::code,
                nfc_stations::hub_id,
                nfc_stations::user_id,
            ))
            .first::<(String, i64, i64)>(conn)
            .optional()?
            .map(|(station_code, hub_id, user_id)| TokenOwner::Station {
                station_id,
                station_code,
                hub_id,
                user_id,
                token_id,
            }),
        _ => None,
    })
}

/// A long-lived token for one NFC station (shown once; only its hash is kept).
pub fn issue_station_token(
    conn: &mut PgConnection,
    station_code: &str,
) -> Result<String, diesel::result::Error> {
    let station_id: i64 = nfc_stations::table
        .filter(nfc_stations::code.eq(station_code))
        .select(nfc_stations::id)
        .first(conn)?;
    let raw = format!("{PREFIX_STATION}{}", random_token());
    insert(
        conn,
        "station",
        &raw,
        None,
        Some(station_id),
        Uuid::new_v4(),
        Utc::now() + chrono::Duration::days(365),
    )?;
    Ok(raw)
}
