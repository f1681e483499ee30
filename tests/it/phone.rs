//! Issue 30, finding 6: every page fits a phone. At 390 × 844 no page of any role is wider
//! than the screen (the browser would zoom the whole page out), the header leaves the screen
//! to the work, and every checkbox, radio and button is a target of at least 24 × 24 px
//! (WCAG 2.2, 2.5.8).

use serde_json::{json, Value};

use crate::browser::Chrome;
use crate::offline::World;

/// What a page measures at the phone's width: its scroll width, the header's height, and the
/// controls smaller than 24 px (by what they are).
const MEASURE: &str = "const small = Array.from(document.querySelectorAll('input[type=checkbox], input[type=radio], button, a.button')).filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.width < 24 || r.height < 24); }).map(e => (e.id || e.name || e.textContent.trim()).slice(0, 30)); const h = document.querySelector('.site-header'); return { width: document.documentElement.scrollWidth, header: h ? Math.round(h.getBoundingClientRect().height) : 0, small: small };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_every_role_fits_a_phone() {
    let world = World::start();
    let (kin, mbj) = (world.hub_id("KIN-MAIN"), world.hub_id("MBJ-SUB"));
    let shelter = world.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    let pages: [(&str, Vec<String>); 5] = [
        (
            "warehouse",
            vec![
                "/".into(),
                format!("/hubs/{kin}"),
                format!("/hubs/{kin}/intakes/new"),
                format!("/hubs/{kin}/distributions/new"),
                format!("/hubs/{kin}/intakes"),
                "/warehouse/receive".into(),
                "/warehouse/items".into(),
                "/sync-issues".into(),
            ],
        ),
        (
            "depot",
            vec![
                format!("/hubs/{mbj}/needs-lists/new"),
                format!("/hubs/{mbj}/transfers/new"),
                format!("/hubs/{mbj}/counts"),
            ],
        ),
        (
            "sales",
            vec!["/sales".into(), format!("/hubs/{kin}/sales/new")],
        ),
        (
            "admin",
            vec![
                "/admin/users".into(),
                "/admin/users/new".into(),
                "/admin/stations".into(),
                "/admin/customers".into(),
                format!("/admin/customers/{shelter}"),
                "/audit".into(),
                "/catalog".into(),
            ],
        ),
        (
            "customer",
            vec!["/".into(), "/badges".into(), "/orders".into()],
        ),
    ];
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.resize(390, 844).await;
    let mut wrong = Vec::new();
    for (user, paths) in pages {
        chrome.sign_in(user).await;
        for path in paths {
            chrome.goto(&path).await;
            let m: Value = chrome.js(MEASURE, json!([])).await;
            if let Ok(dir) = std::env::var("OUTPOST_SCREENSHOTS") {
                let name = format!("phone-{user}{}.png", path.replace('/', "-"));
                chrome
                    .screenshot(&std::path::Path::new(&dir).join(name), 390)
                    .await;
                chrome.resize(390, 844).await;
            }
            let width = m["width"].as_i64().unwrap_or(0);
            let header = m["header"].as_i64().unwrap_or(0);
            if width > 390 {
                wrong.push(format!("{user} {path}: {width} px wide"));
            }
            if header > 160 {
                wrong.push(format!(
                    "{user} {path}: the header takes {header} of 844 px"
                ));
            }
            if m["small"].as_array().is_some_and(|s| !s.is_empty()) {
                wrong.push(format!(
                    "{user} {path}: targets under 24 px: {}",
                    m["small"]
                ));
            }
        }
        chrome.sign_out().await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
