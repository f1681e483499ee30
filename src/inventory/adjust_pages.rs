//! Stock adjustment pages: a hub's adjustments, the adjustment form (offline-capable: the level
//! each item is counted against is the one printed in the form), and saving reorder levels from
//! the hub's stock page.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::adjust;
use crate::auth::extract::{CurrentUser, HubAccess};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::auth::scope::Hub;
use crate::db::keyset::{time_key, Col, Order};
use crate::db::list_counts::List;
use crate::error::AppError;
use crate::schema::{
    product_families, product_identities, product_variants, stock_adjustments, stock_levels, users,
};
use crate::state::AppState;
use crate::sync::forms::{self, OpMeta, Posted};
use crate::sync::operation::FieldError;
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::keyset;
use crate::ui::layout::{render, render_with_status, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};
use crate::ui::pager::{ListQuery, Pager, Total};

const KIND: &str = "stock.adjust";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hubs/{hub_id}/adjustments")
            .get(list)
            .post(create),
    )
    .service(web::resource("/hubs/{hub_id}/adjustments/new").get(new_form))
    .service(web::resource("/hubs/{hub_id}/reorder-levels").post(save_reorder_levels));
}

/// Newest first, the id breaking ties (`ui::keyset`).
static NEWEST_FIRST: Order = Order {
    columns: &[
        ("stock_adjustments.created_at", Col::Time),
        ("stock_adjustments.id", Col::Uuid),
    ],
};

#[derive(Queryable)]
pub struct AdjustmentRow {
    pub id: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub sku: String,
    pub name: String,
    pub counted_against: i64,
    pub counted: i64,
    pub delta: i64,
    pub reason: String,
    pub note: Option<String>,
    pub by: String,
}

impl AdjustmentRow {
    pub fn reason_words(&self) -> &'static str {
        adjust::reason_words(&self.reason)
    }
    pub fn change(&self) -> String {
        if self.delta > 0 {
            format!("+{}", self.delta)
        } else {
            self.delta.to_string()
        }
    }
}

#[derive(Template)]
#[template(path = "adjustments/list.html")]
struct ListPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    rows: Vec<AdjustmentRow>,
    can_adjust: bool,
    pager: Pager,
}

async fn list(
    access: HubAccess<perm::InventoryRead>,
    page: Page,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = access.hub.id;
    let start = keyset::Start::parse(&query.after, &query.before);
    let fetch = keyset::fetch(&start, &NEWEST_FIRST, true);
    let walk = fetch.walk.clone();
    let (fetched, total) = crate::db::run(&state.db, move |conn| {
        let total = crate::db::list_counts::total(conn, List::StockAdjustments, &[hub_id], None)?;
        let rows = walk
            .rows(
                stock_adjustments::table
                    .filter(stock_adjustments::hub_id.eq(hub_id))
                    .inner_join(users::table)
                    .inner_join(
                        product_variants::table.inner_join(
                            product_identities::table.inner_join(product_families::table),
                        ),
                    )
                    .into_boxed(),
                keyset::FETCH,
            )
            .select((
                stock_adjustments::id,
                stock_adjustments::created_at,
                product_variants::full_sku,
                product_families::base_name,
                stock_adjustments::counted_against,
                stock_adjustments::counted,
                stock_adjustments::delta,
                stock_adjustments::reason,
                stock_adjustments::note,
                users::display_name,
            ))
            .load(conn)?;
        Ok((rows, Total::Kept(total)))
    })
    .await?;
    let base = format!("/hubs/{hub_id}/adjustments");
    let (rows, pager) = Pager::keyset_page(
        fetched,
        &fetch.start,
        base,
        true,
        total,
        |r: &AdjustmentRow| vec![time_key(r.created_at), r.id.to_string()],
    );
    render(&ListPage {
        layout: page.layout(format!("Stock adjustments · {}", access.hub.name)),
        hub: access.hub.clone(),
        section: "adjustments",
        rows,
        can_adjust: access.can(Permission::StockAdjust),
        pager,
    })
}

/// An item of the hub as the form offers it: the option's value carries the level shown, so
/// the count is checked against what the person saw, with or without JavaScript, offline too.
pub struct ItemOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "adjustments/form.html")]
struct FormPage {
    layout: Layout,
    hub: Hub,
    section: &'static str,
    meta: OpMeta,
    items: Vec<ItemOption>,
    counted: String,
    reason: String,
    note: String,
    reasons: &'static [(&'static str, &'static str)],
    errors: Vec<FieldError>,
}

#[derive(serde::Deserialize)]
struct NewQuery {
    #[serde(default)]
    sku: String,
}

