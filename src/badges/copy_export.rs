//! The badge copy history as CSV: every copy the filters keep, newest first, streamed a chunk
//! at a time (`ui::csv_export::streamed`), with the history page's filters and scope.

use actix_web::{web, HttpResponse};

use super::history::{filtered, load, CopyRow, Filters, NEWEST_FIRST};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::db::keyset::{time_key, Walk};
use crate::error::AppError;
use crate::state::AppState;
use crate::ui::csv_export::Chunk;

/// Rows the CSV export reads per statement.
const CSV_CHUNK: i64 = 1_000;

/// Every copy the filters keep, newest first, streamed (`ui::csv_export::streamed`).
pub(super) async fn csv(
    user: Authorized<perm::BadgeCopiesRead>,
    f: web::Query<Filters>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (scope, mut filters, db) = (
        user.scope.customer_ids.clone(),
        f.into_inner(),
        state.db.clone(),
    );
    crate::ui::date_range::in_order(&mut filters.from, &mut filters.to);
    let read = move |after: Option<Walk>| {
        let (scope, filters, db) = (scope.clone(), filters.clone(), db.clone());
        async move {
            let walk = after.unwrap_or(Walk::start(&NEWEST_FIRST, true));
            let reading = walk.clone();
            let rows = crate::db::run(&db, move |conn| {
                Ok(load(conn, filtered(&scope, &filters), reading, CSV_CHUNK)?)
            })
            .await?;
            let next = (rows.len() as i64 == CSV_CHUNK)
                .then(|| rows.last())
                .flatten()
                .and_then(|r| walk.after(&[time_key(r.requested_at), r.id.to_string()]));
            Ok(Chunk {
                rows: rows.into_iter().map(CopyRow::csv_record).collect(),
                next,
            })
        }
    };
    crate::ui::csv_export::streamed(
        "badge-copies.csv",
        &[
            "requested_at",
            "customer",
            "badge_uid",
            "station",
            "status",
            "requested_by",
            "recorded_by",
            "error",
        ],
        read,
    )
    .await
}

impl CopyRow {
    /// The row as the CSV export writes it.
    fn csv_record(self) -> Vec<String> {
        vec![
            self.requested_at.to_rfc3339(),
            self.customer,
            self.badge_uid,
            self.station,
            self.status,
            self.requested_by.unwrap_or_default(),
            self.recorded_by,
            self.error.unwrap_or_default(),
        ]
    }
}
