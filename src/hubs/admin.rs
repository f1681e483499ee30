//! Organisations and hubs administration. A SuperAdmin manages every organisation; an Admin
//! sees and manages only their own organisation's hubs.

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;

use crate::audit;
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::{Hub, Organisation};
use crate::error::AppError;
use crate::schema::{hubs, organisations};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, render_with_status, FlashKind, FormEcho, Layout};
use crate::ui::page::{redirect_with_flash, Page};

pub(super) type HubAdmin = Authorized<perm::HubsManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/organisations")
            .get(overview)
            .post(create_organisation),
    )
    .service(web::resource("/admin/hubs").post(create_hub))
    .service(web::resource("/admin/hubs/{id}/active").post(set_hub_active))
    .service(
        web::resource("/admin/organisations/{id}/sales")
            .post(super::org_settings::set_sales_settings),
    );
}

pub struct OrgBlock {
    pub organisation: Organisation,
    pub hubs: Vec<Hub>,
}

#[derive(Template)]
#[template(path = "admin/organisations.html")]
struct OverviewPage {
    layout: Layout,
    blocks: Vec<OrgBlock>,
    can_create_org: bool,
    errors: Vec<String>,
}

pub(super) fn visible_orgs(
    conn: &mut PgConnection,
    admin: &Principal,
) -> QueryResult<Vec<Organisation>> {
    let all = crate::auth::scope::all_organisations(conn)?;
    Ok(if admin.role == Role::SuperAdmin {
        all
    } else {
        all.into_iter()
            .filter(|o| o.id == admin.organisation_id)
            .collect()
    })
}

async fn blocks(state: &AppState, admin: &Principal) -> Result<Vec<OrgBlock>, AppError> {
    let admin = admin.clone();
    crate::db::run(&state.db, move |conn| {
        let orgs = visible_orgs(conn, &admin)?;
        let mut out = Vec::new();
        for organisation in orgs {
            let hubs = crate::auth::scope::hubs_of_organisation(conn, organisation.id)?;
            out.push(OrgBlock { organisation, hubs });
        }
        Ok(out)
    })
    .await
}

async fn overview(
    admin: HubAdmin,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let blocks = blocks(&state, &admin).await?;
    render(&OverviewPage {
        layout: page.layout("Organisations & hubs"),
        blocks,
        can_create_org: admin.role == Role::SuperAdmin,
        errors: vec![],
    })
}

async fn invalid(
    admin: &Principal,
    page: &Page,
    state: &AppState,
    form: &FormFields,
    errors: Vec<String>,
) -> Result<HttpResponse, AppError> {
    let blocks = blocks(state, admin).await?;
    let mut layout = page.layout("Organisations & hubs");
    // The refused form comes back as typed.
    layout.echo = FormEcho::of(form);
    render_with_status(
        &OverviewPage {
            layout,
            blocks,
            can_create_org: admin.role == Role::SuperAdmin,
            errors,
        },
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
    )
}

async fn create_organisation(
    admin: HubAdmin,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if admin.role != Role::SuperAdmin {
        return Err(AppError::Forbidden(
            "Only a super admin can create organisations.".into(),
        ));
    }
    let name = form.text("name");
    let kind = form.text("kind");
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push("Enter the organisation's name (up to 120 characters).".to_string());
    }
    if !matches!(kind.as_str(), "government" | "agency") {
        errors.push("Choose whether it is a government body or an independent agency.".to_string());
    }
    if !errors.is_empty() {
        return invalid(&admin, &page, &state, &form, errors).await;
    }
    let principal = admin.user.0.clone();
    let n2 = name.clone();
    let created = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let id: Option<i64> = diesel::insert_into(organisations::table)
                .values((organisations::name.eq(&n2), organisations::kind.eq(&kind)))
                .on_conflict_do_nothing()
                .returning(organisations::id)
                .get_result(conn)
                .optional()?;
            if let Some(id) = id {
                audit::record(
                    conn,
                    &principal
                        .audit_entry("organisation.created")
                        .object("organisation", id)
                        .change(None, Some(serde_json::json!({"name": n2, "kind": kind}))),
                )?;
            }
            Ok::<_, AppError>(id)
        })
    })
    .await?;
    match created {
        Some(_) => Ok(redirect_with_flash(
            &state.settings,
            "/admin/organisations",
            FlashKind::Success,
            &format!("Organisation '{name}' created."),
        )),
        None => {
            invalid(
                &admin,
                &page,
                &state,
                &form,
                vec![format!("An organisation named '{name}' already exists.")],
            )
            .await
        }
    }
}

