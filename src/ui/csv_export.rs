//! CSV downloads (the audit log, badge copies, a hub's stock): one writer, so every export
//! quotes the same way and is inert in a spreadsheet whatever a user typed. Exports that grow
//! with the history are streamed a chunk at a time (`streamed`): a year of the audit log is
//! neither held in memory nor cut at a cap.

use std::future::Future;

use actix_web::http::header;
use actix_web::web::Bytes;
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
    Ok(download(filename).body(body))
}

/// The headers of a CSV download named `filename`.
fn download(filename: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    res
}

/// Rows as CSV bytes (made inert).
fn encode(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Bytes, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row.into_iter().map(inert))
            .map_err(AppError::internal)?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(AppError::internal)
}

/// A chunk of an export: its rows and, when more may follow, the key to read on from.
pub struct Chunk<K> {
    pub rows: Vec<Vec<String>>,
    pub next: Option<K>,
}

/// A CSV attachment streamed a chunk at a time: `read(after)` gives the rows after a key (from
/// the start for `None`) and the key to go on from, until a chunk says none. One chunk is in
/// memory at a time, however long the export. The first chunk is read before the answer starts,
/// so a failure then is a proper error page; a later one ends the download unfinished (the
/// browser says it failed) rather than handing over a file cut short as if whole.
pub async fn streamed<K, F, Fut>(
    filename: &str,
    header_row: &[&str],
    mut read: F,
) -> Result<HttpResponse, AppError>
where
    K: 'static,
    F: FnMut(Option<K>) -> Fut + 'static,
    Fut: Future<Output = Result<Chunk<K>, AppError>> + 'static,
{
    let first = read(None).await?;
    let head = encode([header_row.iter().map(|h| h.to_string()).collect()])?;
    let body = encode(first.rows)?;
    let rest = futures_util::stream::unfold((first.next, read), |(after, mut read)| async move {
        let chunk = match read(Some(after?)).await {
            Ok(chunk) => chunk,
            Err(e) => return Some((Err(e), (None, read))),
        };
        Some((encode(chunk.rows), (chunk.next, read)))
    });
    let start = futures_util::stream::iter([Ok::<_, AppError>(head), Ok(body)]);
    Ok(download(filename).streaming(futures_util::StreamExt::chain(start, rest)))
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
