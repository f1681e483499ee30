//! The only writer of stock: a ledger row per change and the level kept equal to the ledger's
//! sum, in the caller's transaction. Deltas commute; a change that would take stock below
//! zero is refused.

use diesel::prelude::*;
use uuid::Uuid;

use std::cell::RefCell;

use diesel::sql_types::{Array, BigInt, Nullable, Text};

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

thread_local! {
    /// Increases of stock levels held back until the end of a chunk of sync operations
    /// (`Deferral`): (hub, variant, delta), in the order they were made.
    static DEFERRED: RefCell<Option<Vec<(i64, i64, i64)>>> = const { RefCell::new(None) };
}

/// While it lives, on the thread that runs a chunk of sync operations in one transaction,
/// `receive` writes the ledger row at once but holds the level's increase back, and
/// `flush_deferred` adds them all up just before the commit, in key order.
///
/// Why (profile, issue 14): a stock level is the one row every intake of a hub's item updates,
/// and its lock is held to the commit. A chunk of 25 operations took it at its first intake,
/// so devices sending to the same hub ran one after another, with more of them slower than
/// one. Increases commute and cannot take a level below zero, so applying them at the end of
/// the chunk changes no result, and the row is locked only for the commit. Everything that
/// reads or lowers a level first flushes (`apply` does; the pipeline flushes before every
/// operation of a kind that does not `defers_stock`).
pub struct Deferral(std::marker::PhantomData<*const ()>);

impl Deferral {
    pub fn begin() -> Self {
        DEFERRED.with(|d| *d.borrow_mut() = Some(Vec::new()));
        Deferral(std::marker::PhantomData)
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        // Whatever was not flushed belonged to a transaction that did not commit.
        DEFERRED.with(|d| *d.borrow_mut() = None);
    }
}

/// How many increases are held back; an operation refused after this point (its savepoint
/// rolled back) forgets its own with `forget_deferred_since`.
pub fn deferred_mark() -> usize {
    DEFERRED.with(|d| d.borrow().as_ref().map_or(0, Vec::len))
}

pub fn forget_deferred_since(mark: usize) {
    DEFERRED.with(|d| {
        if let Some(pending) = d.borrow_mut().as_mut() {
            pending.truncate(mark);
        }
    });
}

/// Applies the increases held back so far: one statement, one row per level, in key order (so
/// two chunks never lock the same levels in opposite orders).
pub fn flush_deferred(conn: &mut PgConnection) -> QueryResult<()> {
    let pending = DEFERRED.with(|d| d.borrow_mut().as_mut().map(std::mem::take));
    let Some(pending) = pending.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut totals = std::collections::BTreeMap::<(i64, i64), i64>::new();
    for (hub, variant, delta) in pending {
        *totals.entry((hub, variant)).or_default() += delta;
    }
    let (keys, deltas): (Vec<(i64, i64)>, Vec<i64>) = totals.into_iter().unzip();
    let (hubs, variants): (Vec<i64>, Vec<i64>) = keys.into_iter().unzip();
    crate::db::prepared::sql(
        "INSERT INTO stock_levels (hub_id, variant_id, quantity) \
         SELECT hub, variant, delta FROM unnest($1::int8[], $2::int8[], $3::int8[]) \
           AS d(hub, variant, delta) ORDER BY hub, variant \
         ON CONFLICT (hub_id, variant_id) DO UPDATE \
           SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()",
    )
    .bind::<Array<BigInt>, _>(hubs)
    .bind::<Array<BigInt>, _>(variants)
    .bind::<Array<BigInt>, _>(deltas)
    .execute(conn)
    .map(|_| ())
}

/// Receives stock (a positive move): as `apply`, but inside a `Deferral` the level's increase
/// waits for the end of the chunk and the new level is not known (`None`).
pub fn receive(conn: &mut PgConnection, m: &Move<'_>) -> Result<Option<i64>, Refusal> {
    let held = m.delta > 0
        && DEFERRED.with(|d| match d.borrow_mut().as_mut() {
            Some(pending) => {
                pending.push((m.hub_id, m.variant_id, m.delta));
                true
            }
            None => false,
        });
    if !held {
        return apply(conn, m).map(Some);
    }
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
    Ok(None)
}

