//! What the dashboard shows besides its live part: the activity feed and its filters, the
//! counters (tiles) and the charts.

use chrono::{DateTime, Utc};

use crate::ui::chart::LineChart;

pub struct Activity {
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: String,
    pub outcome: String,
}

impl Activity {
    pub fn words(&self) -> String {
        crate::audit::words::action_words(&self.action)
    }
    pub fn outcome_words(&self) -> &str {
        OUTCOMES
            .iter()
            .find(|(o, _)| *o == self.outcome)
            .map_or(self.outcome.as_str(), |(_, w)| *w)
    }
}

/// The activity log's filters (all optional), from the query string.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct ActivityFilters {
    #[serde(default)]
    pub hub: String,
    #[serde(default)]
    pub station: String,
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub user: String,
}

impl ActivityFilters {
    pub(super) fn day(text: &str) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
    }
    pub fn is_set(&self) -> bool {
        [
            &self.hub,
            &self.station,
            &self.customer,
            &self.from,
            &self.to,
            &self.status,
            &self.user,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
    /// The same filters as a query string, for the live fragment's URL.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("hub", &self.hub),
            ("station", &self.station),
            ("customer", &self.customer),
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("user", &self.user),
        ])
        .unwrap_or_default()
    }
}

/// Outcomes of audited actions, and their words.
pub const OUTCOMES: [(&str, &str); 5] = [
    ("applied", "Applied"),
    ("rejected", "Refused"),
    ("conflict", "Conflict"),
    ("pending_review", "Waiting for review"),
    ("denied", "Denied"),
];

pub struct Tile {
    pub label: &'static str,
    pub count: i64,
    pub href: &'static str,
    /// Worth someone's attention when not zero.
    pub attention: bool,
}

pub struct Charts {
    pub operations: LineChart,
    pub stock: Option<LineChart>,
    pub copies: Option<LineChart>,
    pub trouble: LineChart,
}
