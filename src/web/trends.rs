//! The dashboard's trends over the last days, per hub or station, within the viewer's scope:
//! operations per day per hub, units in stock per hub per day (walked back from today's levels
//! through the ledger), badge copies per day per station, and conflicts and job failures per day.

use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Text};

use super::chart::LineChart;

/// Days shown, today included.
pub const DAYS: i64 = 14;

#[derive(QueryableByName)]
struct Point {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn first_day() -> NaiveDate {
    Utc::now().date_naive() - Duration::days(DAYS - 1)
}

fn span() -> (NaiveDate, NaiveDate) {
    (first_day(), Utc::now().date_naive())
}

/// Points → one series per name (busiest first), a value per day.
fn series(points: Vec<Point>) -> Vec<(String, Vec<i64>)> {
    let start = first_day();
    let mut by_name: Vec<(String, Vec<i64>)> = Vec::new();
    for p in points {
        let i = (p.day - start).num_days();
        if !(0..DAYS).contains(&i) {
            continue;
        }
        let slot = match by_name.iter().position(|(n, _)| *n == p.name) {
            Some(at) => at,
            None => {
                by_name.push((p.name.clone(), vec![0; DAYS as usize]));
                by_name.len() - 1
            }
        };
        by_name[slot].1[i as usize] += p.n;
    }
    by_name.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<i64>()));
    by_name
}

fn load(conn: &mut PgConnection, sql: &str, hubs: &[i64]) -> QueryResult<Vec<Point>> {
    diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(hubs)
        .bind::<Date, _>(first_day())
        .load(conn)
}

pub fn operations_per_hub(conn: &mut PgConnection, hubs: &[i64]) -> QueryResult<LineChart> {
    let points = load(
        conn,
        "SELECT h.name, o.received_at::date AS day, count(*) AS n FROM operations o JOIN hubs h ON h.id = o.hub_id \
         WHERE o.hub_id = ANY($1) AND o.received_at::date >= $2 GROUP BY 1, 2",
        hubs,
    )?;
    Ok(LineChart::new(
        "ops-chart",
        "Operations per day, per hub",
        span(),
        series(points),
    ))
}

/// Units per hub at the end of each day: today's total, minus what moved after each day.
pub fn stock_per_hub(conn: &mut PgConnection, hubs: &[i64]) -> QueryResult<LineChart> {
    #[derive(QueryableByName)]
    struct Now {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let now: Vec<Now> = diesel::sql_query(
        "SELECT h.name, coalesce(sum(l.quantity), 0)::bigint AS n FROM hubs h LEFT JOIN stock_levels l ON l.hub_id = h.id \
         WHERE h.id = ANY($1) GROUP BY h.name",
    )
    .bind::<Array<BigInt>, _>(hubs)
    .load(conn)?;
    let moves = series(load(
        conn,
        "SELECT h.name, s.created_at::date AS day, sum(s.delta)::bigint AS n FROM stock_ledger s JOIN hubs h ON h.id = s.hub_id \
         WHERE s.hub_id = ANY($1) AND s.created_at::date >= $2 GROUP BY 1, 2",
        hubs,
    )?);
    let mut lines: Vec<(String, Vec<i64>)> = now
        .into_iter()
        .map(|hub| {
            let deltas = moves
                .iter()
                .find(|(n, _)| *n == hub.name)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| vec![0; DAYS as usize]);
            let mut level = hub.n;
            let mut values = vec![0; DAYS as usize];
            for day in (0..DAYS as usize).rev() {
                values[day] = level;
                level -= deltas[day];
            }
            (hub.name, values)
        })
        .collect();
    lines.sort_by_key(|(_, v)| std::cmp::Reverse(v.last().copied().unwrap_or(0)));
    let mut chart = LineChart::new("stock-chart", "Units in stock per hub", span(), lines);
    chart.levels = true;
    Ok(chart)
}

pub fn copies_per_station(conn: &mut PgConnection, hubs: &[i64]) -> QueryResult<LineChart> {
    let points = load(
        conn,
        "SELECT s.code AS name, c.finished_at::date AS day, count(*) AS n FROM badge_copies c JOIN nfc_stations s ON s.id = c.station_id \
         WHERE c.hub_id = ANY($1) AND c.status = 'completed' AND c.finished_at::date >= $2 GROUP BY 1, 2",
        hubs,
    )?;
    Ok(LineChart::new(
        "copies-chart",
        "Badge copies per day, per station",
        span(),
        series(points),
    ))
}

/// Conflicts at the viewer's hubs; job failures (Zoho sync, invoice renders) for those who run
/// the jobs.
pub fn conflicts_and_failures(
    conn: &mut PgConnection,
    hubs: &[i64],
    with_jobs: bool,
) -> QueryResult<LineChart> {
    let mut points = load(
        conn,
        "SELECT 'Conflicts' AS name, received_at::date AS day, count(*) AS n FROM operations \
         WHERE hub_id = ANY($1) AND status = 'conflict' AND received_at::date >= $2 GROUP BY 1, 2",
        hubs,
    )?;
    if with_jobs {
        points.extend(load(
            conn,
            "SELECT 'Job failures' AS name, occurred_at::date AS day, count(*) AS n FROM audit_log \
             WHERE action IN ('zoho.item.failed', 'invoice.render_failed') AND (hub_id IS NULL OR hub_id = ANY($1)) \
             AND occurred_at::date >= $2 GROUP BY 1, 2",
            hubs,
        )?);
    }
    let mut lines = series(points);
    for name in ["Conflicts", "Job failures"]
        .into_iter()
        .take(if with_jobs { 2 } else { 1 })
    {
        if !lines.iter().any(|(n, _)| n == name) {
            lines.push((name.into(), vec![0; DAYS as usize]));
        }
    }
    Ok(LineChart::new(
        "trouble-chart",
        if with_jobs {
            "Conflicts and job failures per day"
        } else {
            "Conflicts per day"
        },
        span(),
        lines,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn points_become_one_value_per_day_busiest_series_first() {
        let start = super::first_day();
        let p = |name: &str, day: i64, n: i64| super::Point {
            name: name.into(),
            day: start + chrono::Duration::days(day),
            n,
        };
        let s = super::series(vec![
            p("a", 0, 1),
            p("b", 13, 5),
            p("a", 13, 2),
            p("a", 20, 9),
            p("b", -1, 9),
        ]);
        assert_eq!(s[0].0, "b");
        assert_eq!(s[0].1[13], 5);
        assert_eq!(
            (s[1].1[0], s[1].1[13], s[1].1.iter().sum::<i64>()),
            (1, 2, 3)
        );
    }
}
