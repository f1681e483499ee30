//! The only writer of stock: a ledger row per change and the level kept equal to the ledger's
//! sum, in the caller's transaction. Deltas commute; a change that would take stock below
//! zero is refused.

use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{product_variants, stock_ledger, stock_levels};
use crate::sync::kind::{reject, LineInput, Refusal};

pub struct Move<'a> {
    pub hub_id: i64,
    pub variant_id: i64,
    pub delta: i64,
    pub reason: &'a str,
    pub operation_row: Option<Uuid>,
    pub actor_id: Option<i64>,
}

/// Applies one stock change. Returns the new level.
pub fn apply(conn: &mut PgConnection, m: &Move<'_>) -> Result<i64, Refusal> {
    let level: Option<i64> = if m.delta >= 0 {
        Some(
            diesel::insert_into(stock_levels::table)
                .values((
                    stock_levels::hub_id.eq(m.hub_id),
                    stock_levels::variant_id.eq(m.variant_id),
                    stock_levels::quantity.eq(m.delta),
                ))
                .on_conflict((stock_levels::hub_id, stock_levels::variant_id))
                .do_update()
                .set((
                    stock_levels::quantity.eq(stock_levels::quantity + m.delta),
                    stock_levels::updated_at.eq(diesel::dsl::now),
                ))
                .returning(stock_levels::quantity)
                .get_result(conn)?,
        )
    } else {
        let left: Option<(i64, i64)> =
            diesel::update(stock_levels::table.find((m.hub_id, m.variant_id)))
                .filter(stock_levels::quantity.ge(-m.delta))
                .set((
                    stock_levels::quantity.eq(stock_levels::quantity + m.delta),
                    stock_levels::updated_at.eq(diesel::dsl::now),
                ))
                .returning((stock_levels::quantity, stock_levels::reorder_level))
                .get_result(conn)
                .optional()?;
        if let Some((quantity, reorder_level)) = left {
            // Crossing the reorder level is news for the live dashboards (once, not every move).
            if quantity <= reorder_level && quantity - m.delta > reorder_level {
                crate::events::enqueue(
                    conn,
                    "stock.low",
                    serde_json::json!({ "hub_id": m.hub_id, "variant_id": m.variant_id, "quantity": quantity, "reorder_level": reorder_level }),
                )?;
            }
        }
        left.map(|(quantity, _)| quantity)
    };
    let Some(level) = level else {
        let (sku, have): (String, Option<i64>) = product_variants::table
            .left_join(
                stock_levels::table.on(stock_levels::variant_id
                    .eq(product_variants::id)
                    .and(stock_levels::hub_id.eq(m.hub_id))),
            )
            .filter(product_variants::id.eq(m.variant_id))
            .select((
                product_variants::full_sku,
                stock_levels::quantity.nullable(),
            ))
            .first(conn)?;
        return reject(format!(
            "not enough stock of {sku}: {} on hand, {} needed",
            have.unwrap_or(0),
            -m.delta
        ));
    };
    if m.delta != 0 {
        diesel::insert_into(stock_ledger::table)
            .values((
                stock_ledger::hub_id.eq(m.hub_id),
                stock_ledger::variant_id.eq(m.variant_id),
                stock_ledger::delta.eq(m.delta),
                stock_ledger::reason.eq(m.reason),
                stock_ledger::operation_id.eq(m.operation_row),
                stock_ledger::actor_id.eq(m.actor_id),
            ))
            .execute(conn)?;
    }
    Ok(level)
}

/// The variant a line names — by id, by SKU, or by (part of) its name when that names exactly
/// one active item; it must exist and be active.
pub fn resolve_variant(conn: &mut PgConnection, line: &LineInput) -> Result<i64, Refusal> {
    let text = line.sku.as_deref().map(str::trim).unwrap_or("");
    // "SKU" or "SKU anything" (a pasted list line): the SKU decides.
    let sku = text.split_whitespace().next().unwrap_or("");
    let found: Option<(i64, bool, String)> =
        match (line.variant_id, Some(sku).filter(|s| !s.is_empty())) {
            (Some(id), _) => product_variants::table
                .find(id)
                .select((
                    product_variants::id,
                    product_variants::active,
                    product_variants::full_sku,
                ))
                .first(conn)
                .optional()?,
            (None, Some(sku)) => product_variants::table
                .filter(product_variants::full_sku.eq(sku.to_uppercase()))
                .select((
                    product_variants::id,
                    product_variants::active,
                    product_variants::full_sku,
                ))
                .first(conn)
                .optional()?,
            (None, None) => None,
        };
    match found {
        Some((id, true, _)) => Ok(id),
        Some((_, false, sku)) => reject(format!("{sku} is no longer active")),
        None if line.variant_id.is_none() && !text.is_empty() => by_name(conn, text),
        None => reject(format!(
            "unknown item #{}",
            line.variant_id.unwrap_or_default()
        )),
    }
}

