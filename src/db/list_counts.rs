//! Lists' totals, kept by triggers in the transaction that writes each row (migration
//! `list_counts`): a hub's list reads how many rows it holds from a few counter rows instead of
//! counting a year of them.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

/// The lists whose totals are kept, by the name the triggers give them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Intakes,
    Distributions,
    NeedsLists,
    StockAdjustments,
    Sales,
    /// Each transfer counts at both its hubs.
    Transfers,
}

impl List {
    fn name(self) -> &'static str {
        match self {
            List::Intakes => "intakes",
            List::Distributions => "distributions",
            List::NeedsLists => "needs_lists",
            List::StockAdjustments => "stock_adjustments",
            List::Sales => "sales",
            List::Transfers => "transfers",
        }
    }
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows `list` holds at `hubs` (with `status`, when one is given). Reads a handful of
/// counter rows per hub and status, whatever the history holds.
pub fn total(
    conn: &mut PgConnection,
    list: List,
    hubs: &[i64],
    status: Option<&str>,
) -> QueryResult<i64> {
    diesel::sql_query(
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM list_counts \
          WHERE list = $1 AND hub_id = ANY($2) AND ($3::text IS NULL OR status = $3)",
    )
    .bind::<Text, _>(list.name())
    .bind::<Array<BigInt>, _>(hubs)
    .bind::<Nullable<Text>, _>(status)
    .get_result::<Number>(conn)
    .map(|r| r.n)
}

/// Folds the counter rows of database sessions that have ended into one row each; returns
/// how many were folded.
pub fn fold(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT fold_list_counts() AS n")
        .get_result::<Number>(conn)
        .map(|r| r.n)
}
