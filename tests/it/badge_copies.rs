//! Issue 12: a copy requested by a customer (402 "Insufficient quota" when used up, nothing
//! queued), picked up by its station with the station's token (leased; an expired lease is
//! offered again; abandoned after the last one), reported once (a repeated report changes
//! nothing), a failure gives the quota back, and a station token cannot act for another.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::sales::{customer, texts};

pub const UID: &str = "04AB12CD345678";

pub struct StationClient {
    client: reqwest::Client,
    base: String,
    pub token: String,
    code: String,
}

impl StationClient {
    pub fn new(app: &TestApp, code: &str) -> StationClient {
        let token = outpost::auth::tokens::issue_station_token(&mut app.conn(), code).unwrap();
        StationClient {
            client: app.client.clone(),
            base: app.url(""),
            token,
            code: code.into(),
        }
    }
    pub async fn next(&self, wait: u64) -> (u16, Value) {
        let res = self
            .client
            .get(format!(
                "{}/api/v1/stations/jobs/next?wait={wait}",
                self.base
            ))
            .bearer_auth(&self.token)
            .header("X-Station-Code", &self.code)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }
    pub async fn report(&self, copy: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!(
                "{}/api/v1/stations/copies/{copy}/result",
                self.base
            ))
            .bearer_auth(&self.token)
            .header("X-Station-Code", &self.code)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }
}

/// A MIFARE Classic badge `uid` for `customer` and a quota of `limit` this month.
pub fn badge_with_quota(conn: &mut diesel::PgConnection, customer: i64, uid: &str, limit: i32) {
    diesel::sql_query(format!("INSERT INTO badges (customer_id, uid, badge_type) VALUES ({customer}, '{uid}', 'mifare_classic_1k')")).execute(conn).unwrap();
    diesel::sql_query(format!("INSERT INTO badge_quotas (customer_id, copy_limit, remaining, period, period_start, next_reset_at) VALUES ({customer}, {limit}, {limit}, 'month', now(), now() + interval '1 month')")).execute(conn).unwrap();
}

/// A badge for the shelter and a quota of `limit` this month; returns the station's id.
pub fn setup(app: &TestApp, limit: i32) -> i64 {
    let shelter = customer(app, "TT-SHELTER");
    badge_with_quota(&mut app.conn(), shelter, UID, limit);
    app.id_of("SELECT id FROM nfc_stations WHERE code = 'KIN-BADGE-1'")
}

pub async fn request(app: &TestApp, token: &str, station: i64) -> reqwest::Response {
    let shelter = customer(app, "TT-SHELTER");
    app.client
        .post(app.url("/api/v1/badges/copies"))
        .bearer_auth(token)
        .json(&json!({ "customer_id": shelter, "badge_uid": "04:ab:12:cd:34:56:78", "station_id": station }))
        .send()
        .await
        .unwrap()
}

pub fn remaining(app: &TestApp) -> i64 {
    app.count("SELECT remaining::bigint AS n FROM badge_quotas")
}

pub fn dump() -> (Value, String) {
    use sha2::Digest;
    let data = json!({ "uid": UID, "type": "mifare_classic_1k", "sectors": [["00112233445566778899AABBCCDDEEFF"]] });
    let sha = hex::encode(sha2::Sha256::digest(data.to_string().as_bytes()));
    (data, sha)
}

