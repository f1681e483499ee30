//! Figures per UTC day, hub and series (`daily_figures`), kept current by triggers in the
//! transaction that writes each fact (see migration `daily_figures`): what the dashboard's
//! trends read instead of aggregating operations, ledger and audit rows.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Text};

/// One point of a series: its line's name (a hub, a station, or "Conflicts"/"Job failures"),
/// a day and the day's figure.
#[derive(QueryableByName, Debug)]
pub struct Point {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// A point and the chart it belongs to: `ops`, `moves`, `copies` or `trouble` (conflicts and
/// job failures share a chart).
#[derive(QueryableByName, Debug)]
pub struct Tagged {
    #[diesel(sql_type = Text)]
    pub chart: String,
    #[diesel(embed)]
    pub point: Point,
}

/// Every figure from `since` on for the hubs given, in one statement; job failures (hub-less
/// ones included) only `with_jobs`. Reads at most days × hubs × series rows (plus today's
/// unfolded shards), whatever the history holds.
pub fn since(
    conn: &mut PgConnection,
    hubs: &[i64],
    since: NaiveDate,
    with_jobs: bool,
) -> QueryResult<Vec<Tagged>> {
    diesel::sql_query(
        "SELECT CASE WHEN f.series IN ('conflicts', 'failures') THEN 'trouble' ELSE f.series END \
                  AS chart, \
                CASE f.series WHEN 'copies' THEN s.code WHEN 'conflicts' THEN 'Conflicts' \
                  WHEN 'failures' THEN 'Job failures' ELSE h.name END AS name, \
                f.day, sum(f.n)::bigint AS n \
           FROM daily_figures f \
           LEFT JOIN hubs h ON h.id = f.hub_id \
           LEFT JOIN nfc_stations s ON f.series = 'copies' AND s.id = f.key \
          WHERE f.day >= $2 \
            AND ((f.series <> 'failures' AND f.hub_id = ANY($1)) \
              OR ($3 AND f.series = 'failures' AND (f.hub_id = 0 OR f.hub_id = ANY($1)))) \
          GROUP BY 1, 2, 3",
    )
    .bind::<Array<BigInt>, _>(hubs)
    .bind::<Date, _>(since)
    .bind::<Bool, _>(with_jobs)
    .load(conn)
}

/// Folds past days' per-backend rows into one row each; returns how many were folded.
pub fn fold(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = BigInt)]
        folded: i64,
    }
    diesel::sql_query("SELECT fold_daily_figures() AS folded")
        .get_result::<Folded>(conn)
        .map(|f| f.folded)
}
