//! Needs-list pages: list, the create form (offline-capable), and the detail page with
//! submit (the hub) and decide (logistics manager: approve with quantities, or reject).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use uuid::Uuid;

use super::needs::{self, NeedsLine, NeedsList};
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::db::keyset::{time_key, Orders};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::needs_lists;
use crate::state::AppState;
use crate::sync::forms::{self, LineRow, OpMeta};
use crate::sync::operation::FieldError;
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;
use crate::ui::pager::COUNT_UP_TO;

const KIND: &str = "needs_list.create";

/// The statuses a needs list can have, as the list's filter offers them.
const STATUSES: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("submitted", "Submitted"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
];

/// The list's orders for keyset pages, by the sort asked for.
static ORDERS: Orders = crate::dated_orders!(needs_lists, title);

/// Newest first unless another column is asked for.
static SORTS: crate::ui::pager::Sorts = crate::ui::pager::Sorts {
    offered: &["created", "title", "status"],
    default: crate::ui::sorting::Sort::descending("created"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hubs/{hub_id}/needs-lists")
            .get(list)
            .post(create),
    )
    .service(web::resource("/hubs/{hub_id}/needs-lists/new").get(new_form))
    .service(web::resource("/hubs/{hub_id}/needs-lists/{id}").get(detail));
}

#[derive(Template)]
#[template(path = "needs/list.html")]
struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<NeedsList>,
    can_create: bool,
    pager: crate::ui::pager::Pager,
    filter: crate::ui::pager::ListFilter,
}

async fn list(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    query: web::Query<crate::ui::pager::ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = access.hub.id;
    let filter = query.into_inner().filter(
        format!("/hubs/{hub_id}/needs-lists"),
        "Search by title",
        STATUSES,
        &SORTS,
    );
    let (pattern, status, sort) = (filter.pattern(), filter.status(), filter.sort);
    let order = ORDERS.by(sort.key);
    let fetch = keyset::fetch(&filter.start, order, sort.descending);
    let walk = fetch.walk.clone();
    let counting = filter.counting(List::NeedsLists, hub_id);
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut q = needs_lists::table
                .filter(needs_lists::hub_id.eq(hub_id))
                .into_boxed();
            if let Some(p) = &pattern {
                q = q.filter(needs_lists::title.ilike(p.clone()));
            }
            if let Some(s) = &status {
                q = q.filter(needs_lists::status.eq(s.clone()));
            }
            q
        };
        let total = counting.total(conn, |c| crate::db::count_up_to(base(), COUNT_UP_TO, c))?;
        let rows = walk
            .rows(base(), keyset::FETCH)
            .select(NeedsList::as_select())
            .load(conn)?;
        Ok((rows, total))
    })
    .await?;
    let (rows, pager) = filter.keyset_page(fetched, &fetch.start, total, |n: &NeedsList| {
        let (at, id) = (time_key(n.created_at), n.id.to_string());
        match sort.key {
            "title" => vec![n.title.clone(), id],
            "status" => vec![n.status.clone(), at, id],
            _ => vec![at, id],
        }
    });
    let can_create = access.can(Permission::NeedsListCreate) && access.hub.kind != "main";
    render(&ListPage {
        layout: page.layout(format!("Needs lists · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "needs",
        rows,
        can_create,
        pager,
        filter,
    })
}

#[derive(Template)]
#[template(path = "needs/form.html")]
struct FormPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    title: String,
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
    let forms::FormBasics {
        meta,
        catalog,
        status,
    } = forms::basics(state, user, hub.id, KIND, form, &errors).await?;
    let data = FormPage {
        layout: page.layout(format!("New needs list · {}", hub.name)),
        hub: hub.clone(),
        section: "needs",
        meta,
        title: form.map(|f| f.text("title")).unwrap_or_default(),
        rows: forms::line_rows_with_errors(form, 6, &errors),
        with_expiry: false,
        catalog,
        errors,
    };
    render_with_status(&data, status)
}

async fn new_form(
    access: HubAccess<perm::NeedsListCreate>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    form_page(&state, &page, &access, &access.hub, None, vec![]).await
}