#[tokio::test]
async fn a_used_up_quota_is_402_and_nothing_is_queued() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 2);
    let token = app.token("customer").await;
    for _ in 0..2 {
        let res = request(&app, &token, station).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let res = request(&app, &token, station).await;
    assert_eq!(res.status(), 402);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["detail"], "Insufficient quota", "{body}");
    assert_eq!(app.count("SELECT count(*) AS n FROM badge_copies"), 2);
    assert_eq!(remaining(&app), 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'badge.copy_request' AND outcome = 'rejected'"), 1);
    // Another customer's badge, or a customer user asking for another account: not found.
    let clinic = customer(&app, "STA-CLINIC");
    let res = app
        .client
        .post(app.url("/api/v1/badges/copies"))
        .bearer_auth(&token)
        .json(&json!({ "customer_id": clinic, "badge_uid": UID, "station_id": station }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn the_station_picks_up_reports_once_and_a_failure_gives_the_quota_back() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 3);
    let token = app.token("customer").await;
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    // Nothing waiting: 204 after the wait.
    assert_eq!(desk.next(0).await.0, 204);
    request(&app, &token, station).await;
    request(&app, &token, station).await;
    assert_eq!(remaining(&app), 1);
    let (s, first) = desk.next(1).await;
    assert_eq!(s, 200, "{first}");
    let first_id = first["job"]["copy_id"].as_str().unwrap().to_string();
    assert_eq!(first["job"]["badge_uid"], UID);
    // A failure with its category gives the quota back; reported twice, it counts once.
    let failed = json!({ "status": "failed", "error_category": "card_removed", "error": "card removed mid-copy" });
    assert_eq!(
        desk.report(&first_id, failed.clone()).await.1["duplicate"],
        false
    );
    assert_eq!(remaining(&app), 2);
    let (s, again) = desk.report(&first_id, failed).await;
    assert_eq!((s, again["duplicate"].clone()), (200, json!(true)));
    assert_eq!(remaining(&app), 2);
    // A failure must say what went wrong, in the design's categories.
    let (s, _) = desk
        .report(
            &first_id,
            json!({ "status": "failed", "error_category": "gremlins" }),
        )
        .await;
    assert_eq!(s, 400);
    // The second copy completes with its dump, checked against its SHA-256.
    let (_, second) = desk.next(1).await;
    let second_id = second["job"]["copy_id"].as_str().unwrap().to_string();
    let (data, sha) = dump();
    let (s, _) = desk
        .report(
            &second_id,
            json!({ "status": "completed", "dump": data, "dump_sha256": "00".repeat(32) }),
        )
        .await;
    assert_eq!(s, 400, "a dump that does not match its hash");
    let (s, body) = desk.report(&second_id, json!({ "status": "completed", "dump": data, "dump_sha256": sha, "recorded_by": "tech Paris" })).await;
    assert_eq!((s, body["status"].clone()), (200, json!("completed")));
    assert_eq!(remaining(&app), 2, "a completed copy keeps its quota taken");
    assert_eq!(
        texts(&app, "SELECT sha256 AS t FROM badge_dumps"),
        vec![sha]
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('badge.copy_failed', 'badge.copy_completed')"), 2);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM outbox WHERE topic IN ('copy.failed', 'copy.completed')"
        ),
        2
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_expired_lease_offers_the_copy_again_and_the_last_one_abandons_it() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 1);
    let token = app.token("customer").await;
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    request(&app, &token, station).await;
    let (_, first) = desk.next(1).await;
    let id = first["job"]["copy_id"].as_str().unwrap().to_string();
    assert_eq!(desk.next(0).await.0, 204, "leased: not offered twice");
    diesel::sql_query("UPDATE badge_copies SET lease_until = now() - interval '1 second'")
        .execute(&mut app.conn())
        .unwrap();
    let (_, again) = desk.next(1).await;
    assert_eq!(again["job"]["copy_id"], json!(id));
    assert_eq!(again["job"]["attempts"], 2);
    // The last lease runs out: abandoned, quota back.
    diesel::sql_query(format!(
        "UPDATE badge_copies SET lease_until = now() - interval '1 second', attempts = {}",
        outpost::badges::copies::MAX_LEASES
    ))
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(
        desk.next(0).await.0,
        204,
        "not offered after the last lease"
    );
    assert_eq!(
        outpost::badges::station_results::abandon_expired(&mut app.conn()).unwrap(),
        1
    );
    assert_eq!(
        outpost::badges::station_results::abandon_expired(&mut app.conn()).unwrap(),
        0
    );
    assert_eq!(
        texts(&app, "SELECT status AS t FROM badge_copies"),
        vec!["abandoned"]
    );
    assert_eq!(remaining(&app), 1);
    // A late result for an abandoned copy changes nothing.
    let (_, body) = desk
        .report(
            &id,
            json!({ "status": "failed", "error_category": "card_removed" }),
        )
        .await;
    assert_eq!(body["duplicate"], true);
    assert_eq!(remaining(&app), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_station_token_cannot_act_for_another_station() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 2);
    let kin = app.hub_id("KIN-MAIN");
    outpost::badges::stations::create(
        &mut app.conn(),
        kin,
        "KIN-BADGE-2",
        "Second desk",
        "ACS ACR122U PICC Interface 00 01",
    )
    .unwrap();
    let token = app.token("customer").await;
    request(&app, &token, station).await;
    let other = StationClient::new(&app, "KIN-BADGE-2");
    assert_eq!(
        other.next(0).await.0,
        204,
        "the other desk's copy is not offered here"
    );
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let (_, job) = desk.next(1).await;
    let id = job["job"]["copy_id"].as_str().unwrap().to_string();
    let (s, _) = other
        .report(
            &id,
            json!({ "status": "failed", "error_category": "card_removed" }),
        )
        .await;
    assert_eq!(s, 404);
    // A token presented under another station's code is refused.
    let impostor = StationClient {
        code: "KIN-BADGE-1".into(),
        ..StationClient::new(&app, "KIN-BADGE-2")
    };
    assert_eq!(impostor.next(0).await.0, 403);
    assert_eq!(remaining(&app), 1, "nothing given back by a foreign report");
    app.shutdown().await;
}

