//! `invoice.issue` (the next number of the organisation's gapless series for the year, the
//! printed document frozen, a PDF render asked for) and `invoice.credit` (a credit note in its
//! own series; a confirmed sale's goods may come back).

use chrono::{Datelike, Utc};
use diesel::prelude::*;
use outpost_jobs::invoice::InvoiceDocument;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::permissions::Permission;
use crate::schema::invoices;
use crate::sync::kind::{check_text, reject, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

use super::invoices::{applied, document, insert, load_sale, next_number, number};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IssuePayload {
    pub invoice_id: Uuid,
    pub sale_id: Uuid,
    pub hub_id: i64,
}

pub struct IssueInvoice;

pub static ISSUE_INVOICE: Spec = Spec {
    name: "invoice.issue",
    permission: Permission::SalesCreate,
    finalisable_offline: true,
    done: "Invoice issued",
    entry: "Invoice",
    form: None,
    again: None,
};

impl Kind for IssueInvoice {
    type Payload = IssuePayload;

    fn spec(&self) -> &Spec {
        &ISSUE_INVOICE
    }
    fn check(&self, p: &IssuePayload) -> Result<Target, Vec<FieldError>> {
        Ok(Target {
            hub_id: Some(p.hub_id),
            record_id: Some(p.invoice_id),
        })
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &IssuePayload,
    ) -> Result<Applied, Refusal> {
        let sale = load_sale(conn, ctx, p.sale_id, p.hub_id)?;
        if sale.status != "confirmed" {
            return Err(Refusal::Clash(format!(
                "only confirmed sales are invoiced; this sale is {}",
                sale.status
            )));
        }
        let existing: Option<String> = invoices::table
            .filter(invoices::sale_id.eq(sale.id))
            .filter(invoices::kind.eq("invoice"))
            .select(invoices::number)
            .first(conn)
            .optional()?;
        if let Some(number) = existing {
            return Err(Refusal::Clash(format!(
                "this sale already has invoice {number}"
            )));
        }
        let year = Utc::now().year();
        let seq = next_number(conn, sale.organisation_id, "invoice", year)?;
        let doc = document(conn, &sale, &number("invoice", year, seq))?;
        insert(
            conn,
            ctx,
            p.invoice_id,
            &sale,
            "invoice",
            None,
            "",
            doc.total_cents,
            &doc,
            year,
            seq,
        )?;
        Ok(applied(
            p.invoice_id,
            &doc.number,
            "invoice",
            &sale,
            doc.total_cents,
        ))
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreditPayload {
    pub credit_note_id: Uuid,
    pub invoice_id: Uuid,
    pub hub_id: i64,
    pub reason: String,
    /// The goods came back: their stock returns to the hub, serialized items become AVAILABLE.
    #[serde(default)]
    pub restock: bool,
}

/// A credit note cancelling an invoice in full, with the reason printed on it; a return of
/// the goods when they came back.
pub struct CreditInvoice;

pub static CREDIT_INVOICE: Spec = Spec {
    name: "invoice.credit",
    permission: Permission::SalesCreate,
    finalisable_offline: false,
    done: "Credit note issued",
    entry: "Credit note",
    form: None,
    again: None,
};

impl Kind for CreditInvoice {
    type Payload = CreditPayload;

    fn spec(&self) -> &Spec {
        &CREDIT_INVOICE
    }
    /// A correction of an issued document waits for a manager when made offline.
    fn check(&self, p: &CreditPayload) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_text("reason", &p.reason, 500, &mut errors);
        if errors.is_empty() {
            Ok(Target {
                hub_id: Some(p.hub_id),
                record_id: Some(p.credit_note_id),
            })
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &CreditPayload,
    ) -> Result<Applied, Refusal> {
        let original: Option<(Uuid, String, String, Value)> = invoices::table
            .find(p.invoice_id)
            .for_update()
            .select((
                invoices::sale_id,
                invoices::kind,
                invoices::number,
                invoices::document,
            ))
            .first(conn)
            .optional()?;
        let Some((sale_id, kind, original_number, original_doc)) = original else {
            return Err(Refusal::NotFound("there is no such invoice".into()));
        };
        let sale = load_sale(conn, ctx, sale_id, p.hub_id)?;
        if kind != "invoice" {
            return reject("only an invoice can be credited");
        }
        let credited: Option<String> = invoices::table
            .filter(invoices::credits_invoice_id.eq(p.invoice_id))
            .select(invoices::number)
            .first(conn)
            .optional()?;
        if let Some(number) = credited {
            return Err(Refusal::Clash(format!(
                "invoice {original_number} was already credited by {number}"
            )));
        }
        let Ok(mut doc) = serde_json::from_value::<InvoiceDocument>(original_doc) else {
            return reject("the original invoice cannot be read");
        };
        let year = Utc::now().year();
        let seq = next_number(conn, sale.organisation_id, "credit_note", year)?;
        doc.kind = "credit_note".into();
        doc.number = number("credit_note", year, seq);
        doc.credits_number = Some(original_number);
        doc.reason = p.reason.trim().to_string();
        doc.issued_on = Utc::now().format("%Y-%m-%d").to_string();
        // A credit note is not paid: it has no terms and no due date.
        doc.due_on = None;
        doc.terms = String::new();
        let total = -doc.total_cents;
        if p.restock {
            super::cart_close::return_goods(conn, ctx, &sale)?;
        }
        insert(
            conn,
            ctx,
            p.credit_note_id,
            &sale,
            "credit_note",
            Some(p.invoice_id),
            &doc.reason,
            total,
            &doc,
            year,
            seq,
        )?;
        Ok(applied(
            p.credit_note_id,
            &doc.number,
            "credit_note",
            &sale,
            total,
        ))
    }
}
