//! Queue and worker names. Set explicitly: apalis would otherwise derive a queue name from the
//! Rust type path, and a module rename would silently move the queue.

/// Every process records its liveness under `<prefix>:workers:<name>` for the admin pages.
pub const HEARTBEAT_WORKER: &str = "heartbeat";

/// The queue of `ZohoSync` jobs (prefixed with the deployment's Redis prefix).
pub const ZOHO_SYNC: &str = "zoho-sync";

/// The queue of `InvoiceRender` jobs.
pub const INVOICE_RENDER: &str = "invoice-render";

/// Seconds between heartbeats, and how long one stays valid.
pub const HEARTBEAT_EVERY_SECS: u64 = 10;
pub const HEARTBEAT_TTL_SECS: u64 = 30;

/// A worker name unique to this process, so restarting a worker within apalis's orphan
/// threshold never collides with the name of the process it replaces.
pub fn unique_worker_name(base: &str, host: &str, pid: u32, started_at_ms: u128) -> String {
    format!("{base}@{host}:{pid}:{started_at_ms}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn worker_names_differ_per_process_start() {
        let a = super::unique_worker_name("heartbeat", "h", 1, 1);
        let b = super::unique_worker_name("heartbeat", "h", 1, 2);
        assert_ne!(a, b);
    }
}
