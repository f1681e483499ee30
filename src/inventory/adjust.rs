//! Stock adjustments and reorder levels.
//!
//! An adjustment says "I counted N of this item here" (or found it damaged, expired, lost, or
//! found more): the level becomes N. Counting happens against the level the person saw, which the
//! operation carries as its base version. The change applied is N minus that level, and only
//! while the level is still that: if other work moved the stock meanwhile, the difference might
//! already be explained by it, so the adjustment goes to the review queue instead of guessing.
//! Accepting it there counts against the level of that moment (the review passes it as the
//! base version), so the level becomes N.
//!
//! Reorder levels are a hub's setting per item; the last one set holds.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, Move};
use crate::auth::permissions::Permission;
use crate::schema::{product_variants, stock_adjustments, stock_levels};
use crate::sync::kind::{
    reject, Applied, ApplyCtx, Form, Kind, LineInput, Read, Refusal, Spec, Target, MAX_LINES,
    MAX_QUANTITY,
};
use crate::sync::operation::FieldError;

/// Why stock was adjusted, with the words people read.
pub const REASONS: &[(&str, &str)] = &[
    ("count", "Stock count"),
    ("damaged", "Damaged"),
    ("expired", "Expired"),
    ("lost", "Lost or stolen"),
    ("found", "Found"),
    ("correction", "Correction of an earlier entry"),
];

pub fn reason_words(code: &str) -> &'static str {
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, w)| *w)
        .unwrap_or("Adjustment")
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustPayload {
    pub adjustment_id: Uuid,
    pub hub_id: i64,
    /// The item: its SKU (or name), as in any line.
    pub sku: String,
    /// What is there now, by the person's count.
    pub counted: i64,
    pub reason: String,
    #[serde(default)]
    pub note: Option<String>,
}

pub struct AdjustStock;

pub static ADJUST_STOCK: Spec = Spec {
    name: "stock.adjust",
    permission: Permission::StockAdjust,
    finalisable_offline: true,
    done: "Stock adjusted",
    entry: "Stock adjustment",
    form: Some(Form {
        path: "adjustments",
        read: |at| Read::one(super::adjust_pages::posted(at.hub_id, at.form)),
        list: Some("adjustments"),
        pages: &["adjustments/new"],
        at_main_hub: true,
    }),
    again: Some("adjustments/new"),
};

impl Kind for AdjustStock {
    type Payload = AdjustPayload;

