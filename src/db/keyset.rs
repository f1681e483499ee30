//! The SQL of keyset pages (`ui::keyset` has the pages and their links): a list's order as its
//! columns, the rows past an edge row's key in that order, and the ORDER BY that walks it.
//!
//! A key comes back from a link as strings, one per column. Each is read as its column's type
//! before it reaches the database, so an edited address starts at the first page instead of
//! failing in PostgreSQL; then it is bound as text and cast there (`$1::date`).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
use diesel::expression::{SqlLiteral, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::methods::{FilterDsl, LimitDsl, OrderDsl};
use diesel::sql_types::{Bool, Text};
use diesel::QueryResult;
use uuid::Uuid;

/// The type of one column of an order.
#[derive(Clone, Copy, Debug)]
pub enum Col {
    Text,
    Date,
    /// A timestamptz, keyed to the microsecond (`time_key`).
    Time,
    Uuid,
    Int,
}

impl Col {
    /// `value` as a key of this column, written the way the database reads it back; `None`
    /// when it is not one.
    fn read(self, value: &str) -> Option<String> {
        match self {
            Col::Text => (!value.contains('\0')).then(|| value.to_string()),
            Col::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                .map(|d| d.to_string()),
            Col::Time => DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.to_utc())
                .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
                .map(time_key),
            Col::Uuid => Uuid::parse_str(value).ok().map(|u| u.to_string()),
            Col::Int => value.parse::<i64>().ok().map(|n| n.to_string()),
        }
    }

    fn cast(self) -> &'static str {
        match self {
            Col::Text => "::text",
            Col::Date => "::date",
            Col::Time => "::timestamptz",
            Col::Uuid => "::uuid",
            Col::Int => "::bigint",
        }
    }
}

/// A timestamp as a key: RFC 3339 to the microsecond, PostgreSQL's precision, so the edge row
/// compares equal to itself.
pub fn time_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A list's order: its columns, qualified (`intakes.received_on`), all in one direction, the
/// unique id last.
#[derive(Debug)]
pub struct Order {
    pub columns: &'static [(&'static str, Col)],
}

impl Order {
    /// A key from a link, read as this order's: one readable value per column, else `None`.
    pub fn read(&'static self, key: &[String]) -> Option<Past> {
        if key.len() != self.columns.len() {
            return None;
        }
        let values = self
            .columns
            .iter()
            .zip(key)
            .map(|((_, col), v)| col.read(v))
            .collect::<Option<Vec<_>>>()?;
        Some(Past {
            order: self,
            values,
            descending: false,
        })
    }

    /// `ORDER BY` this order, every column one way.
    pub fn order_by(&self, descending: bool) -> SqlLiteral<Bool> {
        let way = if descending { " DESC" } else { " ASC" };
        let sql = self
            .columns
            .iter()
            .map(|(name, _)| format!("{name}{way}"))
            .collect::<Vec<_>>()
            .join(", ");
        diesel::dsl::sql::<Bool>(&sql)
    }
}

/// The orders of a list of dated rows with a status (`<table>.created_at`, `.status`, `.id`):
/// "created" (the default), "status" (then the time), and one per text column named, by that
/// column. `dated_orders!(distributions, recipient)`.
#[macro_export]
macro_rules! dated_orders {
    ($table:ident $(, $text:ident)*) => {
        $crate::db::keyset::Orders(&[
            ("created", $crate::db::keyset::Order { columns: &[
                (concat!(stringify!($table), ".created_at"), $crate::db::keyset::Col::Time),
                (concat!(stringify!($table), ".id"), $crate::db::keyset::Col::Uuid),
            ] }),
            $((stringify!($text), $crate::db::keyset::Order { columns: &[
                (concat!(stringify!($table), ".", stringify!($text)), $crate::db::keyset::Col::Text),
                (concat!(stringify!($table), ".id"), $crate::db::keyset::Col::Uuid),
            ] }),)*
            ("status", $crate::db::keyset::Order { columns: &[
                (concat!(stringify!($table), ".status"), $crate::db::keyset::Col::Text),
                (concat!(stringify!($table), ".created_at"), $crate::db::keyset::Col::Time),
                (concat!(stringify!($table), ".id"), $crate::db::keyset::Col::Uuid),
            ] }),
        ])
    };
}

/// How a page is read: past which edge row (none for the first page), which way.
#[derive(Clone, Debug)]
pub struct Walk {
    pub order: &'static Order,
    pub past: Option<Past>,
    pub descending: bool,
}

impl Walk {
    /// A walk of `order` from its first row.
    pub fn start(order: &'static Order, descending: bool) -> Walk {
        Walk {
            order,
            past: None,
            descending,
        }
    }

