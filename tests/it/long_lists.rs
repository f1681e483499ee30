//! A list longer than the pager counts (`ui::pager::COUNT_UP_TO`) says "10,000+", numbers no
//! last page and still offers Next; a search that narrows it is counted exactly again.

use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_past_the_count_says_so_and_still_pages_on() {
    let app = TestApp::builder().with_demo_world().start().await;
    let before = app.count("SELECT count(*) AS n FROM product_families");
    app.count(
        "WITH made AS (INSERT INTO product_families (product_id, base_name) \
         SELECT g, 'Bulk family ' || g FROM generate_series(20000, 30049) g RETURNING 1) \
         SELECT count(*) AS n FROM made",
    );
    let admin = app.signed_in("admin").await;

    let first = admin.text("/catalog/families").await;
    assert!(first.contains("10,000+ families"), "{first}");
    assert!(
        first.contains("<span>Page 1</span>"),
        "no last page is named: {first}"
    );
    assert!(
        first.contains("page=1\" rel=\"next\""),
        "Next is offered: {first}"
    );

    // Past the counted pages the rows go on, and so does Next.
    let far = (before + 10_050) / 50 - 1;
    let page = admin.text(&format!("/catalog/families?page={far}")).await;
    assert!(
        page.contains("Bulk family 29") || page.contains("Bulk family 30"),
        "the last rows are there: {page}"
    );
    assert!(
        page.contains(&format!("<span>Page {}</span>", far + 1)),
        "{page}"
    );

    // Narrowed by a search, the count is exact again and the pages are numbered.
    let some = admin.text("/catalog/families?q=Bulk+family+2999").await;
    assert!(some.contains("10 families"), "{some}");
    assert!(!some.contains("rel=\"next\""), "{some}");
    app.shutdown().await;
}

/// The address of a page's link with this `rel` (as the browser reads the attribute).
pub fn link(html: &str, rel: &str) -> Option<String> {
    let end = format!("\" rel=\"{rel}\"");
    html.contains(&end)
        .then(|| html.split(&end).next())
        .flatten()
        .and_then(|before| before.rsplit("href=\"").next())
        .map(|href| href.replace("&amp;", "&").replace("&#38;", "&"))
}

/// The ids of a hub's intakes as a list page shows them, in order, and its next and previous
/// links.
fn intake_page(html: &str, hub: i64) -> (Vec<String>, Option<String>, Option<String>) {
    let marker = format!("href=\"/hubs/{hub}/intakes/");
    let ids = html
        .split(&marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| id.len() == 36)
        .map(str::to_string)
        .collect();
    (ids, link(html, "next"), link(html, "prev"))
}

async fn send_intakes(app: &TestApp, token: &str, hub: i64, n: usize, tag: &str) {
    let ops: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let day = chrono::Utc::now().date_naive() - chrono::Duration::days((i % 3) as i64);
            serde_json::json!({ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create",
                "captured_at": chrono::Utc::now(),
                "payload": { "intake_id": uuid::Uuid::new_v4(), "hub_id": hub, "received_on": day,
                    "donor": format!("{tag} donor {i}"), "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 1 }] } })
        })
        .collect();
    let (status, body) = app
        .sync(token, serde_json::json!({ "operations": ops }))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Issue 29: keyset pages never repeat or skip a row while rows are written between page loads
/// (an OFFSET page shifts by every row that lands before it), going older and back newer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_neither_repeat_nor_skip_rows_written_between_loads() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("admin").await;
    let hub = app.hub_id("MBJ-SUB");
    send_intakes(&app, &token, hub, 130, "First").await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let in_order = || -> Vec<String> {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT id::text AS id FROM intakes WHERE hub_id = {hub} \
             ORDER BY received_on DESC, created_at DESC, id DESC"
        ))
        .load::<Id>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
    };
    let existing = in_order();
    assert!(existing.len() >= 130);

    let admin = app.signed_in("admin").await;
    let (mut seen, mut next, prev) =
        intake_page(&admin.text(&format!("/hubs/{hub}/intakes")).await, hub);
    assert_eq!(seen.len(), 50);
    assert!(prev.is_none(), "the first page links to nothing newer");
    let (mut pages, mut last_prev, mut last_first) = (1, None, None);
    while let Some(href) = next {
        // Rows written between two loads, dated today and the two days before: some land before
        // the page being read, some after it (those are read on a later page).
        send_intakes(&app, &token, hub, 7, &format!("Between {pages}")).await;
        let (ids, n, p) = intake_page(&admin.text(&href).await, hub);
        assert!(p.is_some(), "page {pages} links back");
        last_first = ids.first().cloned();
        seen.extend(ids);
        (next, last_prev) = (n, p);
        pages += 1;
    }
    let now = in_order();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "walking older repeated a row");
    let skipped: Vec<_> = existing.iter().filter(|id| !seen.contains(id)).collect();
    assert!(skipped.is_empty(), "walking older skipped {skipped:?}");
    let in_list_order: Vec<String> = now.iter().filter(|id| seen.contains(id)).cloned().collect();
    assert_eq!(
        seen, in_list_order,
        "walking older reads the rows in the list's order"
    );
    assert!(
        seen.len() > existing.len(),
        "some rows written meanwhile were read on later pages"
    );

    // And back to the newest from the last page: every row before the last page's first one.
    let mut back: Vec<String> = Vec::new();
    let mut href = last_prev;
    while let Some(h) = href {
        let (mut ids, _, p) = intake_page(&admin.text(&h).await, hub);
        ids.extend(back);
        back = ids;
        href = p;
    }
    let edge = now
        .iter()
        .position(|id| Some(id) == last_first.as_ref())
        .unwrap();
    assert_eq!(back, now[..edge].to_vec(), "walking newer");
    app.shutdown().await;
}

