//! Invoices and credit notes: what an invoice is, its number, the document printed, and who
//! may open its PDF. Issuing is an operation (`invoice_kinds`): the number is taken from the
//! organisation's gapless series for the year inside the pipeline's transaction (a refused or
//! rolled-back issue gives it back), what is printed is frozen in `document`, and a
//! `job.invoice_render` outbox row asks a worker for the PDF. Issued invoices never change
//! (a trigger refuses it); a correction is a credit note in its own series.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use outpost_jobs::invoice::{DocLine, InvoiceDocument, Party};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{lines, Sale};
use crate::auth::extract::CurrentUser;
use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::error::AppError;
use crate::money;
use crate::schema::{customers, hubs, invoice_series, invoices, sales};
use crate::state::AppState;
use crate::sync::kind::{missing_record, Applied, ApplyCtx, Refusal};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/invoices/{file}").get(pdf));
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: Uuid,
    pub hub_id: i64,
    pub customer_id: i64,
    pub sale_id: Uuid,
    pub kind: String,
    pub number: String,
    pub credits_invoice_id: Option<Uuid>,
    pub reason: String,
    pub total_cents: i64,
    pub issued_at: chrono::DateTime<Utc>,
    pub render_status: String,
    pub render_attempts: i32,
    pub render_error: Option<String>,
}

impl Invoice {
    pub fn title(&self) -> &'static str {
        if self.kind == "credit_note" {
            "Credit note"
        } else {
            "Invoice"
        }
    }
    pub fn total(&self) -> String {
        money::format_cents(self.total_cents)
    }
}

/// The invoices and credit notes of a sale, oldest first.
pub fn of_sale(conn: &mut PgConnection, sale_id: Uuid) -> QueryResult<Vec<Invoice>> {
    invoices::table
        .filter(invoices::sale_id.eq(sale_id))
        .order(invoices::issued_at)
        .select(Invoice::as_select())
        .load(conn)
}

/// Takes the next number of a gapless series. The series row stays locked until the
/// transaction ends, so concurrent issues queue here and a rollback frees the number.
pub(super) fn next_number(
    conn: &mut PgConnection,
    organisation_id: i64,
    kind: &str,
    year: i32,
) -> QueryResult<i32> {
    diesel::insert_into(invoice_series::table)
        .values((
            invoice_series::organisation_id.eq(organisation_id),
            invoice_series::kind.eq(kind),
            invoice_series::year.eq(year),
            invoice_series::last_number.eq(1),
        ))
        .on_conflict((
            invoice_series::organisation_id,
            invoice_series::kind,
            invoice_series::year,
        ))
        .do_update()
        .set(invoice_series::last_number.eq(invoice_series::last_number + 1))
        .returning(invoice_series::last_number)
        .get_result(conn)
}

pub(super) fn number(kind: &str, year: i32, seq: i32) -> String {
    let prefix = if kind == "credit_note" { "CN" } else { "INV" };
    format!("{prefix}-{year}-{seq:06}")
}

