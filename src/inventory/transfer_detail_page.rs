//! A transfer's page, at either end: its lines, what was sent and received, the serial
//! numbers that travel, and the step the viewer may take next.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::transfer::{self, Transfer, TransferLine};
use super::transfer_items::{self, LineItem};
use crate::auth::extract::HubAccess;
use crate::auth::permissions::{perm, Permission};
use crate::auth::scope::Hub;
use crate::error::AppError;
use crate::schema::transfers;
use crate::state::AppState;
use crate::sync::forms::OpMeta;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

use super::transfer_pages::hub_names;
use crate::ui::filters;

#[derive(Template)]
#[template(path = "transfers/detail.html")]
pub(super) struct DetailPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    t: Transfer,
    from_name: String,
    to_name: String,
    lines: Vec<TransferLine>,
    /// While the transfer is being decided (requested, approved): each line's level at the
    /// sending and the receiving hub, each only for a viewer who works there.
    levels: Option<Vec<(Option<i64>, Option<i64>)>>,
    action: Option<(OpMeta, &'static str)>,
    /// The serial-numbered items sent, by line.
    items: Vec<LineItem>,
    /// While dispatching: each line's serial-numbered items available at the sending hub.
    available_serials: Vec<i64>,
}

impl DetailPage {
    /// The serial numbers sent on a line, in words for the table and the receipt's field.
    fn serials_of(&self, line_no: &i32, arrived: Option<bool>) -> Vec<&str> {
        self.items
            .iter()
            .filter(|i| i.line_no == *line_no && (arrived.is_none() || i.arrived == arrived))
            .map(|i| i.serial_number.as_str())
            .collect()
    }

    /// Whether a line asks for serial numbers in the form (dispatching a SKU the sender holds
    /// by serial number, or receiving a line that carried some).
    fn asks_serials(&self, index: &usize, line_no: &i32) -> bool {
        match self.action.as_ref().map(|(m, _)| m.kind) {
            Some("transfer.dispatch") => self.available_serials.get(*index).is_some_and(|n| *n > 0),
            Some("transfer.receive") => !self.serials_of(line_no, None).is_empty(),
            _ => false,
        }
    }

    fn asks_any_serials(&self) -> bool {
        self.lines
            .iter()
            .enumerate()
            .any(|(i, l)| self.asks_serials(&i, &l.line_no))
    }
}

pub(super) async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = crate::ui::page::record_id(&path.into_inner().1, "transfer")?;
    let hub_id = access.hub.id;
    let scope = access.scope.clone();
    let dispatching = access.can(Permission::TransferDispatch);
    let (t, lines, names, levels, items, available_serials) =
        crate::db::run(&state.db, move |conn| {
            let t: Transfer = transfers::table
                .find(id)
                .filter(
                    transfers::from_hub_id
                        .eq(hub_id)
                        .or(transfers::to_hub_id.eq(hub_id)),
                )
                .select(Transfer::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| AppError::not_found("There is no such transfer at this hub."))?;
            let names = hub_names(conn, &[t.from_hub_id, t.to_hub_id])?;
            let lines = transfer::lines(conn, t.id)?;
            let levels = if ["requested", "approved"].contains(&t.status.as_str()) {
                let variants: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
                let found = super::levels_of(conn, &[t.from_hub_id, t.to_hub_id], &variants)?;
                let at = |hub: i64, variant: i64| {
                    scope
                        .has_hub(hub)
                        .then(|| found.get(&(hub, variant)).copied().unwrap_or(0))
                };
                Some(
                    lines
                        .iter()
                        .map(|l| {
                            (
                                at(t.from_hub_id, l.variant_id),
                                at(t.to_hub_id, l.variant_id),
                            )
                        })
                        .collect(),
                )
            } else {
                None
            };
            let items = transfer_items::of_transfer(conn, t.id)?;
            let available_serials =
                if t.status == "approved" && t.from_hub_id == hub_id && dispatching {
                    let variants: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
                    let found = super::items::available_by_variant(conn, hub_id, &variants)?;
                    lines
                        .iter()
                        .map(|l| found.get(&l.variant_id).copied().unwrap_or(0))
                        .collect()
                } else {
                    Vec::new()
                };
            Ok((t.clone(), lines, names, levels, items, available_serials))
        })
        .await?;
    let name = |id: i64| {
        names
            .iter()
            .find(|(h, _)| *h == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let step = match t.status.as_str() {
        "requested" if access.can(Permission::TransferApprove) => {
            Some(("transfer.approve", "Approve transfer"))
        }
        "approved" if t.from_hub_id == hub_id && access.can(Permission::TransferDispatch) => {
            Some(("transfer.dispatch", "Dispatch (takes stock out)"))
        }
        "dispatched" if t.to_hub_id == hub_id && access.can(Permission::TransferDispatch) => {
            Some(("transfer.receive", "Record receipt"))
        }
        _ => None,
    };
    let action = step.map(|(kind, label)| {
        (
            OpMeta::new(
                &state.settings,
                &access,
                kind,
                hub_id,
                Some(t.id),
                Some(t.version),
            ),
            label,
        )
    });
    render(&DetailPage {
        layout: page.layout("Transfer"),
        hub: access.hub.clone(),
        section: "transfers",
        from_name: name(t.from_hub_id),
        to_name: name(t.to_hub_id),
        t,
        lines,
        levels,
        action,
        items,
        available_serials,
    })
}