/// The audit log pages by id the same way: walking older while entries are written, every
/// entry at or below the first page's newest is read once, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_pages_by_keyset_while_entries_are_written() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("admin").await;
    let hub = app.hub_id("MBJ-SUB");
    send_intakes(&app, &token, hub, 120, "Audited").await;
    let admin = app.signed_in("admin").await;
    let entries = |html: &str| -> Vec<i64> {
        html.split("<tr id=\"entry-")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };
    let mut html = admin.text(&format!("/audit?hub={hub}")).await;
    let mut seen = entries(&html);
    let newest = seen[0];
    while let Some(next) = link(&html, "next") {
        assert!(seen.len() < 10_000, "the walk ends: {next}");
        send_intakes(&app, &token, hub, 3, "Meanwhile").await;
        html = admin.text(&next).await;
        seen.extend(entries(&html));
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice"
    );
    let there = app.count(&format!(
        "SELECT count(*) AS n FROM audit_log WHERE hub_id = {hub} AND id <= {newest}"
    ));
    assert_eq!(seen.len() as i64, there, "none skipped");
    assert!(there > 100);
    app.shutdown().await;
}

/// Every keyset-paged order of a list walks its rows once, in the database's order: newest
/// first with rows sharing one time (a batch), by recipient, by status, and filtered by status.
/// The totals are the kept ones, exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_of_a_list_walks_each_row_once() {
    let app = TestApp::builder().with_demo_world().start().await;
    let hub = app.hub_id("MBJ-SUB");
    let admin_id = app.id_of("SELECT id FROM users WHERE username = 'admin'");
    // 130 distributions, ten to a creation time, with recipients that repeat.
    app.count(&format!(
        "WITH made AS (INSERT INTO distributions (id, hub_id, recipient, status, created_by, created_at) \
         SELECT gen_random_uuid(), {hub}, 'Camp ' || (g % 7), \
                CASE WHEN g % 3 = 0 THEN 'cancelled' ELSE 'draft' END, {admin_id}, \
                now() - (g / 10) * interval '1 minute' \
           FROM generate_series(1, 130) g RETURNING 1) SELECT count(*) AS n FROM made"
    ));
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let ids = |filter: &str, order: &str| -> Vec<String> {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT id::text AS id FROM distributions WHERE hub_id = {hub} {filter} ORDER BY {order}"
        ))
        .load::<Id>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
    };
    let admin = app.signed_in("admin").await;
    let marker = format!("href=\"/hubs/{hub}/distributions/");
    let page_ids = |html: &str| -> Vec<String> {
        html.split(&marker)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|id| id.len() == 36)
            .map(str::to_string)
            .collect()
    };
    for (query, filter, order) in [
        ("", "", "created_at DESC, id DESC"),
        ("?sort=created", "", "created_at ASC, id ASC"),
        ("?sort=-recipient", "", "recipient DESC, id DESC"),
        ("?sort=status", "", "status, created_at, id"),
        (
            "?status=cancelled",
            "AND status = 'cancelled'",
            "created_at DESC, id DESC",
        ),
    ] {
        let expected = ids(filter, order);
        let mut html = admin
            .text(&format!("/hubs/{hub}/distributions{query}"))
            .await;
        assert!(
            html.contains(&format!("{} in all", expected.len()))
                || html.contains(&format!("{} match", expected.len())),
            "{query}: the kept total"
        );
        let mut seen = page_ids(&html);
        while let Some(next) = link(&html, "next") {
            assert!(seen.len() <= expected.len(), "{query}: the walk ends");
            html = admin.text(&next).await;
            seen.extend(page_ids(&html));
        }
        assert_eq!(seen, expected, "{query}: walked in order, each row once");
        // And back from the last page to the first.
        let mut back = page_ids(&html);
        while let Some(prev) = link(&html, "prev") {
            html = admin.text(&prev).await;
            let mut ids = page_ids(&html);
            ids.extend(back);
            back = ids;
        }
        assert_eq!(back, expected, "{query}: walked back in order");
    }
    // A key that is not this order's (edited, or from another sort) starts at the first page.
    let first = admin
        .text(&format!("/hubs/{hub}/distributions?after=%5B%22x%22%5D"))
        .await;
    assert_eq!(page_ids(&first), ids("", "created_at DESC, id DESC")[..50]);
    app.shutdown().await;
}

