//! The cart kinds: `sale.create`, `sale.update` (field merge on the base version),
//! `sale.confirm` (stock leaves through the ledger, serialized items RESERVED → SOLD; irreversible)
//! and `sale.cancel` (drafts only; reserved items go back). Prices are checked against the
//! flags of the user applying the operation, at apply time.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::pricing::Priced;
use super::{lines, sellable_customer, state, Sale};
use crate::auth::permissions::Permission;
use crate::inventory::ledger::{self, Move};
use crate::money;
use crate::schema::{hubs, inventory_items, organisations, product_variants, sale_lines, sales};
use crate::sync::kind::{
    fields_changed_by_others, merge_edit, missing_record, parse, reject, Applied, ApplyCtx, Form,
    Kind, LineInput, Read, Refusal, Spec, Target, MAX_LINES, MAX_QUANTITY,
};
use crate::sync::operation::FieldError;
use crate::warehouse::ItemRow;

/// The highest unit price a line may carry: one billion in cents.
pub const MAX_PRICE_CENTS: i64 = 100_000_000_000;

fn one() -> i64 {
    1
}

/// A cart line as a client sends it: an item by id, SKU or name, or a serialized item by its
/// serial number; the unit price defaults to the list price.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SaleLineInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_cents: Option<i64>,
    #[serde(default)]
    pub discount_bp: i32,
    #[serde(default)]
    pub foc: bool,
}

impl SaleLineInput {
    fn serial(&self) -> Option<&str> {
        self.serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

fn check_sale_lines(lines: &[SaleLineInput], errors: &mut Vec<FieldError>) {
    if lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            format!("at most {MAX_LINES} lines per sale"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        let named = l.variant_id.is_some()
            || l.sku.as_deref().is_some_and(|s| !s.trim().is_empty())
            || l.serial().is_some();
        if !named {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "choose an item or scan a serial number",
            ));
        }
        if l.sku.as_deref().is_some_and(|s| s.chars().count() > 200) {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "at most 200 characters",
            ));
        }
        if l.serial.as_deref().is_some_and(|s| s.chars().count() > 64) {
            errors.push(FieldError::new(
                format!("lines[{n}].serial"),
                "a serial number is at most 64 characters",
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&l.quantity) {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                format!("the quantity must be from 1 to {MAX_QUANTITY}"),
            ));
        } else if l.serial().is_some() && l.quantity != 1 {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                "a serialized item is sold one at a time",
            ));
        }
        if l.unit_price_cents
            .is_some_and(|p| !(0..=MAX_PRICE_CENTS).contains(&p))
        {
            errors.push(FieldError::new(
                format!("lines[{n}].unit_price"),
                "the unit price must be from 0 to 1,000,000,000",
            ));
        }
        if !(0..=10_000).contains(&l.discount_bp) {
            errors.push(FieldError::new(
                format!("lines[{n}].discount"),
                "the discount is from 0 to 100 %",
            ));
        }
    }
}

fn check_notes(notes: &str, errors: &mut Vec<FieldError>) {
    if notes.chars().count() > 2000 {
        errors.push(FieldError::new("notes", "at most 2000 characters"));
    }
}

fn load_for_update(conn: &mut PgConnection, id: Uuid, hub_id: i64) -> Result<Sale, Refusal> {
    let found: Option<Sale> = sales::table
        .find(id)
        .for_update()
        .select(Sale::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(s) if s.hub_id == hub_id => Ok(s),
        _ => Err(missing_record(conn, id, "sale")),
    }
}

fn loaded(conn: &mut PgConnection, id: Uuid) -> QueryResult<Sale> {
    sales::table.find(id).select(Sale::as_select()).first(conn)
}