    fn spec(&self) -> &Spec {
        &ADJUST_STOCK
    }
    fn check(&self, p: &AdjustPayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if p.sku.trim().is_empty() {
            errors.push(FieldError::new("item", "choose an item"));
        } else if p.sku.chars().count() > 200 {
            errors.push(FieldError::new("item", "at most 200 characters"));
        }
        if !(0..=MAX_QUANTITY).contains(&p.counted) {
            errors.push(FieldError::new(
                "counted",
                format!("enter what you counted, from 0 to {MAX_QUANTITY}"),
            ));
        }
        if !REASONS.iter().any(|(c, _)| *c == p.reason) {
            errors.push(FieldError::new("reason", "choose a reason"));
        }
        if p.note.as_deref().is_some_and(|n| n.chars().count() > 500) {
            errors.push(FieldError::new("note", "at most 500 characters"));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.adjustment_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &AdjustPayload,
    ) -> Result<Applied, Refusal> {
        let Some(seen) = ctx.op.base_version.map(i64::from) else {
            return reject("the level you counted against is missing (base_version)");
        };
        if stock_adjustments::table
            .find(p.adjustment_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("an adjustment with this id already exists");
        }
        let variant_id = item_named(conn, &p.sku)?;
        let sku: String = product_variants::table
            .find(variant_id)
            .select(product_variants::full_sku)
            .first(conn)?;
        // Held until commit, so no other change slips between this check and the move.
        let level: i64 = stock_levels::table
            .find((p.hub_id, variant_id))
            .select(stock_levels::quantity)
            .for_update()
            .first(conn)
            .optional()?
            .unwrap_or(0);
        if level != seen {
            return Err(Refusal::Conflict {
                reason: format!(
                    "the stock of {sku} changed from {seen} to {level} since it was counted"
                ),
                // The review queue applies an accepted count against this level.
                server_state: json!({ "version": level, "on_hand": level, "sku": sku }),
            });
        }
        let delta = p.counted - level;
        let after = ledger::apply(
            conn,
            &Move {
                hub_id: p.hub_id,
                variant_id,
                delta,
                reason: "adjustment",
                operation_row: Some(ctx.operation_row),
                actor_id: Some(ctx.actor.user_id),
            },
        )?;
        let note = p.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        diesel::insert_into(stock_adjustments::table)
            .values((
                stock_adjustments::id.eq(p.adjustment_id),
                stock_adjustments::hub_id.eq(p.hub_id),
                stock_adjustments::variant_id.eq(variant_id),
                stock_adjustments::counted_against.eq(level),
                stock_adjustments::counted.eq(p.counted),
                stock_adjustments::delta.eq(delta),
                stock_adjustments::reason.eq(&p.reason),
                stock_adjustments::note.eq(note),
                stock_adjustments::created_by.eq(ctx.actor.user_id),
                stock_adjustments::operation_id.eq(ctx.operation_row),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(p.adjustment_id.to_string()),
            object_type: "stock_adjustment",
            before: Some(json!({ "sku": sku, "on_hand": level })),
            after: Some(
                json!({ "sku": sku, "on_hand": after, "change": delta, "reason": p.reason, "note": note }),
            ),
            result_version: i32::try_from(after).ok(),
            events: vec![("stock".into(), json!({ "hub_id": p.hub_id }))],
            ..Default::default()
        })
    }
}

/// The item a SKU (or name) stands for, as any line of items resolves it.
fn item_named(conn: &mut PgConnection, sku: &str) -> Result<i64, Refusal> {
    let line = LineInput {
        variant_id: None,
        sku: Some(sku.to_string()),
        quantity: 1,
        expiry_on: None,
        lot: None,
    };
    ledger::resolve_variant(conn, &line)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReorderPayload {
    pub hub_id: i64,
    pub levels: Vec<ReorderLevel>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReorderLevel {
    pub sku: String,
    pub reorder_level: i64,
}

pub struct SetReorderLevels;

pub static SET_REORDER_LEVELS: Spec = Spec {
    name: "stock.reorder_levels",
    permission: Permission::StockAdjust,
    finalisable_offline: true,
    done: "Reorder levels changed",
    entry: "Reorder levels",
    form: Some(Form {
        path: "reorder-levels",
        read: |at| {
            Read::one(super::adjust_pages::posted_reorder_levels(
                at.hub_id, at.form,
            ))
        },
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("adjustments"),
};

impl Kind for SetReorderLevels {
    type Payload = ReorderPayload;

    fn spec(&self) -> &Spec {
        &SET_REORDER_LEVELS
    }
    fn check(&self, p: &ReorderPayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if p.levels.is_empty() {
            errors.push(FieldError::new("levels", "change at least one level"));
        }
        if p.levels.len() > MAX_LINES * 10 {
            errors.push(FieldError::new("levels", "too many levels in one entry"));
        }
        for level in &p.levels {
            if !(0..=MAX_QUANTITY).contains(&level.reorder_level) {
                errors.push(FieldError::new(
                    format!(
                        "reorder level of {}",
                        level.sku.chars().take(40).collect::<String>()
                    ),
                    format!("enter a whole number from 0 to {MAX_QUANTITY}"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: None,
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        _ctx: &ApplyCtx<'_>,
        p: &ReorderPayload,
    ) -> Result<Applied, Refusal> {
        let mut changed = Vec::new();
        for level in &p.levels {
            let variant_id = item_named(conn, &level.sku)?;
            // An item not stocked here yet gets a level of zero units with its reorder level.
            diesel::insert_into(stock_levels::table)
                .values((
                    stock_levels::hub_id.eq(p.hub_id),
                    stock_levels::variant_id.eq(variant_id),
                    stock_levels::quantity.eq(0),
                    stock_levels::reorder_level.eq(level.reorder_level),
                ))
                .on_conflict((stock_levels::hub_id, stock_levels::variant_id))
                .do_update()
                .set(stock_levels::reorder_level.eq(level.reorder_level))
                .execute(conn)?;
            changed.push(json!({ "sku": level.sku.trim(), "reorder_level": level.reorder_level }));
        }
        Ok(Applied {
            object_type: "stock_levels",
            after: Some(json!({ "levels": changed })),
            events: vec![("stock".into(), json!({ "hub_id": p.hub_id }))],
            ..Default::default()
        })
    }
}