async fn form_page(
    state: &AppState,
    page: &Page,
    user: &Principal,
    hub: &Hub,
    form: Option<&FormFields>,
    chosen_sku: String,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, AppError> {
    let hub_id = hub.id;
    let stocked: Vec<(String, String, String, i64)> = crate::db::run(&state.db, move |conn| {
        Ok(stock_levels::table
            .inner_join(
                product_variants::table
                    .inner_join(product_identities::table.inner_join(product_families::table)),
            )
            .filter(stock_levels::hub_id.eq(hub_id))
            .filter(product_variants::active.eq(true))
            .order((product_families::base_name, product_variants::full_sku))
            .select((
                product_variants::full_sku,
                product_families::base_name,
                product_variants::description,
                stock_levels::quantity,
            ))
            .load(conn)?)
    })
    .await?;
    let posted_item = form.map(|f| f.text("item")).unwrap_or_default();
    let items = stocked
        .into_iter()
        .map(|(sku, name, description, quantity)| {
            let value = format!("{sku}@{quantity}");
            let shown = crate::ui::chart::grouped(quantity);
            ItemOption {
                selected: value == posted_item || (posted_item.is_empty() && sku == chosen_sku),
                // Descriptions usually begin with the item's name; then they say it all.
                label: if description.starts_with(&name) {
                    format!("{description} · {sku} · {shown} on hand")
                } else {
                    format!("{name} — {description} · {sku} · {shown} on hand")
                },
                value,
            }
        })
        .collect();
    let text = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    render_with_status(
        &FormPage {
            layout: page.layout(format!("Adjust stock · {}", hub.name)),
            hub: hub.clone(),
            section: "adjustments",
            meta: forms::create_meta(&state.settings, user, hub.id, KIND, form),
            items,
            counted: text("counted"),
            reason: form
                .map(|f| f.text("reason"))
                .unwrap_or_else(|| "count".into()),
            note: text("note"),
            reasons: adjust::REASONS,
            errors: errors.clone(),
        },
        forms::status_after(&errors),
    )
}

async fn new_form(
    access: HubAccess<perm::StockAdjust>,
    page: Page,
    query: web::Query<NewQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sku = query.into_inner().sku;
    form_page(&state, &page, &access, &access.hub, None, sku, vec![]).await
}

/// The operation an adjustment form stands for. The item field is `SKU@level`: the level the
/// person saw is the operation's base version.
pub fn posted(hub_id: i64, form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let item = form.text("item");
    let (sku, seen) = match item.rsplit_once('@') {
        Some((sku, level)) => (sku.to_string(), level.parse::<i32>().ok()),
        None => (item.clone(), None),
    };
    if seen.is_none() {
        errors.push(FieldError::new("item", "choose an item from the list"));
    }
    let counted = form.text("counted");
    let counted = counted.trim().parse::<i64>().unwrap_or_else(|_| {
        errors.push(FieldError::new(
            "counted",
            "enter how many you counted, as a whole number",
        ));
        0
    });
    let payload = serde_json::json!({
        "adjustment_id": form.text("record_id"),
        "hub_id": hub_id,
        "sku": sku,
        "counted": counted,
        "reason": form.text("reason"),
        "note": Some(form.text("note")).filter(|n| !n.trim().is_empty()),
    });
    let mut posted = Posted::new(KIND, payload, errors);
    posted.base_version = seen;
    posted
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
    let list = format!("/hubs/{hub_id}/adjustments");
    let answer = forms::post_at_hub(
        (&state, &user, &req),
        &form,
        (hub_id, posted(hub_id, &form)),
        forms::Then::Page(&list),
        |_| "Stock adjusted to the count.".into(),
    )
    .await?;
    answer
        .or_show(|hub, errors| async move {
            form_page(
                &state,
                &page,
                &user,
                &hub,
                Some(&form),
                String::new(),
                errors,
            )
            .await
        })
        .await
}

/// The operation the stock page's reorder levels stand for: the levels that were changed.
pub fn posted_reorder_levels(hub_id: i64, form: &FormFields) -> Posted {
    let mut errors = Vec::new();
    let (skus, levels, shown) = (
        form.all("sku"),
        form.all("reorder_level"),
        form.all("orig_reorder_level"),
    );
    let mut changed = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        let level = levels.get(i).map(|l| l.trim()).unwrap_or("");
        if level == shown.get(i).map(String::as_str).unwrap_or("") {
            continue;
        }
        match level.parse::<i64>() {
            Ok(n) => changed.push(serde_json::json!({ "sku": sku, "reorder_level": n })),
            Err(_) => errors.push(FieldError::new(
                format!("reorder level of {sku}"),
                "enter a whole number",
            )),
        }
    }
    let payload = serde_json::json!({ "hub_id": hub_id, "levels": changed });
    Posted::new("stock.reorder_levels", payload, errors)
}

async fn save_reorder_levels(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64,)>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = path.into_inner().0;
    let posted = posted_reorder_levels(hub_id, &form);
    let back = format!("/hubs/{hub_id}");
    if posted.errors.is_empty()
        && posted.payload["levels"]
            .as_array()
            .is_some_and(Vec::is_empty)
    {
        return Ok(redirect_with_flash(
            &state.settings,
            &back,
            FlashKind::Info,
            "No reorder level was changed.",
        ));
    }
    let answer = forms::post(
        (&state, &user, &req),
        &form,
        posted,
        forms::Then::Page(&back),
        |_| "Reorder levels saved.".into(),
    )
    .await?;
    let refused = match answer {
        Ok(res) => return Ok(res),
        Err(refused) => refused,
    };
    let message = refused
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(redirect_with_flash(
        &state.settings,
        &back,
        FlashKind::Error,
        &format!("Nothing was saved. {message}"),
    ))
}
