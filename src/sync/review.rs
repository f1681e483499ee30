//! Sync Issues and the review queue. Every user sees their own operations that were refused,
//! conflicted or await confirmation; hub managers see those of their hubs and resolve each:
//! accept the device's version, keep the server's, or edit and apply. Accepting runs the
//! operation through the pipeline again, online and with the resolver's rights.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::operation::Operation;
use super::pipeline;
use crate::audit;
use crate::auth::extract::{Authorized, CurrentUser};
use crate::auth::permissions::{perm, Permission};
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::schema::{operations, users};
use crate::state::AppState;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sync-issues").get(own_issues))
        .service(web::resource("/sync-issues/{id}/dismiss").post(super::set_aside::dismiss))
        .service(web::resource("/review").get(queue))
        .service(web::resource("/review/{id}").get(item).post(resolve));
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = operations)]
pub struct Issue {
    pub id: Uuid,
    pub op_id: Uuid,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub hub_id: Option<i64>,
    pub captured_at: DateTime<Utc>,
    pub offline: bool,
    pub payload: Value,
    pub server_state: Option<Value>,
    pub record_id: Option<Uuid>,
    /// The display name of the user who sent it (the query joins `users`).
    #[diesel(select_expression = users::display_name)]
    pub actor: String,
}

impl Issue {
    /// Takes cost fields out of what is shown, for a viewer without `can_see_cost`.
    fn for_viewer(mut self, viewer: &Principal) -> Self {
        if !viewer.flags.can_see_cost {
            crate::auth::costs::strip_costs(&mut self.payload);
            if let Some(s) = self.server_state.as_mut() {
                crate::auth::costs::strip_costs(s);
            }
        }
        self
    }

    pub fn payload_text(&self) -> String {
        serde_json::to_string_pretty(&self.payload).unwrap_or_default()
    }
    pub fn server_text(&self) -> String {
        self.server_state
            .as_ref()
            .map(|s| serde_json::to_string_pretty(s).unwrap_or_default())
            .unwrap_or_default()
    }
    /// The entry as it was entered, in a line: "Donor: Red Cross · Lines: 00101-P-1-NA-N × 4".
    pub fn summary(&self) -> String {
        let text = crate::ui::readable::fields(&self.payload)
            .into_iter()
            .map(|f| format!("{}: {}", f.label, f.value))
            .collect::<Vec<_>>()
            .join(" · ");
        if text.chars().count() > 240 {
            format!("{}…", text.chars().take(240).collect::<String>())
        } else {
            text
        }
    }
    /// The status in words.
    pub fn status_words(&self) -> &'static str {
        match self.status.as_str() {
            "rejected" => "Not applied",
            "conflict" => "Conflict",
            "pending_review" => "Waits for confirmation",
            _ => "Open",
        }
    }
    /// The form to enter a refused entry again, when there is one.
    pub fn form_again(&self) -> Option<String> {
        let hub = self.hub_id?;
        let again = super::registry::find(&self.kind)?.spec().again?;
        let page = match (again.strip_suffix("/{id}"), self.record_id) {
            (Some(list), Some(id)) => format!("/hubs/{hub}/{list}/{id}"),
            (Some(list), None) => format!("/hubs/{hub}/{list}"),
            (None, _) => format!("/hubs/{hub}/{again}"),
        };
        // The form opened from here names this entry as the one it corrects, so saving it
        // closes this row (`ui::page::Page` puts it in the form's hidden fields).
        Some(format!(
            "{page}?{}",
            serde_urlencoded::to_string([
                ("corrects", self.op_id.to_string()),
                ("kind", self.kind.clone())
            ])
            .unwrap_or_default()
        ))
    }
    /// The entry beside the server's version now, field by field, in words.
    pub fn comparison(&self) -> Vec<crate::ui::readable::Compared> {
        crate::ui::readable::compare(
            &self.payload,
            self.server_state.as_ref().unwrap_or(&Value::Null),
        )
    }
    /// What accepting the device's version changes on the server, field by field:
    /// "Quantity 300 → 100". Empty when nothing differs (or there is no server version).
    pub fn accepting_sets(&self) -> String {
        self.comparison()
            .into_iter()
            .filter(|row| row.differs())
            .map(|row| format!("{} {} → {}", row.label, row.theirs, row.ours))
            .collect::<Vec<_>>()
            .join("; ")
    }
    pub fn kind_words(&self) -> String {
        crate::audit::words::entry_words(&self.kind)
    }
    pub fn when(&self) -> String {
        self.captured_at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

const OPEN: [&str; 3] = ["rejected", "conflict", "pending_review"];

#[derive(Template)]
#[template(path = "review/list.html")]
struct ListPage {
    layout: Layout,
    heading: &'static str,
    intro: &'static str,
    /// What the list says when it is empty (a manager's queue is not about what they sent).
    empty: &'static str,
    issues: Vec<Issue>,
    can_resolve: bool,
    /// Where a one-step confirmation returns to: this list.
    back: &'static str,
}

impl ListPage {
    /// The op id of a one-step confirmation made from this rendering of the list.
    fn attempt(&self) -> Uuid {
        Uuid::new_v4()
    }
}

async fn own_issues(
    user: CurrentUser,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.user_id;
    let issues = crate::db::run(&state.db, move |conn| {
        Ok(operations::table
            .inner_join(users::table.on(users::id.eq(operations::actor_id)))
            .filter(operations::actor_id.eq(user_id))
            .filter(operations::status.eq_any(OPEN))
            .filter(operations::resolved_at.is_null())
            .order(operations::received_at.desc())
            .limit(200)
            .select(Issue::as_select())
            .load(conn)?)
    })
    .await?;
    render(&ListPage {
        layout: page.layout("Sync Issues"),
        heading: "Sync Issues",
        intro: "Entries from this account that the server did not apply as sent. Each says why; a manager of the hub can resolve conflicts and confirm entries awaiting online confirmation.",
        // Served from the device offline, the page cannot know what waits there: it speaks
        // of what the server holds (the status pill counts what waits on the device).
        empty: "Nothing here: the server applied everything it received from you.",
        issues: issues.into_iter().map(|i| i.for_viewer(&user)).collect(),
        can_resolve: user.can(Permission::ReviewResolve),
        back: "/sync-issues",
    })
}

/// Open items at hubs in the manager's scope (rejections are shown to their authors only).
fn queue_query(user: &Principal) -> operations::BoxedQuery<'static, diesel::pg::Pg> {
    operations::table
        .filter(operations::hub_id.eq_any(user.scope.hub_ids()))
        .filter(operations::status.eq_any(["conflict", "pending_review"]))
        .filter(operations::resolved_at.is_null())
        .into_boxed()
}

