//! A cart's lines as the cart kinds write them: priced against the applying user's flags,
//! serial-numbered items reserved and released, edits merged field by field.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{lines, Sale};
use crate::catalog::pricing::Priced;
use crate::inventory::items::ItemRow;
use crate::money;
use crate::schema::{product_variants, sale_lines};
use crate::sync::kind::{reject, ApplyCtx, Refusal, MAX_LINES};
use crate::sync::operation::FieldError;

use super::cart::{check_sale_lines, line_items, release, resolve, set_item_status, SaleLineInput};

/// Checks a line's price against the flags of the user applying the operation.
pub(super) fn check_flags(ctx: &ApplyCtx<'_>, n: i32, priced: &Priced) -> Result<(), Refusal> {
    match priced.refusal(&ctx.actor.flags) {
        Some(reason) => Err(Refusal::Forbidden(format!("{reason} (line {n})"))),
        None => Ok(()),
    }
}

/// Adds one line as number `n`; a serialized item is reserved for the sale.
pub(super) fn insert_line(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
    n: i32,
    l: &SaleLineInput,
    held: &[ItemRow],
) -> Result<Option<i64>, Refusal> {
    let (variant_id, item) = resolve(conn, sale, n, l, held)?;
    let (list, variant_cost): (i64, Option<i64>) = product_variants::table
        .find(variant_id)
        .select((
            product_variants::listing_price_cents,
            product_variants::cost_cents,
        ))
        .first(conn)?;
    let priced = Priced {
        list_cents: list,
        cost_cents: item
            .as_ref()
            .and_then(|i| i.cost_basis_cents)
            .or(variant_cost),
        unit_cents: l.unit_price_cents.unwrap_or(list),
        discount_bp: l.discount_bp,
        foc: l.foc,
    };
    check_flags(ctx, n, &priced)?;
    if let Some(item) = &item {
        let on_sale: i64 = sale_lines::table
            .filter(sale_lines::sale_id.eq(sale.id))
            .filter(sale_lines::item_id.eq(item.id))
            .count()
            .get_result(conn)?;
        if on_sale > 0 {
            return reject(format!(
                "line {n}: serial number {} is already on this sale",
                item.serial_number
            ));
        }
    }
    diesel::insert_into(sale_lines::table)
        .values((
            sale_lines::sale_id.eq(sale.id),
            sale_lines::line_no.eq(n),
            sale_lines::variant_id.eq(variant_id),
            sale_lines::item_id.eq(item.as_ref().map(|i| i.id)),
            sale_lines::quantity.eq(l.quantity),
            sale_lines::list_price_cents.eq(list),
            sale_lines::unit_price_cents.eq(priced.unit_cents),
            sale_lines::discount_bp.eq(l.discount_bp),
            sale_lines::foc.eq(l.foc),
        ))
        .execute(conn)?;
    if let Some(item) = &item {
        if !held.iter().any(|h| h.id == item.id) {
            set_item_status(conn, ctx, item, "RESERVE", "RESERVED", sale.id, None)?;
        }
    }
    Ok(item.map(|i| i.id))
}

/// Gives back the reserved items no line of the sale holds any more.
pub(super) fn release_dropped(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
    held: &[ItemRow],
) -> Result<(), Refusal> {
    let still: Vec<Option<i64>> = sale_lines::table
        .filter(sale_lines::sale_id.eq(sale.id))
        .select(sale_lines::item_id)
        .load(conn)?;
    for item in held.iter().filter(|h| !still.contains(&Some(h.id))) {
        release(conn, ctx, item, sale.id)?;
    }
    Ok(())
}

/// A sale whose figures the arithmetic cannot hold is refused, never stored to show sums that
/// stopped at the largest number (see `money::MAX_TOTAL_CENTS`).
pub(super) fn check_total(conn: &mut PgConnection, sale: &Sale) -> Result<(), Refusal> {
    if super::totals(sale, &lines(conn, sale.id)?).within_limits() {
        return Ok(());
    }
    reject(format!(
        "the sale's total with tax (or its value before discounts) would be larger than {}; split it into several sales",
        money::format_cents(money::MAX_TOTAL_CENTS)
    ))
}

