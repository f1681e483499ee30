//! Issue 30, finding 1: each role's home page lists its open work at its hubs, with links, and
//! its everyday actions as buttons. Work is made through the sync API as the people whose work
//! it is would make it; then each of the eleven demo users signs in, in Chromium, and reads their
//! page.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::browser::Chrome;
use crate::offline::World;

const WATER: &str = "00101-P-1-NA-N";

/// Sends operations as `username` through the sync API; its answer.
async fn sync(url: &str, username: &str, ops: Vec<(&str, Value)>) -> Value {
    let operations: Vec<Value> = ops
        .into_iter()
        .map(|(kind, payload)| json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": chrono::Utc::now() }))
        .collect();
    reqwest::Client::new()
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(crate::live::token(url, username).await)
        .json(&json!({ "operations": operations }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends operations as `username`; each must take effect.
async fn as_user(url: &str, username: &str, ops: Vec<(&str, Value)>) {
    let r = sync(url, username, ops).await;
    for item in r["results"].as_array().unwrap() {
        assert_eq!(item["result"]["status"], "applied", "{username}: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_finds_its_open_work_and_its_actions_on_the_home_page() {
    let world = World::start();
    let url = world.server.url();
    let (kin, mbj, man, hra) = (
        world.hub_id("KIN-MAIN"),
        world.hub_id("MBJ-SUB"),
        world.hub_id("MAN-SUB"),
        world.hub_id("HRA-PORT"),
    );
    let (inbound, outbound, asked) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let request = |t: Uuid| {
        (
            "transfer.request",
            json!({ "transfer_id": t, "hub_id": mbj, "from_hub_id": kin, "lines": [{ "sku": WATER, "quantity": 2 }] }),
        )
    };
    as_user(
        &url,
        "depot",
        vec![request(inbound), request(outbound), request(asked)],
    )
    .await;
    as_user(
        &url,
        "logistics",
        vec![
            (
                "transfer.approve",
                json!({ "transfer_id": inbound, "hub_id": kin }),
            ),
            (
                "transfer.approve",
                json!({ "transfer_id": outbound, "hub_id": kin }),
            ),
        ],
    )
    .await;
    as_user(
        &url,
        "warehouse",
        vec![(
            "transfer.dispatch",
            json!({ "transfer_id": inbound, "hub_id": kin }),
        )],
    )
    .await;
    let shelter = world.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    as_user(&url, "sales", vec![("sale.create", json!({ "sale_id": Uuid::new_v4(), "hub_id": kin, "customer_id": shelter, "lines": [{ "sku": WATER, "quantity": 1 }] }))]).await;
    as_user(&url, "driver", vec![("distribution.create", json!({ "distribution_id": Uuid::new_v4(), "hub_id": man, "recipient": "Christiana Clinic", "lines": [{ "sku": WATER, "quantity": 1 }] }))]).await;
    let sent = Uuid::new_v4();
    as_user(&url, "agency", vec![
        ("needs_list.create", json!({ "needs_list_id": Uuid::new_v4(), "hub_id": hra, "title": "Tarps for Portland", "lines": [{ "sku": WATER, "quantity": 5 }] })),
        ("needs_list.create", json!({ "needs_list_id": sent, "hub_id": hra, "title": "Water for Buff Bay", "lines": [{ "sku": WATER, "quantity": 5 }] })),
        ("needs_list.submit", json!({ "needs_list_id": sent, "hub_id": hra })),
    ]).await;
    world.count(&format!("WITH q AS (INSERT INTO badge_quotas (customer_id, copy_limit, remaining, period, period_start, next_reset_at) VALUES ({shelter}, 10, 7, 'month', now(), now() + interval '30 days') RETURNING 1) SELECT count(*) AS n FROM q"));

    // (user, texts their home page shows, texts it must not show)
    let expectations: [(&str, &[&str], &[&str]); 11] = [
        (
            "depot",
            &[
                "Transfer from Kingston Main Warehouse on its way in: receive it",
                "Record an intake",
                "New needs list",
            ],
            &["Transfer to Montego Bay"],
        ),
        (
            "warehouse",
            &[
                "Transfer to Montego Bay Sub-Hub approved: dispatch it",
                "Receive items",
                "Record an intake",
            ],
            &["on its way in"],
        ),
        (
            "logistics",
            &[
                "Transfer request to approve",
                "Distribution to Christiana Clinic to confirm",
                "Request a transfer",
                "Review queue",
            ],
            &[],
        ),
        (
            "sales",
            &[
                "Draft sale for Trench Town Community Shelter: finish or cancel it",
                "New sale",
            ],
            &["Record an intake"],
        ),
        (
            "driver",
            &["New distribution"],
            &["Record an intake", "to confirm"],
        ),
        (
            "customer",
            &["Badge copies left", "Request a badge copy", "My orders"],
            &["Access refused"],
        ),
        (
            "agency",
            &["Needs list not yet submitted: Tarps for Portland"],
            &["on its way in"],
        ),
        (
            "agency-lead",
            &[
                "Needs list to decide: Water for Buff Bay",
                "Request a transfer",
            ],
            &["Tarps for Portland"],
        ),
        ("auditor", &["Audit log", "Sales"], &["Record an intake"]),
        ("admin", &["New user", "Audit log"], &[]),
        ("superadmin", &["New user", "Audit log"], &[]),
    ];
    // A customer user's own refused entry is not their account's history.
    let r = sync(&url, "customer", vec![("intake.create", json!({}))]).await;
    assert_eq!(r["results"][0]["result"]["status"], "rejected", "{r}");
    let chrome = Chrome::start(&url, true).await;
    // The customer once met five "Access refused" rows: a refused visit must not show.
    chrome.sign_in("customer").await;
    chrome.goto("/admin/users").await;
    chrome.sign_out().await;
    for (user, shown, hidden) in expectations {
        chrome.sign_in(user).await;
        let text = chrome.body_text().await;
        for want in shown {
            assert!(text.contains(want), "{user} should see {want:?}: {text}");
        }
        for unwanted in hidden {
            assert!(
                !text.contains(unwanted),
                "{user} should not see {unwanted:?}: {text}"
            );
        }
        // Every item in "Waiting for you" and every quick action is a link that opens.
        let links = chrome
            .js("return Array.from(document.querySelectorAll('#pending-title + ul a, .quick-actions a')).map(a => a.getAttribute('href'))", json!([]))
            .await;
        for href in links.as_array().unwrap() {
            let href = href.as_str().unwrap();
            chrome.goto(href).await;
            // An error page (404, 403, 405 …) is the one with `.error-page`; a page may well
            // quote a refusal in its own content (the audit log does).
            let error = chrome
                .js("const e = document.querySelector('.error-page'); return e ? e.innerText : null", json!([]))
                .await;
            assert!(error.is_null(), "{user}: {href}: {error}");
        }
        if user == "customer" {
            chrome.goto("/").await;
            let left = chrome
                .js("return document.querySelector('[data-tile=\"Badge copies left\"]').textContent", json!([]))
                .await;
            assert_eq!(left, json!("7"));
            let activity = chrome
                .js(
                    "var a = document.getElementById('activity-log'); return a ? a.innerText : ''",
                    json!([]),
                )
                .await;
            assert!(
                !activity.as_str().unwrap_or_default().contains("Refused"),
                "their own refused entry is not shown: {activity}"
            );
        }
        if user == "depot" {
            chrome.goto("/").await;
            let waiting = chrome
                .js(
                    "return document.querySelector('[data-tile=\"Waiting for you\"]').textContent",
                    json!([]),
                )
                .await;
            assert_eq!(waiting, json!("1"), "the transfer on its way in counts");
        }
        chrome.sign_out().await;
    }
}
