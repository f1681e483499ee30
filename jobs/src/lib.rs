//! `outpost-jobs`: what a job is and what talks to the outside world, without a database.
//! The server crate wires these to its service layer; this crate never depends on it.

pub mod invoice;
pub mod queues;
pub mod zoho;

use serde::{Deserialize, Serialize};

/// Push one catalog variant to Zoho Inventory (create, or update when it is DIRTY).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZohoSync {
    pub variant_id: i64,
}

/// Render the PDF of one issued invoice or credit note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRender {
    pub invoice_id: uuid::Uuid,
}
