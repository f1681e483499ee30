//! A transfer's steps after its request: approve, dispatch (stock and named serial numbers
//! leave) and receive (they arrive; what did not is missing). None is finalised offline.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::items;
use super::ledger::{self, Move};
use super::transfer_items::{self, arrived_items, LineItem, OnLine};
use crate::auth::permissions::Permission;
use crate::schema::{transfer_lines, transfers};
use crate::sync::kind::{reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target, MAX_QUANTITY};
use crate::sync::operation::FieldError;

use super::transfer::{applied, check_named_lines, lines, load_for_update, next_version};

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

pub(super) fn check_step(p: &StepPayload) -> Result<Target, Vec<FieldError>> {
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
    form: Some(super::actions::action_form("actions/transfer.approve")),
    again: Some("transfers/{id}"),
};

impl Kind for ApproveTransfer {
    type Payload = StepPayload;

    fn spec(&self) -> &Spec {
        &APPROVE_TRANSFER
    }
    fn check(&self, p: &StepPayload) -> Result<Target, Vec<FieldError>> {
        check_step(p)
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &StepPayload,
    ) -> Result<Applied, Refusal> {
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
    form: Some(super::actions::action_form("actions/transfer.dispatch")),
    again: Some("transfers/{id}"),
};

impl Kind for DispatchTransfer {
    type Payload = StepPayload;

    fn spec(&self) -> &Spec {
        &DISPATCH_TRANSFER
    }
    fn check(&self, p: &StepPayload) -> Result<Target, Vec<FieldError>> {
        check_step(p)
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &StepPayload,
    ) -> Result<Applied, Refusal> {
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
    form: Some(super::actions::action_form("actions/transfer.receive")),
    again: Some("transfers/{id}"),
};

impl Kind for ReceiveTransfer {
    type Payload = StepPayload;

    fn spec(&self) -> &Spec {
        &RECEIVE_TRANSFER
    }
    fn check(&self, p: &StepPayload) -> Result<Target, Vec<FieldError>> {
        check_step(p)
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &StepPayload,
    ) -> Result<Applied, Refusal> {
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
