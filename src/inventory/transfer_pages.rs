//! Transfer pages: a hub's incoming and outgoing transfers with quantities in transit, the
//! request form, and the detail page with approve, dispatch and receive.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use uuid::Uuid;

use super::transfer::{self, Transfer, TransferLine};
use super::transfer_items::{self, LineItem};
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::{self, Hub};
use crate::error::AppError;
use crate::schema::{hubs as hubs_table, transfers};
use crate::state::AppState;
use crate::sync::forms::{self, LineRow, OpMeta};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;

const KIND: &str = "transfer.request";

/// The statuses a transfer can have, as the list's filter offers them.
const STATUSES: &[(&str, &str)] = &[
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("dispatched", "Dispatched"),
    ("received", "Received"),
    ("cancelled", "Cancelled"),
];

/// Newest first unless another column is asked for.
static SORTS: crate::ui::pager::Sorts = crate::ui::pager::Sorts {
    offered: &["created", "status"],
    default: crate::ui::sorting::Sort::descending("created"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hubs/{hub_id}/transfers")
            .get(list)
            .post(create),
    )
    .service(web::resource("/hubs/{hub_id}/transfers/new").get(new_form))
    .service(web::resource("/hubs/{hub_id}/transfers/{id}").get(detail));
}

pub struct TransferRow {
    pub t: Transfer,
    pub other_hub: String,
    pub outgoing: bool,
    pub in_transit: i64,
}

#[derive(Template)]
#[template(path = "transfers/list.html")]
struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<TransferRow>,
    can_request: bool,
    pager: crate::ui::pager::Pager,
    filter: crate::ui::pager::ListFilter,
}

fn hub_names(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    hubs_table::table
        .filter(hubs_table::id.eq_any(ids))
        .select((hubs_table::id, hubs_table::name))
        .load(conn)
}

async fn list(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    query: web::Query<crate::ui::pager::ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = access.hub.id;
    let filter = query.into_inner().filter(
        format!("/hubs/{hub_id}/transfers"),
        "Search by the other hub",
        STATUSES,
        &SORTS,
    );
    let (pattern, status, page_no, sort) =
        (filter.pattern(), filter.status(), filter.page, filter.sort);
    let (rows, total) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut q = transfers::table
                .filter(
                    transfers::from_hub_id
                        .eq(hub_id)
                        .or(transfers::to_hub_id.eq(hub_id)),
                )
                .into_boxed();
            if let Some(p) = &pattern {
                // The other hub's name (or code): a transfer from or to a hub that matches.
                let matching = || {
                    crate::schema::hubs::table
                        .filter(
                            crate::schema::hubs::name
                                .ilike(p.clone())
                                .or(crate::schema::hubs::code.ilike(p.clone())),
                        )
                        .filter(crate::schema::hubs::id.ne(hub_id))
                        .select(crate::schema::hubs::id)
                };
                q = q.filter(
                    transfers::from_hub_id
                        .eq_any(matching())
                        .or(transfers::to_hub_id.eq_any(matching())),
                );
            }
            if let Some(s) = &status {
                q = q.filter(transfers::status.eq(s.clone()));
            }
            q
        };
        let total: i64 = base().count().get_result(conn)?;
        let id = transfers::id;
        let ts: Vec<Transfer> = match (sort.key, sort.descending) {
            ("status", false) => base().order((transfers::status.asc(), id)),
            ("status", true) => base().order((transfers::status.desc(), id)),
            (_, false) => base().order((transfers::created_at.asc(), id)),
            _ => base().order((transfers::created_at.desc(), id)),
        }
        .limit(crate::ui::pager::PER_PAGE)
        .offset(crate::ui::pager::Pager::offset(page_no))
        .select(Transfer::as_select())
        .load(conn)?;
        let others: Vec<i64> = ts
            .iter()
            .map(|t| {
                if t.from_hub_id == hub_id {
                    t.to_hub_id
                } else {
                    t.from_hub_id
                }
            })
            .collect();
        let names = hub_names(conn, &others)?;
        let mut rows = Vec::new();
        for t in ts {
            let outgoing = t.from_hub_id == hub_id;
            let other = if outgoing { t.to_hub_id } else { t.from_hub_id };
            let in_transit = if t.status == "dispatched" {
                transfer::lines(conn, t.id)?
                    .iter()
                    .map(TransferLine::not_arrived)
                    .sum()
            } else {
                0
            };
            let other_hub = names
                .iter()
                .find(|(id, _)| *id == other)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            rows.push(TransferRow {
                t,
                other_hub,
                outgoing,
                in_transit,
            });
        }
        Ok((rows, total))
    })
    .await?;
    render(&ListPage {
        layout: page.layout(format!("Transfers · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "transfers",
        rows,
        can_request: access.can(Permission::TransferRequest),
        pager: filter.pager(total),
        filter,
    })
}

#[derive(Template)]
#[template(path = "transfers/form.html")]
struct FormPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    suppliers: Vec<Hub>,
    from_hub_id: String,
    rows: Vec<LineRow>,
    with_expiry: bool,
    catalog: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

async fn form_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    hub: &Hub,
    form: Option<&FormFields>,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let (org, hub_id) = (user.organisation_id, hub.id);
    let suppliers = crate::db::run(&state.db, move |conn| {
        Ok(scope::hubs_of_organisation(conn, org)?
            .into_iter()
            .filter(|h| h.id != hub_id && h.active)
            .collect::<Vec<Hub>>())
    })
    .await?;
    let forms::FormBasics {
        meta,
        catalog,
        status,
    } = forms::basics(state, user, hub.id, KIND, form, &errors).await?;
    let data = FormPage {
        layout: page.layout(format!("Request a transfer · {}", hub.name)),
        hub: hub.clone(),
        section: "transfers",
        meta,
        suppliers,
        from_hub_id: form.map(|f| f.text("from_hub_id")).unwrap_or_default(),
        rows: forms::line_rows_with_errors(form, 6, &errors),
        with_expiry: false,
        catalog,
        errors,
    };
    render_with_status(&data, status)
}

async fn new_form(
    access: HubAccess<perm::TransferRequest>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    form_page(&state, &page, &access, &access.hub, None, vec![]).await
}

/// The operation a transfer request form stands for.
pub fn posted(hub_id: i64, form: &FormFields) -> forms::Posted {
    let mut errors = Vec::new();
    let lines = forms::lines(form, &mut errors);
    let from: i64 = form.text("from_hub_id").parse().unwrap_or_else(|_| {
        errors.push(FieldError::new(
            "from_hub_id",
            "choose the hub to supply you",
        ));
        0
    });
    let payload = serde_json::json!({ "transfer_id": form.text("record_id"), "hub_id": hub_id, "from_hub_id": from, "lines": lines });
    forms::Posted::new(KIND, payload, errors)
}

async fn create(
    req: HttpRequest,
    user: CurrentUser,
    page: Page,
    path: web::Path<(i64,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = path.into_inner().0;
    let list = format!("/hubs/{hub_id}/transfers");
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Record(&list),
        |_| "Transfer requested.".into(),
    )
    .await?;
    match answer {
        forms::Answer::Done(res) => Ok(res),
        forms::Answer::Again(hub, errors) => {
            form_page(&state, &page, &user, &hub, Some(&form), errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "transfers/detail.html")]
struct DetailPage {
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

async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id: Uuid = path
        .into_inner()
        .1
        .parse()
        .map_err(|_| AppError::not_found("There is no such transfer."))?;
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