async fn create_hub(
    admin: HubAdmin,
    page: Page,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let org: i64 = form.text("organisation_id").parse().unwrap_or(0);
    let code = form.text("code").to_uppercase();
    let name = form.text("name");
    let kind = form.text("kind");
    let mut errors = Vec::new();
    if !(2..=16).contains(&code.len())
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errors.push("The hub code is 2–16 letters, digits or '-'.".to_string());
    }
    if name.is_empty() || name.chars().count() > 120 {
        errors.push("Enter the hub's name (up to 120 characters).".to_string());
    }
    if !matches!(kind.as_str(), "main" | "sub" | "agency") {
        errors.push("Choose the hub's kind.".to_string());
    }
    let principal = admin.user.0.clone();
    let p2 = principal.clone();
    let org_row = crate::db::run(&state.db, move |conn| {
        Ok(visible_orgs(conn, &p2)?.into_iter().find(|o| o.id == org))
    })
    .await?;
    match &org_row {
        None => errors.push("Choose an organisation you manage.".to_string()),
        Some(o) if (o.kind == "agency") != (kind == "agency") => errors.push(
            "Agency hubs belong to agencies, and agencies have only agency hubs.".to_string(),
        ),
        _ => {}
    }
    if !errors.is_empty() {
        return invalid(&admin, &page, &state, &form, errors).await;
    }
    let (c2, n2) = (code.clone(), name.clone());
    let created = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let id: Option<i64> = diesel::insert_into(hubs::table)
                .values((hubs::organisation_id.eq(org), hubs::code.eq(&c2), hubs::name.eq(&n2), hubs::kind.eq(&kind)))
                .on_conflict_do_nothing()
                .returning(hubs::id)
                .get_result(conn)
                .optional()?;
            if let Some(id) = id {
                audit::record(conn, &principal.audit_entry("hub.created").object("hub", id).hub(Some(id)).change(None, Some(serde_json::json!({"code": c2, "name": n2, "kind": kind, "organisation_id": org}))))?;
            }
            Ok::<_, AppError>(id)
        })
    })
    .await?;
    match created {
        Some(_) => Ok(redirect_with_flash(
            &state.settings,
            "/admin/organisations",
            FlashKind::Success,
            &format!("Hub '{name}' created."),
        )),
        None => {
            invalid(
                &admin,
                &page,
                &state,
                &form,
                vec![format!(
                    "A hub with code '{code}' or name '{name}' already exists."
                )],
            )
            .await
        }
    }
}

async fn set_hub_active(
    admin: HubAdmin,
    path: web::Path<i64>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let hub_id = path.into_inner();
    let active = form.text("active") == "true";
    let principal = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        let orgs: Vec<i64> = visible_orgs(conn, &principal)?
            .iter()
            .map(|o| o.id)
            .collect();
        let hub: Hub = hubs::table
            .find(hub_id)
            .filter(hubs::organisation_id.eq_any(orgs))
            .select(Hub::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("There is no such hub among those you manage."))?;
        conn.transaction(|conn| {
            diesel::update(hubs::table.find(hub.id))
                .set(hubs::active.eq(active))
                .execute(conn)?;
            let action = if active {
                "hub.activated"
            } else {
                "hub.deactivated"
            };
            audit::record(
                conn,
                &principal
                    .audit_entry(action)
                    .object("hub", hub.id)
                    .hub(Some(hub.id))
                    .change(
                        Some(serde_json::json!({"active": hub.active})),
                        Some(serde_json::json!({"active": active})),
                    ),
            )?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/organisations",
        FlashKind::Success,
        if active {
            "Hub reactivated."
        } else {
            "Hub deactivated."
        },
    ))
}
