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
