//! Transfers between hubs: requested → approved → dispatched → received. Dispatch takes stock
//! out of the sending hub (it is then in transit, visible at both ends); receipt puts what
//! actually arrived into the receiving hub and records any discrepancy. Every step changes
//! more than one hub's picture, so none is finalised offline.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::ledger::{self};
use super::transfer_items::Leg;
use crate::auth::permissions::Permission;
use crate::schema::{
    hubs, organisations, product_families, product_identities, product_variants, transfer_lines,
    transfers,
};
use crate::sync::kind::{
    check_lines, missing_record, reject, Applied, ApplyCtx, Form, Kind, LineInput, Read, Refusal,
    Spec, Target,
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
pub(super) fn load_for_update(
    conn: &mut PgConnection,
    id: Uuid,
    hub_id: i64,
) -> Result<Transfer, Refusal> {
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

pub(super) fn next_version(
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

pub(super) fn applied(t: &Transfer, from: &str, to: &str, version: i32, extra: Value) -> Applied {
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
    type Payload = RequestPayload;

    fn spec(&self) -> &Spec {
        &REQUEST_TRANSFER
    }
    fn check(&self, p: &RequestPayload) -> Result<Target, Vec<FieldError>> {
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
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &RequestPayload,
    ) -> Result<Applied, Refusal> {
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

/// Every line a step names is one of the transfer's, named once: a quantity or serial number
/// given for a line that does not exist must not be dropped in silence (found by an
/// independent tester: `line_no` 5 on a one-line transfer dispatched line 1 without its
/// serial number).
pub(super) fn check_named_lines(
    named: &[super::transfer_steps::QtyLine],
    lines: &[TransferLine],
) -> Result<(), Refusal> {
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
