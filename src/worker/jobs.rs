//! The queues' workers: the handlers of a Zoho sync and of an invoice render, and how often
//! each polls its Redis queue. The queues themselves (`crate::jobs`) stand lower: features
//! enqueue onto them.

use apalis::prelude::*;
use outpost_jobs::{InvoiceRender, ZohoSync};

use crate::state::AppState;

/// The Zoho sync queue of this deployment. Workers look for new jobs twice a second (apalis
/// otherwise waits for its 30 s heartbeat).
pub(super) fn zoho_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<crate::jobs::ZohoQueue, apalis::prelude::IntervalStrategy> {
    crate::jobs::zoho_storage(state).poll_with_interval(std::time::Duration::from_millis(500))
}

/// The job handler: syncs the variant as the SYSTEM_BOT user.
pub(super) async fn run_zoho_sync(job: ZohoSync, ctx: Data<ZohoCtx>) -> Result<(), BoxDynError> {
    let Some(zoho) = ctx.state.settings.zoho.clone() else {
        return Ok(());
    };
    crate::task_health::supervise(&ctx.state, crate::task_health::ZOHO_SYNC, async {
        // A whole job, retries included, never runs longer than this.
        let run = crate::zoho_sync::sync_variant(&ctx.state, &zoho, &ctx.http, job.variant_id);
        match tokio::time::timeout(std::time::Duration::from_secs(900), run).await {
            Ok(result) => result.map(|_| ()).map_err(Into::into),
            Err(_) => Err(anyhow::anyhow!("the Zoho sync took longer than 15 minutes")),
        }
    })
    .await
}

#[derive(Clone)]
pub(super) struct ZohoCtx {
    pub(super) state: AppState,
    pub(super) http: reqwest::Client,
}

pub(super) fn invoice_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<crate::jobs::InvoiceQueue, apalis::prelude::IntervalStrategy> {
    crate::jobs::invoice_storage(state).poll_with_interval(crate::sales::render::POLL)
}

/// The job handler: renders the PDF (a failure is recorded on the invoice, not retried here).
pub(super) async fn run_invoice_render(
    job: InvoiceRender,
    state: Data<AppState>,
) -> Result<(), BoxDynError> {
    crate::task_health::supervise(&state, crate::task_health::INVOICE_RENDER, async {
        crate::sales::render::render_invoice(&state, job.invoice_id).await
    })
    .await
}
