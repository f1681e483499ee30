//! The dashboard's trends over the last days, per hub or station, within the viewer's scope:
//! operations per day per hub, units in stock per hub per day (walked back from today's levels
//! through the ledger), badge copies per day per station, and conflicts and job failures per day.

use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Text};

use crate::ui::chart::LineChart;

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

#[derive(QueryableByName)]
struct Tagged {
    #[diesel(sql_type = Text)]
    series: String,
    #[diesel(embed)]
    point: Point,
}

/// Every day-by-day figure the dashboard draws, for the hubs given, in one statement (the
/// dashboard is reloaded on every event, so each round trip counts).
pub struct Points(Vec<Tagged>);

impl Points {
    fn take(&mut self, series: &str) -> Vec<Point> {
        let (mine, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|t| t.series == series);
        self.0 = rest;
        mine.into_iter().map(|t| t.point).collect()
    }
}

/// The first day's midnight is compared with the timestamps themselves (not their dates), so
/// the indexes on (hub, time) serve every part.
pub fn load(conn: &mut PgConnection, hubs: &[i64], with_jobs: bool) -> QueryResult<Points> {
    diesel::sql_query(
        "SELECT 'ops' AS series, h.name, o.received_at::date AS day, count(*) AS n \
           FROM operations o JOIN hubs h ON h.id = o.hub_id \
           WHERE o.hub_id = ANY($1) AND o.received_at >= $2::timestamptz GROUP BY 2, 3 \
         UNION ALL \
         SELECT 'moves', h.name, s.created_at::date, sum(s.delta)::bigint \
           FROM stock_ledger s JOIN hubs h ON h.id = s.hub_id \
           WHERE s.hub_id = ANY($1) AND s.created_at >= $2::timestamptz GROUP BY 2, 3 \
         UNION ALL \
         SELECT 'copies', s.code, c.finished_at::date, count(*) \
           FROM badge_copies c JOIN nfc_stations s ON s.id = c.station_id \
           WHERE c.hub_id = ANY($1) AND c.status = 'completed' \
             AND c.finished_at >= $2::timestamptz GROUP BY 2, 3 \
         UNION ALL \
         SELECT 'trouble', 'Conflicts', received_at::date, count(*) FROM operations \
           WHERE hub_id = ANY($1) AND status = 'conflict' AND received_at >= $2::timestamptz \
           GROUP BY 2, 3 \
         UNION ALL \
         SELECT 'trouble', 'Job failures', occurred_at::date, count(*) FROM audit_log \
           WHERE $3 AND action IN ('zoho.item.failed', 'invoice.render_failed') \
             AND (hub_id IS NULL OR hub_id = ANY($1)) AND occurred_at >= $2::timestamptz \
           GROUP BY 2, 3",
    )
    .bind::<Array<BigInt>, _>(hubs)
    .bind::<Date, _>(first_day())
    .bind::<diesel::sql_types::Bool, _>(with_jobs)
    .load(conn)
    .map(Points)
}

pub fn operations_per_hub(points: &mut Points) -> LineChart {
    LineChart::new(
        "ops-chart",
        "Operations per day, per hub",
        span(),
        series(points.take("ops")),
    )
}

/// `now`: each hub's units in stock today (from the hub cards), walked back through the
/// ledger's daily movements.
pub fn stock_per_hub(points: &mut Points, now: Vec<(String, i64)>) -> LineChart {
    let moves = series(points.take("moves"));
    let mut lines: Vec<(String, Vec<i64>)> = now
        .into_iter()
        .map(|(name, units)| {
            let deltas = moves
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| vec![0; DAYS as usize]);
            let mut level = units;
            let mut values = vec![0; DAYS as usize];
            for day in (0..DAYS as usize).rev() {
                values[day] = level;
                level -= deltas[day];
            }
            (name, values)
        })
        .collect();
    lines.sort_by_key(|(_, v)| std::cmp::Reverse(v.last().copied().unwrap_or(0)));
    let mut chart = LineChart::new("stock-chart", "Units in stock per hub", span(), lines);
    chart.levels = true;
    chart
}

pub fn copies_per_station(points: &mut Points) -> LineChart {
    LineChart::new(
        "copies-chart",
        "Badge copies per day, per station",
        span(),
        series(points.take("copies")),
    )
}

pub fn conflicts_and_failures(points: &mut Points, with_jobs: bool) -> LineChart {
    let mut lines = series(points.take("trouble"));
    for name in ["Conflicts", "Job failures"]
        .into_iter()
        .take(if with_jobs { 2 } else { 1 })
    {
        if !lines.iter().any(|(n, _)| n == name) {
            lines.push((name.into(), vec![0; DAYS as usize]));
        }
    }
    LineChart::new(
        "trouble-chart",
        if with_jobs {
            "Conflicts and job failures per day"
        } else {
            "Conflicts per day"
        },
        span(),
        lines,
    )
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
