//! Background jobs on apalis + Redis: the queues and how jobs are enqueued (from the outbox, so
//! only committed state produces jobs). Their handlers are the worker's (`worker`); this stays
//! on the foundation floor, so the outbox publisher can hand jobs over without knowing them.

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use outpost_jobs::{queues, InvoiceRender, ZohoSync};

use crate::state::AppState;

pub type ZohoQueue = RedisStorage<ZohoSync>;
pub type InvoiceQueue = RedisStorage<InvoiceRender>;

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

pub fn invoice_storage(state: &AppState) -> InvoiceQueue {
    let config = apalis_redis::Config::default().queue(state.redis_key(queues::INVOICE_RENDER));
    RedisStorage::new(state.redis.clone()).with_config(config)
}

/// Enqueues the rendering of one invoice's PDF.
pub async fn enqueue_invoice(state: &AppState, invoice_id: uuid::Uuid) -> anyhow::Result<()> {
    let mut storage = invoice_storage(state);
    storage
        .push(InvoiceRender { invoice_id })
        .await
        .map_err(|e| anyhow::anyhow!("cannot enqueue the invoice render: {e:?}"))
}
