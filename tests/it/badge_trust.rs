//! Issue 26, the server's side of trusting badge copies: live events without a hub stay in their
//! organisation, a station token opens nothing made for people, a station's result is checked
//! like a sync item (control characters, the dump's UID), and the station API is documented.

use std::time::Duration;

use serde_json::{json, Value};

use crate::badge_copies::{dump, request, setup, StationClient, UID};
use crate::common::TestApp;
use crate::live::Sse;
use crate::sales::customer;

/// An administrator of the demo's second organisation (the agency's).
fn agency_admin(app: &TestApp) {
    let organisation =
        app.id_of("SELECT organisation_id AS id FROM users WHERE username = 'agency'");
    outpost::auth::users::create(
        &mut app.conn(),
        &outpost::auth::users::NewUser {
            username: "agency-admin",
            display_name: "Agency Admin",
            role: outpost::auth::roles::Role::Admin,
            organisation_id: organisation,
            password: outpost::demo::seed::DEMO_PASSWORD,
            hub_ids: &[],
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_a_hub_reach_only_their_own_organisation() {
    let app = TestApp::builder().with_demo_world().start().await;
    agency_admin(&app);
    let station = setup(&app, 3);
    let base = app.url("");
    let mut ours = Sse::connect(&base, &app.token("admin").await, None).await;
    let mut theirs = Sse::connect(&base, &app.token("agency-admin").await, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let res = request(&app, &app.token("customer").await, station).await;
    assert_eq!(res.status(), 201);
    let seen = ours
        .wait_for(Duration::from_secs(10), |e| {
            e.data["kind"] == "badge.copy_request"
        })
        .await
        .expect("the government's admin sees its customer's copy request");
    assert!(seen.data["hub_id"].is_null(), "{:?}", seen.data);
    // Events written outside the pipeline: one of the government's (a device that lost
    // entries), and one that names neither hub nor organisation, which nobody is shown.
    let government = app.id_of("SELECT organisation_id AS id FROM users WHERE username = 'admin'");
    {
        let mut conn = app.conn();
        outpost::events::enqueue(
            &mut conn,
            "device.vanished",
            json!({ "device_id": "tablet-1234", "organisation_id": government }),
        )
        .unwrap();
        outpost::events::enqueue(
            &mut conn,
            "job.failed",
            json!({ "job": "invoice_render", "invoice_id": "nobody's" }),
        )
        .unwrap();
    }
    outpost::events::publish_pending(&app.state).await.unwrap();
    assert!(ours
        .wait_for(Duration::from_secs(10), |e| e.data["topic"]
            == "device.vanished")
        .await
        .is_some());
    let rest = ours.collect(Duration::from_millis(1000)).await;
    assert!(
        rest.iter().all(|e| e.data["invoice_id"] != "nobody's"),
        "{rest:?}"
    );
    let leaked = theirs.collect(Duration::from_millis(1500)).await;
    assert!(
        leaked.is_empty(),
        "the agency's admin saw the government's events: {leaked:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_station_token_opens_no_page_for_people() {
    let app = TestApp::builder().with_demo_world().start().await;
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let get = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(&desk.token)
            .header("X-Station-Code", "KIN-BADGE-1")
            .header("Accept", "text/html")
            .send()
    };
    for path in [
        "/",
        "/dashboard/live",
        "/dashboard/live?user=warehouse",
        "/events",
        "/hubs",
        "/api/v1/me",
        "/api/v1/hubs",
        "/badges/copies",
    ] {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Winston"), "{path} shows people: {body}");
    }
    for path in ["/api/v1/stations/me", "/api/v1/sync/pull?since=0"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_station_result_is_checked_like_a_sync_item_and_refused_with_4xx() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 3);
    let token = app.token("customer").await;
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    request(&app, &token, station).await;
    let (_, job) = desk.next(1).await;
    let id = job["job"]["copy_id"].as_str().unwrap().to_string();
    let completed = |dump: Value| {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(dump.to_string().as_bytes()));
        json!({ "status": "completed", "dump": dump, "dump_sha256": sha })
    };
    for (why, bad) in [
        ("NUL", json!({ "uid": UID, "data": ["00\u{0}11"] })),
        (
            "terminal escape",
            json!({ "uid": UID, "note": "\u{1b}[2J" }),
        ),
        ("NUL in a key", json!({ "uid": UID, "a\u{0}": 1 })),
        (
            "another card",
            json!({ "uid": "04FFFFFFFFFFFF", "data": [] }),
        ),
        ("no UID", json!({ "data": [] })),
    ] {
        let (status, body) = desk.report(&id, completed(bad)).await;
        assert!(
            (400..500).contains(&status),
            "{why}: answered {status} {body}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("dump")),
            "{why}: {body}"
        );
    }
    assert_eq!(
        crate::sales::texts(&app, "SELECT status AS t FROM badge_copies"),
        vec!["leased"],
        "a refused result changes nothing"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM badge_dumps"), 0);
    // The right card's dump is taken.
    let (data, sha) = dump();
    let (status, body) = desk
        .report(
            &id,
            json!({ "status": "completed", "dump": data, "dump_sha256": sha }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");

    // The same dump of another card through the sync API is refused with a field error.
    let envelope = {
        let res = app
            .client
            .get(app.url("/api/v1/sync/pull?since=0"))
            .bearer_auth(&desk.token)
            .header("X-Station-Code", "KIN-BADGE-1")
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["badges"]["capture_envelope"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let other = json!({ "uid": "04FFFFFFFFFFFF" });
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(other.to_string().as_bytes()))
    };
    let op = json!({ "op_id": uuid::Uuid::new_v4(), "kind": "badge.copy_record", "captured_at": chrono::Utc::now(), "capture_envelope": envelope,
        "payload": { "copy_id": uuid::Uuid::new_v4(), "customer_id": customer(&app, "TT-SHELTER"), "badge_uid": UID, "recorded_by": "Desk", "dump": other, "dump_sha256": sha } });
    let res = app
        .client
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&desk.token)
        .header("X-Station-Code", "KIN-BADGE-1")
        .json(&json!({ "device_id": "station:KIN-BADGE-1", "operations": [op] }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let result = &body["results"][0]["result"];
    assert_eq!(result["status"], "rejected", "{body}");
    assert!(result.to_string().contains("dump.uid"), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_station_api_is_in_the_openapi_document() {
    let app = TestApp::start().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/api/v1/stations/jobs/next", "get"),
        ("/api/v1/stations/copies/{id}/result", "post"),
        ("/api/v1/stations/me", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{path} is documented");
        assert!(op["responses"]["401"].is_object(), "{path}");
    }
    let report = &doc["components"]["schemas"]["ResultReport"]["properties"];
    assert!(report["dump"].is_object() && report["error_category"].is_object());
    app.shutdown().await;
}

#[tokio::test]
async fn a_station_reports_only_copies_it_was_handed_and_waits_at_most_30_s() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 3);
    let res = request(&app, &app.token("customer").await, station).await;
    let copy: Value = res.json().await.unwrap();
    let id = copy["id"].as_str().unwrap().to_string();
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let (status, body) = desk
        .report(
            &id,
            json!({ "status": "failed", "error_category": "no_card" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        crate::sales::texts(&app, "SELECT status AS t FROM badge_copies"),
        vec!["queued"]
    );
    assert_eq!(
        crate::badge_copies::remaining(&app),
        2,
        "no quota given back"
    );
    assert_eq!(desk.next(31).await.0, 400);
    assert_eq!(desk.next(1).await.0, 200, "still offered");
    app.shutdown().await;
}
