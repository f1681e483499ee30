//! Issue 29: pages cost what they show, not the history. On a database holding a history
//! (50,000 operations with their intakes, lines, ledger, audit and outbox rows, spread over a
//! year), every main page of every role is opened; PostgreSQL's own counters of rows read by
//! sequential scans (`pg_stat_user_tables.seq_tup_read`) must stay far below one table's size
//! for each history table. A page that counts, sorts or aggregates a table whole reads all of it.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::json;

use crate::common::TestApp;
use crate::query_budget::{links, main_pages, ROLES};

/// The tables that grow with the work done.
const HISTORY: [&str; 6] = [
    "operations",
    "stock_ledger",
    "audit_log",
    "outbox",
    "intakes",
    "intake_lines",
];

/// No page may read a history table by a sequential scan: rows a whole visit of every role's
/// pages may read so, per table (each holds 50,000 or more). Lists total from kept counts
/// (`db::list_counts`) and page by keyset, so even a hub that holds half the intakes is read a
/// page at a time.
const MOST_SCANNED: i64 = 5_000;

/// A page's shape: its path with every segment or value that holds a digit as `N`.
fn shape(page: &str) -> String {
    page.split(['/', '?', '&', '='])
        .map(|part| {
            if part.chars().any(|c| c.is_ascii_digit()) {
                "N"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Intakes sent through the API, then copied this many times over the year before.
const REAL: usize = 40;
const COPIES: usize = 1_250;

#[derive(QueryableByName)]
struct Scanned {
    #[diesel(sql_type = Text)]
    relname: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

fn scanned(conn: &mut PgConnection) -> BTreeMap<String, i64> {
    let tables: Vec<String> = HISTORY.iter().map(|t| format!("'{t}'")).collect();
    diesel::sql_query(format!(
        "SELECT relname::text, coalesce(seq_tup_read, 0)::int8 AS rows FROM pg_stat_user_tables \
         WHERE relname IN ({})",
        tables.join(", ")
    ))
    .load::<Scanned>(conn)
    .unwrap()
    .into_iter()
    .map(|s| (s.relname, s.rows))
    .collect()
}

/// A backend reports its counters within 10 s of going idle (PostgreSQL 15's
/// PGSTAT_IDLE_INTERVAL); the server's pooled connections stay open.
async fn settled_counters(app: &TestApp) -> BTreeMap<String, i64> {
    tokio::time::sleep(Duration::from_secs(11)).await;
    scanned(&mut app.conn())
}

/// Copies every operation and what hangs off it (intakes, lines, ledger rows, audit rows, outbox
/// events) `COPIES` times, each copy shifted further back over a year, with ids derived from
/// the original's and the copy's number so that the copies reference each other.
fn grow(app: &TestApp) {
    let mut conn = app.conn();
    let shift = format!("(interval '1 second' * (g::int8 * 31536000 / {COPIES}))");
    let id = |col: &str| format!("md5({col}::text || '-' || g)::uuid");
    for sql in [
        format!(
            "INSERT INTO operations (id, actor_id, op_id, kind, payload, hub_id, record_id, \
               captured_at, received_at, device_id, offline, role_at_capture, role_at_apply, \
               status, reason, server_id, server_state, changed_fields, result_version) \
             SELECT {}, actor_id, {}, kind, payload, hub_id, {}, captured_at - {shift}, \
               received_at - {shift}, device_id, offline, role_at_capture, role_at_apply, status, \
               reason, server_id, server_state, changed_fields, result_version \
             FROM operations, generate_series(1, {COPIES}) g",
            id("id"),
            id("op_id"),
            id("record_id")
        ),
        format!(
            "INSERT INTO intakes (id, hub_id, donor, reference, received_on, created_by, \
               operation_id, created_at) \
             SELECT {}, hub_id, donor, reference, (received_on - {shift})::date, created_by, {}, \
               created_at - {shift} \
             FROM intakes, generate_series(1, {COPIES}) g",
            id("id"),
            id("operation_id")
        ),
        format!(
            "INSERT INTO intake_lines (intake_id, line_no, variant_id, quantity, expiry_on, lot) \
             SELECT {}, line_no, variant_id, quantity, expiry_on, lot \
             FROM intake_lines, generate_series(1, {COPIES}) g",
            id("intake_id")
        ),
        format!(
            "INSERT INTO stock_ledger (hub_id, variant_id, delta, reason, operation_id, actor_id, \
               created_at) \
             SELECT hub_id, variant_id, delta, reason, {}, actor_id, created_at - {shift} \
             FROM stock_ledger, generate_series(1, {COPIES}) g WHERE operation_id IS NOT NULL",
            id("operation_id")
        ),
        format!(
            "INSERT INTO audit_log (occurred_at, actor_id, actor_name, role_at_capture, \
               role_at_apply, action, object_type, object_id, before, after, offline, \
               operation_id, outcome, hub_id, customer_id, client_addr) \
             SELECT occurred_at - {shift}, actor_id, actor_name, role_at_capture, role_at_apply, \
               action, object_type, object_id, before, after, offline, {}, outcome, hub_id, \
               customer_id, client_addr \
             FROM audit_log, generate_series(1, {COPIES}) g WHERE operation_id IS NOT NULL",
            id("operation_id")
        ),
        format!(
            "INSERT INTO outbox (topic, payload, created_at, published_at) \
             SELECT topic, payload, created_at - {shift}, coalesce(published_at, now()) - {shift} \
             FROM outbox, generate_series(1, {COPIES}) g"
        ),
        "ANALYZE".to_string(),
    ] {
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pages_read_no_history_table_whole() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("admin").await;
    let hubs = [app.hub_id("KIN-MAIN"), app.hub_id("MBJ-SUB")];
    let ops: Vec<serde_json::Value> = (0..REAL)
        .map(|i| {
            json!({ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create",
                "captured_at": chrono::Utc::now(),
                "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": hubs[i % 2],
                    "donor": format!("Donor {i}"), "reference": format!("REF-{i}"),
                    "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 2 },
                              { "sku": "00101-P-1-NA-N", "quantity": 1 }] } })
        })
        .collect();
    let (status, body) = app.sync(&token, json!({ "operations": ops })).await;
    assert_eq!(status, 200, "{body}");
    let applied = TestApp::applied(&body);
    assert_eq!(applied, REAL, "{body}");
    grow(&app);
    let operations = app.count("SELECT count(*) AS n FROM operations");
    assert!(
        operations >= (REAL * COPIES) as i64,
        "{operations} operations"
    );

    let before = settled_counters(&app).await;
    let mut opened = 0;
    // OUTPOST_SCANS_PER_ROLE=1 prints each role's reads (11 s a role), to find the page.
    let per_role = std::env::var("OUTPOST_SCANS_PER_ROLE").is_ok();
    for user in ROLES {
        let browser = app.signed_in(user).await;
        // The main pages and the pages they link to (a hub's intakes, a sale, page 2…), two
        // of each shape.
        let mut pages = std::collections::BTreeSet::new();
        for page in main_pages(&browser).await {
            let res = browser.get(&page).await;
            if res.status().is_success() {
                pages.extend(links(&res.text().await.unwrap()));
            }
            pages.insert(page);
        }
        let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
        pages.retain(|page| {
            let seen = shapes.entry(shape(page)).or_default();
            *seen += 1;
            *seen <= 2
        });
        let start = if per_role {
            settled_counters(&app).await
        } else {
            BTreeMap::new()
        };
        for page in &pages {
            if page.contains("/sign-out") || page.contains("/logout") {
                continue;
            }
            let res = browser.get(page).await;
            assert!(
                res.status().as_u16() < 500,
                "{user} {page}: {}",
                res.status()
            );
            opened += 1;
        }
        if per_role {
            let end = settled_counters(&app).await;
            let grown: Vec<_> = end
                .iter()
                .map(|(t, n)| (t, n - start.get(t).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect();
            println!("{user}: {grown:?} over {pages:?}");
        }
    }
    let after = settled_counters(&app).await;
    let read: Vec<(String, i64)> = HISTORY
        .iter()
        .map(|t| {
            let t = t.to_string();
            let n = after.get(&t).copied().unwrap_or(0) - before.get(&t).copied().unwrap_or(0);
            (t, n)
        })
        .collect();
    println!("{opened} pages opened over {operations} operations; rows read by sequential scans: {read:?}");
    assert!(opened > 60, "only {opened} pages were opened");
    let whole: Vec<_> = read.iter().filter(|(_, n)| *n > MOST_SCANNED).collect();
    assert!(
        whole.is_empty(),
        "history tables read by sequential scans while opening every role's pages \
         (more than {MOST_SCANNED} rows each): {whole:?}"
    );
    app.shutdown().await;
}
