//! Hand-written SQL that stays prepared on its connection.
//!
//! Diesel keeps its own queries prepared, but never a `sql_query`: it cannot know the text is
//! fixed. For a statement run once per operation that costs a parse and a plan each time; the
//! per-statement log of a sync batch showed `settle::settle` spending 124 µs parsing and
//! 159 µs binding (planning) for 299 µs of execution (issue 14). `sql` takes a fixed text
//! instead, so diesel's statement cache keeps it by that text, like its own queries.
//!
//! The text numbers its parameters `$1`, `$2`, … and `bind` gives their values in that order
//! (as with `sql_query`). Diesel numbers placeholders itself, one per value it sends, so a
//! parameter used twice is sent twice under two numbers.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A fixed SQL text and its parameters' values.
pub struct Prepared<'a> {
    sql: &'static str,
    binds: Vec<Box<dyn Bind + 'a>>,
}

/// A statement kept prepared, keyed by its text. The text must not be built at run time (a
/// `&'static str` says so), or the cache would grow without bound.
pub fn sql(sql: &'static str) -> Prepared<'static> {
    Prepared {
        sql,
        binds: Vec::new(),
    }
}

impl<'a> Prepared<'a> {
    /// The next parameter's value, as SQL type `ST`.
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + 'a,
        ST: 'a,
    {
        self.binds
            .push(Box::new(Typed::<ST, T>(value, PhantomData)));
        self
    }
}

trait Bind {
    fn push<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Typed<ST, T>(T, PhantomData<ST>);

impl<ST, T> Bind for Typed<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.0)
    }
}

/// The text between parameters: `("… status = ", Some(1))`, …, `(" WHERE …", None)`.
fn pieces(sql: &str) -> impl Iterator<Item = (&str, Option<usize>)> {
    let mut rest = sql;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let marker = rest
            .char_indices()
            .find(|&(i, c)| c == '$' && rest[i + 1..].starts_with(|d: char| d.is_ascii_digit()));
        let Some((at, _)) = marker else {
            let text = rest;
            rest = "";
            return Some((text, None));
        };
        let digits = rest[at + 1..]
            .find(|d: char| !d.is_ascii_digit())
            .map_or(rest.len(), |n| at + 1 + n);
        let number = rest[at + 1..digits].parse().ok();
        let text = &rest[..at];
        rest = &rest[digits..];
        Some((text, number))
    })
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut used = vec![false; self.binds.len()];
        for (text, number) in pieces(self.sql) {
            out.push_sql(text);
            let Some(n) = number else { continue };
            let bind = n
                .checked_sub(1)
                .and_then(|i| self.binds.get(i).map(|b| (i, b)));
            let Some((i, bind)) = bind else {
                return Err(unbound(format!("${n} has no value")));
            };
            used[i] = true;
            bind.push(out.reborrow())?;
        }
        match used.iter().position(|u| !u) {
            Some(i) => Err(unbound(format!(
                "a value is given for ${}, which the text never uses",
                i + 1
            ))),
            None => Ok(()),
        }
    }
}

fn unbound(message: String) -> diesel::result::Error {
    diesel::result::Error::SerializationError(message.into())
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // Not known from the type: cached by its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use diesel::pg::Pg;
    use diesel::sql_types::{Integer, Text};

    use super::{pieces, sql};

    #[test]
    fn a_parameter_used_twice_is_sent_twice_and_an_unused_value_is_refused() {
        let query = sql("SELECT $2, $1 WHERE $2 <> ''")
            .bind::<Integer, _>(7)
            .bind::<Text, _>("a");
        assert_eq!(
            diesel::debug_query::<Pg, _>(&query).to_string(),
            r#"SELECT $1, $2 WHERE $3 <> '' -- binds: ["a", 7, "a"]"#
        );
        let unused = sql("SELECT $1").bind::<Integer, _>(1).bind::<Integer, _>(2);
        let mut out = String::new();
        assert!(write!(out, "{}", diesel::debug_query::<Pg, _>(&unused)).is_err());
        let missing = sql("SELECT $2").bind::<Integer, _>(1);
        assert!(write!(out, "{}", diesel::debug_query::<Pg, _>(&missing)).is_err());
    }

    #[test]
    fn text_is_cut_at_each_numbered_parameter_and_casts_stay_in_the_text() {
        let cut: Vec<_> =
            pieces("UPDATE t SET a = $1, b = $2::text[] WHERE c = 'x$' AND $3").collect();
        assert_eq!(
            cut,
            vec![
                ("UPDATE t SET a = ", Some(1)),
                (", b = ", Some(2)),
                ("::text[] WHERE c = 'x$' AND ", Some(3)),
            ]
        );
        assert_eq!(
            pieces("SELECT 1").collect::<Vec<_>>(),
            vec![("SELECT 1", None)]
        );
    }
}
