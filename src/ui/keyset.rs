//! Keyset pages: a long list (a year of a hub's intakes) is paged by where its last row stands in
//! the list's order (the order's columns, then the id), not by OFFSET. The database reads the
//! page's rows and no more, however deep the page; and rows written between two page loads
//! neither repeat a row nor skip one, as an offset does when a row lands before it.
//!
//! A link carries the edge row's key as `?after=` (the rows that follow it) or `?before=` (the
//! rows that precede it), a JSON array of strings. The list fetches `FETCH` rows from there (in
//! reverse order when going back, so the page ends next to the edge) and `window` turns them
//! into the page and its links.

use super::pager::PER_PAGE;
use crate::db::keyset::{Order, Walk};

/// Rows a list fetches for a page: one more than it shows, to know whether more follow.
pub const FETCH: i64 = PER_PAGE + 1;

/// Where a page starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// The list's first rows.
    First,
    /// The rows after the one with this key, in the list's order.
    After(Vec<String>),
    /// The rows before the one with this key, fetched in reverse order.
    Before(Vec<String>),
}

impl Start {
    /// `after` / `before` as a link carries them. A key that is not a JSON array of strings
    /// (an edited address) starts at the first page rather than failing.
    pub fn parse(after: &str, before: &str) -> Self {
        let key = |s: &str| {
            serde_json::from_str::<Vec<String>>(s)
                .ok()
                .filter(|k| !k.is_empty())
        };
        match (key(after), key(before)) {
            (Some(k), _) => Start::After(k),
            (None, Some(k)) => Start::Before(k),
            _ => Start::First,
        }
    }

    /// The edge row's key, when there is one.
    pub fn key(&self) -> Option<&[String]> {
        match self {
            Start::First => None,
            Start::After(k) | Start::Before(k) => Some(k),
        }
    }

    /// Whether the rows are fetched in reverse order (the page before the edge).
    pub fn backwards(&self) -> bool {
        matches!(self, Start::Before(_))
    }
}

/// What a list fetches for a page: from where, and how (`Walk::rows` with `FETCH`).
pub struct Fetch {
    /// Where the page starts: `First` when the link's key did not read as the list's order.
    pub start: Start,
    pub walk: Walk,
}

/// The fetch for a page of a list in `order` (`descending` as the list is shown) from `start`.
/// A key that does not read as the order's (an edited address, a link from another sort)
/// starts at the first page rather than failing.
pub fn fetch(start: &Start, order: &'static Order, descending: bool) -> Fetch {
    let past = start.key().and_then(|k| order.read(k));
    let start = if past.is_some() {
        start.clone()
    } else {
        Start::First
    };
    // Going back fetches the rows before the edge in reverse, nearest first.
    let descending = descending != start.backwards();
    Fetch {
        walk: Walk {
            order,
            past: past.map(|p| p.walking(descending)),
            descending,
        },
        start,
    }
}

/// A page's links to the rows before and after it, for `_pager.html`.
#[derive(Clone, Debug, Default)]
pub struct Links {
    pub previous: Option<String>,
    pub next: Option<String>,
    /// "← Newer" / "Older →" for a list in time order, else "← Previous" / "Next →".
    pub previous_label: &'static str,
    pub next_label: &'static str,
}

/// The page among `fetched` (at most `FETCH` rows, as fetched from `start`), and its links.
/// `key` gives a row's key; `base` is the list's address with its filters and sort.
pub(super) fn window<T>(
    mut fetched: Vec<T>,
    start: &Start,
    base: &str,
    in_time_order: bool,
    key: impl Fn(&T) -> Vec<String>,
) -> (Vec<T>, Links) {
    let beyond = fetched.len() as i64 > PER_PAGE;
    fetched.truncate(PER_PAGE as usize);
    if start.backwards() {
        fetched.reverse();
    }
    // Rows precede the page when it was reached going forward, or going back found more; rows
    // follow it when it was reached going back, or going forward found more.
    let (before, after) = match start {
        Start::First => (false, beyond),
        Start::After(_) => (true, beyond),
        Start::Before(_) => (beyond, true),
    };
    let link = |param: &str, row: Option<&T>| {
        row.map(|r| {
            let sep = if base.contains('?') { '&' } else { '?' };
            let key = serde_json::to_string(&key(r)).unwrap_or_default();
            let query = serde_urlencoded::to_string([(param, key)]).unwrap_or_default();
            format!("{base}{sep}{query}")
        })
    };
    let links = Links {
        previous: before.then(|| link("before", fetched.first())).flatten(),
        next: after.then(|| link("after", fetched.last())).flatten(),
        previous_label: if in_time_order {
            "← Newer"
        } else {
            "← Previous"
        },
        next_label: if in_time_order {
            "Older →"
        } else {
            "Next →"
        },
    };
    (fetched, links)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &i64) -> Vec<String> {
        vec![n.to_string()]
    }

    #[test]
    fn a_key_that_is_not_a_list_of_strings_starts_at_the_first_page() {
        assert_eq!(Start::parse("", ""), Start::First);
        assert_eq!(Start::parse("[1]", ""), Start::First);
        assert_eq!(Start::parse("nonsense", "[]"), Start::First);
        assert_eq!(
            Start::parse("", "[\"a\",\"b\"]"),
            Start::Before(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn pages_link_to_their_neighbours_by_their_edge_rows() {
        let first: Vec<i64> = (1..=FETCH).collect();
        let (rows, links) = window(first, &Start::First, "/l?q=x", true, key);
        assert_eq!(rows.len() as i64, PER_PAGE);
        assert_eq!(links.previous, None);
        assert_eq!(links.next.as_deref(), Some("/l?q=x&after=%5B%2250%22%5D"));

        // Going back from row 51 fetched 50..=1 in reverse: the page is 1..=50, nothing before.
        let back: Vec<i64> = (1..=PER_PAGE).rev().collect();
        let (rows, links) = window(back, &Start::Before(vec!["51".into()]), "/l", false, key);
        assert_eq!(rows.first(), Some(&1));
        assert_eq!(links.previous, None);
        assert_eq!(links.next.as_deref(), Some("/l?after=%5B%2250%22%5D"));

        // The last page: rows before it, none after.
        let (rows, links) = window(
            vec![51, 52],
            &Start::After(vec!["50".into()]),
            "/l",
            true,
            key,
        );
        assert_eq!(rows, vec![51, 52]);
        assert_eq!(links.previous.as_deref(), Some("/l?before=%5B%2251%22%5D"));
        assert_eq!(links.next, None);
        assert_eq!(
            (links.previous_label, links.next_label),
            ("← Newer", "Older →")
        );
    }
}
