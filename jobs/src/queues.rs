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

/// A worker name unique to this process start and to this worker within it (`seq` counts the
/// names a process made): apalis's Redis backend refuses to register a name still seen alive
/// within its threshold, so two workers sharing one name — a restart, or two monitors started
/// in the same millisecond — would fail to register and restart over and over, dropping every
/// job they had taken.
pub fn unique_worker_name(
    base: &str,
    host: &str,
    pid: u32,
    started_at_ms: u128,
    seq: u64,
) -> String {
    format!("{base}@{host}:{pid}:{started_at_ms}:{seq}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn worker_names_differ_per_process_start() {
        let a = super::unique_worker_name("heartbeat", "h", 1, 1, 0);
        let b = super::unique_worker_name("heartbeat", "h", 1, 2, 0);
        let c = super::unique_worker_name("heartbeat", "h", 1, 2, 1);
        assert_ne!(a, b);
        assert_ne!(b, c);
    }
}
