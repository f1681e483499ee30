//! Issue 31: `/metrics` in the Prometheus text format — what was asked for is there, labelled
//! by route pattern (never by a concrete path), every line parses, and it answers only whom it
//! should: a scraper on this machine without a token, else the bearer token alone.

use serde_json::json;
use uuid::Uuid;

use crate::common::TestApp;

/// Every sample line is `name{label="value",…} number`, as the exposition format says.
fn samples(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for line in &lines {
        let (series, number) = line.rsplit_once(' ').expect("a value");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        let labels = &series[name_end..];
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && (labels.is_empty()
                || (labels.starts_with('{') && labels.ends_with("\"}") && labels.contains("=\"")))
            && (number.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&number));
        assert!(well_formed, "not a sample line: {line:?}");
    }
    lines
}

fn value(lines: &[&str], starts: &str) -> f64 {
    lines
        .iter()
        .find(|l| l.starts_with(starts))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {starts}: {lines:#?}"))
}

#[tokio::test]
async fn metrics_show_requests_operations_pools_queues_and_backlogs() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let b = app.signed_in("warehouse").await;
    b.text(&format!("/hubs/{kin}/intakes")).await;
    let token = app.token("warehouse").await;
    let op = |sku: &str| {
        json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
        "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": "Metrics", "lines": [{ "sku": sku, "quantity": 1 }] } })
    };
    let (_, r) = app
        .sync(
            &token,
            json!({ "operations": [op("00101-P-1-NA-N"), op("NO-SUCH-ITEM")] }),
        )
        .await;
    assert_eq!(r["results"][1]["result"]["status"], "rejected", "{r}");

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    if std::env::var("OUTPOST_SHOW_METRICS").is_ok() {
        println!("{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    let lines = samples(&text);
    // By route pattern: a label per hub or record would grow without end.
    assert!(text.contains(r#"route="/hubs/{hub_id}/intakes""#), "{text}");
    assert!(!text.contains(&format!("route=\"/hubs/{kin}/")), "{text}");
    assert!(value(&lines, r#"outpost_sync_operations_total{status="applied"}"#) >= 1.0);
    assert!(
        value(
            &lines,
            r#"outpost_sync_operations_total{status="rejected"}"#
        ) >= 1.0
    );
    assert!(value(&lines, "outpost_db_pool_wait_seconds_count") >= 1.0);
    assert_eq!(value(&lines, "outpost_database_up"), 1.0);
    for name in [
        "outpost_db_pool_connections",
        "outpost_live_viewers",
        "outpost_audit_unsealed_rows",
        "outpost_outbox_unpublished",
        "outpost_outbox_lag_seconds",
        r#"outpost_jobs{queue="#,
        r#"outpost_task_late{task="quota-reset"}"#,
    ] {
        value(&lines, name);
    }
    // Through a proxy, or from elsewhere, it is refused without a token.
    let proxied = reqwest::Client::new()
        .get(app.url("/metrics"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    app.shutdown().await;
}

#[tokio::test]
async fn with_a_token_metrics_answer_that_token_alone() {
    let token = "scrape-me-7f3a9c2e4b1d";
    let app = TestApp::builder()
        .setting("OUTPOST_METRICS_TOKEN", token)
        .start()
        .await;
    let get = |auth: Option<&str>| {
        let mut req = reqwest::Client::new().get(app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send()
    };
    let none = get(None).await.unwrap();
    assert_eq!(none.status(), 401, "{:?}", none.text().await);
    assert_eq!(
        get(Some("Bearer scrape-me-wrong")).await.unwrap().status(),
        401
    );
    let ok = get(Some(&format!("Bearer {token}"))).await.unwrap();
    assert_eq!(ok.status(), 200);
    samples(&ok.text().await.unwrap());
    app.shutdown().await;
}
