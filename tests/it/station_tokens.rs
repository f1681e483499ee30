//! Issue 30, finding 8: a station's token in the browser. Rotating asks first and says what it
//! does; a new token is shown on a page of its own, once, with a Copy button; a reload of that
//! page shows it no more and rotates nothing.

use std::time::Duration;

use serde_json::json;

use crate::browser::Chrome;
use crate::offline::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_rotated_after_a_question_and_shown_once_with_a_copy_button() {
    let world = World::start();
    let url = world.server.url();
    let chrome = Chrome::start(&url, true).await;
    chrome.sign_in("admin").await;
    chrome.goto("/admin/stations").await;
    let kin = world.hub_id("KIN-MAIN").to_string();
    chrome
        .submit(
            "form[action='/admin/stations']",
            &[
                ("code", "DESK_01"),
                ("name", "Front desk"),
                ("hub_id", &kin),
            ],
        )
        .await;
    assert_eq!(
        chrome.js("return location.pathname", json!([])).await,
        "/admin/stations/token"
    );
    let first = shown(&chrome).await;
    assert!(first.as_str().is_some_and(|t| t.len() > 20), "{first}");
    // The Copy button: shown by the script, and it says what it did.
    assert_eq!(
        chrome
            .js(
                "return document.querySelector('button[data-copy]').hidden",
                json!([])
            )
            .await,
        false
    );
    chrome.click("button[data-copy]").await;
    assert!(
        chrome
            .wait_for(
                "document.getElementById('copy-note').textContent !== ''",
                Duration::from_secs(5)
            )
            .await,
        "{}",
        chrome.body_text().await
    );
    shots(&chrome, "station-token").await;
    // A reload: the token is gone, and nothing was made again.
    chrome.goto("/admin/stations/token").await;
    assert_eq!(
        chrome.js("return location.pathname", json!([])).await,
        "/admin/stations"
    );
    assert!(chrome.body_text().await.contains("shown once"));
    assert_eq!(
        world.count("SELECT count(*) AS n FROM api_tokens WHERE station_id IS NOT NULL"),
        1
    );

    // Rotating: a link to a question first, which revokes nothing.
    chrome.click("a[href$='/rotate']").await;
    assert!(
        chrome
            .wait_for(
                "location.pathname.endsWith('/rotate')",
                Duration::from_secs(10)
            )
            .await
    );
    let asked = chrome.body_text().await;
    assert!(
        asked.contains("Rotating revokes the token the station uses now"),
        "{asked}"
    );
    shots(&chrome, "station-rotate").await;
    assert_eq!(
        world.count("SELECT count(*) AS n FROM api_tokens WHERE station_id IS NOT NULL AND revoked_at IS NULL"),
        1
    );
    chrome.submit("form[action$='/rotate']", &[]).await;
    let second = shown(&chrome).await;
    assert!(
        second.as_str().is_some_and(|t| t.len() > 20) && second != first,
        "{second}"
    );
    assert_eq!(
        world.count("SELECT count(*) AS n FROM api_tokens WHERE station_id IS NOT NULL AND revoked_at IS NULL"),
        1,
        "the old token revoked, one live"
    );
    chrome.assert_console_clean();
}

/// The token field's value on the page (empty when there is none).
async fn shown(chrome: &Chrome) -> serde_json::Value {
    chrome
        .js(
            "var f = document.getElementById('station-token'); return f ? f.value : ''",
            json!([]),
        )
        .await
}

/// Screenshots at both widths, for a person to look at, when OUTPOST_SCREENSHOTS names a folder.
async fn shots(chrome: &Chrome, name: &str) {
    let Ok(dir) = std::env::var("OUTPOST_SCREENSHOTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (suffix, width) in [("desktop", 1280), ("phone", 390)] {
        chrome
            .screenshot(&dir.join(format!("{name}-{suffix}.png")), width)
            .await;
    }
}
