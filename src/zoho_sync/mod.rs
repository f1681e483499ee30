//! The Zoho Inventory sync, as the SYSTEM_BOT user: workflow 1 pushes new variants (PENDING,
//! no Zoho id) with `POST /items`, workflow 2 pushes changed ones (DIRTY) with `PUT /items/{id}`.
//! Database writes go through the `outpost_sync_bot` role, which may change only the sync
//! columns. One worker at a time handles a variant (a Redis lease, `store::Lease`), so two worker
//! processes never create an item twice; the access token and the request budget are shared in Redis.

use std::time::Duration;

use diesel::prelude::*;
use outpost_jobs::zoho::{ItemPayload, ZohoClient, ZohoConfig, ZohoError};
use serde_json::json;

use crate::audit::{self, Entry};
use crate::config::ZohoSettings;
use crate::schema::{product_families, product_identities, product_variants, users};

mod retry;
mod send;
mod store;

pub use retry::{requeue_failed, requeue_waiting, sync_again, waiting};
pub use send::sync_variant;
pub use store::{RedisLimiter, RedisTokens};

pub fn client_config(z: &ZohoSettings) -> ZohoConfig {
    ZohoConfig {
        accounts_url: z.accounts_url.clone(),
        api_url: z.api_url.clone(),
        organization_id: z.organization_id.clone(),
        client_id: z.client_id.clone(),
        client_secret: z.client_secret.expose().to_string(),
        refresh_token: z.refresh_token.expose().to_string(),
        duplicate_codes: z.duplicate_codes.clone(),
        invalid_token_codes: z.invalid_token_codes.clone(),
        timeout: Duration::from_secs(30),
        max_budget_wait: Duration::from_secs(300),
    }
}

/// What one sync did.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    Created(String),
    Linked(String),
    Updated,
    Nothing,
    /// The request budget is spent: the variant keeps waiting (PENDING/DIRTY, no attempt
    /// counted) and the sweep brings it back.
    Waiting(Duration),
    /// The last allowed attempt failed: the variant is in ERROR until a person edits it or
    /// presses Retry. The job itself is done (it is not retried by the queue).
    Failed(String),
}

pub(super) struct Snapshot {
    status: String,
    zoho_item_id: Option<String>,
    version: i32,
    /// Attempts made since the variant was last synced, edited or retried by a person.
    attempts: i32,
    payload: ItemPayload,
}

pub(super) fn snapshot(conn: &mut PgConnection, variant_id: i64) -> QueryResult<Option<Snapshot>> {
    // status, Zoho id, version, SKU, name, description, price in cents, unit.
    type Row = (
        String,
        Option<String>,
        i32,
        String,
        String,
        String,
        i64,
        String,
        i32,
    );
    let row: Option<Row> = product_variants::table
        .inner_join(product_identities::table.inner_join(product_families::table))
        .filter(product_variants::id.eq(variant_id))
        .select((
            product_variants::zoho_sync_status,
            product_variants::zoho_item_id,
            product_variants::version,
            product_variants::full_sku,
            product_families::base_name,
            product_variants::description,
            product_variants::listing_price_cents,
            product_variants::unit,
            product_variants::zoho_attempts,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(status, zoho_item_id, version, sku, base_name, description, cents, unit, attempts)| {
            Snapshot {
                status,
                zoho_item_id,
                version,
                attempts,
                payload: ItemPayload {
                    // Zoho's name: the family name plus what tells the variants apart.
                    name: if description.is_empty() {
                        format!("{base_name} ({sku})")
                    } else {
                        description.clone()
                    },
                    sku,
                    rate: cents as f64 / 100.0,
                    description,
                    unit,
                },
            }
        },
    ))
}

/// Runs `work` as the sync bot's database role, in one transaction.
pub(super) fn as_sync_bot<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL ROLE outpost_sync_bot").execute(conn)?;
        work(conn)
    })
}

pub(super) fn bot_entry(
    conn: &mut PgConnection,
    action: &str,
    variant_id: i64,
    after: serde_json::Value,
) -> QueryResult<Entry> {
    let bot: Option<(i64, String)> = users::table
        .filter(users::role.eq("SystemBot"))
        .filter(users::active.eq(true))
        .order(users::id)
        .select((users::id, users::username))
        .first(conn)
        .optional()?;
    let mut e = Entry::new(action)
        .object("product_variant", variant_id)
        .change(None, Some(after));
    if let Some((id, name)) = bot {
        e.actor_id = Some(id);
        e.actor_name = Some(name);
    }
    e.role_at_apply = Some("SystemBot".into());
    e.role_at_capture = Some("SystemBot".into());
    Ok(e)
}

/// Records success: the Zoho id, and SYNCED unless the variant changed meanwhile (then it stays
/// DIRTY for the next run, so no edit is lost).
pub(super) fn record_success(
    conn: &mut PgConnection,
    variant_id: i64,
    version: i32,
    item_id: &str,
    what: &Synced,
) -> QueryResult<()> {
    as_sync_bot(conn, |conn| {
        diesel::update(product_variants::table.find(variant_id))
            .set((
                product_variants::zoho_item_id.eq(item_id),
                product_variants::zoho_last_error.eq(None::<String>),
                product_variants::zoho_synced_at.eq(diesel::dsl::now),
                product_variants::zoho_attempts.eq(0),
            ))
            .execute(conn)?;
        diesel::update(
            product_variants::table
                .find(variant_id)
                .filter(product_variants::version.eq(version)),
        )
        .set(product_variants::zoho_sync_status.eq("SYNCED"))
        .execute(conn)?;
        let action = match what {
            Synced::Created(_) => "zoho.item.created",
            Synced::Linked(_) => "zoho.item.linked",
            _ => "zoho.item.updated",
        };
        let entry = bot_entry(conn, action, variant_id, json!({ "zoho_item_id": item_id }))?;
        audit::record(conn, &entry).map(|_| ())
    })
}

