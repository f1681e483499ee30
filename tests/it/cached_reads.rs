//! Issue 14: a signed-in request reuses the account (and the dashboard its live part) read
//! earlier while nothing has been committed since (`db::snapshot`). These tests hold it to
//! both halves of that: nothing is read twice when nothing changed, and a change committed by
//! anyone — here a plain SQL connection, as another process or psql would — is seen by the very
//! next request, whether it is data, a role, a scope or a disabled account.

use std::time::Duration;

use diesel::RunQueryDsl;

use crate::common::{Browser, TestApp};

fn statements(res: &reqwest::Response) -> u32 {
    res.headers()["x-db-statements"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Opens `path` until a request is answered from what was read before: no statement of its own
/// (the snapshot is read once for all the requests asking at that moment, outside any one of
/// them). The audit sequencer may commit between the first requests (the sign-in's audit row);
/// a cache that never answers fails here.
async fn until_reused(browser: &Browser, path: &str) -> String {
    let mut seen = Vec::new();
    // Tests run side by side on one PostgreSQL, and a commit in any of its databases moves the
    // snapshot: give them time.
    for _ in 0..600 {
        let res = browser.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let n = statements(&res);
        let body = res.text().await.unwrap();
        if n == 0 {
            return body;
        }
        seen.push(n);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.truncate(20);
    panic!("{path} was never answered from the cache; statements per request: {seen:?}…");
}

fn sql(app: &TestApp, statement: &str) {
    diesel::sql_query(statement)
        .execute(&mut app.conn())
        .unwrap();
}

#[tokio::test]
async fn the_dashboard_is_reused_until_a_commit_and_then_shows_it() {
    let app = TestApp::builder().with_demo_world().start().await;
    let depot = app.signed_in("depot").await;
    let before = until_reused(&depot, "/").await;
    let fragment = until_reused(&depot, "/dashboard/live").await;
    assert!(
        before.contains(&fragment),
        "the page embeds the same live part"
    );

    // Another connection changes a level at the depot manager's hub.
    let hub = app.first_hub_of("depot");
    let units = |html: &str| -> String {
        let card = html
            .split(&format!("href=\"/hubs/{hub}\""))
            .nth(1)
            .expect("the hub's card");
        card.split("</b> units")
            .next()
            .unwrap()
            .rsplit("<b>")
            .next()
            .unwrap()
            .to_string()
    };
    let units_before: i64 = units(&before).replace(',', "").parse().unwrap();
    sql(
        &app,
        &format!(
            "UPDATE stock_levels SET quantity = quantity + 1000 WHERE hub_id = {hub} \
             AND variant_id = (SELECT min(variant_id) FROM stock_levels WHERE hub_id = {hub})"
        ),
    );
    let res = depot.get("/").await;
    assert!(statements(&res) > 1, "a commit since: read again");
    let after = res.text().await.unwrap();
    assert_eq!(
        units(&after).replace(',', "").parse::<i64>().unwrap(),
        units_before + 1000
    );

    // Many at once, on a reused dashboard: each is answered, from one reading.
    until_reused(&depot, "/").await;
    let all = futures_util::future::join_all((0..32).map(|_| depot.get("/dashboard/live"))).await;
    for res in all {
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        assert_eq!(
            units(&body).replace(',', "").parse::<i64>().unwrap(),
            units_before + 1000
        );
    }

    // A filtered view is never taken from (or put into) the cache.
    until_reused(&depot, "/").await;
    let filtered = depot.get("/?status=rejected").await;
    assert!(statements(&filtered) > 1);
    // The activity's dates the wrong way round: read the right way, and said.
    let turned = depot.text("/?from=2030-01-01&to=2020-01-01").await;
    assert!(
        turned.contains("The dates were the wrong way round: showing 2020-01-01 to 2030-01-01."),
        "{turned}"
    );
}

#[tokio::test]
async fn a_role_scope_or_account_change_applies_to_the_very_next_request() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = app.signed_in("warehouse").await;
    let hub = app.first_hub_of("warehouse");
    let hub_page = format!("/hubs/{hub}");
    assert_eq!(warehouse.get(&hub_page).await.status(), 200);
    let home = until_reused(&warehouse, "/").await;
    assert!(home.contains("Signed in as Warehouse"), "{home}");

    // The role, changed by another connection.
    sql(
        &app,
        "UPDATE users SET role = 'Driver' WHERE username = 'warehouse'",
    );
    let home = warehouse.text("/").await;
    assert!(home.contains("Signed in as Driver"), "{home}");
    sql(
        &app,
        "UPDATE users SET role = 'WarehouseOp' WHERE username = 'warehouse'",
    );
    until_reused(&warehouse, "/").await;

    // The hub taken out of the user's scope: its pages are gone at once.
    sql(
        &app,
        &format!(
            "DELETE FROM user_hubs WHERE hub_id = {hub} \
             AND user_id = (SELECT id FROM users WHERE username = 'warehouse')"
        ),
    );
    assert_eq!(warehouse.get(&hub_page).await.status(), 404);

    // The account disabled: the session ends with the next request.
    until_reused(&warehouse, "/").await;
    sql(
        &app,
        "UPDATE users SET active = false WHERE username = 'warehouse'",
    );
    let signed_out = |status: u16| matches!(status, 303 | 401);
    let res = warehouse.get("/").await;
    assert!(signed_out(res.status().as_u16()), "{}", res.status());
    sql(
        &app,
        "UPDATE users SET active = true WHERE username = 'warehouse'",
    );
    let res = warehouse.get("/").await;
    assert!(
        signed_out(res.status().as_u16()),
        "that session is over: {}",
        res.status()
    );
}