/// An item typed by name ("rice", "Bottled Water 1.5 L — black, new"): the one active item
/// whose name is exactly that, else the one whose name contains it. Several: the person is
/// shown them, to pick one; none: told so.
fn by_name(conn: &mut PgConnection, text: &str) -> Result<i64, Refusal> {
    let pattern = crate::db::containing(text);
    let matches: Vec<(i64, String, String)> = product_variants::table
        .filter(product_variants::active.eq(true))
        .filter(product_variants::description.ilike(&pattern))
        .order(product_variants::full_sku)
        .limit(6)
        .select((
            product_variants::id,
            product_variants::full_sku,
            product_variants::description,
        ))
        .load(conn)?;
    let exact: Vec<&(i64, String, String)> = matches
        .iter()
        .filter(|(_, _, d)| d.eq_ignore_ascii_case(text))
        .collect();
    match (matches.as_slice(), exact.as_slice()) {
        (_, [(id, _, _)]) | ([(id, _, _)], _) => Ok(*id),
        ([], _) => reject(format!(
            "unknown item {text}: no SKU or item name matches; type its SKU or part of its name"
        )),
        (several, _) => {
            let listed: Vec<String> = several
                .iter()
                .take(5)
                .map(|(_, sku, d)| format!("{d} ({sku})"))
                .collect();
            let more = if several.len() > 5 { "; …" } else { "" };
            reject(format!(
                "'{text}' matches several items: {}{more} — pick one from the list or type its SKU",
                listed.join("; ")
            ))
        }
    }
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
pub struct Mismatch {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub hub_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub variant_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub level: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub ledger: i64,
}

/// Levels that differ from the ledger's sums (empty when all agree).
pub fn mismatches(conn: &mut PgConnection) -> QueryResult<Vec<Mismatch>> {
    diesel::sql_query(
        "SELECT coalesce(l.hub_id, g.hub_id) AS hub_id, coalesce(l.variant_id, g.variant_id) AS variant_id, \
                coalesce(l.quantity, 0)::bigint AS level, coalesce(g.total, 0)::bigint AS ledger \
         FROM stock_levels l FULL JOIN (SELECT hub_id, variant_id, sum(delta) AS total FROM stock_ledger GROUP BY 1, 2) g \
           ON g.hub_id = l.hub_id AND g.variant_id = l.variant_id \
         WHERE coalesce(l.quantity, 0) <> coalesce(g.total, 0) ORDER BY 1, 2",
    )
    .load(conn)
}

/// Rewrites every level from the ledger (keeping reorder levels). Returns rows changed.
pub fn rebuild(conn: &mut PgConnection) -> QueryResult<usize> {
    conn.transaction(|conn| {
        diesel::sql_query("LOCK TABLE stock_levels IN EXCLUSIVE MODE").execute(conn)?;
        let fixed = diesel::sql_query(
            "INSERT INTO stock_levels (hub_id, variant_id, quantity) \
             SELECT hub_id, variant_id, sum(delta) FROM stock_ledger GROUP BY 1, 2 \
             ON CONFLICT (hub_id, variant_id) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now() \
             WHERE stock_levels.quantity <> EXCLUDED.quantity",
        )
        .execute(conn)?;
        let zeroed = diesel::sql_query(
            "UPDATE stock_levels l SET quantity = 0, updated_at = now() WHERE quantity <> 0 AND NOT EXISTS \
             (SELECT 1 FROM stock_ledger g WHERE g.hub_id = l.hub_id AND g.variant_id = l.variant_id)",
        )
        .execute(conn)?;
        Ok(fixed + zeroed)
    })
}
