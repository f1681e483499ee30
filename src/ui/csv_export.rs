//! CSV downloads (the audit log, badge copies, a hub's stock): one writer, so every export
//! quotes the same way and is inert in a spreadsheet whatever a user typed.

use actix_web::http::header;
use actix_web::HttpResponse;

use crate::error::AppError;

/// Spreadsheets execute cells that start with = + - @ (or a tab or carriage return before one);
/// every such cell gets a leading quote.
pub fn inert(value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    }
}

/// A CSV attachment named `filename`: the header row, then the rows (made inert). Never stored
/// by a cache: exports are private to the person who asked.
pub fn attachment(
    filename: &str,
    header_row: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<HttpResponse, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(header_row)
        .map_err(AppError::internal)?;
    for row in rows {
        writer
            .write_record(row.into_iter().map(inert))
            .map_err(AppError::internal)?;
    }
    let body = writer.into_inner().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_made_inert() {
        assert_eq!(super::inert("=SUM(A1)".into()), "'=SUM(A1)");
        assert_eq!(super::inert("-3".into()), "'-3");
        assert_eq!(super::inert("Rice".into()), "Rice");
    }
}