/// The operation a needs-list form stands for.
pub fn posted(hub_id: i64, form: &FormFields) -> forms::Posted {
    let mut errors = Vec::new();
    let lines = forms::lines(form, &mut errors);
    let payload = serde_json::json!({ "needs_list_id": form.text("record_id"), "hub_id": hub_id, "title": form.text("title"), "lines": lines });
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
    let list = format!("/hubs/{hub_id}/needs-lists");
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Record(&list),
        |_| "Needs list saved as a draft. Submit it when it is complete.".into(),
    )
    .await?;
    answer
        .or_show(|hub, errors| async move {
            form_page(&state, &page, &user, &hub, Some(&form), errors).await
        })
        .await
}

#[derive(Template)]
#[template(path = "needs/detail.html")]
struct DetailPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    n: NeedsList,
    lines: Vec<NeedsLine>,
    submit: Option<OpMeta>,
    decide: Option<OpMeta>,
    new_transfer_id: Uuid,
    suppliers: Vec<Hub>,
    /// While deciding: the hubs whose levels are shown (this one, then every hub the decider
    /// could supply from), and per line its level at each, so a decision sees the stock it
    /// moves. Empty columns (and an empty row per line) otherwise.
    level_hubs: Vec<String>,
    level_rows: Vec<Vec<i64>>,
    /// Who decides the list (while it is a draft or waits): names, or none at all.
    deciders: Vec<String>,
    more_deciders: bool,
    nobody_decides: &'static str,
}

async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = crate::ui::page::record_id(&path.into_inner().1, "needs list")?;
    let hub_id = access.hub.id;
    let suppliers: Vec<Hub> = access
        .scope
        .hubs
        .iter()
        .filter(|h| h.id != hub_id)
        .cloned()
        .collect();
    // The hubs whose levels a decision shows: this one, then every hub it could supply from.
    let columns: Vec<(i64, String)> = std::iter::once(&access.hub)
        .chain(suppliers.iter())
        .map(|h| (h.id, h.name.clone()))
        .collect();
    let can_decide = access.can(Permission::NeedsListApprove);
    let column_hubs: Vec<i64> = columns.iter().map(|(id, _)| *id).collect();
    let (n, lines, levels, deciders) = crate::db::run(&state.db, move |conn| {
        let n: NeedsList = needs_lists::table
            .find(id)
            .filter(needs_lists::hub_id.eq(hub_id))
            .select(NeedsList::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("There is no such needs list at this hub."))?;
        let lines = needs::lines(conn, n.id)?;
        let levels = if n.status == "submitted" && can_decide {
            let variants: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
            Some(super::levels_of(conn, &column_hubs, &variants)?)
        } else {
            None
        };
        let deciders = if matches!(n.status.as_str(), "draft" | "submitted") {
            crate::auth::scope::who_can(conn, Permission::NeedsListApprove, hub_id, 6)?
        } else {
            Vec::new()
        };
        Ok((n.clone(), lines, levels, deciders))
    })
    .await?;
    let submit = (n.status == "draft" && access.can(Permission::NeedsListCreate)).then(|| {
        OpMeta::new(
            &state.settings,
            &access,
            "needs_list.submit",
            hub_id,
            Some(n.id),
            Some(n.version),
        )
    });
    let decide = (n.status == "submitted" && can_decide).then(|| {
        OpMeta::new(
            &state.settings,
            &access,
            "needs_list.decide",
            hub_id,
            Some(n.id),
            Some(n.version),
        )
    });
    let (level_hubs, level_rows) = if let Some(found) = levels {
        let rows = lines
            .iter()
            .map(|l| {
                columns
                    .iter()
                    .map(|(hub, _)| found.get(&(*hub, l.variant_id)).copied().unwrap_or(0))
                    .collect()
            })
            .collect();
        (columns.into_iter().map(|(_, name)| name).collect(), rows)
    } else {
        (Vec::new(), vec![Vec::new(); lines.len()])
    };
    render(&DetailPage {
        layout: page.layout(n.title.clone()),
        hub: access.hub.clone(),
        section: "needs",
        n,
        lines,
        submit,
        decide,
        new_transfer_id: Uuid::new_v4(),
        suppliers,
        level_hubs,
        level_rows,
        more_deciders: deciders.len() > 5,
        deciders: deciders.into_iter().take(5).collect(),
        nobody_decides: needs::NOBODY_DECIDES,
    })
}
