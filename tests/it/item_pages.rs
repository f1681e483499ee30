//! A serialized item's page (issue 15): reserve, sell, change location or cost and delete from
//! the browser, each on the pipeline; offered by role and status; the sales flags checked;
//! bad input refused in words with nothing written; another hub's item never shown.

use serde_json::json;

use crate::catalog_pages::{form_of, post};
use crate::common::TestApp;
use crate::hub_pages::location;
use crate::sales::{set_flags, texts};

const WATER: &str = "00101-P-1-NA-N";

fn item_status(app: &TestApp, id: i64) -> String {
    texts(
        app,
        &format!("SELECT status AS t FROM inventory_items WHERE id = {id}"),
    )
    .pop()
    .unwrap_or_else(|| "gone".into())
}

#[tokio::test]
async fn an_item_is_edited_reserved_sold_and_deleted_from_its_page() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let api = crate::warehouse_api::as_user(&app, "warehouse").await;
    let mut ids = Vec::new();
    for serial in ["SN-PAGE-1", "SN-PAGE-2"] {
        let (s, item) = api
            .call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": serial, "variant_sku": WATER, "location_code": "A-01", "hub_id": kin })))
            .await;
        assert_eq!(s, 201, "{item}");
        ids.push(item["id"].as_i64().unwrap());
    }
    let (one, two) = (ids[0], ids[1]);
    let path = format!("/warehouse/items/{one}");

    // A warehouse operator changes where it is and what it cost; not sell, not delete.
    let warehouse = app.signed_in("warehouse").await;
    let page = warehouse.text(&path).await;
    for expected in ["SN-PAGE-1", "Available", "Kingston", "A-01", "Received"] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(
        !page.contains("/reserve\"") && !page.contains("/delete\""),
        "{page}"
    );
    let edit = format!("{path}/edit");
    for (loc, cost, says) in [
        ("A 01 !", "", "letters, digits"),
        ("A-02", "a lot", "enter a price"),
        ("A\u{0}02", "", "control character"),
    ] {
        let page = warehouse.text(&path).await;
        let res = post(
            &warehouse,
            &edit,
            &form_of(
                &page,
                &edit,
                &[("location_code", loc), ("cost_basis", cost)],
            ),
        )
        .await;
        assert_eq!(res.status(), 422, "{loc:?} {cost:?}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains(says) && text.contains("Nothing was saved"),
            "{says}: {text}"
        );
    }
    let page = warehouse.text(&path).await;
    let res = post(
        &warehouse,
        &edit,
        &form_of(
            &page,
            &edit,
            &[("location_code", "B-09"), ("cost_basis", "6.25")],
        ),
    )
    .await;
    assert_eq!(location(&res), path);
    let page = warehouse.text(&path).await;
    assert!(
        page.contains("B-09") && page.contains("6.25") && page.contains("Update"),
        "{page}"
    );

    // A sales rep reserves it, then sells it at its list price; the price needs no flag.
    set_flags(&app, "sales", json!({}));
    let sales = app.signed_in("sales").await;
    let page = sales.text(&path).await;
    let reserve = format!("{path}/reserve");
    let res = post(&sales, &reserve, &form_of(&page, &reserve, &[])).await;
    assert_eq!(location(&res), path);
    assert_eq!(item_status(&app, one), "RESERVED");
    let page = sales.text(&path).await;
    assert!(
        page.contains("Reserved") && !page.contains(&format!("action=\"{reserve}\"")),
        "{page}"
    );
    let sell = format!("{path}/sell");
    // Another price without the flag: refused in the seed's words, nothing changed.
    let res = post(
        &sales,
        &sell,
        &form_of(&page, &sell, &[("sale_price", "9.00")]),
    )
    .await;
    // The price flags refuse it (403, the API's status for it).
    assert_eq!(res.status(), 403);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("You do not have permission to edit prices"));
    assert_eq!(item_status(&app, one), "RESERVED");
    assert!(
        page.contains("value=\"14.50\""),
        "the list price is filled in: {page}"
    );
    let page = sales.text(&path).await;
    let res = post(
        &sales,
        &sell,
        &form_of(&page, &sell, &[("sale_price", "14.50")]),
    )
    .await;
    assert_eq!(location(&res), path);
    assert_eq!(item_status(&app, one), "SOLD");
    let page = sales.text(&path).await;
    assert!(
        page.contains("Sold for") && !page.contains(&format!("action=\"{sell}\"")),
        "{page}"
    );

    // An admin deletes the other item's record, after ticking the box.
    let admin = app.signed_in("admin").await;
    let other = format!("/warehouse/items/{two}");
    let page = admin.text(&other).await;
    let delete = format!("{other}/delete");
    let res = post(&admin, &delete, &form_of(&page, &delete, &[])).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("tick the box"));
    assert_eq!(item_status(&app, two), "AVAILABLE");
    let page = admin.text(&other).await;
    let res = post(
        &admin,
        &delete,
        &form_of(&page, &delete, &[("confirm", "1")]),
    )
    .await;
    assert_eq!(location(&res), "/warehouse/items");
    assert_eq!(item_status(&app, two), "gone");
    assert_eq!(app.count("SELECT count(*) AS n FROM inventory_transactions WHERE action = 'DELETE' AND serial_number = 'SN-PAGE-2'"), 1);
    assert_eq!(admin.get(&other).await.status(), 404);
    for action in [
        "warehouse.update",
        "warehouse.reserve",
        "warehouse.sell",
        "warehouse.delete",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = '{action}' AND outcome = 'applied'")),
            1,
            "{action}"
        );
    }

    // Another hub's people do not see it, and an unknown action is not found.
    let depot = app.signed_in("depot").await;
    assert_eq!(depot.get(&path).await.status(), 404);
    let csrf = warehouse.csrf().await;
    assert_eq!(
        warehouse
            .post_form(&format!("{path}/steal"), &[("csrf_token", &csrf)])
            .await
            .status(),
        404
    );
    app.shutdown().await;
}
