//! Issue 30, finding 6: every page fits a phone. Signed in as each demo user, the test opens
//! every page of that user's menu and every "/new" form linked from them, at 390 × 844: no
//! page is wider than the screen (the browser would zoom the whole page out), the header
//! leaves the screen to the work, every checkbox, radio and button is a target of at least
//! 24 × 24 px (WCAG 2.2, 2.5.8), and long lists page instead of growing without end.
//! With `OUTPOST_SCREENSHOTS=<dir>` it saves each user's home page at phone and desktop width.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::browser::Chrome;
use crate::offline::World;

/// What a page measures at the phone's width: its scroll width and height, the header's
/// height, the controls smaller than 24 px (by what they are), and where its menu and its
/// "/new" forms lead.
const MEASURE: &str = "const small = Array.from(document.querySelectorAll('input[type=checkbox], input[type=radio], button, a.button, summary, td a')).filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.width < 24 || r.height < 24); }).map(e => (e.id || e.name || e.textContent.trim()).slice(0, 30)); const h = document.querySelector('.site-header'); const here = a => a.origin === location.origin ? a.pathname : null; return { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight, header: h ? Math.round(h.getBoundingClientRect().height) : 0, small: small, menu: Array.from(document.querySelectorAll('.nav-wide a')).map(here).filter(Boolean), forms: Array.from(document.querySelectorAll('main a[href]')).map(here).filter(p => p && /\\/new$/.test(p)) };";

/// The tallest a page of the demo world may be on a phone: a list pages long before this
/// (the finding was lists 8,000–17,000 px tall; a page of 50 compact catalog cards, each
/// with its 24 px link, is about 7,250).
const TALLEST: i64 = 7_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_every_role_fits_a_phone() {
    let world = World::start();
    let chrome = Chrome::start(&world.server.url(), true).await;
    let shots = std::env::var("OUTPOST_SCREENSHOTS").ok();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (user, _) in outpost::demo::seed::DEMO_LOGINS {
        chrome.resize(390, 844).await;
        chrome.sign_in(user).await;
        if let Some(dir) = &shots {
            let dir = std::path::Path::new(dir);
            chrome
                .screenshot(&dir.join(format!("home-{user}-desktop.png")), 1280)
                .await;
            chrome
                .screenshot(&dir.join(format!("home-{user}-phone.png")), 390)
                .await;
            chrome.resize(390, 844).await;
        }
        let home: Value = chrome.js(MEASURE, json!([])).await;
        let mut queue: Vec<String> = vec!["/".into()];
        queue.extend(paths(&home["menu"]));
        queue.extend(paths(&home["forms"]));
        let mut visited = BTreeSet::new();
        while let Some(path) = queue.pop() {
            if !visited.insert(path.clone()) {
                continue;
            }
            chrome.goto(&path).await;
            let m: Value = chrome.js(MEASURE, json!([])).await;
            queue.extend(paths(&m["forms"]));
            let found = faults(user, &path, &m);
            if let (Some(dir), false) = (&shots, found.is_empty()) {
                let name = format!("fault-{user}{}.png", path.replace('/', "-"));
                chrome
                    .screenshot(&std::path::Path::new(dir).join(name), 390)
                    .await;
                chrome.resize(390, 844).await;
            }
            wrong.extend(found);
        }
        seen += visited.len();
        chrome.sign_out().await;
    }
    assert!(seen > 80, "the menus led to only {seen} pages");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn paths(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// What is wrong with a page at the phone's width, in words.
fn faults(user: &str, path: &str, m: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let number = |k: &str| m[k].as_i64().unwrap_or(0);
    if number("width") > 390 {
        wrong.push(format!("{user} {path}: {} px wide", number("width")));
    }
    if number("header") > 160 {
        wrong.push(format!(
            "{user} {path}: the header takes {} of 844 px",
            number("header")
        ));
    }
    if number("height") > TALLEST {
        wrong.push(format!(
            "{user} {path}: {} px tall (a long list should page)",
            number("height")
        ));
    }
    if m["small"].as_array().is_some_and(|s| !s.is_empty()) {
        wrong.push(format!(
            "{user} {path}: targets under 24 px: {}",
            m["small"]
        ));
    }
    wrong
}
