//! Intake pages: the list of a hub's intakes, the intake form (offline-capable), and detail.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::db::keyset::{time_key, Col, Order, Orders};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::{
    intake_lines, intakes, product_families, product_identities, product_variants, users,
};
use crate::state::AppState;
use crate::sync::forms::{self, LineRow, OpMeta};
use crate::sync::operation::FieldError;
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, render_with_status, Layout};
use crate::ui::page::Page;
use crate::ui::pager::COUNT_UP_TO;

const KIND: &str = "intake.create";

/// The list's orders for keyset pages: by the day received, then as recorded; or by donor.
static ORDERS: Orders = Orders(&[
    (
        "received",
        Order {
            columns: &[
                ("intakes.received_on", Col::Date),
                ("intakes.created_at", Col::Time),
                ("intakes.id", Col::Uuid),
            ],
        },
    ),
    (
        "donor",
        Order {
            columns: &[("intakes.donor", Col::Text), ("intakes.id", Col::Uuid)],
        },
    ),
]);

/// Newest first (by the day received, then as recorded) unless another column is asked for.
static SORTS: crate::ui::pager::Sorts = crate::ui::pager::Sorts {
    offered: &["received", "donor"],
    default: crate::ui::sorting::Sort::descending("received"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hubs/{hub_id}/intakes")
            .get(list)
            .post(create),
    )
    .service(web::resource("/hubs/{hub_id}/intakes/new").get(new_form))
    .service(web::resource("/hubs/{hub_id}/intakes/{id}").get(detail));
}

/// The columns of an `IntakeRow`: an intake and the name of who recorded it.
const ROW: (
    intakes::id,
    intakes::donor,
    intakes::reference,
    intakes::received_on,
    intakes::created_at,
    users::display_name,
) = (
    intakes::id,
    intakes::donor,
    intakes::reference,
    intakes::received_on,
    intakes::created_at,
    users::display_name,
);

#[derive(Queryable)]
pub struct IntakeRow {
    pub id: Uuid,
    pub donor: String,
    pub reference: Option<String>,
    pub received_on: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub by: String,
}

#[derive(Template)]
#[template(path = "intakes/list.html")]
struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<IntakeRow>,
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
        format!("/hubs/{hub_id}/intakes"),
        "Search by donor or reference",
        &[],
        &SORTS,
    );
    let (pattern, sort) = (filter.pattern(), filter.sort);
    let fetch = keyset::fetch(&filter.start, ORDERS.by(sort.key), sort.descending);
    let walk = fetch.walk.clone();
    let counting = filter.counting(List::Intakes, hub_id);
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
        let base = || {
            let mut q = intakes::table
                .inner_join(users::table.on(users::id.eq(intakes::created_by)))
                .filter(intakes::hub_id.eq(hub_id))
                .into_boxed();
            if let Some(p) = &pattern {
                q = q.filter(
                    intakes::donor
                        .ilike(p.clone())
                        .or(intakes::reference.ilike(p.clone())),
                );
            }
            q
        };
        let total = counting.total(conn, |c| crate::db::count_up_to(base(), COUNT_UP_TO, c))?;
        let rows = walk
            .rows(base(), keyset::FETCH)
            .select(ROW)
            .load::<IntakeRow>(conn)?;
        Ok((rows, total))
    })
    .await?;
    let by_donor = sort.key == "donor";
    let (rows, pager) = filter.keyset_page(fetched, &fetch.start, total, |r: &IntakeRow| {
        if by_donor {
            vec![r.donor.clone(), r.id.to_string()]
        } else {
            vec![
                r.received_on.to_string(),
                time_key(r.created_at),
                r.id.to_string(),
            ]
        }
    });
    let can_create = access.can(crate::auth::permissions::Permission::IntakeCreate);
    render(&ListPage {
        layout: page.layout(format!("Intakes · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "intakes",
        rows,
        can_create,
        pager,
        filter,
    })
}

#[derive(Template)]
#[template(path = "intakes/form.html")]
struct FormPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    donor: String,
    reference: String,
    received_on: String,
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
    render_with_status(
        &FormPage {
            layout: page.layout(format!("Record intake · {}", hub.name)),
            hub: hub.clone(),
            section: "intakes",
            meta,
            donor: text("donor"),
            reference: text("reference"),
            received_on: form
                .map(|f| f.text("received_on"))
                .unwrap_or_else(|| Utc::now().date_naive().to_string()),
            rows: forms::line_rows_with_errors(form, 6, &errors),
            with_expiry: true,
            catalog,
            errors,
        },
        status,
    )
}

async fn new_form(
    access: HubAccess<perm::IntakeCreate>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    form_page(&state, &page, &access, &access.hub, None, vec![]).await
}

/// The operation an intake form stands for.
pub fn posted(hub_id: i64, form: &FormFields) -> forms::Posted {
    let mut errors = Vec::new();
    let lines = forms::lines(form, &mut errors);
    let received_on = match form.text("received_on").as_str() {
        "" => None,
        d => d
            .parse::<NaiveDate>()
            .map_err(|_| errors.push(FieldError::new("received_on", "enter a date")))
            .ok(),
    };
    let payload = serde_json::json!({
        "intake_id": form.text("record_id"),
        "hub_id": hub_id,
        "donor": form.text("donor"),
        "reference": Some(form.text("reference")).filter(|r| !r.is_empty()),
        "received_on": received_on,
        "lines": lines,
    });
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
    let list = format!("/hubs/{hub_id}/intakes");
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Record(&list),
        |_| "Intake recorded and stock updated.".into(),
    )
    .await?;
    answer
        .or_show(|hub, errors| async move {
            form_page(&state, &page, &user, &hub, Some(&form), errors).await
        })
        .await
}

#[derive(Queryable)]
pub struct DetailLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub expiry_on: Option<NaiveDate>,
    pub lot: Option<String>,
}

#[derive(Template)]
#[template(path = "intakes/detail.html")]
struct DetailPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    intake: IntakeRow,
    lines: Vec<DetailLine>,
}

async fn detail(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = crate::ui::page::record_id(&path.into_inner().1, "intake")?;
    let hub_id = access.hub.id;
    let (intake, lines) = crate::db::run(&state.db, move |conn| {
        let intake: IntakeRow = intakes::table
            .inner_join(users::table.on(users::id.eq(intakes::created_by)))
            .filter(intakes::id.eq(id))
            .filter(intakes::hub_id.eq(hub_id))
            .select(ROW)
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("There is no such intake at this hub."))?;
        let lines: Vec<DetailLine> = intake_lines::table
            .inner_join(
                product_variants::table
                    .inner_join(product_identities::table.inner_join(product_families::table)),
            )
            .filter(intake_lines::intake_id.eq(id))
            .order(intake_lines::line_no)
            .select((
                product_variants::full_sku,
                product_families::base_name,
                intake_lines::quantity,
                intake_lines::expiry_on,
                intake_lines::lot,
            ))
            .load(conn)?;
        Ok((intake, lines))
    })
    .await?;
    render(&DetailPage {
        layout: page.layout(format!("Intake from {}", intake.donor)),
        hub: access.hub.clone(),
        section: "intakes",
        intake,
        lines,
    })
}
