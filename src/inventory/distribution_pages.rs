//! Distribution pages: list, the new-distribution form (offline-capable), and the detail page
//! with the draft's edit form and its confirm and cancel buttons.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use super::distribution::{self, Distribution, LineView};
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::db::keyset::{time_key, Orders};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::distributions;
use crate::state::AppState;
use crate::sync::forms::{self, LineRow, OpMeta};
use crate::sync::operation::FieldError;
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;
use crate::ui::pager::COUNT_UP_TO;

const KIND: &str = "distribution.create";

/// The statuses a distribution can have, as the list's filter offers them.
const STATUSES: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("confirmed", "Confirmed"),
    ("cancelled", "Cancelled"),
];

/// The list's orders for keyset pages, by the sort asked for.
static ORDERS: Orders = crate::dated_orders!(distributions, recipient);

/// Newest first unless another column is asked for.
static SORTS: crate::ui::pager::Sorts = crate::ui::pager::Sorts {
    offered: &["created", "recipient", "status"],
    default: crate::ui::sorting::Sort::descending("created"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hubs/{hub_id}/distributions")
            .get(list)
            .post(create),
    )
    .service(web::resource("/hubs/{hub_id}/distributions/new").get(new_form))
    .service(web::resource("/hubs/{hub_id}/distributions/{id}").get(detail));
}

#[derive(Template)]
#[template(path = "distributions/list.html")]
struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<Distribution>,
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
        format!("/hubs/{hub_id}/distributions"),
        "Search by recipient",
        STATUSES,
        &SORTS,
    );
    let (pattern, status, sort) = (filter.pattern(), filter.status(), filter.sort);
    let order = ORDERS.by(sort.key);
    let fetch = keyset::fetch(&filter.start, order, sort.descending);
    let walk = fetch.walk.clone();
    let counting = filter.counting(List::Distributions, hub_id);
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut q = distributions::table
                .filter(distributions::hub_id.eq(hub_id))
                .into_boxed();
            if let Some(p) = &pattern {
                q = q.filter(distributions::recipient.ilike(p.clone()));
            }
            if let Some(s) = &status {
                q = q.filter(distributions::status.eq(s.clone()));
            }
            q
        };
        let total = counting.total(conn, |c| crate::db::count_up_to(base(), COUNT_UP_TO, c))?;
        let rows = walk
            .rows(base(), keyset::FETCH)
            .select(Distribution::as_select())
            .load(conn)?;
        Ok((rows, total))
    })
    .await?;
    let (rows, pager) = filter.keyset_page(fetched, &fetch.start, total, |d: &Distribution| {
        let (at, id) = (time_key(d.created_at), d.id.to_string());
        match sort.key {
            "recipient" => vec![d.recipient.clone(), id],
            "status" => vec![d.status.clone(), at, id],
            _ => vec![at, id],
        }
    });
    render(&ListPage {
        layout: page.layout(format!("Distributions · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "distributions",
        rows,
        can_create: access.can(Permission::DistributionCreate),
        pager,
        filter,
    })
}

#[derive(Template)]
#[template(path = "distributions/form.html")]
struct FormPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    recipient: String,
    notes: String,
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
    let text = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    let page_data = FormPage {
        layout: page.layout(format!("New distribution · {}", hub.name)),
        hub: hub.clone(),
        section: "distributions",
        meta,
        recipient: text("recipient"),
        notes: text("notes"),
        rows: forms::line_rows_with_errors(form, 6, &errors),
        with_expiry: false,
        catalog,
        errors,
    };
    render_with_status(&page_data, status)
}

async fn new_form(
    access: HubAccess<perm::DistributionCreate>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    form_page(&state, &page, &access, &access.hub, None, vec![]).await
}

/// The operation a distribution form stands for.
pub fn posted(hub_id: i64, form: &FormFields) -> forms::Posted {
    let mut errors = Vec::new();
    let lines = forms::lines(form, &mut errors);
    let payload = serde_json::json!({ "distribution_id": form.text("record_id"), "hub_id": hub_id, "recipient": form.text("recipient"), "notes": form.text("notes"), "lines": lines });
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
    let list = format!("/hubs/{hub_id}/distributions");
    // Only those who may confirm are told to; a driver's draft waits for their manager.
    let done = if user.can(crate::auth::permissions::Permission::DistributionConfirm) {
        "Distribution saved as a draft. Confirm it when the goods are handed over."
    } else {
        "Distribution saved as a draft. A depot manager confirms it when the goods are handed over."
    };
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Record(&list),
        |_| done.into(),
    )
    .await?;
    answer
        .or_show(|hub, errors| async move {
            form_page(&state, &page, &user, &hub, Some(&form), errors).await
        })
        .await
}

#[derive(Template)]
#[template(path = "distributions/detail.html")]
struct DetailPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    d: Distribution,
    lines: Vec<LineView>,
    edit: Option<OpMeta>,
    confirm: Option<OpMeta>,
    cancel: Option<OpMeta>,
    rows: Vec<LineRow>,
    orig_lines: String,
    with_expiry: bool,
    catalog: Vec<(String, String)>,
}

async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = crate::ui::page::record_id(&path.into_inner().1, "distribution")?;
    let hub_id = access.hub.id;
    let (d, lines, catalog) = crate::db::run(&state.db, move |conn| {
        let d: Distribution = distributions::table
            .find(id)
            .filter(distributions::hub_id.eq(hub_id))
            .select(Distribution::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("There is no such distribution at this hub."))?;
        let lines = distribution::lines(conn, id)?;
        let catalog = crate::sync::forms::stock_options(conn, hub_id)?;
        Ok((d, lines, catalog))
    })
    .await?;
    let draft = d.status == "draft";
    let meta = |kind: &'static str, allowed: bool| {
        (draft && allowed).then(|| {
            OpMeta::new(
                &state.settings,
                &access,
                kind,
                hub_id,
                Some(d.id),
                Some(d.version),
            )
        })
    };
    // After a refused edit, the lines as the user typed them; otherwise the saved ones.
    let echo = page.echo();
    let rows: Vec<LineRow> = if echo.to_fields().has("line_sku") {
        forms::line_rows(Some(&echo.to_fields()), 0)
    } else {
        lines
            .iter()
            .map(|l| LineRow {
                sku: l.sku.clone(),
                qty: l.quantity.to_string(),
                ..Default::default()
            })
            .chain(std::iter::repeat_n(LineRow::default(), 2))
            .collect()
    };
    let orig_lines = lines
        .iter()
        .map(|l| format!("{}:{}", l.sku, l.quantity))
        .collect::<Vec<_>>()
        .join(",");
    render(&DetailPage {
        layout: page.layout(format!("Distribution to {}", d.recipient)),
        hub: access.hub.clone(),
        section: "distributions",
        edit: meta(
            "distribution.update",
            access.can(Permission::DistributionCreate),
        ),
        confirm: meta(
            "distribution.confirm",
            access.can(Permission::DistributionConfirm),
        ),
        cancel: meta(
            "distribution.cancel",
            access.can(Permission::DistributionCreate),
        ),
        d,
        lines,
        rows,
        orig_lines,
        with_expiry: false,
        catalog,
    })
}