/// Records a failed attempt: the count goes up (in the database, so it holds across jobs,
/// sweeps and restarts) and the message is kept; the last allowed attempt puts the variant in
/// ERROR. Returns the attempt's number and whether it was the last. Waiting for the request
/// budget never comes here.
pub(super) fn record_failure(
    conn: &mut PgConnection,
    variant_id: i64,
    message: &str,
    max_attempts: u32,
) -> QueryResult<(i32, bool)> {
    as_sync_bot(conn, |conn| {
        let attempt: i32 = diesel::update(product_variants::table.find(variant_id))
            .set((
                product_variants::zoho_last_error.eq(message),
                product_variants::zoho_attempts.eq(product_variants::zoho_attempts + 1),
            ))
            .returning(product_variants::zoho_attempts)
            .get_result(conn)?;
        let last = attempt >= max_attempts as i32;
        if last {
            diesel::update(product_variants::table.find(variant_id))
                .set(product_variants::zoho_sync_status.eq("ERROR"))
                .execute(conn)?;
            let entry = bot_entry(
                conn,
                "zoho.item.failed",
                variant_id,
                json!({ "error": message, "attempts": attempt }),
            )?
            .outcome("rejected");
            audit::record(conn, &entry)?;
        }
        Ok((attempt, last))
    })
}

/// Notes that the variant waits for the request budget: visible to admins, not an attempt.
pub(super) fn record_waiting(
    conn: &mut PgConnection,
    variant_id: i64,
    message: &str,
) -> QueryResult<()> {
    as_sync_bot(conn, |conn| {
        diesel::update(product_variants::table.find(variant_id))
            .set(product_variants::zoho_last_error.eq(message))
            .execute(conn)
            .map(|_| ())
    })
}

/// Marks a variant whose attempts are all used (e.g. a job queued twice) as ERROR, if it is not.
pub(super) fn record_exhausted(conn: &mut PgConnection, variant_id: i64) -> QueryResult<()> {
    as_sync_bot(conn, |conn| {
        diesel::update(
            product_variants::table
                .find(variant_id)
                .filter(product_variants::zoho_sync_status.ne("ERROR")),
        )
        .set(product_variants::zoho_sync_status.eq("ERROR"))
        .execute(conn)
        .map(|_| ())
    })
}

/// One attempt at syncing one variant. Only PENDING and DIRTY variants are sent: one in
/// ERROR waits for a person (an edit or Retry puts it back to PENDING/DIRTY).
pub(super) async fn attempt(client: &ZohoClient<'_>, snap: &Snapshot) -> Result<Synced, ZohoError> {
    match (&snap.zoho_item_id, snap.status.as_str()) {
        (None, "PENDING" | "DIRTY") => create(client, &snap.payload).await,
        (Some(id), "DIRTY" | "PENDING") => client
            .update_item(id, &snap.payload)
            .await
            .map(|_| Synced::Updated),
        _ => Ok(Synced::Nothing),
    }
}

/// Workflow 1: create the item; when Zoho says it exists, find it by SKU and link it.
pub(super) async fn create(
    client: &ZohoClient<'_>,
    payload: &ItemPayload,
) -> Result<Synced, ZohoError> {
    match client.create_item(payload).await {
        Ok(id) => Ok(Synced::Created(id)),
        // It exists already (a previous run died after Zoho created it, or it was made by
        // hand): find it by SKU, link it, and bring it up to date.
        Err(ZohoError::Duplicate) => match client.find_by_sku(&payload.sku).await? {
            Some(id) => {
                client.update_item(&id, payload).await?;
                Ok(Synced::Linked(id))
            }
            // No item has this SKU: it is the name that is taken (the same product in another
            // colour or condition). Send a name that tells them apart.
            None if !payload.name.contains(&payload.sku) => {
                let distinct = ItemPayload {
                    name: format!("{} ({})", payload.name, payload.sku),
                    ..payload.clone()
                };
                match client.create_item(&distinct).await {
                    Ok(id) => Ok(Synced::Created(id)),
                    Err(ZohoError::Duplicate) => Err(ZohoError::Permanent {
                        code: -1,
                        message: format!(
                            "Zoho refuses the item as a duplicate, also named '{}'",
                            distinct.name
                        ),
                    }),
                    Err(e) => Err(e),
                }
            }
            None => Err(ZohoError::Permanent {
                code: -1,
                message: "Zoho says the item exists but no item with its SKU can be found".into(),
            }),
        },
        Err(e) => Err(e),
    }
}

/// Exponential backoff with jitter: base × 2^n, ±25 %, at most five minutes.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let raw = base
        .saturating_mul(1u32 << attempt.min(16))
        .min(Duration::from_secs(300));
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    raw.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = std::time::Duration::from_millis(1000);
        let b0 = super::backoff(base, 0).as_millis();
        let b3 = super::backoff(base, 3).as_millis();
        assert!((750..=1250).contains(&b0), "{b0}");
        assert!((6000..=10000).contains(&b3), "{b3}");
        assert!(super::backoff(base, 30) <= std::time::Duration::from_secs(375));
    }
}