/// The rows of a CSV download (header first), parsed as a spreadsheet would.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The badge copy history pages by keyset with its filters kept in the links, and its CSV holds
/// every copy the filters keep (it stopped at 1,000, silently), streamed a chunk at a time; the
/// audit log's CSV streams past one chunk the same way, each row once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_history_pages_and_exports_stream_every_row() {
    let app = TestApp::builder().with_demo_world().start().await;
    let shelter = app.id_of("SELECT id FROM customers WHERE code = 'TT-SHELTER'");
    let station = app.id_of("SELECT id FROM nfc_stations WHERE code = 'KIN-BADGE-1'");
    let hub = app.id_of("SELECT hub_id AS id FROM nfc_stations WHERE code = 'KIN-BADGE-1'");
    app.count(&format!(
        "WITH made AS (INSERT INTO badge_copies (id, customer_id, hub_id, station_id, badge_uid, status, \
           error, requested_at, finished_at) \
         SELECT gen_random_uuid(), {shelter}, {hub}, {station}, 'UID-' || g, \
                CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'completed' END, \
                CASE WHEN g % 3 = 0 THEN 'card removed' END, \
                now() - (g / 10) * interval '1 minute', now() \
           FROM generate_series(1, 2130) g RETURNING 1) SELECT count(*) AS n FROM made"
    ));
    let admin = app.signed_in("admin").await;
    let uids = |html: &str| -> Vec<String> {
        html.split("<code>UID-")
            .skip(1)
            .filter_map(|rest| rest.split('<').next())
            .map(|n| format!("UID-{n}"))
            .collect()
    };
    let failed = app.count("SELECT count(*) AS n FROM badge_copies WHERE status = 'failed'");
    let mut html = admin.text("/badges/copies?status=failed").await;
    assert!(html.contains(&format!("{failed} copies match")), "{html}");
    let mut seen = uids(&html);
    while let Some(next) = link(&html, "next") {
        assert!(next.contains("status=failed"), "the filter stays: {next}");
        assert!(seen.len() as i64 <= failed, "the walk ends");
        html = admin.text(&next).await;
        seen.extend(uids(&html));
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (seen.len(), unique.len()),
        (failed as usize, failed as usize)
    );

    let csv = csv_rows(&admin.text("/badges/copies.csv").await);
    assert_eq!(csv[0][0], "requested_at");
    let all = app.count("SELECT count(*) AS n FROM badge_copies");
    assert!(all > 2_000);
    assert_eq!(csv.len() as i64 - 1, all, "every copy, past the old 1,000");
    let mut uids: Vec<&String> = csv[1..].iter().map(|r| &r[2]).collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len() as i64, all, "each copy once");

    // The audit log's export, past its 2,000-row chunk.
    app.count(&format!(
        "WITH made AS (INSERT INTO audit_log (action, hub_id, actor_name, after) \
         SELECT 'bulk.entry', {hub}, 'Bulk', jsonb_build_object('n', g, 'note', E'two\\nlines') \
           FROM generate_series(1, 4500) g RETURNING 1) SELECT count(*) AS n FROM made"
    ));
    let csv = csv_rows(&admin.text(&format!("/audit.csv?hub={hub}")).await);
    let ids: Vec<i64> = csv[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    let there = app.count(&format!(
        "SELECT count(*) AS n FROM audit_log WHERE hub_id = {hub}"
    ));
    assert!(there >= 4_500);
    assert_eq!(ids.len() as i64, there, "every entry");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, each once");
    app.shutdown().await;
}
