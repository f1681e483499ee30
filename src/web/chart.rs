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

#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub y: u32,
    pub bar_width: u32,
    pub value_x: u32,
}

pub const LABEL_WIDTH: u32 = 190;
const ROW: u32 = 34;
const BAR_AREA: u32 = 330;

impl BarChart {
    pub fn new(title: impl Into<String>, data: Vec<(String, i64)>) -> Self {
        let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let bars = data
            .into_iter()
            .enumerate()
            .map(|(i, (label, value))| {
                let bar_width =
                    ((value.max(0) as f64 / max as f64) * f64::from(BAR_AREA)).round() as u32;
                Bar {
                    label,
                    value,
                    y: i as u32 * ROW + 8,
                    bar_width: bar_width.max(2),
                    value_x: LABEL_WIDTH + bar_width.max(2) + 8,
                }
            })
            .collect::<Vec<_>>();
        let height = bars.len() as u32 * ROW + 16;
        BarChart {
            title: title.into(),
            bars,
            width: LABEL_WIDTH + BAR_AREA + 90,
            height,
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
        assert_eq!(c.bars[1].bar_width, 330);
        assert_eq!(c.bars[0].bar_width, 165);
        assert_eq!(c.bars[2].bar_width, 2, "a zero still shows a sliver");
        assert!(c.height > 3 * 30);
    }
}