/// Replaces a draft's lines (numbered 1..).
pub(super) fn replace_lines(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
    input: &[SaleLineInput],
) -> Result<(), Refusal> {
    let held = line_items(conn, sale.id)?;
    diesel::delete(sale_lines::table.filter(sale_lines::sale_id.eq(sale.id))).execute(conn)?;
    for (i, l) in input.iter().enumerate() {
        insert_line(conn, ctx, sale, i as i32 + 1, l, &held)?;
    }
    release_dropped(conn, ctx, sale, &held)
}

/// Appends lines after the highest line number (numbers are never reused, so an edit that
/// names a line always means the line its author saw).
pub(super) fn add_lines(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
    input: &[SaleLineInput],
) -> Result<(), Refusal> {
    let held = line_items(conn, sale.id)?;
    let last: Option<i32> = sale_lines::table
        .filter(sale_lines::sale_id.eq(sale.id))
        .select(diesel::dsl::max(sale_lines::line_no))
        .first(conn)?;
    let count: i64 = sale_lines::table
        .filter(sale_lines::sale_id.eq(sale.id))
        .count()
        .get_result(conn)?;
    if count as usize + input.len() > MAX_LINES {
        return reject(format!("a sale has at most {MAX_LINES} lines"));
    }
    for (i, l) in input.iter().enumerate() {
        insert_line(conn, ctx, sale, last.unwrap_or(0) + i as i32 + 1, l, &held)?;
    }
    Ok(())
}

/// A change to one line: any of its numbers, or its removal.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineEdit {
    pub line_no: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_bp: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foc: Option<bool>,
    #[serde(default)]
    pub remove: bool,
}

impl LineEdit {
    fn touches_price(&self) -> bool {
        self.unit_price_cents.is_some() || self.discount_bp.is_some() || self.foc.is_some()
    }
}

pub(super) fn check_edits(edits: &[LineEdit], errors: &mut Vec<FieldError>) {
    for e in edits {
        let n = e.line_no;
        let as_input = SaleLineInput {
            sku: Some("-".into()),
            quantity: e.quantity.unwrap_or(1),
            unit_price_cents: e.unit_price_cents,
            discount_bp: e.discount_bp.unwrap_or(0),
            ..Default::default()
        };
        let mut found = Vec::new();
        check_sale_lines(std::slice::from_ref(&as_input), &mut found);
        errors.extend(found.into_iter().map(|f| {
            FieldError::new(
                f.field.replace("lines[1]", &format!("lines[{n}]")),
                f.message,
            )
        }));
    }
}

pub(super) fn edit_lines(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
    edits: &[LineEdit],
) -> Result<(), Refusal> {
    let held = line_items(conn, sale.id)?;
    let current = lines(conn, sale.id)?;
    for e in edits {
        let Some(line) = current.iter().find(|l| l.line_no == e.line_no) else {
            return reject(format!("line {} is no longer on this sale", e.line_no));
        };
        let target = sale_lines::table.find((sale.id, e.line_no));
        if e.remove {
            diesel::delete(target).execute(conn)?;
            continue;
        }
        if line.item_id.is_some() && e.quantity.is_some_and(|q| q != 1) {
            return reject(format!(
                "line {}: a serialized item is sold one at a time",
                e.line_no
            ));
        }
        let mut priced = line.priced();
        priced.unit_cents = e.unit_price_cents.unwrap_or(priced.unit_cents);
        priced.discount_bp = e.discount_bp.unwrap_or(priced.discount_bp);
        priced.foc = e.foc.unwrap_or(priced.foc);
        if e.touches_price() {
            check_flags(ctx, e.line_no, &priced)?;
        }
        diesel::update(target)
            .set((
                sale_lines::quantity.eq(e.quantity.unwrap_or(line.quantity)),
                sale_lines::unit_price_cents.eq(priced.unit_cents),
                sale_lines::discount_bp.eq(priced.discount_bp),
                sale_lines::foc.eq(priced.foc),
            ))
            .execute(conn)?;
    }
    release_dropped(conn, ctx, sale, &held)
}

/// Whether two sets of changed fields clash: the same field, or a line edit against a
/// replacement of all lines. Added lines clash with nothing.
pub(super) fn clashing<'a>(mine: &'a [String], theirs: &[String]) -> Vec<&'a str> {
    let clash = |m: &str, t: &str| {
        m != "lines+"
            && t != "lines+"
            && (m == t
                || (m == "lines" && t.starts_with("line:"))
                || (t == "lines" && m.starts_with("line:")))
    };
    mine.iter()
        .filter(|m| theirs.iter().any(|t| clash(m, t)))
        .map(String::as_str)
        .collect()
}