async fn queue(
    user: Authorized<perm::ReviewResolve>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = user.user.0.clone();
    let issues = crate::db::run(&state.db, move |conn| {
        let ids: Vec<Uuid> = queue_query(&principal).select(operations::id).load(conn)?;
        Ok(operations::table
            .inner_join(users::table.on(users::id.eq(operations::actor_id)))
            .filter(operations::id.eq_any(ids))
            .order(operations::received_at)
            .select(Issue::as_select())
            .load(conn)?)
    })
    .await?;
    render(&ListPage {
        layout: page.layout("Review queue"),
        heading: "Review queue",
        intro: "Conflicting edits and entries captured offline that need online confirmation, at your hubs. Nothing here has changed the server's data yet.",
        empty: "Nothing waits for a decision at your hubs.",
        issues: issues.into_iter().map(|i| i.for_viewer(&user)).collect(),
        can_resolve: true,
        back: "/review",
    })
}

/// An open item the manager may resolve, or 404.
fn load_item(conn: &mut PgConnection, user: &Principal, id: Uuid) -> Result<Issue, AppError> {
    let allowed: Vec<Uuid> = queue_query(user)
        .filter(operations::id.eq(id))
        .select(operations::id)
        .load(conn)?;
    if allowed.is_empty() {
        return Err(AppError::not_found(
            "There is no such open item in your review queue.",
        ));
    }
    Ok(operations::table
        .inner_join(users::table.on(users::id.eq(operations::actor_id)))
        .filter(operations::id.eq(id))
        .select(Issue::as_select())
        .first(conn)?)
}

#[derive(Template)]
#[template(path = "review/item.html")]
struct ItemPage {
    layout: Layout,
    issue: Issue,
    /// The op id of a resolution made with this rendering of the page.
    attempt: Uuid,
}

