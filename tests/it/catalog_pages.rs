//! Catalog management from the browser (issue 15): families, identities and variants made and
//! edited through pages on the pipeline, with the UPIS-H and SKU shown before saving; bad input
//! refused in words with nothing written; roles enforced; the Zoho state shown to the people who
//! run the catalog only, with "sync now" for admins.

use std::time::Duration;

use serde_json::json;

use crate::browser::Chrome;
use crate::common::{hidden_in, TestApp};
use crate::hub_pages::location;
use crate::offline::World;

/// The hidden fields of the form posted to `action` on `page`, plus `fields`.
pub(crate) fn form_of<'a>(
    page: &str,
    action: &str,
    fields: &[(&'a str, &'a str)],
) -> Vec<(&'a str, String)> {
    let at = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("a form posting to {action}: {page}"));
    let form = &page[at..];
    let mut out: Vec<(&str, String)> = ["op_id", "record_id", "envelope"]
        .into_iter()
        .map(|name| (name, hidden_in(form, name)))
        .collect();
    out.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    out
}

pub(crate) async fn post(
    b: &crate::common::Browser,
    path: &str,
    fields: &[(&str, String)],
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form(path, &fields).await
}

fn sync_status(app: &TestApp, sku: &str) -> String {
    crate::sales::texts(
        app,
        &format!("SELECT zoho_sync_status AS t FROM product_variants WHERE full_sku = '{sku}'"),
    )
    .pop()
    .unwrap_or_default()
}

