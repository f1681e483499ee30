//! Invoice and credit-note PDFs: a document in, PDF bytes out. The layout is typst
//! (`invoice.typ`), compiled in-process with the fonts shipped in `jobs/fonts`, so the same
//! document gives the same bytes on every machine. No database here: the server freezes what is
//! printed when the invoice is issued and hands it over.

use serde::{Deserialize, Serialize};
use serde_json::json;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// A party on the document: a name and the lines under it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Party {
    pub name: String,
    #[serde(default)]
    pub lines: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct DocLine {
    pub item: String,
    pub sku: String,
    #[serde(default)]
    pub serial: Option<String>,
    pub quantity: i64,
    pub unit_cents: i64,
    pub discount_bp: i32,
    pub foc: bool,
    pub tax_cents: i64,
    /// Net of discount, before tax.
    pub net_cents: i64,
}

/// Everything printed on an invoice or credit note, frozen when it is issued.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct InvoiceDocument {
    /// "invoice" or "credit_note".
    pub kind: String,
    pub number: String,
    pub issued_on: String,
    /// The invoice a credit note corrects.
    #[serde(default)]
    pub credits_number: Option<String>,
    #[serde(default)]
    pub reason: String,
    pub currency: String,
    pub issuer: Party,
    pub customer: Party,
    /// The sale it comes from, as people quote it.
    pub reference: String,
    /// When an invoice is to be paid ("2027-01-06"), and the terms in words ("30 days");
    /// none on a credit note (documents frozen before these existed have neither).
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub terms: String,
    pub lines: Vec<DocLine>,
    pub tax_bp: i32,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the invoice layout did not compile: {0}")]
    Layout(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// "1,234.50" (negative amounts with a leading minus).
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let units = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// "7.5 %" from basis points.
pub fn format_percent(bp: i32) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => format!("{whole} %"),
        f if f % 10 == 0 => format!("{whole}.{} %", f / 10),
        f => format!("{whole}.{f:02} %"),
    }
}

fn thousands(n: i64) -> String {
    let s = format_cents(n * 100);
    s[..s.len() - 3].to_string()
}

/// The strings the layout prints, in the layout's shape.
fn layout_data(doc: &InvoiceDocument) -> serde_json::Value {
    let credit = doc.kind == "credit_note";
    let lines: Vec<_> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "no": (i + 1).to_string(),
                "item": l.item,
                "serial": l.serial.clone().unwrap_or_default(),
                "foc": l.foc,
                "sku": l.sku,
                "quantity": thousands(l.quantity),
                "unit": format_cents(l.unit_cents),
                "discount": if l.foc { "FOC".to_string() } else if l.discount_bp > 0 { format_percent(l.discount_bp) } else { String::new() },
                "tax": format_cents(l.tax_cents),
                "amount": format_cents(l.net_cents),
            })
        })
        .collect();
    let mut facts = vec![
        json!(["Date of issue", doc.issued_on]),
        json!(["Sale", doc.reference]),
    ];
    if !doc.terms.is_empty() {
        facts.push(json!(["Payment terms", doc.terms]));
    }
    if let Some(due) = &doc.due_on {
        facts.push(json!(["Due date", due]));
    }
    if let Some(original) = &doc.credits_number {
        facts.push(json!(["Credits invoice", original]));
    }
    let mut totals = vec![json!(["Subtotal", format_cents(doc.subtotal_cents)])];
    if doc.discount_cents != 0 {
        totals.push(json!([
            "Discounts included",
            format_cents(doc.discount_cents)
        ]));
    }
    totals.push(json!([
        format!("Tax ({})", format_percent(doc.tax_bp)),
        format_cents(doc.tax_cents)
    ]));
    json!({
        "title": if credit { "Credit note" } else { "Invoice" },
        "party_label": if credit { "Credited to" } else { "Bill to" },
        "number": doc.number,
        "issuer": doc.issuer,
        "customer": doc.customer,
        "facts": facts,
        "reason": doc.reason,
        "lines": lines,
        "totals": totals,
        "currency": doc.currency,
        "total": format_cents(doc.total_cents),
        "note": if credit { format!("This credit note cancels invoice {} in full.", doc.credits_number.clone().unwrap_or_default()) } else { String::new() },
    })
}

static FONT_FILES: [&[u8]; 2] = [
    include_bytes!("../fonts/DejaVuSans.ttf"),
    include_bytes!("../fonts/DejaVuSans-Bold.ttf"),
];

/// The typst world of one document: the layout, its data, the shipped fonts; no files, no
/// packages, no clock (the date printed is the document's).
struct InvoiceWorld {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: Source,
    data: Bytes,
}

impl World for InvoiceWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id.get().vpath().get_without_slash() == "data.json" {
            Ok(self.data.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

/// Renders the document to PDF bytes. CPU-bound (tens of milliseconds a page): call it from a
/// blocking thread.
pub fn render(doc: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .flat_map(|bytes| Font::iter(Bytes::new(*bytes)))
        .collect();
    let path =
        VirtualPath::new("invoice.typ").map_err(|e| RenderError::Layout(format!("{e:?}")))?;
    let main = Source::new(
        FileId::new(RootedPath::new(VirtualRoot::Project, path)),
        include_str!("invoice.typ").to_string(),
    );
    let data =
        serde_json::to_vec(&layout_data(doc)).map_err(|e| RenderError::Layout(e.to_string()))?;
    let world = InvoiceWorld {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        main,
        data: Bytes::new(data),
    };
    let document: typst_layout::PagedDocument =
        typst::compile(&world).output.map_err(|errors| {
            RenderError::Layout(
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    // A fixed identifier and no timestamp: the same document gives the same bytes.
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom(doc.number.clone()),
        timestamp: None,
        ..Default::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|errors| {
        RenderError::Pdf(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(format_cents(123456789), "1,234,567.89");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_percent(750), "7.5 %");
        assert_eq!(format_percent(1000), "10 %");
        assert_eq!(format_percent(1234), "12.34 %");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
