//! Transfer pages: a hub's incoming and outgoing transfers with quantities in transit, the
//! request form, and the detail page with approve, dispatch and receive.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::transfer::{self, Transfer, TransferLine};
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::{self, Hub};
use crate::db::keyset::{time_key, Orders};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::{hubs as hubs_table, transfers};
use crate::state::AppState;
use crate::sync::forms::{self, LineRow, OpMeta};
use crate::sync::operation::FieldError;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;
use crate::ui::pager::COUNT_UP_TO;

pub(super) const KIND: &str = "transfer.request";

/// The statuses a transfer can have, as the list's filter offers them.
pub(super) const STATUSES: &[(&str, &str)] = &[
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("dispatched", "Dispatched"),
    ("received", "Received"),
    ("cancelled", "Cancelled"),
];

/// The list's orders for keyset pages, by the sort asked for.
static ORDERS: Orders = crate::dated_orders!(transfers);

/// Newest first unless another column is asked for.
pub(super) static SORTS: crate::ui::pager::Sorts = crate::ui::pager::Sorts {
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
    .service(
        web::resource("/hubs/{hub_id}/transfers/{id}").get(super::transfer_detail_page::detail),
    );
}

pub struct TransferRow {
    pub t: Transfer,
    pub other_hub: String,
    pub outgoing: bool,
    pub in_transit: i64,
}

#[derive(Template)]
#[template(path = "transfers/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<TransferRow>,
    can_request: bool,
    pager: crate::ui::pager::Pager,
    filter: crate::ui::pager::ListFilter,
}

pub(super) fn hub_names(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    hubs_table::table
        .filter(hubs_table::id.eq_any(ids))
        .select((hubs_table::id, hubs_table::name))
        .load(conn)
}

pub(super) async fn list(
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
    let (pattern, status, sort) = (filter.pattern(), filter.status(), filter.sort);
    let order = ORDERS.by(sort.key);
    let fetch = keyset::fetch(&filter.start, order, sort.descending);
    let walk = fetch.walk.clone();
    let counting = filter.counting(List::Transfers, hub_id);
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
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
        let total = counting.total(conn, |c| crate::db::count_up_to(base(), COUNT_UP_TO, c))?;
        let ts: Vec<Transfer> = walk
            .rows(base(), keyset::FETCH)
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
    let (rows, pager) = filter.keyset_page(fetched, &fetch.start, total, |r: &TransferRow| {
        let (at, id) = (time_key(r.t.created_at), r.t.id.to_string());
        match sort.key {
            "status" => vec![r.t.status.clone(), at, id],
            _ => vec![at, id],
        }
    });
    render(&ListPage {
        layout: page.layout(format!("Transfers · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "transfers",
        rows,
        can_request: access.can(Permission::TransferRequest),
        pager,
        filter,
    })
}

#[derive(Template)]
#[template(path = "transfers/form.html")]
pub(super) struct FormPage {
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

pub(super) async fn form_page(
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

pub(super) async fn new_form(
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

pub(super) async fn create(
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
    answer
        .or_show(|hub, errors| async move {
            form_page(&state, &page, &user, &hub, Some(&form), errors).await
        })
        .await
}
