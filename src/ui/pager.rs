//! Lists shown a page at a time: every list says how many there are and links to the others,
//! instead of stopping silently at a cap.

use serde::Deserialize;

use super::sorting::{Header, Sort};

/// Rows per page of a list.
pub const PER_PAGE: i64 = 50;

/// A list counts its rows up to this many and says "10,000+" beyond (`db::count_up_to`): an
/// exact total of a year of rows costs as much as reading them all, and the filters, not the
/// 200th page, are how a person finds an old entry.
pub const COUNT_UP_TO: i64 = 10_000;

/// The `?page=` of a list (0-based; out-of-range pages are simply empty).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub page: Option<i64>,
}

impl PageQuery {
    pub fn number(&self) -> i64 {
        self.page.unwrap_or(0).clamp(0, super::MAX_PAGE)
    }
}

/// `?q=&status=&page=` of a list with a search box and a status filter.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: Option<i64>,
    /// Keyset pages (`ui::keyset`): the edge row's key.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
}

/// The columns a list can be sorted by and its order when none is asked for.
pub struct Sorts {
    pub offered: &'static [&'static str],
    pub default: Sort,
}

impl ListQuery {
    /// The filter as the list applies it: the search trimmed and bounded, a status only when
    /// it is one the list offers.
    pub fn filter(
        self,
        path: String,
        search_label: &'static str,
        statuses: &'static [(&'static str, &'static str)],
        sorts: &'static Sorts,
    ) -> ListFilter {
        let status = if statuses.iter().any(|(code, _)| *code == self.status) {
            self.status
        } else {
            String::new()
        };
        ListFilter {
            sort: Sort::parse(&self.sort, sorts.offered, sorts.default),
            default_sort: sorts.default,
            path,
            q: self.q.trim().chars().take(100).collect(),
            status,
            statuses,
            search_label,
            page: self.page.unwrap_or(0).clamp(0, super::MAX_PAGE),
            start: super::keyset::Start::parse(&self.after, &self.before),
        }
    }
}

/// A list's search and status filter, for its query and for `_list_filter.html`.
#[derive(Clone, Debug)]
pub struct ListFilter {
    pub path: String,
    pub q: String,
    pub status: String,
    pub statuses: &'static [(&'static str, &'static str)],
    pub search_label: &'static str,
    pub page: i64,
    /// Where a keyset-paged list starts (lists paged by number ignore it).
    pub start: super::keyset::Start,
    pub sort: Sort,
    default_sort: Sort,
}

impl ListFilter {
    /// An ILIKE pattern for the search, when there is one.
    pub fn pattern(&self) -> Option<String> {
        (!self.q.is_empty()).then(|| crate::db::containing(&self.q))
    }

    /// The status asked for, when there is one.
    pub fn status(&self) -> Option<String> {
        (!self.status.is_empty()).then(|| self.status.clone())
    }

    pub fn is_on(&self) -> bool {
        !self.q.is_empty() || !self.status.is_empty()
    }

    pub fn pager(&self, total: i64) -> Pager {
        Pager::filtered(
            &self.path,
            &[
                ("q", &self.q),
                ("status", &self.status),
                ("sort", &self.sort.param_unless(self.default_sort)),
            ],
            self.page,
            total,
        )
    }

    /// How the list at `hub` learns its total with this filter: a search is counted.
    pub fn counting(&self, list: crate::db::list_counts::List, hub: i64) -> Counting {
        Counting {
            list,
            hubs: vec![hub],
            status: self.status(),
            narrowed: !self.q.is_empty(),
        }
    }

    /// A keyset page among `fetched` (as fetched from `start`, `keyset::fetch`) and its
    /// pager with the list's total; `key` gives a row's key in the order sorted by.
    pub fn keyset_page<T>(
        &self,
        fetched: Vec<T>,
        start: &super::keyset::Start,
        total: Total,
        key: impl Fn(&T) -> Vec<String>,
    ) -> (Vec<T>, Pager) {
        let base = self.pager(0).base;
        // The default orders are by time: their links say "Newer" / "Older".
        let in_time_order = self.sort.key == self.default_sort.key;
        Pager::keyset_page(fetched, start, base, in_time_order, total, key)
    }

    /// A sortable column's header: sorting keeps the filters and starts at the first page.
    pub fn header(&self, key: &'static str, label: &'static str) -> Header {
        let unsorted = Pager::filtered(
            &self.path,
            &[("q", &self.q), ("status", &self.status)],
            0,
            0,
        );
        self.sort.header(key, label, unsorted.base())
    }
}

/// How many rows a list holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Total {
    /// Exact, as kept by the database (`db::list_counts`).
    Kept(i64),
    /// As `db::count_up_to(…, COUNT_UP_TO, …)` counted it: "10,000+" beyond.
    Counted(i64),
}

/// How a list learns its total: from the kept counts of its hubs (and status), unless
/// something they do not keep narrows it (a search, a sales rep's own customers).
#[derive(Clone, Debug)]
pub struct Counting {
    pub list: crate::db::list_counts::List,
    pub hubs: Vec<i64>,
    pub status: Option<String>,
    /// Narrowed beyond what is kept: counted by the list's query instead.
    pub narrowed: bool,
}

impl Counting {
    /// The total: kept, or counted by `count` (up to `COUNT_UP_TO`) when narrowed.
    pub fn total(
        &self,
        conn: &mut diesel::PgConnection,
        count: impl FnOnce(&mut diesel::PgConnection) -> diesel::QueryResult<i64>,
    ) -> diesel::QueryResult<Total> {
        if self.narrowed {
            count(conn).map(Total::Counted)
        } else {
            let status = self.status.as_deref();
            crate::db::list_counts::total(conn, self.list, &self.hubs, status).map(Total::Kept)
        }
    }
}