/// Applies one stock change. Returns the new level.
///
/// The level and its ledger row are written by one statement (two data-modifying CTEs): a
/// sync batch moves stock in nearly every operation, and each statement is a round trip.
pub fn apply(conn: &mut PgConnection, m: &Move<'_>) -> Result<i64, Refusal> {
    // The level read and written here must include what is held back.
    flush_deferred(conn)?;
    // An increase creates the level if needed; a decrease only succeeds on a level that
    // covers it. Either way the ledger row is written exactly when the level changed. Both
    // texts are fixed, so each stays prepared (`db::prepared`): every stock decrease runs one.
    macro_rules! with_ledger_row {
        ($level:literal) => {
            concat!(
                "WITH level AS (",
                $level,
                "), entry AS ( \
                   INSERT INTO stock_ledger (hub_id, variant_id, delta, reason, operation_id, actor_id) \
                   SELECT $1, $2, $3, $4, $5, $6 FROM level WHERE $3 <> 0) \
                 SELECT quantity, reorder_level FROM level"
            )
        };
    }
    let statement = if m.delta >= 0 {
        with_ledger_row!(
            "INSERT INTO stock_levels (hub_id, variant_id, quantity) VALUES ($1, $2, $3) \
             ON CONFLICT (hub_id, variant_id) DO UPDATE \
               SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now() \
             RETURNING quantity, reorder_level"
        )
    } else {
        // A level is bulk units plus the serial-numbered items in stock (`in_stock`): a
        // decrease may not take it below those items, which leave only by serial number (the
        // item's own row changes first, so an item leaving is no longer counted).
        with_ledger_row!(
            "UPDATE stock_levels SET quantity = quantity + $3, updated_at = now() \
             WHERE hub_id = $1 AND variant_id = $2 AND quantity + $3 >= ( \
               SELECT count(*) FROM inventory_items i WHERE i.hub_id = $1 AND i.variant_id = $2 \
                 AND i.status IN ('AVAILABLE', 'RESERVED')) \
             RETURNING quantity, reorder_level"
        )
    };
    let moved: Option<Level> = crate::db::prepared::sql(statement)
        .bind::<BigInt, _>(m.hub_id)
        .bind::<BigInt, _>(m.variant_id)
        .bind::<BigInt, _>(m.delta)
        .bind::<Text, _>(m.reason)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(m.operation_row)
        .bind::<Nullable<BigInt>, _>(m.actor_id)
        .get_result(conn)
        .optional()?;
    let Some(Level {
        quantity,
        reorder_level,
    }) = moved
    else {
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
        let serials = serials_in_stock(conn, m.hub_id, m.variant_id)?;
        let have = have.unwrap_or(0);
        return reject(if serials > 0 {
            format!(
                "not enough stock of {sku}: {have} on hand, of which {serials} serial-numbered (these go only by serial number), {} needed",
                -m.delta
            )
        } else {
            format!(
                "not enough stock of {sku}: {have} on hand, {} needed",
                -m.delta
            )
        });
    };
    // Crossing the reorder level is news for the live dashboards (once, not every move).
    if m.delta < 0 && quantity <= reorder_level && quantity - m.delta > reorder_level {
        crate::events::enqueue(
            conn,
            "stock.low",
            serde_json::json!({ "hub_id": m.hub_id, "variant_id": m.variant_id, "quantity": quantity, "reorder_level": reorder_level }),
        )?;
    }
    Ok(quantity)
}

/// The statuses in which a serial-numbered item is in stock, and so part of its hub's level
/// (the SQL of `apply`, `inventory::check` and the migration `serials_in_levels` name them too).
pub const IN_STOCK: [&str; 2] = ["AVAILABLE", "RESERVED"];

pub fn in_stock(status: &str) -> bool {
    IN_STOCK.contains(&status)
}

/// How a serial-numbered item's change of status (`None`: not there, received or deleted)
/// moves its hub's level: +1 into stock, −1 out of it, 0 within (reserve, release).
pub fn serial_delta(from: Option<&str>, to: Option<&str>) -> i64 {
    i64::from(to.is_some_and(in_stock)) - i64::from(from.is_some_and(in_stock))
}

fn serials_in_stock(conn: &mut PgConnection, hub_id: i64, variant_id: i64) -> QueryResult<i64> {
    use crate::schema::inventory_items;
    inventory_items::table
        .filter(inventory_items::hub_id.eq(hub_id))
        .filter(inventory_items::variant_id.eq(variant_id))
        .filter(inventory_items::status.eq_any(IN_STOCK))
        .count()
        .get_result(conn)
}

#[derive(QueryableByName)]
struct Level {
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = BigInt)]
    reorder_level: i64,
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

/// The levels that differ from the ledger's sums: (hub_id, variant_id, level, ledger).
pub const MISMATCHES: &str =
    "SELECT coalesce(l.hub_id, g.hub_id) AS hub_id, coalesce(l.variant_id, g.variant_id) AS variant_id, \
            coalesce(l.quantity, 0)::bigint AS level, coalesce(g.total, 0)::bigint AS ledger \
     FROM stock_levels l FULL JOIN (SELECT hub_id, variant_id, sum(delta) AS total FROM stock_ledger GROUP BY 1, 2) g \
       ON g.hub_id = l.hub_id AND g.variant_id = l.variant_id \
     WHERE coalesce(l.quantity, 0) <> coalesce(g.total, 0) ORDER BY 1, 2";

/// Levels that differ from the ledger's sums (empty when all agree).
pub fn mismatches(conn: &mut PgConnection) -> QueryResult<Vec<Mismatch>> {
    diesel::sql_query(MISMATCHES).load(conn)
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