#[tokio::test]
async fn families_identities_and_variants_are_made_and_edited_from_the_pages() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("admin").await;

    // A family: the next free number is suggested; bad input is refused in words.
    let list = admin.text("/catalog/families").await;
    assert!(
        list.contains("Solar Lantern") && list.contains("00140"),
        "{list}"
    );
    assert!(list.contains("New product family"), "{list}");
    // Entries to correct answer 422; a number already taken clashes with a family (409, as the
    // API answers).
    for (number, name, says, status) in [
        ("abc", "Water Filter Jug", "whole number", 422),
        ("0", "Water Filter Jug", "1 to 99999", 422),
        ("901", "Water\u{0}Jug", "control character", 422),
        ("901", "", "this is required", 422),
        ("140", "Another lantern", "already exists", 409),
    ] {
        let fields = form_of(
            &list,
            "/catalog/families",
            &[("product_id", number), ("base_name", name)],
        );
        let res = post(&admin, "/catalog/families", &fields).await;
        assert_eq!(res.status(), status, "{number} {name:?}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains(says) && text.contains("Nothing was saved"),
            "{says}: {text}"
        );
        assert!(
            text.contains(&format!("value=\"{number}\"")),
            "the entry is kept: {text}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM product_families WHERE product_id = 901"),
        0
    );
    // Each refusal spent its op id; the form shown again carries a new one.
    let list = admin.text("/catalog/families").await;
    let fields = form_of(
        &list,
        "/catalog/families",
        &[("product_id", "901"), ("base_name", "Water Filter Jug")],
    );
    let res = post(&admin, "/catalog/families", &fields).await;
    assert_eq!(location(&res), "/catalog/families/901");
    // A double submit applies once.
    let again = post(&admin, "/catalog/families", &fields).await;
    assert_eq!(again.status(), 303);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'catalog.family_create' AND outcome = 'applied'"), 1);

    // An identity, with its UPIS-H shown before it is made.
    let family = admin.text("/catalog/families/901").await;
    assert!(
        family.contains("Water Filter Jug") && family.contains("00901-P-1"),
        "{family}"
    );
    let bad = form_of(
        &family,
        "/catalog/families/901/identities",
        &[("type", "PK"), ("lci", "1"), ("physical_class", "G")],
    );
    let res = post(&admin, "/catalog/families/901/identities", &bad).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("one capital letter"));
    let family = admin.text("/catalog/families/901").await;
    let fields = form_of(
        &family,
        "/catalog/families/901/identities",
        &[("type", "p"), ("lci", "1"), ("physical_class", "g")],
    );
    let res = post(&admin, "/catalog/families/901/identities", &fields).await;
    assert_eq!(location(&res), "/catalog/families/901");
    let identity =
        app.id_of("SELECT id FROM product_identities WHERE generated_upis_h = '00901-P-1'");

    // A variant, as a sales rep makes one: the SKU is shown; the price may carry separators.
    let sales = app.signed_in("sales").await;
    let new = sales
        .text(&format!("/catalog/variants/new?identity={identity}"))
        .await;
    assert!(new.contains("00901-P-1-NA-N"), "the SKU preview: {new}");
    assert!(
        new.contains("value=\"Water Filter Jug\""),
        "described by its family: {new}"
    );
    let id = identity.to_string();
    for (price, says) in [("free", "enter a price"), ("-3", "enter a price")] {
        let fields = form_of(
            &new,
            "/catalog/variants",
            &[
                ("identity_id", &id),
                ("color_code", "BK"),
                ("condition_code", "N"),
                ("listing_price", price),
                ("description", "Jug"),
            ],
        );
        let res = post(&sales, "/catalog/variants", &fields).await;
        assert_eq!(res.status(), 422, "{price}");
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    let new = sales
        .text(&format!("/catalog/variants/new?identity={identity}"))
        .await;
    let fields = form_of(
        &new,
        "/catalog/variants",
        &[
            ("identity_id", &id),
            ("color_code", "BK"),
            ("condition_code", "N"),
            ("listing_price", "1,250.5"),
            ("description", "Water filter jug, black"),
        ],
    );
    let res = post(&sales, "/catalog/variants", &fields).await;
    assert_eq!(location(&res), "/catalog/variants/00901-P-1-BK-N");
    let page = sales.text("/catalog/variants/00901-P-1-BK-N").await;
    for expected in [
        "Water filter jug, black",
        "1,250.50",
        "Black",
        "New",
        "Not yet sent to Zoho",
        "00901-P-1",
        // This server has no Zoho settings: nothing says the variant goes there.
        "Zoho sync is off on this server",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(!page.contains("in the background"), "{page}");
    // The same colour and condition again: refused, and the form says which are taken.
    let new = sales
        .text(&format!("/catalog/variants/new?identity={identity}"))
        .await;
    assert!(
        new.contains("already has <code>00901-P-1-BK-N</code>"),
        "{new}"
    );
    let fields = form_of(
        &new,
        "/catalog/variants",
        &[
            ("identity_id", &id),
            ("color_code", "BK"),
            ("condition_code", "N"),
            ("listing_price", "3"),
            ("description", ""),
        ],
    );
    let res = post(&sales, "/catalog/variants", &fields).await;
    assert_eq!(res.status(), 409, "a clash with an existing variant");
    assert!(res.text().await.unwrap().contains("already has a variant"));

    // Edit: a price change of a variant Zoho knows marks it changed; unticking makes it inactive.
    crate::sales::texts(&app, "UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'Z-1' WHERE full_sku = '00901-P-1-BK-N' RETURNING full_sku AS t");
    let page = sales.text("/catalog/variants/00901-P-1-BK-N").await;
    let edit = |page: &str, price: &'static str, active: bool| {
        let mut f = form_of(
            page,
            "/catalog/variants/00901-P-1-BK-N",
            &[
                ("listing_price", price),
                ("description", "Water filter jug, black"),
                ("active_shown", "1"),
            ],
        );
        if active {
            f.push(("active", "1".into()));
        }
        f
    };
    let res = post(
        &sales,
        "/catalog/variants/00901-P-1-BK-N",
        &edit(&page, "twelve", true),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        sync_status(&app, "00901-P-1-BK-N"),
        "SYNCED",
        "nothing written"
    );
    let page = sales.text("/catalog/variants/00901-P-1-BK-N").await;
    let res = post(
        &sales,
        "/catalog/variants/00901-P-1-BK-N",
        &edit(&page, "1,199.00", false),
    )
    .await;
    assert_eq!(location(&res), "/catalog/variants/00901-P-1-BK-N");
    assert_eq!(sync_status(&app, "00901-P-1-BK-N"), "DIRTY");
    let page = sales.text("/catalog/variants/00901-P-1-BK-N").await;
    assert!(
        page.contains("1,199.00")
            && page.contains("Changed since the last sync")
            && page.contains("inactive"),
        "{page}"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'catalog.variant_update' AND outcome = 'applied'"), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn roles_decide_who_manages_the_catalog_and_who_sees_its_zoho_state() {
    let app = TestApp::builder().with_demo_world().start().await;
    // A sales rep makes variants but not families or identities.
    let sales = app.signed_in("sales").await;
    let list = sales.text("/catalog/families").await;
    assert!(!list.contains("New product family"), "{list}");
    let family = sales.text("/catalog/families/140").await;
    assert!(
        !family.contains("New identity") && family.contains("Add a variant"),
        "{family}"
    );
    let csrf = sales.csrf().await;
    let res = sales
        .post_form(
            "/catalog/families",
            &[
                ("csrf_token", &csrf),
                ("op_id", &uuid::Uuid::new_v4().to_string()),
                ("product_id", "902"),
                ("base_name", "Sneaky"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403, "refused by role, as the API refuses it");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("may not create product families"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM product_families WHERE product_id = 902"),
        0
    );

    // A warehouse operator reads the catalog but does not change it.
    let warehouse = app.signed_in("warehouse").await;
    assert_eq!(warehouse.get("/catalog/variants/new").await.status(), 403);
    let page = warehouse.text("/catalog/variants/00140-E-1-NA-N").await;
    assert!(
        !page.contains("Change price") && !page.contains("Zoho"),
        "{page}"
    );

    // A customer sees prices, not the Zoho sync state (an internal word) nor stock links.
    let customer = app.signed_in("customer").await;
    let catalog = customer.text("/catalog").await;
    assert!(
        !catalog.contains("Zoho") && !catalog.contains("Not yet sent"),
        "{catalog}"
    );
    let page = customer.text("/catalog/variants/00140-E-1-NA-N").await;
    assert!(
        !page.contains("Zoho") && !page.contains("Stock at your hubs"),
        "{page}"
    );
    // The catalog managers do see it, in words.
    assert!(sales
        .text("/catalog")
        .await
        .contains("Not yet sent to Zoho"));
    // Without a Zoho configuration there is nothing to sync now.
    let admin = app.signed_in("admin").await;
    assert!(!admin
        .text("/catalog/variants/00140-E-1-NA-N")
        .await
        .contains("Send to Zoho now"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_syncs_a_failed_variant_now_from_its_page() {
    let zoho = crate::fake_zoho::FakeZoho::start().await;
    let app = crate::zoho::builder_for(&zoho).start().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let admin = app.signed_in("admin").await;
    let new = admin.text("/catalog/variants/new?identity=1").await;
    let fields = form_of(
        &new,
        "/catalog/variants",
        &[
            ("identity_id", "1"),
            ("color_code", "SL"),
            ("condition_code", "D"),
            ("listing_price", "9.90"),
            ("description", "Bottled water, dented"),
        ],
    );
    let res = post(&admin, "/catalog/variants", &fields).await;
    let path = location(&res);
    let sku = path.rsplit('/').next().unwrap().to_string();
    // The running worker sends it to the fake Zoho.
    let mut synced = false;
    for _ in 0..100 {
        if sync_status(&app, &sku) == "SYNCED" {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "the new variant reached Zoho");
    let page = admin.text(&path).await;
    assert!(
        page.contains("In step with Zoho") && !page.contains("Send to Zoho now"),
        "{page}"
    );

    // A failed sync: the admin sees the error and sends it again from the page.
    crate::sales::texts(&app, &format!("UPDATE product_variants SET zoho_sync_status = 'ERROR', zoho_last_error = 'Invalid value passed for rate' WHERE full_sku = '{sku}' RETURNING full_sku AS t"));
    let page = admin.text(&path).await;
    assert!(
        page.contains("Sync failed")
            && page.contains("Invalid value passed for rate")
            && page.contains("Send to Zoho now"),
        "{page}"
    );
    let csrf = admin.csrf().await;
    let res = admin
        .post_form(&format!("{path}/sync"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(location(&res), path);
    let mut back = false;
    for _ in 0..100 {
        if sync_status(&app, &sku) == "SYNCED" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "synced again: {}", sync_status(&app, &sku));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'job.retried'"),
        1
    );
    // Only admins may.
    let sales = app.signed_in("sales").await;
    let csrf = sales.csrf().await;
    assert_eq!(
        sales
            .post_form(&format!("{path}/sync"), &[("csrf_token", &csrf)])
            .await
            .status(),
        403
    );
    let _ = stop_tx.send(());
    worker.await.unwrap().unwrap();
    app.shutdown().await;
    zoho.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sku_is_previewed_as_the_person_chooses() {
    let world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("sales").await;
    chrome.goto("/catalog/variants/new?identity=1").await;
    let preview = "return document.getElementById('sku-preview').textContent";
    assert_eq!(chrome.js(preview, json!([])).await, json!("00101-P-1-NA-N"));
    chrome
        .js("var s = document.getElementById('color_code'); s.value = 'WH'; s.dispatchEvent(new Event('change', {bubbles: true}));", json!([]))
        .await;
    chrome
        .js("var s = document.getElementById('condition_code'); s.value = 'R'; s.dispatchEvent(new Event('change', {bubbles: true}));", json!([]))
        .await;
    assert_eq!(chrome.js(preview, json!([])).await, json!("00101-P-1-WH-R"));
    chrome.type_into("#listing_price", "4.75").await;
    chrome.submit("form[data-sku-preview]", &[]).await;
    assert!(
        chrome
            .wait_for(
                "location.pathname === '/catalog/variants/00101-P-1-WH-R'",
                Duration::from_secs(10)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    assert!(chrome.body_text().await.contains("Variant created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_a_product_line_in_the_browser_and_a_sales_rep_sells_one() {
    let world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("admin").await;
    // The new-family form is folded away until wanted; the next free number is suggested.
    chrome.goto("/catalog/families").await;
    chrome.click("details.disclosure summary").await;
    chrome.type_into("#base_name", "Water Filter Jug").await;
    let number = chrome
        .js(
            "return document.getElementById('product_id').value",
            json!([]),
        )
        .await;
    let number = number.as_str().unwrap().to_string();
    chrome.submit("form[action='/catalog/families']", &[]).await;
    assert_eq!(chrome.path().await, format!("/catalog/families/{number}"));
    assert!(chrome.body_text().await.contains("Product family created"));
    // The identity's UPIS-H is shown while it is typed.
    chrome.type_into("#type", "k").await;
    let code = format!("{:05}-K-1", number.parse::<i32>().unwrap());
    assert!(
        chrome
            .wait_for(
                &format!("document.getElementById('upis-preview').textContent === '{code}'"),
                Duration::from_secs(5)
            )
            .await,
        "{}",
        chrome
            .js(
                "return document.getElementById('upis-preview').textContent",
                json!([])
            )
            .await
    );
    chrome.submit("form[data-upis-preview]", &[]).await;
    assert!(
        chrome
            .body_text()
            .await
            .contains(&format!("Identity {code} created")),
        "{}",
        chrome.body_text().await
    );
    // Its first variant, from the identity's own link.
    chrome.click(".card a.button.secondary").await;
    assert!(
        chrome
            .wait_for(
                "!!document.getElementById('sku-preview')",
                Duration::from_secs(10)
            )
            .await
    );
    chrome.type_into("#listing_price", "1,250").await;
    chrome.submit("form[data-sku-preview]", &[]).await;
    let sku = format!("{code}-NA-N");
    assert_eq!(chrome.path().await, format!("/catalog/variants/{sku}"));
    assert!(chrome.body_text().await.contains("1,250.00"));

    // Received at Kingston, then sold from its page by a sales rep at the list price.
    chrome.sign_out().await;
    chrome.sign_in("warehouse").await;
    chrome.goto("/warehouse/receive").await;
    chrome
        .submit(
            "form[action='/warehouse/receive']",
            &[
                ("variant_sku", &sku),
                ("location_code", "J-01"),
                ("serial_number", "JUG-0001"),
            ],
        )
        .await;
    let id = world.count("SELECT id AS n FROM inventory_items WHERE serial_number = 'JUG-0001'");
    chrome.sign_out().await;
    chrome.sign_in("sales").await;
    chrome.goto("/warehouse/items?q=JUG").await;
    chrome
        .click(&format!("a[href='/warehouse/items/{id}']"))
        .await;
    assert!(
        chrome
            .wait_for(
                "document.body.textContent.includes('Reserve or sell')",
                Duration::from_secs(10)
            )
            .await
    );
    assert_eq!(
        chrome
            .js(
                "return document.getElementById('sale_price').value",
                json!([])
            )
            .await,
        json!("1250.00")
    );
    chrome
        .submit(&format!("form[action='/warehouse/items/{id}/sell']"), &[])
        .await;
    assert!(
        chrome.body_text().await.contains("Item sold."),
        "{}",
        chrome.body_text().await
    );
    assert_eq!(
        world.count(&format!(
            "SELECT count(*) AS n FROM inventory_items WHERE id = {id} AND status = 'SOLD'"
        )),
        1
    );
}

#[tokio::test]
async fn an_admin_renames_a_family_and_its_variants_zoho_has_are_sent_again() {
    let app = TestApp::builder().with_demo_world().start().await;
    crate::sales::texts(&app, "UPDATE product_variants SET zoho_sync_status = 'SYNCED', zoho_item_id = 'Z-140' WHERE full_sku = '00140-E-1-NA-N' RETURNING full_sku AS t");
    let admin = app.signed_in("admin").await;
    let page = admin.text("/catalog/families/140").await;
    assert!(page.contains("Rename this family"), "{page}");
    let action = "/catalog/families/140";
    let rename = |page: &str, name: &'static str| {
        let mut f = form_of(page, action, &[("base_name", name)]);
        f.push(("rename", "1".into()));
        f
    };
    let res = post(&admin, action, &rename(&page, " ")).await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("this is required") && text.contains("Nothing was saved"),
        "{text}"
    );
    assert!(
        text.find("Nothing was saved").unwrap() < text.find("New identity").unwrap(),
        "the error is shown at the top, not in the identity form"
    );
    let page = admin.text("/catalog/families/140").await;
    let res = post(&admin, action, &rename(&page, "Solar Lantern Pro")).await;
    assert_eq!(location(&res), action);
    assert!(admin.text(action).await.contains("Solar Lantern Pro"));
    assert_eq!(
        sync_status(&app, "00140-E-1-NA-N"),
        "DIRTY",
        "Zoho's item name changes with it"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'catalog.family_rename' AND outcome = 'applied'"), 1);
    // Only admins rename families.
    let sales = app.signed_in("sales").await;
    assert!(!sales.text(action).await.contains("Rename this family"));
    let csrf = sales.csrf().await;
    let res = sales
        .post_form(
            action,
            &[
                ("csrf_token", &csrf),
                ("op_id", &uuid::Uuid::new_v4().to_string()),
                ("rename", "1"),
                ("base_name", "Mine"),
            ],
        )
        .await;
    // Refused by role, in the same status as the API's.
    assert_eq!(res.status(), 403);
    assert!(!admin.text(action).await.contains("Mine"));
    app.shutdown().await;
}

/// Issue 30, finding 10: a new variant has its unit and, for someone who may see costs, its
/// cost, so margins and the below-cost rule apply to it; nobody else can set a cost, on the
/// page or through the API.
#[tokio::test]
async fn a_new_variant_has_a_unit_and_a_cost_set_by_those_who_see_costs() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("admin").await;
    let new = admin.text("/catalog/variants/new?identity=1").await;
    assert!(
        new.contains("id=\"cost\"") && new.contains("id=\"unit\""),
        "{new}"
    );
    assert!(
        !new.contains("in the background"),
        "Zoho is off here: {new}"
    );
    let fields = form_of(
        &new,
        "/catalog/variants",
        &[
            ("identity_id", "1"),
            ("color_code", "RD"),
            ("condition_code", "R"),
            ("listing_price", "14.50"),
            ("cost", "9.80"),
            ("unit", "case of 24"),
            ("description", "Refurbished, red"),
        ],
    );
    let res = post(&admin, "/catalog/variants", &fields).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        crate::sales::texts(&app, "SELECT cost_cents || ' ' || unit AS t FROM product_variants WHERE identity_id = 1 AND color_code = 'RD' AND condition_code = 'R'"),
        vec!["980 case of 24"]
    );
    // A bad unit is named on the form, and nothing is made.
    let new = admin.text("/catalog/variants/new?identity=1").await;
    let fields = form_of(
        &new,
        "/catalog/variants",
        &[
            ("identity_id", "1"),
            ("color_code", "BL"),
            ("condition_code", "R"),
            ("listing_price", "14.50"),
            ("unit", "case <b>"),
        ],
    );
    let res = post(&admin, "/catalog/variants", &fields).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("1–24 letters"));
    // The sales rep does not see costs: no field, and a cost through the API is refused.
    let sales = app.signed_in("sales").await;
    let page = sales.text("/catalog/variants/new?identity=1").await;
    assert!(
        !page.contains("id=\"cost\"") && page.contains("id=\"unit\""),
        "{page}"
    );
    let token = app.token("sales").await;
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/variants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "identity_id": 1, "color_code": "GN", "condition_code": "R", "listing_price": 10.0, "cost": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM product_variants WHERE identity_id = 1 AND color_code = 'GN' AND condition_code = 'R'"),
        0
    );
    app.shutdown().await;
}