/// Item status changes go to the warehouse's transaction log like every other.
fn set_item_status(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    action: &str,
    status: &str,
    sale_id: Uuid,
    price: Option<i64>,
) -> Result<(), Refusal> {
    crate::inventory::items::log(
        conn,
        ctx,
        item,
        action,
        Some(&item.location_code),
        None,
        json!({ "sale_id": sale_id, "from_status": item.status }),
    )?;
    // Compare-and-set on the status this operation read: a change it did not see refuses it.
    let changed = diesel::update(
        inventory_items::table
            .find(item.id)
            .filter(inventory_items::status.eq(&item.status)),
    )
    .set((
        inventory_items::status.eq(status),
        inventory_items::sale_price_cents.eq(price.or(item.sale_price_cents)),
        inventory_items::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(Refusal::Clash(format!(
            "the item {} changed while this was applied",
            item.serial_number
        )));
    }
    let reason = if action == "RETURN" {
        "sale_return"
    } else {
        "sale"
    };
    crate::inventory::items::book_stock(conn, ctx, item, (Some(&item.status), Some(status)), reason)
}

/// Gives a reserved item back. An item no longer RESERVED (sold at the warehouse before the
/// sale's cart held it, say) is left as it is: releasing never moves an item out of SOLD.
fn release(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    item: &ItemRow,
    sale_id: Uuid,
) -> Result<(), Refusal> {
    if item.status != "RESERVED" {
        return Ok(());
    }
    set_item_status(conn, ctx, item, "RELEASE", "AVAILABLE", sale_id, None)
}

fn line_items(conn: &mut PgConnection, sale_id: Uuid) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(
            inventory_items::id.eq_any(
                sale_lines::table
                    .filter(sale_lines::sale_id.eq(sale_id))
                    .select(sale_lines::item_id.assume_not_null())
                    .filter(sale_lines::item_id.is_not_null()),
            ),
        )
        .for_update()
        .select(ItemRow::as_select())
        .load(conn)
}

/// The item a line names: a serialized item at the sale's hub (free, or already on this sale),
/// or a catalog variant by id, SKU or name.
fn resolve(
    conn: &mut PgConnection,
    sale: &Sale,
    n: i32,
    l: &SaleLineInput,
    held: &[ItemRow],
) -> Result<(i64, Option<ItemRow>), Refusal> {
    if let Some(serial) = l.serial() {
        let found = crate::inventory::items::by_serial_at_hub(conn, serial, sale.hub_id)?;
        let Some(item) = found else {
            return reject(format!(
                "line {n}: there is no item with serial number {serial} at this hub"
            ));
        };
        if !held.iter().any(|h| h.id == item.id) && item.status != "AVAILABLE" {
            return Err(Refusal::Clash(format!(
                "line {n}: the item {serial} is {}",
                item.status
            )));
        }
        return Ok((item.variant_id, Some(item)));
    }
    let line = LineInput {
        variant_id: l.variant_id,
        sku: l.sku.clone(),
        quantity: l.quantity,
        expiry_on: None,
        lot: None,
    };
    let variant = ledger::resolve_variant(conn, &line).map_err(|e| match e {
        Refusal::Rejected(reason) => Refusal::Rejected(format!("line {n}: {reason}")),
        other => other,
    })?;
    Ok((variant, None))
}

/// Checks a line's price against the flags of the user applying the operation.
fn check_flags(ctx: &ApplyCtx<'_>, n: i32, priced: &Priced) -> Result<(), Refusal> {
    match priced.refusal(&ctx.actor.flags) {
        Some(reason) => Err(Refusal::Forbidden(format!("{reason} (line {n})"))),
        None => Ok(()),
    }
}

