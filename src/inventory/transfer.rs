//! Transfers between hubs: requested → approved → dispatched → received. Dispatch takes stock
//! out of the sending hub (it is then in transit, visible at both ends); receipt puts what
//! actually arrived into the receiving hub and records any discrepancy. Every step changes
//! more than one hub's picture, so none is finalised offline.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::items;
use super::ledger::{self, Move};
use super::transfer_items::{self, Leg, LineItem, OnLine};
use crate::auth::permissions::Permission;
use crate::schema::{
    hubs, organisations, product_families, product_identities, product_variants, transfer_lines,
    transfers,
};
use crate::sync::kind::{
    check_lines, missing_record, parse, reject, Applied, ApplyCtx, Form, Kind, LineInput, Read,
    Refusal, Spec, Target, MAX_QUANTITY,
};
use crate::sync::operation::FieldError;

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = transfers)]
pub struct Transfer {
    pub id: Uuid,
    pub from_hub_id: i64,
    pub to_hub_id: i64,
    pub status: String,
    pub needs_list_id: Option<Uuid>,
    pub version: i32,
    pub discrepancy_note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Serialize)]
pub struct TransferLine {
    pub line_no: i32,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub dispatched_qty: i64,
    pub received_qty: i64,
}

impl Transfer {
    pub fn leg(&self) -> Leg {
        Leg {
            transfer_id: self.id,
            from_hub_id: self.from_hub_id,
            to_hub_id: self.to_hub_id,
        }
    }
}

impl TransferLine {
    /// What left the sending hub and has not arrived: in transit while the transfer is
    /// dispatched, short (lost on the way, said in the discrepancy note) once it is received.
    pub fn not_arrived(&self) -> i64 {
        self.dispatched_qty - self.received_qty
    }
}