    /// The same walk continued past the row with `key` (the order's values), the same way;
    /// `None` when `key` is not one of the order's.
    pub fn after(&self, key: &[String]) -> Option<Walk> {
        let past = self.order.read(key)?.walking(self.descending);
        Some(Walk {
            past: Some(past),
            ..self.clone()
        })
    }

    /// `q` narrowed to the `n` rows past the edge, in the walk's order.
    pub fn rows<Q>(self, q: Q, n: i64) -> Q
    where
        Q: FilterDsl<Past, Output = Q>
            + OrderDsl<SqlLiteral<Bool>, Output = Q>
            + LimitDsl<Output = Q>,
    {
        let q = match self.past {
            Some(past) => q.filter(past),
            None => q,
        };
        q.order(self.order.order_by(self.descending)).limit(n)
    }
}

/// A list's orders by the sort keys it offers (`ui::pager::Sorts`); the first is the default.
pub struct Orders(pub &'static [(&'static str, Order)]);

impl Orders {
    /// The order of the sort asked for.
    pub fn by(&'static self, sort: &str) -> &'static Order {
        let found = self.0.iter().find(|(key, _)| *key == sort);
        &found.unwrap_or(&self.0[0]).1
    }
}

/// The rows past an edge row in an order: `(a, b, id) < ($1::date, $2::timestamptz, $3::uuid)`
/// walking down, `>` walking up. A filter for any of the order's tables.
#[derive(Clone, Debug)]
pub struct Past {
    order: &'static Order,
    values: Vec<String>,
    descending: bool,
}

impl Past {
    /// The same edge, walking the order down (`true`) or up.
    pub fn walking(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }
}

impl Expression for Past {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Past {}
impl<QS> SelectableExpression<QS> for Past {}

impl ValidGrouping<()> for Past {
    type IsAggregate = is_aggregate::Never;
}

/// Its SQL depends on the order and the direction: never cached by type.
impl QueryId for Past {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Past {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(");
        for (i, (name, _)) in self.order.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(name);
        }
        out.push_sql(if self.descending { ") < (" } else { ") > (" });
        for (i, ((_, col), value)) in self.order.columns.iter().zip(&self.values).enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Text, String>(value)?;
            out.push_sql(col.cast());
        }
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ORDER: Order = Order {
        columns: &[
            ("t.day", Col::Date),
            ("t.at", Col::Time),
            ("t.name", Col::Text),
            ("t.id", Col::Uuid),
        ],
    };

    fn key(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_key_reads_only_as_its_orders_columns() {
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let good = key(&["2026-12-07", "2026-12-07T10:00:00+01:00", "Red Cross", id]);
        let past = ORDER.read(&good).expect("a readable key");
        // Times are keyed in UTC to the microsecond, whatever offset the link carried.
        assert_eq!(past.values[1], "2026-12-07T09:00:00.000000Z");
        for bad in [
            key(&["2026-12-07", "2026-12-07T10:00:00Z", "x"]),
            key(&["2026-13-07", "2026-12-07T10:00:00Z", "x", id]),
            key(&["2026-12-07", "yesterday", "x", id]),
            key(&["2026-12-07", "2026-12-07T10:00:00Z", "a\0b", id]),
            key(&["2026-12-07", "2026-12-07T10:00:00Z", "x", "1"]),
            key(&["+10000-01-01", "2026-12-07T10:00:00Z", "x", id]),
        ] {
            assert!(ORDER.read(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_order_walks_every_column_one_way() {
        let sql = diesel::debug_query::<Pg, _>(&ORDER.order_by(true)).to_string();
        assert!(
            sql.starts_with("t.day DESC, t.at DESC, t.name DESC, t.id DESC"),
            "{sql}"
        );
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let past = ORDER
            .read(&key(&["2026-12-07", "2026-12-07T10:00:00Z", "x", id]))
            .unwrap()
            .walking(true);
        let sql = diesel::debug_query::<Pg, _>(&past).to_string();
        assert!(
            sql.starts_with(
                "(t.day, t.at, t.name, t.id) < ($1::date, $2::timestamptz, $3::text, $4::uuid)"
            ),
            "{sql}"
        );
    }

    #[test]
    fn dated_orders_name_their_tables_columns() {
        static ORDERS: Orders = crate::dated_orders!(t, name);
        let names =
            |sort: &str| -> Vec<&str> { ORDERS.by(sort).columns.iter().map(|(n, _)| *n).collect() };
        assert_eq!(names("created"), ["t.created_at", "t.id"]);
        assert_eq!(names("name"), ["t.name", "t.id"]);
        assert_eq!(names("status"), ["t.status", "t.created_at", "t.id"]);
        assert_eq!(names("anything else"), names("created"), "the default");
    }
}
