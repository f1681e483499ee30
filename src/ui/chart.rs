//! Small charts rendered on the server as SVG, so they show without JavaScript and offline.

/// A horizontal bar chart: one bar per (label, value), scaled to the largest value. Text is
/// escaped by the template engine, not here: callers pass plain labels.
#[derive(Clone, Debug)]
pub struct BarChart {
    pub title: String,
    pub bars: Vec<Bar>,
    pub width: u32,
    pub height: u32,
}

/// One bar: its label on a line of its own above it (a hub's name is often longer than any
/// column beside a bar could hold, and a label beside the bar was overlapped by it).
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    /// Baseline of the label.
    pub label_y: u32,
    /// Top of the bar.
    pub y: u32,
    pub bar_width: u32,
    pub value_x: u32,
}

impl Bar {
    /// Every bar's height ([`BAR_HEIGHT`]), for the template.
    pub fn height(&self) -> u32 {
        BAR_HEIGHT
    }
}

const ROW: u32 = 46;
const LABEL_BASELINE: u32 = 14;
const BAR_TOP: u32 = 20;
pub const BAR_HEIGHT: u32 = 18;
/// Narrow enough that the chart is drawn at about its own size on a phone, so its text stays
/// 13 px there; the space right of the longest bar holds its figure.
const WIDTH: u32 = 360;
const BAR_AREA: u32 = 280;

impl BarChart {
    pub fn new(title: impl Into<String>, data: Vec<(String, i64)>) -> Self {
        let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let bars = data
            .into_iter()
            .enumerate()
            .map(|(i, (label, value))| {
                let bar_width =
                    ((value.max(0) as f64 / max as f64) * f64::from(BAR_AREA)).round() as u32;
                let top = i as u32 * ROW;
                Bar {
                    label,
                    value,
                    label_y: top + LABEL_BASELINE,
                    y: top + BAR_TOP,
                    bar_width: bar_width.max(2),
                    value_x: bar_width.max(2) + 6,
                }
            })
            .collect::<Vec<_>>();
        let height = bars.len() as u32 * ROW + 4;
        BarChart {
            title: title.into(),
            bars,
            width: WIDTH,
            height,
        }
    }
}

/// Daily figures as lines (one per series, at most five), drawn small enough that its text stays
/// readable on a phone; the legend and the figures are HTML beside it.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Unique on the page (for aria ids).
    pub id: &'static str,
    pub title: String,
    pub max: i64,
    /// `max` as it fits the axis: 48745 → "49k".
    pub max_label: String,
    pub first_day: String,
    pub last_day: String,
    pub lines: Vec<Line>,
    /// Levels (stock) rather than counts: the legend gives the latest value, not a sum.
    pub levels: bool,
}

#[derive(Clone, Debug)]
pub struct Line {
    pub name: String,
    pub last_label: String,
    /// `x,y x,y …` in the 360×170 view box.
    pub points: String,
    pub total: i64,
    pub last: i64,
}

/// A count with thousands separators: 48745 → "48,745".
pub fn grouped(n: impl std::borrow::Borrow<i64>) -> String {
    let n = *n.borrow();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A count in at most four characters: 950, 9.5k, 49k, 1.2M.
pub fn compact(n: i64) -> String {
    let f = n as f64;
    match n.abs() {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", f / 1e3),
        10_000..=999_999 => format!("{:.0}k", f / 1e3),
        _ => format!("{:.1}M", f / 1e6),
    }
}

pub const PLOT_LEFT: f64 = 34.0;
pub const PLOT_RIGHT: f64 = 352.0;
pub const PLOT_TOP: f64 = 12.0;
pub const PLOT_BOTTOM: f64 = 140.0;

impl LineChart {
    /// `series`: (name, one value per day, oldest first); `days` names the first and last day.
    pub fn new(
        id: &'static str,
        title: impl Into<String>,
        days: (chrono::NaiveDate, chrono::NaiveDate),
        series: Vec<(String, Vec<i64>)>,
    ) -> Self {
        let max = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1);
        let lines = series
            .into_iter()
            .take(5)
            .map(|(name, values)| {
                let step = (PLOT_RIGHT - PLOT_LEFT) / (values.len().max(2) - 1) as f64;
                let points = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let y = PLOT_BOTTOM
                            - (*v.max(&0) as f64 / max as f64) * (PLOT_BOTTOM - PLOT_TOP);
                        format!("{:.1},{:.1}", PLOT_LEFT + i as f64 * step, y)
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                Line {
                    name,
                    points,
                    last_label: compact(values.last().copied().unwrap_or(0)),
                    total: values.iter().sum(),
                    last: values.last().copied().unwrap_or(0),
                }
            })
            .collect();
        LineChart {
            id,
            title: title.into(),
            max,
            max_label: compact(max),
            first_day: days.0.format("%d %b").to_string(),
            last_day: days.1.format("%d %b").to_string(),
            lines,
            levels: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars_scale_to_the_largest_value() {
        let c = super::BarChart::new(
            "t",
            vec![("a".into(), 50), ("b".into(), 100), ("c".into(), 0)],
        );
        assert_eq!(c.bars[1].bar_width, 280);
        assert_eq!(c.bars[0].bar_width, 140);
        assert_eq!(c.bars[2].bar_width, 2, "a zero still shows a sliver");
        assert!(c.height > 3 * 30);
    }

    #[test]
    fn no_label_is_drawn_over_a_bar_and_every_figure_fits() {
        let c = super::BarChart::new(
            "t",
            vec![
                ("Harbour Relief Agency — Port Antonio Hub".into(), 8_079),
                ("Kingston Main Warehouse".into(), 120_000),
            ],
        );
        for (i, bar) in c.bars.iter().enumerate() {
            // The label's descenders (about 4 px at 13 px) end above the bar.
            assert!(bar.label_y + 4 <= bar.y, "{bar:?}");
            if let Some(next) = c.bars.get(i + 1) {
                assert!(bar.y + super::BAR_HEIGHT < next.label_y - 13, "rows apart");
            }
            // "120,000" at 13 px is about 50 px wide.
            assert!(bar.value_x + 50 <= c.width, "{bar:?}");
        }
        assert!(c.height >= c.bars[1].y + super::BAR_HEIGHT);
    }

    #[test]
    fn lines_span_the_plot_and_scale_to_the_largest_value() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let c = super::LineChart::new("t", "t", (day, day), vec![("a".into(), vec![0, 5, 10])]);
        assert_eq!(c.lines[0].points, "34.0,140.0 193.0,76.0 352.0,12.0");
        assert_eq!((c.max, c.lines[0].total, c.lines[0].last), (10, 15, 10));
        let labels: Vec<String> = [950, 9_512, 48_745, 1_250_000]
            .into_iter()
            .map(super::compact)
            .collect();
        assert_eq!(labels, ["950", "9.5k", "49k", "1.2M"]);
        let grouped: Vec<String> = [0, 999, 1_000, 48_745, -1_234_567]
            .into_iter()
            .map(super::grouped)
            .collect();
        assert_eq!(grouped, ["0", "999", "1,000", "48,745", "-1,234,567"]);
    }
}
