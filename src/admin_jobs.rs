//! `/admin/jobs`: the background queues at a glance (pending, running, failed, done), the
//! variants whose Zoho sync failed with the last error, and retry/discard buttons (audited).

use actix_web::{web, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use outpost_jobs::queues;

use crate::audit;
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::schema::product_variants;
use crate::state::AppState;
use crate::ui::filters;
use crate::ui::form::FormFields;
use crate::ui::layout::{render, FlashKind, Layout};
use crate::ui::page::{redirect_with_flash, Page};

type JobAdmin = Authorized<perm::JobsManage>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/jobs").get(overview))
        .service(web::resource("/admin/jobs/retry").post(retry))
        .service(web::resource("/admin/jobs/discard").post(discard))
        .service(web::resource("/admin/jobs/retry-invoice").post(retry_invoice));
}

pub struct QueueStats {
    pub name: String,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    pub done: i64,
}

pub struct Failed {
    pub id: i64,
    pub sku: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    layout: Layout,
    queues: Vec<QueueStats>,
    /// Each sync status, in words, and how many variants are in it.
    sync_counts: Vec<(String, &'static str, i64)>,
    failed: Vec<Failed>,
    zoho_enabled: bool,
    failed_invoices: Vec<FailedInvoice>,
    tasks: Vec<TaskRow>,
}

/// One background task as the page shows it.
pub struct TaskRow {
    pub label: &'static str,
    pub name: &'static str,
    pub state: &'static str,
    pub state_words: String,
    pub last_run: String,
    pub last_ok: String,
    pub problems: String,
    pub last_problem: String,
}

fn task_row(t: crate::task_health::TaskHealth, now: chrono::DateTime<chrono::Utc>) -> TaskRow {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "never".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let (state, state_words) = if t.late(now) {
        let words = match (t.last_run_at, t.every_secs) {
            (None, _) => "Not running: no worker has run it".to_string(),
            (Some(at), Some(every)) => format!(
                "Late: runs every {every} s, last ran {} s ago",
                (now - at).num_seconds()
            ),
            (Some(_), None) => "Late".to_string(),
        };
        ("late", words)
    } else if t.last_problem_at.is_some() && t.last_problem_at >= t.last_ok_at {
        ("failing", "Last run failed".to_string())
    } else if t.last_run_at.is_none() {
        ("idle", "No job yet".to_string())
    } else {
        ("ok", "Running".to_string())
    };
    TaskRow {
        label: t.label,
        name: t.name,
        state,
        state_words,
        last_run: when(t.last_run_at),
        last_ok: when(t.last_ok_at),
        problems: t.problems(),
        last_problem: [
            t.last_problem
                .as_ref()
                .map(|p| format!("{p} ({})", when(t.last_problem_at))),
            t.last_restart
                .as_ref()
                .map(|r| format!("worker restarted after: {r} ({})", when(t.last_restart_at))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; "),
    }
}

/// id, number, attempts, last error, next automatic try.
type FailedInvoiceRow = (
    uuid::Uuid,
    String,
    i32,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// An invoice whose PDF did not render.
pub struct FailedInvoice {
    pub id: uuid::Uuid,
    pub number: String,
    pub attempts: i32,
    pub error: String,
    /// Tried again automatically (the backoff has not run out of attempts).
    pub retrying: bool,
}

/// The size of an apalis key whatever its Redis type (list, set or sorted set).
async fn size(conn: &mut redis::aio::ConnectionManager, key: &str) -> i64 {
    let kind: String = redis::cmd("TYPE")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap_or_default();
    let cmd = match kind.as_str() {
        "list" => "LLEN",
        "set" => "SCARD",
        "zset" => "ZCARD",
        _ => return 0,
    };
    redis::cmd(cmd)
        .arg(key)
        .query_async(conn)
        .await
        .unwrap_or(0)
}

pub async fn queue_stats(state: &AppState, name: &str) -> QueueStats {
    let q = state.redis_key(name);
    let conn = state.redis.clone();
    let count = |suffixes: &'static [&'static str]| {
        let q = q.clone();
        let mut c = conn.clone();
        async move {
            let mut total = 0;
            for s in suffixes {
                total += size(&mut c, &format!("{q}:{s}")).await;
            }
            total
        }
    };
    let pending = count(&["active", "scheduled"]).await;
    let running = count(&["inflight"]).await;
    let failed = count(&["dead", "failed"]).await;
    let done = count(&["done"]).await;
    QueueStats {
        name: name.to_string(),
        pending,
        running,
        failed,
        done,
    }
}

async fn overview(
    _admin: JobAdmin,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let queues = vec![
        queue_stats(&state, queues::ZOHO_SYNC).await,
        queue_stats(&state, queues::INVOICE_RENDER).await,
    ];
    let failed_invoices = crate::db::run(&state.db, |conn| {
        use crate::schema::invoices;
        let rows: Vec<FailedInvoiceRow> = invoices::table
            .filter(invoices::render_status.eq("failed"))
            .order(invoices::issued_at)
            .limit(200)
            .select((
                invoices::id,
                invoices::number,
                invoices::render_attempts,
                invoices::render_error,
                invoices::next_render_at,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, number, attempts, error, next)| FailedInvoice {
                id,
                number,
                attempts,
                error: error.unwrap_or_default(),
                retrying: next.is_some(),
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let (sync_counts, failed) = crate::db::run(&state.db, |conn| {
        let counts: Vec<(String, i64)> = product_variants::table
            .group_by(product_variants::zoho_sync_status)
            .select((
                product_variants::zoho_sync_status,
                diesel::dsl::count_star(),
            ))
            .order(product_variants::zoho_sync_status)
            .load(conn)?;
        let failed: Vec<(i64, String, Option<String>)> = product_variants::table
            .filter(product_variants::zoho_sync_status.eq("ERROR"))
            .filter(product_variants::zoho_last_error.is_not_null())
            .order(product_variants::id)
            .limit(200)
            .select((
                product_variants::id,
                product_variants::full_sku,
                product_variants::zoho_last_error,
            ))
            .load(conn)?;
        Ok((
            counts
                .into_iter()
                .map(|(status, n)| {
                    let words = crate::catalog::sync_words(&status);
                    (status, words, n)
                })
                .collect::<Vec<_>>(),
            failed
                .into_iter()
                .map(|(id, sku, error)| Failed {
                    id,
                    sku,
                    error: error.unwrap_or_default(),
                })
                .collect(),
        ))
    })
    .await?;
    let now = chrono::Utc::now();
    let tasks = crate::task_health::read_all(&state)
        .await
        .into_iter()
        .map(|t| task_row(t, now))
        .collect();
    render(&JobsPage {
        tasks,
        layout: page.layout("Background jobs"),
        queues,
        sync_counts,
        failed,
        zoho_enabled: state.settings.zoho.is_some(),
        failed_invoices,
    })
}

/// Retry of a failed invoice render: a fresh set of attempts, queued at once (audited).
async fn retry_invoice(
    admin: JobAdmin,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id: uuid::Uuid = form
        .text("invoice_id")
        .parse()
        .map_err(|_| AppError::BadRequest("Choose an invoice to retry.".into()))?;
    if !crate::sales::render::retry(&state, id)
        .await
        .map_err(AppError::Internal)?
    {
        return Err(AppError::not_found("That invoice has no failed rendering."));
    }
    let principal = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        audit::record(
            conn,
            &principal.audit_entry("job.retried").object("invoice", id).event(
                "job.retried",
                serde_json::json!({ "job": "invoice_render", "invoice_id": id, "actor": principal.display_name, "organisation_id": principal.organisation_id }),
            ),
        )?;
        Ok(())
    })
    .await?;
    crate::events::publish_soon(&state);
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/jobs",
        FlashKind::Success,
        "The invoice will be rendered again.",
    ))
}

async fn retry(
    admin: JobAdmin,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = form
        .text("variant_id")
        .parse()
        .map_err(|_| AppError::BadRequest("Choose a variant to retry.".into()))?;
    crate::zoho_sync::requeue_failed(&state, &admin, id).await?;
    Ok(redirect_with_flash(
        &state.settings,
        "/admin/jobs",
        FlashKind::Success,
        "The sync will be tried again.",
    ))
}

async fn discard(
    admin: JobAdmin,
    form: FormFields,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = form
        .text("variant_id")
        .parse()
        .map_err(|_| AppError::BadRequest("Choose a variant.".into()))?;
    let principal = admin.user.0.clone();
    crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let n = diesel::update(
                product_variants::table
                    .find(id)
                    .filter(product_variants::zoho_sync_status.eq("ERROR")),
            )
            .set(product_variants::zoho_last_error.eq(None::<String>))
            .execute(conn)?;
            if n == 0 {
                return Err(AppError::not_found("That variant has no failed sync."));
            }
            audit::record(
                conn,
                &principal
                    .audit_entry("job.discarded")
                    .object("product_variant", id),
            )?;
            Ok(())
        })
    })
    .await?;
    Ok(redirect_with_flash(&state.settings, "/admin/jobs", FlashKind::Info, "Discarded: the variant stays in ERROR and is not retried until it is edited or retried here."))
}
