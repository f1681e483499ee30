//! `outpost stock rebuild --check`: every way the stock figures could disagree with each
//! other, each named in words a warehouse manager can act on. Read-only.

use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(QueryableByName)]
struct Finding {
    #[diesel(sql_type = Text)]
    text: String,
}

/// Each further check: one statement that returns a sentence per disagreement.
const CHECKS: &[&str] = &[
    "SELECT format('hub %s, item %s: level %s is below zero', h.code, v.full_sku, l.quantity) AS text \
     FROM stock_levels l JOIN hubs h ON h.id = l.hub_id JOIN product_variants v ON v.id = l.variant_id \
     WHERE l.quantity < 0 ORDER BY h.code, v.full_sku",
    // Serial-numbered items in stock are part of the level: the bulk part (level − items) is
    // never below zero.
    "SELECT format('hub %s, item %s: level %s but %s serial-numbered items are in stock there', h.code, v.full_sku, coalesce(l.quantity, 0), s.n) AS text \
     FROM (SELECT hub_id, variant_id, count(*) AS n FROM inventory_items WHERE status IN ('AVAILABLE', 'RESERVED') GROUP BY 1, 2) s \
     LEFT JOIN stock_levels l ON l.hub_id = s.hub_id AND l.variant_id = s.variant_id \
     JOIN hubs h ON h.id = s.hub_id JOIN product_variants v ON v.id = s.variant_id \
     WHERE coalesce(l.quantity, 0) < s.n ORDER BY h.code, v.full_sku",
    // A draft sale holds its serialized items: each is RESERVED, and no item is on two sales.
    "SELECT format('serial %s is on draft sale %s but is %s, not RESERVED', i.serial_number, s.id, i.status) AS text \
     FROM sale_lines l JOIN sales s ON s.id = l.sale_id JOIN inventory_items i ON i.id = l.item_id \
     WHERE s.status = 'draft' AND i.status <> 'RESERVED' ORDER BY i.serial_number",
    "SELECT format('serial %s is on %s sales (draft or confirmed) at once', i.serial_number, count(DISTINCT s.id)) AS text \
     FROM sale_lines l JOIN sales s ON s.id = l.sale_id JOIN inventory_items i ON i.id = l.item_id \
     WHERE s.status IN ('draft', 'confirmed') \
       AND NOT EXISTS (SELECT 1 FROM inventory_transactions r WHERE r.item_id = i.id AND r.action = 'RETURN') \
     GROUP BY i.serial_number HAVING count(DISTINCT s.id) > 1 ORDER BY i.serial_number",
    "SELECT format('serial %s was sold %s times without a return between', i.serial_number, count(*)) AS text \
     FROM inventory_transactions t JOIN inventory_items i ON i.id = t.item_id \
     WHERE t.action = 'SELL' \
       AND NOT EXISTS (SELECT 1 FROM inventory_transactions r WHERE r.item_id = i.id AND r.action = 'RETURN') \
     GROUP BY i.serial_number HAVING count(*) > 1 ORDER BY i.serial_number",
    // In transit is what dispatched transfers carry: nothing moves before dispatch, nothing
    // is received before receipt, and no more arrives than left.
    "SELECT format('transfer %s (%s), line %s: %s', t.id, t.status, tl.line_no, \
                   CASE WHEN tl.dispatched_qty > tl.quantity THEN format('%s dispatched of %s approved', tl.dispatched_qty, tl.quantity) \
                        WHEN tl.received_qty > tl.dispatched_qty THEN format('%s received of %s dispatched', tl.received_qty, tl.dispatched_qty) \
                        WHEN t.status IN ('requested', 'approved', 'cancelled') THEN format('%s dispatched before dispatch', tl.dispatched_qty) \
                        ELSE format('%s received before receipt', tl.received_qty) END) AS text \
     FROM transfer_lines tl JOIN transfers t ON t.id = tl.transfer_id \
     WHERE tl.dispatched_qty > tl.quantity OR tl.received_qty > tl.dispatched_qty \
        OR (t.status IN ('requested', 'approved', 'cancelled') AND tl.dispatched_qty <> 0) \
        OR (t.status = 'dispatched' AND tl.received_qty <> 0) \
     ORDER BY t.id, tl.line_no",
    // A serial-numbered item in transit is on exactly the dispatched transfer carrying it, and a
    // line carries no more items than units (nor more arrived than were received).
    "SELECT format('serial %s is in transit but no dispatched transfer carries it', i.serial_number) AS text \
     FROM inventory_items i WHERE i.status = 'IN_TRANSIT' AND NOT EXISTS ( \
       SELECT 1 FROM transfer_line_items x JOIN transfers t ON t.id = x.transfer_id \
       WHERE x.item_id = i.id AND t.status = 'dispatched' AND x.arrived IS NULL) \
     ORDER BY i.serial_number",
    "SELECT format('transfer %s (%s): serial %s is %s', t.id, t.status, i.serial_number, \
                   CASE WHEN t.status = 'dispatched' THEN lower(i.status) || ' while on its way' \
                        ELSE 'not recorded at receipt' END) AS text \
     FROM transfer_line_items x JOIN transfers t ON t.id = x.transfer_id JOIN inventory_items i ON i.id = x.item_id \
     WHERE (t.status = 'dispatched' AND (i.status <> 'IN_TRANSIT' OR x.arrived IS NOT NULL)) \
        OR (t.status <> 'dispatched' AND x.arrived IS NULL) \
     ORDER BY t.id, i.serial_number",
    "SELECT format('transfer %s, line %s: %s serial-numbered items sent for %s units, %s arrived for %s received', \
                   tl.transfer_id, tl.line_no, x.sent, tl.dispatched_qty, x.came, tl.received_qty) AS text \
     FROM transfer_lines tl JOIN (SELECT transfer_id, line_no, count(*) AS sent, count(*) FILTER (WHERE arrived) AS came \
                                  FROM transfer_line_items GROUP BY 1, 2) x \
       ON x.transfer_id = tl.transfer_id AND x.line_no = tl.line_no \
     WHERE x.sent > tl.dispatched_qty OR x.came > tl.received_qty \
     ORDER BY tl.transfer_id, tl.line_no",
];

/// Every disagreement between the stock figures, in words (empty when all agree).
pub fn disagreements(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    // First: a level is the ledger's sum for its hub and item (`ledger::MISMATCHES`).
    let ledger: Vec<Finding> = diesel::sql_query(format!(
        "SELECT format('hub %s, item %s: level %s but the ledger adds up to %s', h.code, v.full_sku, m.level, m.ledger) AS text \
         FROM ({}) m JOIN hubs h ON h.id = m.hub_id JOIN product_variants v ON v.id = m.variant_id \
         ORDER BY h.code, v.full_sku",
        super::ledger::MISMATCHES
    ))
    .load(conn)?;
    let mut out: Vec<String> = ledger.into_iter().map(|f| f.text).collect();
    for check in CHECKS {
        let found: Vec<Finding> = diesel::sql_query(*check).load(conn)?;
        out.extend(found.into_iter().map(|f| f.text));
    }
    Ok(out)
}