/// Where a list is and how far it goes, for `_pager.html`.
#[derive(Clone, Debug)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    /// The list's address with its filters, without the page.
    base: String,
    /// Set for a list paged by keyset: its links to the rows before and after the page.
    pub keyset: Option<super::keyset::Links>,
    /// The total is exact (kept), not counted up to `COUNT_UP_TO`.
    exact: bool,
}

impl Pager {
    /// `total` as `db::count_up_to(…, COUNT_UP_TO, …)` counts it: above the cap the list has
    /// "10,000+" rows, its pages are not numbered to an end, and Next is always offered.
    pub fn new(base: impl Into<String>, page: i64, total: i64) -> Self {
        Pager {
            page,
            pages: (total + PER_PAGE - 1) / PER_PAGE,
            total,
            base: base.into(),
            keyset: None,
            exact: false,
        }
    }

    /// A page of a keyset-paged list at `base` among `fetched` (as fetched from `start`,
    /// `keyset::fetch`), and its pager: the list's total and the links to the rows before and
    /// after the page, by their edge rows' keys (`key`). A list in time order says "Newer" /
    /// "Older".
    pub fn keyset_page<T>(
        fetched: Vec<T>,
        start: &super::keyset::Start,
        base: String,
        in_time_order: bool,
        total: Total,
        key: impl Fn(&T) -> Vec<String>,
    ) -> (Vec<T>, Pager) {
        let (rows, links) = super::keyset::window(fetched, start, &base, in_time_order, key);
        let (n, exact) = match total {
            Total::Kept(n) => (n, true),
            Total::Counted(n) => (n, false),
        };
        let pager = Pager {
            keyset: Some(links),
            exact,
            ..Pager::new(base, 0, n)
        };
        (rows, pager)
    }

    /// Whether the list has more rows than were counted.
    pub fn more_than_counted(&self) -> bool {
        !self.exact && self.total > COUNT_UP_TO
    }

    /// The rows, in words: "1,234", or "10,000+" beyond the count.
    pub fn total_words(&self) -> String {
        if self.more_than_counted() {
            format!("{}+", super::chart::grouped(COUNT_UP_TO))
        } else {
            super::chart::grouped(self.total)
        }
    }

    /// Whether a page follows this one: always, past the counted pages of a list that has more.
    pub fn has_next(&self) -> bool {
        self.more_than_counted() || self.page + 1 < self.pages
    }

    /// A pager for a list at `path` narrowed by `filters`; the empty ones are left out of the
    /// links.
    pub fn filtered(path: &str, filters: &[(&str, &str)], page: i64, total: i64) -> Self {
        let set: Vec<&(&str, &str)> = filters.iter().filter(|(_, v)| !v.is_empty()).collect();
        let base = match serde_urlencoded::to_string(&set).unwrap_or_default() {
            query if query.is_empty() => path.to_string(),
            query => format!("{path}?{query}"),
        };
        Pager::new(base, page, total)
    }

    /// The list's address with its filters, without a page.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The first row of a page, for the query's OFFSET.
    pub fn offset(page: i64) -> i64 {
        page.saturating_mul(PER_PAGE)
    }

    pub fn link(&self, page: i64) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}page={page}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_pages_round_up() {
        let p = Pager::new("/hubs/3?q=rice", 1, 101);
        assert_eq!(
            (p.pages, p.link(2)),
            (3, "/hubs/3?q=rice&page=2".to_string())
        );
        assert_eq!(Pager::new("/audit", 0, 0).pages, 0);
        let many = Pager::new("/hubs/3/intakes", 0, COUNT_UP_TO + 1);
        assert_eq!(
            (many.total_words(), many.has_next()),
            ("10,000+".to_string(), true)
        );
        let exact = Pager::new("/hubs/3/intakes", 1, 100);
        assert_eq!(
            (exact.total_words(), exact.has_next()),
            ("100".to_string(), false)
        );
        // Past the counted pages of a longer list, Next is still offered.
        assert!(Pager::new("/x", 250, COUNT_UP_TO + 1).has_next());
        assert_eq!(Pager::new("/audit", 0, 50).link(0), "/audit?page=0");
        let f = Pager::filtered("/hubs/3", &[("q", "rice & beans"), ("low", "")], 0, 60);
        assert_eq!(f.link(1), "/hubs/3?q=rice+%26+beans&page=1");
        assert_eq!(
            Pager::filtered("/sales", &[("status", "")], 0, 60).link(1),
            "/sales?page=1"
        );
    }

    #[test]
    fn a_kept_total_is_exact_at_any_size_and_a_counted_one_stops_at_the_cap() {
        let page = |total| {
            let rows: Vec<i64> = (1..=3).collect();
            let start = crate::ui::keyset::Start::First;
            Pager::keyset_page(rows, &start, "/l".into(), true, total, |n| {
                vec![n.to_string()]
            })
            .1
        };
        let kept = page(Total::Kept(123_456));
        assert_eq!(
            (kept.total_words(), kept.more_than_counted()),
            ("123,456".to_string(), false)
        );
        let counted = page(Total::Counted(COUNT_UP_TO + 1));
        assert_eq!(
            (counted.total_words(), counted.more_than_counted()),
            ("10,000+".to_string(), true)
        );
        assert_eq!(page(Total::Counted(42)).total_words(), "42");
    }
}
