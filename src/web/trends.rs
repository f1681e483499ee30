//! The dashboard's trends over the last days, per hub or station, within the viewer's scope:
//! operations per day per hub, units in stock per hub per day (walked back from today's levels
//! through the ledger), badge copies per day per station, and conflicts and job failures per day.

use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;

use crate::db::figures::{self, Point, Tagged};
use crate::ui::chart::LineChart;

/// Days shown, today included.
pub const DAYS: i64 = 14;

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

/// Every day-by-day figure the dashboard draws, for the hubs given, in one statement (the
/// dashboard is reloaded on every event, so each round trip counts).
pub struct Points(Vec<Tagged>);

impl Points {
    fn take(&mut self, chart: &str) -> Vec<Point> {
        let (mine, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|t| t.chart == chart);
        self.0 = rest;
        mine.into_iter().map(|t| t.point).collect()
    }
}

/// From the daily figures (`db::figures`), not from the history itself.
pub fn load(conn: &mut PgConnection, hubs: &[i64], with_jobs: bool) -> QueryResult<Points> {
    figures::since(conn, hubs, first_day(), with_jobs).map(Points)
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