/// The token on the page that shows it once.
fn token_in(page: &str) -> String {
    page.split("id=\"station-token\" class=\"reference\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn stations_are_registered_with_a_token_shown_once_and_rotated() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("admin").await;
    let kin = app.hub_id("KIN-MAIN").to_string();
    let res = admin
        .post_form(
            "/admin/stations",
            &[
                ("code", "paris_01"),
                ("name", "Paris desk"),
                ("reader_name", "ACS ACR122U PICC Interface 00 00"),
                ("hub_id", &kin),
            ],
        )
        .await;
    // The token is shown on a page of its own, once: never at the POST's address (a reload
    // there would register or rotate again), never twice.
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/stations/token");
    let shown = admin.get("/admin/stations/token").await;
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let page = shown.text().await.unwrap();
    let token = token_in(&page);
    assert!(page.contains("PARIS_01") && token.len() > 20, "{page}");
    assert!(
        page.contains("data-copy=\"station-token\""),
        "a Copy button"
    );
    let again = admin.get("/admin/stations/token").await;
    assert_eq!(again.status(), 303, "a reload shows it no more");
    assert!(
        !admin.text("/admin/stations").await.contains(&token),
        "shown once only"
    );
    let desk = StationClient {
        client: app.client.clone(),
        base: app.url(""),
        token: token.clone(),
        code: "PARIS_01".into(),
    };
    assert_eq!(desk.next(0).await.0, 204, "the token works");
    let listed = admin.text("/admin/stations").await;
    assert!(
        listed.contains("PARIS_01") && listed.contains("Online"),
        "{listed}"
    );
    // Rotating revokes the old token.
    let id = app.id_of("SELECT id FROM nfc_stations WHERE code = 'PARIS_01'");
    // The list links to a page that says what rotating does before anything is revoked.
    assert!(
        listed.contains(&format!("href=\"/admin/stations/{id}/rotate\"")),
        "{listed}"
    );
    let asked = admin.text(&format!("/admin/stations/{id}/rotate")).await;
    assert!(
        asked.contains("online now") && asked.contains("stops taking copy jobs"),
        "{asked}"
    );
    assert_eq!(desk.next(0).await.0, 204, "asking revoked nothing");
    let res = admin
        .post_form(&format!("/admin/stations/{id}/rotate"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let rotated = token_in(&admin.text("/admin/stations/token").await);
    assert_ne!(rotated, token);
    assert_eq!(desk.next(0).await.0, 401, "the old token is revoked");
    let desk = StationClient {
        token: rotated,
        ..desk
    };
    assert_eq!(desk.next(0).await.0, 204, "the new token works");
    assert_eq!(
        admin.get("/admin/stations/999999/rotate").await.status(),
        404
    );
    // A bad code, a duplicate: nothing saved. Only station managers reach the page.
    admin
        .post_form(
            "/admin/stations",
            &[("code", "no spaces!"), ("name", "x"), ("hub_id", &kin)],
        )
        .await;
    admin
        .post_form(
            "/admin/stations",
            &[("code", "PARIS_01"), ("name", "again"), ("hub_id", &kin)],
        )
        .await;
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM nfc_stations WHERE code LIKE 'PARIS%' OR code LIKE 'NO%'"
        ),
        1
    );
    assert_eq!(
        app.signed_in("depot")
            .await
            .get("/admin/stations")
            .await
            .status(),
        403
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('station.registered', 'station.token_rotated')"), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn a_copy_asked_for_in_the_browser_is_made_by_the_station_and_shows_in_the_history() {
    let app = TestApp::builder().with_demo_world().start().await;
    setup(&app, 1);
    let customer_user = app.signed_in("customer").await;
    let page = customer_user.text("/badges").await;
    assert!(page.contains("Copy this badge"), "{page}");
    // Before anything is asked for, the page says the station has never connected and what a
    // copy asked for there comes to (issue 30, finding 4).
    assert!(
        page.contains("— never connected</option>")
            && page.contains("waits, with its quota taken, until the station connects again"),
        "{page}"
    );
    let field = |name: &str| crate::common::hidden_in(&page, name);
    let station = app
        .id_of("SELECT id FROM nfc_stations WHERE code = 'KIN-BADGE-1'")
        .to_string();
    let shelter = customer(&app, "TT-SHELTER").to_string();
    let post = |op: String, record: String| {
        let b = &customer_user;
        let (csrf, envelope, shelter, station) = (
            field("csrf_token"),
            field("envelope"),
            shelter.clone(),
            station.clone(),
        );
        async move {
            b.post_raw(
                "/badges/copies",
                &[
                    ("csrf_token", &csrf),
                    ("op_id", &op),
                    ("record_id", &record),
                    ("envelope", &envelope),
                    ("op_kind", "badge.copy_request"),
                    ("customer_id", &shelter),
                    ("badge_uid", UID),
                    ("station_id", &station),
                ],
            )
            .await
        }
    };
    let res = post(field("op_id"), field("record_id")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/badges/copies");
    let queued = customer_user.text("/badges/copies").await;
    assert!(
        queued.contains("Copy queued, but the station has never connected"),
        "{queued}"
    );
    // At 0 copies left the button is off, and the page says until when.
    let spent = customer_user.text("/badges").await;
    assert!(
        spent.contains("No copies left")
            && spent.contains("disabled aria-describedby=\"no-copies-"),
        "{spent}"
    );
    // The quota is used up now: the next one is refused with the design's words.
    let res = post(
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(res.headers()["location"], "/badges");
    assert!(customer_user
        .text("/badges")
        .await
        .contains("Insufficient quota"));
    // The station copies it.
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let (_, job) = desk.next(1).await;
    let (data, sha) = dump();
    let id = job["job"]["copy_id"].as_str().unwrap().to_string();
    desk.report(&id, json!({ "status": "completed", "dump": data, "dump_sha256": sha, "recorded_by": "=1+1 tech" })).await;
    let history = customer_user.text("/badges/copies?status=completed").await;
    assert!(
        history.contains(UID) && history.contains("completed"),
        "{history}"
    );
    // Dates the wrong way round: read the right way, and said.
    let today = chrono::Utc::now().date_naive();
    let turned = customer_user
        .text(&format!("/badges/copies?from={today}&to=2020-01-01"))
        .await;
    assert!(
        turned.contains(UID) && turned.contains("The dates were the wrong way round"),
        "{turned}"
    );
    let csv = customer_user
        .text("/badges/copies.csv?station=kin-badge-1")
        .await;
    assert!(
        csv.starts_with("requested_at,customer") && csv.contains(UID),
        "{csv}"
    );
    assert!(
        csv.contains(",'=1+1 tech") && !csv.contains(",=1+1"),
        "a formula is defused: {csv}"
    );
    assert_eq!(
        customer_user
            .text("/badges/copies.csv?status=failed")
            .await
            .lines()
            .count(),
        1,
        "header only"
    );
    // Another customer's user sees none of it.
    diesel::sql_query("UPDATE user_customers SET customer_id = (SELECT id FROM customers WHERE code = 'STA-CLINIC') WHERE user_id = (SELECT id FROM users WHERE username = 'customer')").execute(&mut app.conn()).unwrap();
    let other = app.signed_in("customer").await;
    assert!(!other.text("/badges/copies.csv").await.contains(UID));
    app.shutdown().await;
}

#[tokio::test]
async fn card_data_is_seen_only_by_those_who_manage_stations() {
    let app = TestApp::builder().with_demo_world().start().await;
    let station = setup(&app, 1);
    let token = app.token("customer").await;
    request(&app, &token, station).await;
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let (_, job) = desk.next(1).await;
    let id = job["job"]["copy_id"].as_str().unwrap().to_string();
    let (data, sha) = dump();
    desk.report(
        &id,
        json!({ "status": "completed", "dump": data, "dump_sha256": sha }),
    )
    .await;
    let admin = app.signed_in("admin").await;
    assert!(admin
        .text("/badges/copies")
        .await
        .contains(&format!("/badges/copies/{id}/dump")));
    let res = admin.get(&format!("/badges/copies/{id}/dump")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&sha) && page.contains("00112233445566778899AABBCCDDEEFF"),
        "{page}"
    );
    let customer_user = app.signed_in("customer").await;
    assert!(!customer_user.text("/badges/copies").await.contains("/dump"));
    assert_eq!(
        customer_user
            .get(&format!("/badges/copies/{id}/dump"))
            .await
            .status(),
        403
    );
    assert_eq!(
        admin
            .get(&format!("/badges/copies/{}/dump", uuid::Uuid::new_v4()))
            .await
            .status(),
        404
    );
    app.shutdown().await;
}

/// A `badge.copy_record` operation as a station sends it.
fn recorded_copy(customer: i64, envelope: &str) -> Value {
    let (data, sha) = dump();
    json!({ "op_id": uuid::Uuid::new_v4(), "kind": "badge.copy_record", "captured_at": chrono::Utc::now() - chrono::Duration::hours(3), "offline": true, "envelope": envelope,
        "payload": { "copy_id": uuid::Uuid::new_v4(), "customer_id": customer, "badge_uid": UID, "recorded_by": "Desk clerk", "dump": data, "dump_sha256": sha } })
}

#[tokio::test]
async fn a_station_records_copies_through_the_sync_api_as_itself_and_only_for_its_hub() {
    let app = TestApp::builder().with_demo_world().start().await;
    setup(&app, 1);
    let shelter = customer(&app, "TT-SHELTER");
    let desk = StationClient::new(&app, "KIN-BADGE-1");
    let pull = |code: &'static str| {
        app.client
            .get(app.url("/api/v1/sync/pull?since=0"))
            .bearer_auth(&desk.token)
            .header("X-Station-Code", code)
    };
    // The token acts only under its own code.
    assert_eq!(pull("KIN-BADGE-2").send().await.unwrap().status(), 401);
    let res = pull("KIN-BADGE-1").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let badges = &body["badges"];
    assert_eq!(badges["quotas"][0]["remaining"], 1, "{body}");
    assert_eq!(badges["badges"][0]["uid"], UID);
    assert!(
        body["stock"].as_array().unwrap().is_empty()
            && body["needs_lists"].as_array().unwrap().is_empty(),
        "a station sees badges, not the hub: {body}"
    );
    let envelope = badges["capture_envelope"].as_str().unwrap().to_string();
    let push = |ops: Vec<Value>| {
        app.client
            .post(app.url("/api/v1/sync"))
            .bearer_auth(&desk.token)
            .header("X-Station-Code", "KIN-BADGE-1")
            .json(&json!({ "device_id": "station:KIN-BADGE-1", "operations": ops }))
            .send()
    };
    // Two copies made offline with one copy left: the first lands, the second is refused.
    let clinic = customer(&app, "STA-CLINIC");
    let first = recorded_copy(shelter, &envelope);
    let ops = vec![
        first.clone(),
        recorded_copy(shelter, &envelope),
        recorded_copy(clinic, &envelope),
        recorded_copy(shelter, "forged.00"),
    ];
    let res = push(ops).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let results: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["result"])
        .collect();
    assert_eq!(results[0]["status"], "applied", "{body}");
    assert_eq!(
        (results[1]["status"].as_str(), results[1]["reason"].as_str()),
        (Some("rejected"), Some("Insufficient quota")),
        "{body}"
    );
    assert_eq!(
        results[2]["status"], "rejected",
        "another hub's customer: {body}"
    );
    assert_eq!(
        results[3]["status"], "rejected",
        "a forged envelope: {body}"
    );
    // Sent again (the station did not hear the answer): applied once.
    let res = push(vec![first]).await.unwrap();
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["results"][0]["result"]["status"], "duplicate");
    assert_eq!(app.count("SELECT count(*) AS n FROM badge_copies WHERE recorded_offline AND status = 'completed'"), 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM badge_dumps"), 1);
    assert_eq!(remaining(&app), 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log a JOIN users u ON u.id = a.actor_id WHERE a.action = 'badge.copy_record' AND u.username = 'station.kin-badge-1'"), 4);
    // People cannot record copies as if they were a station; a station account cannot sign in.
    let token = app.token("admin").await;
    let (_, body) = app
        .sync(
            &token,
            json!({ "operations": [recorded_copy(shelter, &envelope)] }),
        )
        .await;
    assert_eq!(body["results"][0]["result"]["status"], "rejected", "{body}");
    let res = app
        .client
        .post(app.url("/api/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "station.kin-badge-1"),
            ("password", "!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "invalid_grant");
    // Station accounts are not among the users an admin manages.
    let admin = app.signed_in("admin").await;
    assert!(!admin
        .text("/admin/users")
        .await
        .contains("station.kin-badge-1"));
    app.shutdown().await;
}