pub fn lines(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<TransferLine>> {
    transfer_lines::table
        .inner_join(
            product_variants::table
                .inner_join(product_identities::table.inner_join(product_families::table)),
        )
        .filter(transfer_lines::transfer_id.eq(id))
        .order(transfer_lines::line_no)
        .select((
            transfer_lines::line_no,
            product_variants::id,
            product_variants::full_sku,
            product_families::base_name,
            transfer_lines::quantity,
            transfer_lines::dispatched_qty,
            transfer_lines::received_qty,
        ))
        .load(conn)
}

/// The transfer, if `hub_id` is one of its ends.
fn load_for_update(conn: &mut PgConnection, id: Uuid, hub_id: i64) -> Result<Transfer, Refusal> {
    match transfers::table
        .find(id)
        .for_update()
        .select(Transfer::as_select())
        .first::<Transfer>(conn)
        .optional()?
    {
        Some(t) if t.from_hub_id == hub_id || t.to_hub_id == hub_id => Ok(t),
        _ => Err(missing_record(conn, id, "transfer")),
    }
}

fn next_version(
    conn: &mut PgConnection,
    t: &Transfer,
    status: &str,
    by: (&str, i64),
) -> QueryResult<i32> {
    let version = t.version + 1;
    let by_column = by.0;
    diesel::update(transfers::table.find(t.id))
        .set((
            transfers::status.eq(status),
            transfers::version.eq(version),
            transfers::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    // The user who took each step, for the record.
    diesel::sql_query(format!(
        "UPDATE transfers SET {by_column} = $1 WHERE id = $2"
    ))
    .bind::<diesel::sql_types::BigInt, _>(by.1)
    .bind::<diesel::sql_types::Uuid, _>(t.id)
    .execute(conn)?;
    Ok(version)
}

fn applied(t: &Transfer, from: &str, to: &str, version: i32, extra: Value) -> Applied {
    Applied {
        server_id: Some(t.id.to_string()),
        object_type: "transfer",
        before: Some(json!({ "status": from })),
        after: Some(json!({ "status": to, "detail": extra })),
        changed_fields: vec!["status".into()],
        result_version: Some(version),
        events: vec![(
            "transfer".into(),
            json!({ "from_hub_id": t.from_hub_id, "to_hub_id": t.to_hub_id, "status": to }),
        )],
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPayload {
    pub transfer_id: Uuid,
    /// The requesting (receiving) hub.
    pub hub_id: i64,
    pub from_hub_id: i64,
    pub lines: Vec<LineInput>,
}

pub struct RequestTransfer;

pub static REQUEST_TRANSFER: Spec = Spec {
    name: "transfer.request",
    permission: Permission::TransferRequest,
    finalisable_offline: false,
    done: "Transfer requested",
    entry: "Transfer request",
    form: Some(Form {
        path: "transfers",
        read: |at| Read::one(super::transfer_pages::posted(at.hub_id, at.form)),
        list: Some("transfers"),
        pages: &["transfers/new"],
        at_main_hub: true,
    }),
    again: Some("transfers/new"),
};

impl Kind for RequestTransfer {
    fn spec(&self) -> &Spec {
        &REQUEST_TRANSFER
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        let p: RequestPayload = parse(payload)?;
        let mut errors = Vec::new();
        if p.from_hub_id == p.hub_id {
            errors.push(FieldError::new(
                "from_hub_id",
                "a hub cannot send to itself",
            ));
        }
        check_lines(&p.lines, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.transfer_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: RequestPayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        // The supplying hub need not be in the requester's scope, but another agency's hub is
        // unknown to them (agency independence), and the answer does not say it exists.
        let supplier: Option<(bool, String, i64)> = hubs::table
            .inner_join(organisations::table)
            .filter(hubs::id.eq(p.from_hub_id))
            .select((hubs::active, organisations::kind, organisations::id))
            .first(conn)
            .optional()?;
        match supplier {
            Some((true, kind, org)) if kind != "agency" || org == ctx.actor.organisation_id => {}
            _ => return reject("there is no such supplying hub"),
        }
        if transfers::table
            .find(p.transfer_id)
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return reject("a transfer with this id already exists");
        }
        diesel::insert_into(transfers::table)
            .values((
                transfers::id.eq(p.transfer_id),
                transfers::from_hub_id.eq(p.from_hub_id),
                transfers::to_hub_id.eq(p.hub_id),
                transfers::requested_by.eq(ctx.actor.user_id),
            ))
            .execute(conn)?;
        for (i, line) in p.lines.iter().enumerate() {
            let variant_id = ledger::resolve_variant(conn, line)?;
            diesel::insert_into(transfer_lines::table)
                .values((
                    transfer_lines::transfer_id.eq(p.transfer_id),
                    transfer_lines::line_no.eq(i as i32 + 1),
                    transfer_lines::variant_id.eq(variant_id),
                    transfer_lines::quantity.eq(line.quantity),
                ))
                .execute(conn)?;
        }
        let t: Transfer = transfers::table
            .find(p.transfer_id)
            .select(Transfer::as_select())
            .first(conn)?;
        Ok(applied(
            &t,
            "new",
            "requested",
            1,
            json!({ "lines": p.lines }),
        ))
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub struct QtyLine {
    pub line_no: i32,
    pub quantity: i64,
    /// Serial-numbered items on the line: those sent at dispatch; those that arrived at
    /// receipt (not given: every item sent). The quantity counts them with the other units.
    #[serde(default)]
    pub serial_numbers: Option<Vec<String>>,
}

impl QtyLine {
    fn serials(&self) -> &[String] {
        self.serial_numbers.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepPayload {
    pub transfer_id: Uuid,
    /// The hub acting: the sender approves and dispatches, the receiver receives.
    pub hub_id: i64,
    /// Dispatched or received quantities per line; lines not named take the full amount.
    #[serde(default)]
    pub lines: Vec<QtyLine>,
    #[serde(default)]
    pub note: Option<String>,
    /// Where arrived serial-numbered items are put (receipt only); the receiving dock if not
    /// given.
    #[serde(default)]
    pub location_code: Option<String>,
}

fn validate_step(payload: &Value) -> Result<Target, Vec<FieldError>> {
    let p: StepPayload = parse(payload)?;
    let mut errors = Vec::new();
    if p.lines
        .iter()
        .any(|l| !(0..=MAX_QUANTITY).contains(&l.quantity))
    {
        errors.push(FieldError::new(
            "lines",
            format!("quantities are 0 to {MAX_QUANTITY}"),
        ));
    }
    if let Some(bad) = p
        .lines
        .iter()
        .flat_map(QtyLine::serials)
        .find(|s| !items::valid_serial(s))
    {
        errors.push(FieldError::new(
            "serial_numbers",
            format!(
                "'{}' is not a serial number (1–64 letters, digits or . _ / -)",
                bad.chars().take(64).collect::<String>()
            ),
        ));
    }
    if p.location_code
        .as_deref()
        .is_some_and(|l| !items::valid_location(l))
    {
        errors.push(FieldError::new(
            "location_code",
            "1–32 letters, digits or . _ -, e.g. A1-S2",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Target {
        hub_id: Some(p.hub_id),
        record_id: Some(p.transfer_id),
    })
}

pub struct ApproveTransfer;

pub static APPROVE_TRANSFER: Spec = Spec {
    name: "transfer.approve",
    permission: Permission::TransferApprove,
    finalisable_offline: false,
    done: "Transfer approved",
    entry: "Transfer approval",
    form: Some(Form {
        path: "actions/transfer.approve",
        read: |at| super::actions::posted(at.kind, at.hub_id, at.form).and_then(Read::one),
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("transfers/{id}"),
};

impl Kind for ApproveTransfer {
    fn spec(&self) -> &Spec {
        &APPROVE_TRANSFER
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        validate_step(payload)
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: StepPayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let t = load_for_update(conn, p.transfer_id, p.hub_id)?;
        if t.status != "requested" {
            return reject(format!("the transfer is already {}", t.status));
        }
        let version = next_version(conn, &t, "approved", ("approved_by", ctx.actor.user_id))?;
        Ok(applied(&t, "requested", "approved", version, json!({})))
    }
}

pub struct DispatchTransfer;

pub static DISPATCH_TRANSFER: Spec = Spec {
    name: "transfer.dispatch",
    permission: Permission::TransferDispatch,
    finalisable_offline: false,
    done: "Transfer dispatched",
    entry: "Transfer dispatch",
    form: Some(Form {
        path: "actions/transfer.dispatch",
        read: |at| super::actions::posted(at.kind, at.hub_id, at.form).and_then(Read::one),
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("transfers/{id}"),
};

impl Kind for DispatchTransfer {
    fn spec(&self) -> &Spec {
        &DISPATCH_TRANSFER
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        validate_step(payload)
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: StepPayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let t = load_for_update(conn, p.transfer_id, p.hub_id)?;
        if t.from_hub_id != p.hub_id {
            return reject("only the sending hub dispatches a transfer");
        }
        if t.status != "approved" {
            return reject(format!(
                "only approved transfers can be dispatched; this one is {}",
                t.status
            ));
        }
        let mut sent = Vec::new();
        let all = lines(conn, t.id)?;
        check_named_lines(&p.lines, &all)?;
        for line in all {
            let named = p.lines.iter().find(|l| l.line_no == line.line_no);
            let qty = named.map_or(line.quantity, |l| l.quantity);
            if qty > line.quantity {
                return reject(format!(
                    "line {}: cannot dispatch more than the {} approved",
                    line.line_no, line.quantity
                ));
            }
            let serials =
                transfer_items::distinct(line.line_no, named.map_or(&[], QtyLine::serials))?;
            if serials.len() as i64 > qty {
                return reject(format!(
                    "line {}: {} serial numbers named for {} units",
                    line.line_no,
                    serials.len(),
                    qty
                ));
            }
            let on = OnLine {
                line_no: line.line_no,
                variant_id: line.variant_id,
                sku: &line.sku,
            };
            transfer_items::dispatch(conn, ctx, &t.leg(), &on, &serials)?;
            if qty > 0 {
                ledger::apply(
                    conn,
                    &Move {
                        hub_id: t.from_hub_id,
                        variant_id: line.variant_id,
                        delta: -qty,
                        reason: "transfer_out",
                        operation_row: Some(ctx.operation_row),
                        actor_id: Some(ctx.actor.user_id),
                    },
                )?;
            }
            diesel::update(transfer_lines::table.find((t.id, line.line_no)))
                .set(transfer_lines::dispatched_qty.eq(qty))
                .execute(conn)?;
            sent.push(
                json!({ "line_no": line.line_no, "dispatched": qty, "serial_numbers": serials }),
            );
        }
        let version = next_version(conn, &t, "dispatched", ("dispatched_by", ctx.actor.user_id))?;
        let mut a = applied(
            &t,
            "approved",
            "dispatched",
            version,
            json!({ "lines": sent }),
        );
        a.events
            .push(("stock".into(), json!({ "hub_id": t.from_hub_id })));
        Ok(a)
    }
}

pub struct ReceiveTransfer;

pub static RECEIVE_TRANSFER: Spec = Spec {
    name: "transfer.receive",
    permission: Permission::TransferDispatch,
    finalisable_offline: false,
    done: "Transfer received",
    entry: "Transfer receipt",
    form: Some(Form {
        path: "actions/transfer.receive",
        read: |at| super::actions::posted(at.kind, at.hub_id, at.form).and_then(Read::one),
        list: None,
        pages: &[],
        at_main_hub: true,
    }),
    again: Some("transfers/{id}"),
};

impl Kind for ReceiveTransfer {
    fn spec(&self) -> &Spec {
        &RECEIVE_TRANSFER
    }
    fn validate(&self, payload: &Value) -> Result<Target, Vec<FieldError>> {
        validate_step(payload)
    }
    fn apply(&self, conn: &mut PgConnection, ctx: &ApplyCtx<'_>) -> Result<Applied, Refusal> {
        let p: StepPayload = serde_json::from_value(ctx.op.payload.clone())
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let t = load_for_update(conn, p.transfer_id, p.hub_id)?;
        if t.to_hub_id != p.hub_id {
            return reject("only the receiving hub records receipt");
        }
        if t.status != "dispatched" {
            return reject(format!(
                "only dispatched transfers can be received; this one is {}",
                t.status
            ));
        }
        let sent = transfer_items::of_transfer(conn, t.id)?;
        let location = p.location_code.as_deref().map(str::trim);
        let location = location.unwrap_or(transfer_items::RECEIVING_LOCATION);
        let mut short = Vec::new();
        let all = lines(conn, t.id)?;
        check_named_lines(&p.lines, &all)?;
        for line in all {
            let named = p.lines.iter().find(|l| l.line_no == line.line_no);
            let items: Vec<&LineItem> = sent.iter().filter(|i| i.line_no == line.line_no).collect();
            let arrived = arrived_items(&line, &items, named)?;
            let without_serial = line.dispatched_qty - items.len() as i64;
            let qty = named.map_or(arrived.len() as i64 + without_serial, |l| l.quantity);
            if qty > line.dispatched_qty {
                return reject(format!(
                    "line {}: {} received but only {} dispatched",
                    line.line_no, qty, line.dispatched_qty
                ));
            }
            if qty < arrived.len() as i64 || qty - arrived.len() as i64 > without_serial {
                return reject(format!(
                    "line {}: {qty} received, but {} of the {} serial-numbered items sent are named as arrived; name the serial numbers that arrived",
                    line.line_no,
                    arrived.len(),
                    items.len()
                ));
            }
            if qty < line.dispatched_qty {
                let missing: Vec<&str> = items
                    .iter()
                    .filter(|i| !arrived.contains(&i.item_id))
                    .map(|i| i.serial_number.as_str())
                    .collect();
                let which = if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (missing: {})", missing.join(", "))
                };
                short.push(format!(
                    "{} short by {}{which}",
                    line.sku,
                    line.dispatched_qty - qty
                ));
            }
            transfer_items::receive(conn, ctx, &t.leg(), &items, &arrived, location)?;
            if qty > 0 {
                ledger::apply(
                    conn,
                    &Move {
                        hub_id: t.to_hub_id,
                        variant_id: line.variant_id,
                        delta: qty,
                        reason: "transfer_in",
                        operation_row: Some(ctx.operation_row),
                        actor_id: Some(ctx.actor.user_id),
                    },
                )?;
            }
            diesel::update(transfer_lines::table.find((t.id, line.line_no)))
                .set(transfer_lines::received_qty.eq(qty))
                .execute(conn)?;
        }
        let note = p.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if !short.is_empty() && note.is_none() {
            return reject(format!(
                "a partial receipt needs a note explaining the discrepancy ({})",
                short.join(", ")
            ));
        }
        if !short.is_empty() || note.is_some() {
            let text = match note {
                Some(n) if !short.is_empty() => format!("{} — {n}", short.join(", ")),
                Some(n) => n.to_string(),
                None => short.join(", "),
            };
            diesel::update(transfers::table.find(t.id))
                .set(transfers::discrepancy_note.eq(text))
                .execute(conn)?;
        }
        let version = next_version(conn, &t, "received", ("received_by", ctx.actor.user_id))?;
        let mut a = applied(
            &t,
            "dispatched",
            "received",
            version,
            json!({ "short": short, "note": note }),
        );
        a.events
            .push(("stock".into(), json!({ "hub_id": t.to_hub_id })));
        Ok(a)
    }
}

/// Every line a step names is one of the transfer's, named once: a quantity or serial number
/// given for a line that does not exist must not be dropped in silence (found by an
/// independent tester: `line_no` 5 on a one-line transfer dispatched line 1 without its
/// serial number).
fn check_named_lines(named: &[QtyLine], lines: &[TransferLine]) -> Result<(), Refusal> {
    for (i, l) in named.iter().enumerate() {
        if !lines.iter().any(|t| t.line_no == l.line_no) {
            return reject(format!("the transfer has no line {}", l.line_no));
        }
        if named[..i].iter().any(|o| o.line_no == l.line_no) {
            return reject(format!("line {} is named twice", l.line_no));
        }
    }
    Ok(())
}

/// The ids of a line's serial-numbered items that arrived: those named, or every one sent when
/// the receiver names none.
fn arrived_items(
    line: &TransferLine,
    items: &[&LineItem],
    named: Option<&QtyLine>,
) -> Result<Vec<i64>, Refusal> {
    let Some(serials) = named.and_then(|l| l.serial_numbers.as_deref()) else {
        return Ok(items.iter().map(|i| i.item_id).collect());
    };
    let mut ids = Vec::new();
    for s in transfer_items::distinct(line.line_no, serials)? {
        match items
            .iter()
            .find(|i| i.serial_number.eq_ignore_ascii_case(&s))
        {
            Some(i) => ids.push(i.item_id),
            None => {
                return reject(format!(
                    "line {}: {s} was not sent on this line",
                    line.line_no
                ))
            }
        }
    }
    Ok(ids)
}