/// What the invoice prints, from the sale as it is now (confirmed sales do not change).
pub(super) fn document(
    conn: &mut PgConnection,
    sale: &Sale,
    number: &str,
) -> QueryResult<InvoiceDocument> {
    let org = crate::auth::scope::organisation(conn, sale.organisation_id)?;
    let hub_name: String = hubs::table
        .find(sale.hub_id)
        .select(hubs::name)
        .first(conn)?;
    let (c_name, c_code, c_phone): (String, String, Option<String>) = customers::table
        .find(sale.customer_id)
        .select((customers::name, customers::code, customers::contact_phone))
        .first(conn)?;
    let lines = lines(conn, sale.id)?;
    let t = super::totals(sale, &lines);
    // The cart's tax shared out over its lines, so the tax column adds up to the tax total.
    let nets: Vec<i64> = lines.iter().map(|l| l.amounts().net).collect();
    let line_tax = money::allocate(t.tax, &nets);
    let mut doc_lines = Vec::with_capacity(lines.len());
    for (l, tax_cents) in lines.iter().zip(line_tax) {
        let a = l.amounts();
        doc_lines.push(DocLine {
            item: l.name.clone(),
            sku: l.sku.clone(),
            serial: l.serial.clone(),
            quantity: l.quantity,
            unit_cents: l.unit_price_cents,
            discount_bp: l.discount_bp,
            foc: l.foc,
            tax_cents,
            net_cents: a.net,
        });
    }
    let mut customer_lines = vec![format!("Customer {c_code}")];
    customer_lines.extend(
        c_phone
            .filter(|p| !p.is_empty())
            .map(|p| format!("Phone {p}")),
    );
    // The seller as the organisation's settings give it: the hub that sold, the address a
    // line each, the tax id.
    let mut issuer_lines = vec![hub_name];
    issuer_lines.extend(
        org.address
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from),
    );
    if !org.tax_id.trim().is_empty() {
        issuer_lines.push(format!("Tax ID {}", org.tax_id.trim()));
    }
    let today = Utc::now().date_naive();
    let days = org.payment_terms_days;
    Ok(InvoiceDocument {
        kind: "invoice".into(),
        number: number.into(),
        issued_on: today.format("%Y-%m-%d").to_string(),
        due_on: Some(
            (today + chrono::Duration::days(days.into()))
                .format("%Y-%m-%d")
                .to_string(),
        ),
        terms: match days {
            0 => "Due on receipt".into(),
            1 => "1 day".into(),
            n => format!("{n} days"),
        },
        credits_number: None,
        reason: String::new(),
        currency: org.currency,
        issuer: Party {
            name: org.name,
            lines: issuer_lines,
        },
        customer: Party {
            name: c_name,
            lines: customer_lines,
        },
        reference: sale.number.clone(),
        lines: doc_lines,
        tax_bp: sale.tax_rate_bp,
        subtotal_cents: t.subtotal,
        discount_cents: t.discount,
        tax_cents: t.tax,
        total_cents: t.total,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn insert(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    id: Uuid,
    sale: &Sale,
    kind: &str,
    credits: Option<Uuid>,
    reason: &str,
    total_cents: i64,
    doc: &InvoiceDocument,
    year: i32,
    seq: i32,
) -> QueryResult<()> {
    diesel::insert_into(invoices::table)
        .values((
            invoices::id.eq(id),
            invoices::organisation_id.eq(sale.organisation_id),
            invoices::hub_id.eq(sale.hub_id),
            invoices::customer_id.eq(sale.customer_id),
            invoices::sale_id.eq(sale.id),
            invoices::kind.eq(kind),
            invoices::number.eq(&doc.number),
            invoices::year.eq(year),
            invoices::seq.eq(seq),
            invoices::credits_invoice_id.eq(credits),
            invoices::reason.eq(reason),
            invoices::total_cents.eq(total_cents),
            invoices::document.eq(serde_json::to_value(doc).unwrap_or_default()),
            invoices::issued_by.eq(ctx.actor.user_id),
        ))
        .execute(conn)
        .map(|_| ())
}

pub(super) fn applied(
    id: Uuid,
    number: &str,
    kind: &str,
    sale: &Sale,
    total_cents: i64,
) -> Applied {
    Applied {
        server_id: Some(id.to_string()),
        object_type: if kind == "credit_note" {
            "credit_note"
        } else {
            "invoice"
        },
        after: Some(
            json!({ "id": id, "number": number, "sale_id": sale.id, "total_cents": total_cents }),
        ),
        result_version: Some(1),
        events: vec![
            ("job.invoice_render".into(), json!({ "invoice_id": id })),
            (
                "invoice.issued".into(),
                json!({ "invoice_id": id, "number": number, "hub_id": sale.hub_id, "customer_id": sale.customer_id }),
            ),
        ],
        ..Default::default()
    }
}

pub(super) fn load_sale(
    conn: &mut PgConnection,
    ctx: &ApplyCtx<'_>,
    id: Uuid,
    hub_id: i64,
) -> Result<Sale, Refusal> {
    // Locked: issues and credits of one sale queue here, so their checks hold until commit.
    let sale: Option<Sale> = sales::table
        .find(id)
        .for_update()
        .select(Sale::as_select())
        .first(conn)
        .optional()?;
    match sale {
        Some(s) if s.hub_id == hub_id && super::visible_to(ctx.actor, s.hub_id, s.customer_id) => {
            Ok(s)
        }
        _ => Err(missing_record(conn, id, "sale")),
    }
}

/// Who may open an invoice: staff who sell or oversee at its hub (a sales rep only for their
/// own customers), auditors, and the customer's own users. Everyone else gets a 404.
pub fn may_open(who: &Principal, hub_id: i64, customer_id: i64) -> bool {
    let role_may = who.role == Role::CustomerUser || who.role.allows(Permission::SalesRead);
    role_may && super::visible_to(who, hub_id, customer_id)
}

/// `GET /invoices/{id}.pdf`
pub(super) async fn pdf(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let not_found = || AppError::not_found("There is no such invoice.");
    let id: Uuid = path
        .into_inner()
        .strip_suffix(".pdf")
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_found)?;
    let found = crate::db::run(&state.db, move |conn| {
        Ok(invoices::table
            .find(id)
            .select((
                invoices::hub_id,
                invoices::customer_id,
                invoices::number,
                invoices::pdf,
            ))
            .first::<(i64, i64, String, Option<Vec<u8>>)>(conn)
            .optional()?)
    })
    .await?;
    let Some((hub_id, customer_id, number, bytes)) = found else {
        return Err(not_found());
    };
    if !may_open(&user, hub_id, customer_id) {
        return Err(not_found());
    }
    let Some(bytes) = bytes else {
        return Ok(HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "5"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(format!(
                "{number} is still being rendered; try again in a few seconds."
            )));
    };
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{number}.pdf\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
