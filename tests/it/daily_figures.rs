//! The dashboard's daily figures: past days' per-backend rows fold into one row each, summed;
//! today's stay per backend (transactions still add to them), and folding twice changes nothing.
//! The lists' kept totals fold the same way, by database session: an ended session's rows fold,
//! a live one's stay.

use diesel::prelude::*;

use crate::common::TestApp;

#[tokio::test]
async fn past_days_fold_into_one_row_each_and_today_stays() {
    let app = TestApp::builder().with_demo_world().start().await;
    let hub = app.hub_id("KIN-MAIN");
    let mut conn = app.conn();
    diesel::sql_query(format!(
        "INSERT INTO daily_figures (day, hub_id, series, key, shard, n) VALUES \
         ((now() AT TIME ZONE 'UTC')::date - 3, {hub}, 'ops', 0, 0, 5), ((now() AT TIME ZONE 'UTC')::date - 3, {hub}, 'ops', 0, 101, 2), \
         ((now() AT TIME ZONE 'UTC')::date - 3, {hub}, 'ops', 0, 102, 3), ((now() AT TIME ZONE 'UTC')::date - 1, {hub}, 'moves', 0, 7, -4), \
         ((now() AT TIME ZONE 'UTC')::date - 1, {hub}, 'moves', 0, 8, 10), ((now() AT TIME ZONE 'UTC')::date, {hub}, 'ops', 0, 9, 1), \
         ((now() AT TIME ZONE 'UTC')::date, {hub}, 'ops', 0, 10, 1)"
    ))
    .execute(&mut conn)
    .unwrap();
    let folded = outpost::db::figures::fold(&mut conn).unwrap();
    assert_eq!(folded, 4, "the four past rows of a backend");
    let rows = |day: i32, series: &str| {
        app.count(&format!(
            "SELECT count(*) AS n FROM daily_figures WHERE hub_id = {hub} AND day = (now() AT TIME ZONE 'UTC')::date - {day} AND series = '{series}'"
        ))
    };
    let sum = |day: i32, series: &str| {
        app.count(&format!(
            "SELECT coalesce(sum(n), 0)::int8 AS n FROM daily_figures WHERE hub_id = {hub} AND day = (now() AT TIME ZONE 'UTC')::date - {day} AND series = '{series}'"
        ))
    };
    assert_eq!((rows(3, "ops"), sum(3, "ops")), (1, 10));
    assert_eq!((rows(1, "moves"), sum(1, "moves")), (1, 6));
    assert_eq!(
        (rows(0, "ops"), sum(0, "ops")),
        (2, 2),
        "today is not folded"
    );
    assert_eq!(outpost::db::figures::fold(&mut conn).unwrap(), 0);
    assert_eq!(sum(3, "ops"), 10);
    app.shutdown().await;
}

#[tokio::test]
async fn list_totals_of_ended_sessions_fold_and_a_live_sessions_stay() {
    let app = TestApp::builder().with_demo_world().start().await;
    let hub = app.hub_id("KIN-MAIN");
    let total = |conn: &mut PgConnection| {
        outpost::db::list_counts::total(conn, outpost::db::list_counts::List::Intakes, &[hub], None)
            .unwrap()
    };
    let mut conn = app.conn();
    let before = total(&mut conn);
    // Sessions 1 and 2 cannot be live (pids start well above); this session is.
    diesel::sql_query(format!(
        "INSERT INTO list_counts (list, hub_id, status, shard, n) VALUES \
         ('intakes', {hub}, '', 1, 4), ('intakes', {hub}, '', 2, -1), \
         ('intakes', {hub}, '', pg_backend_pid(), 2)"
    ))
    .execute(&mut conn)
    .unwrap();
    assert_eq!(total(&mut conn), before + 5);
    let folded = outpost::db::list_counts::fold(&mut conn).unwrap();
    assert!(folded >= 2, "the ended sessions' rows fold: {folded}");
    assert_eq!(total(&mut conn), before + 5, "folding keeps the total");
    // `app.count` would ask on another session: this one's pid is the shard.
    #[derive(QueryableByName)]
    struct Mine {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mine = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM list_counts WHERE hub_id = {hub} AND list = 'intakes' \
         AND shard = pg_backend_pid()"
    ))
    .get_result::<Mine>(&mut conn)
    .unwrap();
    assert_eq!(mine.n, 1, "a live session's row stays");
    outpost::db::list_counts::fold(&mut conn).unwrap();
    assert_eq!(
        total(&mut conn),
        before + 5,
        "folding again keeps the total"
    );
    app.shutdown().await;
}
