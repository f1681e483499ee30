//! Background jobs on apalis + Redis: the queues, how jobs are enqueued (from the outbox, so
//! only committed state produces jobs), and their handlers.

use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use outpost_jobs::{queues, InvoiceRender, ZohoSync};

use crate::state::AppState;

pub type ZohoQueue = RedisStorage<ZohoSync>;
pub type InvoiceQueue = RedisStorage<InvoiceRender>;

/// The Zoho sync queue of this deployment. Workers look for new jobs twice a second (apalis
/// otherwise waits for its 30 s heartbeat).
pub fn zoho_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<ZohoQueue, apalis::prelude::IntervalStrategy> {
    zoho_storage(state).poll_with_interval(Duration::from_millis(500))
}

pub fn zoho_storage(state: &AppState) -> ZohoQueue {
    let config = apalis_redis::Config::default().queue(state.redis_key(queues::ZOHO_SYNC));
    RedisStorage::new(state.redis.clone()).with_config(config)
}

/// Enqueues a Zoho sync of one variant.
pub async fn enqueue_zoho(state: &AppState, variant_id: i64) -> anyhow::Result<()> {
    let mut storage = zoho_storage(state);
    storage
        .push(ZohoSync { variant_id })
        .await
        .map_err(|e| anyhow::anyhow!("cannot enqueue the Zoho sync: {e:?}"))
}

/// The job handler: syncs the variant as the SYSTEM_BOT user.
pub async fn run_zoho_sync(job: ZohoSync, ctx: Data<ZohoCtx>) -> Result<(), BoxDynError> {
    let Some(zoho) = ctx.state.settings.zoho.clone() else {
        return Ok(());
    };
    crate::task_health::supervise(&ctx.state, crate::task_health::ZOHO_SYNC, async {
        // A whole job, retries included, never runs longer than this.
        let run = crate::zoho_sync::sync_variant(&ctx.state, &zoho, &ctx.http, job.variant_id);
        match tokio::time::timeout(Duration::from_secs(900), run).await {
            Ok(result) => result.map(|_| ()).map_err(Into::into),
            Err(_) => Err(anyhow::anyhow!("the Zoho sync took longer than 15 minutes")),
        }
    })
    .await
}

#[derive(Clone)]
pub struct ZohoCtx {
    pub state: AppState,
    pub http: reqwest::Client,
}

pub fn invoice_storage(state: &AppState) -> InvoiceQueue {
    let config = apalis_redis::Config::default().queue(state.redis_key(queues::INVOICE_RENDER));
    RedisStorage::new(state.redis.clone()).with_config(config)
}

pub fn invoice_queue(
    state: &AppState,
) -> apalis::prelude::PollWith<InvoiceQueue, apalis::prelude::IntervalStrategy> {
    invoice_storage(state).poll_with_interval(crate::sales::render::POLL)
}

/// Enqueues the rendering of one invoice's PDF.
pub async fn enqueue_invoice(state: &AppState, invoice_id: uuid::Uuid) -> anyhow::Result<()> {
    let mut storage = invoice_storage(state);
    storage
        .push(InvoiceRender { invoice_id })
        .await
        .map_err(|e| anyhow::anyhow!("cannot enqueue the invoice render: {e:?}"))
}

/// The job handler: renders the PDF (a failure is recorded on the invoice, not retried here).
pub async fn run_invoice_render(
    job: InvoiceRender,
    state: Data<AppState>,
) -> Result<(), BoxDynError> {
    crate::task_health::supervise(&state, crate::task_health::INVOICE_RENDER, async {
        crate::sales::render::render_invoice(&state, job.invoice_id).await
    })
    .await
}