async fn item(
    user: Authorized<perm::ReviewResolve>,
    page: Page,
    path: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = user.user.0.clone();
    let id = path.into_inner();
    let issue = crate::db::run(&state.db, move |conn| load_item(conn, &principal, id)).await?;
    render(&ItemPage {
        layout: page.layout("Resolve a sync issue"),
        issue: issue.for_viewer(&user),
        attempt: Uuid::new_v4(),
    })
}

async fn resolve(
    user: Authorized<perm::ReviewResolve>,
    path: web::Path<Uuid>,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = user.user.0.clone();
    let id = path.into_inner();
    let p2 = principal.clone();
    let issue = crate::db::run(&state.db, move |conn| load_item(conn, &p2, id)).await?;
    let action = form.text("action");
    let (resolution, payload) = match action.as_str() {
        "keep" => ("kept_server", None),
        "accept" => ("accepted", Some(issue.payload.clone())),
        "edit" => match serde_json::from_str::<Value>(&form.text("payload")) {
            Ok(v) if v.is_object() => ("edited", Some(v)),
            _ => {
                return Ok(redirect_with_flash(
                    &state.settings,
                    &format!("/review/{id}"),
                    FlashKind::Error,
                    "The edited entry is not valid JSON; nothing was applied.",
                ))
            }
        },
        _ => return Err(AppError::BadRequest("Choose accept, keep or edit.".into())),
    };
    if let Some(payload) = payload {
        // A conflicting edit is applied over the server's current version; others as captured.
        let base_version = issue
            .server_state
            .as_ref()
            .and_then(|s| s.get("version"))
            .and_then(Value::as_i64)
            .map(|v| v as i32);
        // Each attempt is its own operation, named by the form it was made with: a double
        // submit of one form is a duplicate, a new attempt after a refusal is a new operation.
        let Ok(op_id) = form.text("op_id").parse::<Uuid>() else {
            return Err(AppError::BadRequest(
                "The form is out of date; open the item again.".into(),
            ));
        };
        let op = Operation {
            op_id,
            kind: issue.kind.clone(),
            payload,
            base_version,
            captured_at: Utc::now(),
            device_id: None,
            offline: false,
            envelope: None,
            corrects: None,
        };
        let result = pipeline::submit(&state, principal.clone(), op).await?;
        if !result.took_effect() {
            // Told here, on the item being resolved: not a Sync Issue of the resolver's own.
            super::forms::shown_on_form(&state, principal.user_id, result.op_id).await;
            let why = result.reason.unwrap_or_default();
            return Ok(redirect_with_flash(
                &state.settings,
                &format!("/review/{id}"),
                FlashKind::Error,
                &format!("Not applied: {why}"),
            ));
        }
    }
    let p3 = principal.clone();
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            record_resolution(
                conn,
                &p3,
                id,
                (issue.op_id, &issue.kind),
                issue.hub_id,
                resolution,
            )
        })
    })
    .await?;
    // A confirmation made from Sync Issues returns there; anything else to the queue.
    let back = if form.text("back") == "/sync-issues" {
        "/sync-issues"
    } else {
        "/review"
    };
    let message = match resolution {
        "kept_server" => "Kept the server's version; the device's entry was set aside.",
        "edited" => "Your edited entry was applied.",
        _ => "The entry was applied.",
    };
    Ok(redirect_with_flash(
        &state.settings,
        back,
        FlashKind::Success,
        message,
    ))
}

/// An open item settled by a person, in the caller's transaction: the operation row's
/// resolution and who made it, and its `review.resolved` audit row (a manager's decision, or
/// its author setting it aside).
pub(super) fn record_resolution(
    conn: &mut PgConnection,
    who: &Principal,
    id: Uuid,
    (op_id, kind): (Uuid, &str),
    hub_id: Option<i64>,
    resolution: &str,
) -> Result<(), AppError> {
    diesel::update(operations::table.find(id))
        .set((
            operations::resolved_at.eq(diesel::dsl::now),
            operations::resolved_by.eq(who.user_id),
            operations::resolution.eq(resolution),
        ))
        .execute(conn)?;
    let mut entry = who
        .audit_entry("review.resolved")
        .object("operation", op_id)
        .hub(hub_id)
        .outcome(resolution);
    entry.operation_id = Some(op_id);
    entry.after = Some(serde_json::json!({ "kind": kind, "resolution": resolution }));
    audit::record(conn, &entry)?;
    Ok(())
}