/// Adds one line as number `n`; a serialized item is reserved for the sale.
fn insert_line(
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
fn release_dropped(
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
fn check_total(conn: &mut PgConnection, sale: &Sale) -> Result<(), Refusal> {
    if super::totals(sale, &lines(conn, sale.id)?).within_limits() {
        return Ok(());
    }
    reject(format!(
        "the sale's total with tax (or its value before discounts) would be larger than {}; split it into several sales",
        money::format_cents(money::MAX_TOTAL_CENTS)
    ))
}

/// Replaces a draft's lines (numbered 1..).
fn replace_lines(
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
fn add_lines(
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

fn check_edits(edits: &[LineEdit], errors: &mut Vec<FieldError>) {
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

fn edit_lines(
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
fn clashing<'a>(mine: &'a [String], theirs: &[String]) -> Vec<&'a str> {
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

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
    pub customer_id: i64,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub lines: Vec<SaleLineInput>,
}

pub struct CreateSale;

pub static CREATE_SALE: Spec = Spec {
    name: "sale.create",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale started",
    entry: "Sale",
    form: Some(Form {
        path: "sales",
        read: |at| {
            let (first, then) = super::pages::posted_sale(at.hub_id, at.form);
            Some(Read { first, then })
        },
        list: None,
        pages: &["/sales", "sales/new"],
        at_main_hub: true,
    }),
    again: Some("sales/new"),
};

impl Kind for CreateSale {
    fn spec(&self) -> &Spec {
        &CREATE_SALE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: CreatePayload = parse(payload)?;
        let mut errors = Vec::new();
        check_notes(&p.notes, &mut errors);
        check_sale_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.sale_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: CreatePayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        if sales::table
            .find(p.sale_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("a sale with this id already exists");
        }
        if !sellable_customer(conn, ctx.actor, p.hub_id, p.customer_id)? {
            return Err(Refusal::Forbidden(
                "this customer is not one you sell to at this hub".into(),
            ));
        }
        let (organisation_id, tax_rate_bp): (i64, i32) = hubs::table
            .inner_join(organisations::table)
            .filter(hubs::id.eq(p.hub_id))
            .select((organisations::id, organisations::sales_tax_bp))
            .first(conn)?;
        diesel::insert_into(sales::table)
            .values((
                sales::id.eq(p.sale_id),
                sales::organisation_id.eq(organisation_id),
                sales::hub_id.eq(p.hub_id),
                sales::customer_id.eq(p.customer_id),
                sales::notes.eq(p.notes.trim()),
                sales::tax_rate_bp.eq(tax_rate_bp),
                sales::created_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        let sale = loaded(conn, p.sale_id)?;
        add_lines(conn, ctx, &sale, &p.lines)?;
        check_total(conn, &sale)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            after: Some(state(conn, &sale)?),
            result_version: Some(1),
            ..Default::default()
        })
    }
}

/// An edit of a draft: only the fields present change.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// All lines, replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<SaleLineInput>>,
    /// Lines added after the existing ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_lines: Option<Vec<SaleLineInput>>,
    /// Changes to single lines, by line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_lines: Option<Vec<LineEdit>>,
}

impl UpdatePayload {
    /// The fields this edit changes: what field merge compares with other edits.
    fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            ("customer", self.customer_id.is_some()),
            ("notes", self.notes.is_some()),
            ("lines", self.lines.is_some()),
            ("lines+", self.add_lines.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f.to_string())
        .collect();
        for e in self.edit_lines.iter().flatten() {
            out.push(format!("line:{}", e.line_no));
        }
        out
    }
}

pub struct UpdateSale;

pub static UPDATE_SALE: Spec = Spec {
    name: "sale.update",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale changed",
    entry: "Sale change",
    form: Some(Form {
        path: "sales/{id}/{action}",
        read: |at| {
            super::pages::posted_action(at.action, at.hub_id, at.id, at.form)
                .and_then(|(posted, _)| Read::one(posted))
        },
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("sales/{id}"),
};

impl Kind for UpdateSale {
    fn spec(&self) -> &Spec {
        &UPDATE_SALE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: UpdatePayload = parse(payload)?;
        let mut errors = Vec::new();
        if let Some(notes) = &p.notes {
            check_notes(notes, &mut errors);
        }
        if let Some(lines) = &p.lines {
            check_sale_lines(lines, &mut errors);
        }
        if let Some(lines) = &p.add_lines {
            check_sale_lines(lines, &mut errors);
        }
        if let Some(edits) = &p.edit_lines {
            check_edits(edits, &mut errors);
        }
        if p.fields().is_empty() {
            errors.push(FieldError::new("payload", "nothing to change"));
        }
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.sale_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: UpdatePayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let sale = load_for_update(conn, p.sale_id, p.hub_id)?;
        if !super::visible_to(ctx.actor, sale.hub_id, sale.customer_id) {
            return Err(missing_record(conn, sale.id, "sale"));
        }
        if sale.status != "draft" {
            return reject(format!(
                "the sale is {} meanwhile; only drafts can be edited",
                sale.status
            ));
        }
        let mine = p.fields();
        merge_edit(
            conn,
            ctx.op.base_version,
            sale.version,
            |conn, base| {
                let theirs = fields_changed_by_others(conn, sale.id, base, ctx)?;
                Ok(clashing(&mine, &theirs)
                    .into_iter()
                    .map(String::from)
                    .collect())
            },
            |conn| state(conn, &sale),
        )?;
        if let Some(customer_id) = p.customer_id {
            if !sellable_customer(conn, ctx.actor, sale.hub_id, customer_id)? {
                return Err(Refusal::Forbidden(
                    "this customer is not one you sell to at this hub".into(),
                ));
            }
        }
        let before = state(conn, &sale)?;
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::customer_id.eq(p.customer_id.unwrap_or(sale.customer_id)),
                sales::notes.eq(p.notes.as_deref().map(str::trim).unwrap_or(&sale.notes)),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if let Some(lines) = &p.lines {
            replace_lines(conn, ctx, &sale, lines)?;
        }
        if let Some(edits) = &p.edit_lines {
            edit_lines(conn, ctx, &sale, edits)?;
        }
        if let Some(lines) = &p.add_lines {
            add_lines(conn, ctx, &sale, lines)?;
        }
        check_total(conn, &sale)?;
        let after = loaded(conn, sale.id)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: mine,
            result_version: Some(version),
            ..Default::default()
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RefPayload {
    pub sale_id: Uuid,
    pub hub_id: i64,
}

fn parse_ref(payload: &Value) -> Result<Target, Vec<FieldError>> {
    let p: RefPayload = parse(payload)?;
    Ok(Target {
        hub_id: Some(p.hub_id),
        record_id: Some(p.sale_id),
    })
}

fn ref_draft(conn: &mut PgConnection, ctx: &ApplyCtx<'_>, verb: &str) -> Result<Sale, Refusal> {
    let p: RefPayload = serde_json::from_value(ctx.op.payload.clone())
        .map_err(|e| Refusal::Rejected(e.to_string()))?;
    let sale = load_for_update(conn, p.sale_id, p.hub_id)?;
    if !super::visible_to(ctx.actor, sale.hub_id, sale.customer_id) {
        return Err(missing_record(conn, sale.id, "sale"));
    }
    if sale.status != "draft" {
        return Err(Refusal::Clash(format!(
            "only drafts can be {verb}; this sale is {}",
            sale.status
        )));
    }
    Ok(sale)
}

pub struct ConfirmSale;

pub static CONFIRM_SALE: Spec = Spec {
    name: "sale.confirm",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale confirmed",
    entry: "Sale confirmation",
    form: None,
    again: Some("sales/{id}"),
};

impl Kind for ConfirmSale {
    fn spec(&self) -> &Spec {
        &CONFIRM_SALE
    }
    /// Captured offline, a cart with a changed price, a discount, a free item or a price
    /// below cost waits for a manager; a cart at list prices is final.
    fn waits_for_review_offline(
        &self,
        conn: &mut PgConnection,
        payload: &Value,
    ) -> QueryResult<bool> {
        let Ok(p) = serde_json::from_value::<RefPayload>(payload.clone()) else {
            return Ok(false);
        };
        Ok(lines(conn, p.sale_id)?.iter().any(|l| l.priced().guarded()))
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        parse_ref(payload)
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let sale = ref_draft(conn, ctx, "confirmed")?;
        let lines = lines(conn, sale.id)?;
        if lines.is_empty() {
            return reject("add at least one line before confirming the sale");
        }
        if !super::sellable_customer(conn, ctx.actor, sale.hub_id, sale.customer_id)? {
            return Err(Refusal::Forbidden(
                "this customer is not one you sell to at this hub".into(),
            ));
        }
        let before = state(conn, &sale)?;
        let items = line_items(conn, sale.id)?;
        for line in &lines {
            // The flags of whoever confirms hold for every line, whoever priced it.
            if let Some(reason) = line.priced().refusal(&ctx.actor.flags) {
                return Err(Refusal::Forbidden(format!(
                    "{reason} (line {})",
                    line.line_no
                )));
            }
            match line
                .item_id
                .and_then(|id| items.iter().find(|i| i.id == id))
            {
                Some(item) => {
                    if item.status != "RESERVED" || item.hub_id != sale.hub_id {
                        return Err(Refusal::Clash(format!(
                            "line {}: the item {} is {}",
                            line.line_no, item.serial_number, item.status
                        )));
                    }
                    let price = line.amounts().net;
                    set_item_status(conn, ctx, item, "SELL", "SOLD", sale.id, Some(price))?;
                }
                None => {
                    ledger::apply(
                        conn,
                        &Move {
                            hub_id: sale.hub_id,
                            variant_id: line.variant_id,
                            delta: -line.quantity,
                            reason: "sale",
                            operation_row: Some(ctx.operation_row),
                            actor_id: Some(ctx.actor.user_id),
                        },
                    )?;
                }
            }
        }
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::status.eq("confirmed"),
                sales::confirmed_by.eq(ctx.actor.user_id),
                sales::confirmed_at.eq(diesel::dsl::now),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        let after = loaded(conn, sale.id)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(before),
            after: Some(state(conn, &after)?),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            events: vec![
                ("stock".into(), json!({ "hub_id": sale.hub_id })),
                (
                    "sale.confirmed".into(),
                    json!({ "sale_id": sale.id, "hub_id": sale.hub_id, "customer_id": sale.customer_id }),
                ),
            ],
        })
    }
}

/// Puts a confirmed sale's goods back: stock through the ledger, sold items AVAILABLE again.
pub fn return_goods(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    sale: &Sale,
) -> Result<(), Refusal> {
    let items = line_items(conn, sale.id)?;
    for line in lines(conn, sale.id)? {
        match line
            .item_id
            .and_then(|id| items.iter().find(|i| i.id == id))
        {
            Some(item) if item.status == "SOLD" && item.hub_id == sale.hub_id => {
                set_item_status(conn, ctx, item, "RETURN", "AVAILABLE", sale.id, None)?;
            }
            Some(item) => {
                return Err(Refusal::Clash(format!(
                    "the item {} is {} now and cannot be returned",
                    item.serial_number, item.status
                )))
            }
            None => {
                ledger::apply(
                    conn,
                    &Move {
                        hub_id: sale.hub_id,
                        variant_id: line.variant_id,
                        delta: line.quantity,
                        reason: "sale_return",
                        operation_row: Some(ctx.operation_row),
                        actor_id: Some(ctx.actor.user_id),
                    },
                )?;
            }
        }
    }
    Ok(())
}

pub struct CancelSale;

pub static CANCEL_SALE: Spec = Spec {
    name: "sale.cancel",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Sale cancelled",
    entry: "Sale cancellation",
    form: None,
    again: Some("sales/{id}"),
};

impl Kind for CancelSale {
    fn spec(&self) -> &Spec {
        &CANCEL_SALE
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        parse_ref(payload)
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let sale = ref_draft(conn, ctx, "cancelled")?;
        for item in line_items(conn, sale.id)? {
            release(conn, ctx, &item, sale.id)?;
        }
        let version = sale.version + 1;
        diesel::update(sales::table.find(sale.id))
            .set((
                sales::status.eq("cancelled"),
                sales::version.eq(version),
                sales::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(Applied {
            server_id: Some(sale.id.to_string()),
            object_type: "sale",
            before: Some(json!({ "status": "draft" })),
            after: Some(json!({ "status": "cancelled" })),
            changed_fields: vec!["status".into()],
            result_version: Some(version),
            ..Default::default()
        })
    }
}
