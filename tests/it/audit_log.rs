//! The audit log cannot be changed through the database, and `outpost audit verify` notices
//! when a superuser changes it behind the triggers' back.

use diesel::prelude::*;

use crate::common::{TestApp, TestDb};

pub(crate) fn record_some(conn: &mut PgConnection, n: usize) {
    for i in 0..n {
        let entry = outpost::audit::Entry::new("test.event.recorded")
            .object("thing", i)
            .change(None, Some(serde_json::json!({"i": i})));
        outpost::audit::record(conn, &entry).unwrap();
    }
}

fn nth_id(conn: &mut PgConnection, n: i64) -> i64 {
    use outpost::schema::audit_log;
    audit_log::table
        .select(audit_log::id)
        .order(audit_log::id)
        .offset(n - 1)
        .first(conn)
        .unwrap()
}

fn seal(conn: &mut PgConnection) {
    outpost::audit::seal::seal_all(conn).unwrap();
}

/// Settings as the CLI sees them in these tests: the development key, checkpoints in `dir`.
pub(crate) fn settings(dir: &std::path::Path) -> outpost::config::Settings {
    let dir = dir.display().to_string();
    outpost::config::Settings::from_lookup(|k| {
        (k == "OUTPOST_AUDIT_CHECKPOINT_DIR").then(|| dir.clone())
    })
    .unwrap()
}

pub(crate) fn cli_verify(db: &TestDb, checkpoints: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["audit", "verify"])
        .env("OUTPOST_DATABASE_URL", &db.url)
        .env("OUTPOST_AUDIT_CHECKPOINT_DIR", checkpoints)
        .env_remove("OUTPOST_REDIS_URL")
        .env_remove("OUTPOST_SECRET_KEY")
        .output()
        .unwrap()
}

fn superuser(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).unwrap();
}

#[test]
fn update_delete_and_truncate_are_refused_by_the_database() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 3);
    seal(&mut conn);
    for sql in [
        "UPDATE audit_log SET outcome = 'rejected'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_chain SET hash = 'x'",
        "DELETE FROM audit_chain",
        "TRUNCATE audit_chain",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        // TRUNCATE of the log stops earlier: the chain's links refer to its rows.
        assert!(
            err.contains("append-only") || err.contains("referenced in a foreign key"),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        outpost::audit::verify(&mut conn, None)
            .unwrap()
            .rows_checked,
        3
    );
}

#[test]
fn verify_detects_a_row_changed_or_removed_behind_its_back() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 5);
    seal(&mut conn);
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!((report.rows_checked, report.unsealed), (5, 0));

    // A superuser disables the triggers and edits a row.
    superuser(&mut conn, "ALTER TABLE audit_log DISABLE TRIGGER USER");
    let third = nth_id(&mut conn, 3);
    superuser(
        &mut conn,
        &format!("UPDATE audit_log SET after = '{{\"i\": 99}}' WHERE id = {third}"),
    );
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!(report.first_broken.as_ref().map(|b| b.0), Some(third));

    // The CLI says so and exits non-zero.
    let dir = std::env::temp_dir().join(format!("outpost-audit-{}", uuid::Uuid::new_v4()));
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("broken at row {third}")));
}

#[test]
fn verify_detects_a_deleted_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 4);
    seal(&mut conn);
    // The row is sealed, so removing it means removing its link too.
    superuser(&mut conn, "ALTER TABLE audit_log DISABLE TRIGGER USER");
    superuser(&mut conn, "ALTER TABLE audit_chain DISABLE TRIGGER USER");
    let (second, third) = (nth_id(&mut conn, 2), nth_id(&mut conn, 3));
    superuser(
        &mut conn,
        &format!("DELETE FROM audit_chain WHERE audit_id = {second}"),
    );
    superuser(
        &mut conn,
        &format!("DELETE FROM audit_log WHERE id = {second}"),
    );
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!(report.first_broken.map(|b| b.0), Some(third));
}

#[test]
fn deleting_the_newest_rows_is_caught_by_the_signed_checkpoint() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 6);
    let head = outpost::audit::seal::seal_all(&mut conn).unwrap().unwrap();
    let dir = std::env::temp_dir().join(format!("outpost-audit-{}", uuid::Uuid::new_v4()));
    let settings = settings(&dir);
    let database = outpost::audit::checkpoint_store::database(&mut conn).unwrap();
    let kept = outpost::audit::checkpoint_store::dir(&settings, &database);
    let checkpoint = outpost::audit::checkpoint::Checkpoint::sign(&head, &database, &settings);
    assert!(checkpoint.is_signed_by(&settings));
    outpost::audit::checkpoint_store::write_file(&kept, &checkpoint).unwrap();
    let out = cli_verify(&db, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reaches the signed checkpoint of link 6")
    );

    // The two newest rows and their links go; what is left is a valid, shorter chain.
    superuser(&mut conn, "ALTER TABLE audit_log DISABLE TRIGGER USER");
    superuser(&mut conn, "ALTER TABLE audit_chain DISABLE TRIGGER USER");
    superuser(&mut conn, "DELETE FROM audit_chain WHERE seq > 4");
    let fourth = nth_id(&mut conn, 4);
    superuser(
        &mut conn,
        &format!("DELETE FROM audit_log WHERE id > {fourth}"),
    );
    assert_eq!(
        outpost::audit::verify(&mut conn, None)
            .unwrap()
            .first_broken,
        None
    );
    let report = outpost::audit::verify(&mut conn, Some(&checkpoint)).unwrap();
    let (id, why) = report.first_broken.unwrap();
    assert_eq!(id, head.audit_id);
    assert!(why.contains("newest rows were removed"), "{why}");
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("audit chain ends at link 4")
            && said.contains("no earlier checkpoint confirms the chain up to link 4"),
        "{said}"
    );

    // A checkpoint the server did not sign is refused, not trusted.
    let mut forged = checkpoint.clone();
    forged.seq = 4;
    std::fs::remove_file(kept.join("latest.json")).unwrap();
    outpost::audit::checkpoint_store::write_file(&kept, &forged).unwrap();
    assert!(!forged.is_signed_by(&settings));
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed by this server's key"));
}

#[test]
fn unsealed_rows_are_reported_and_rows_slipped_past_the_queue_are_caught() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 2);
    seal(&mut conn);
    record_some(&mut conn, 3);
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!((report.rows_checked, report.unsealed), (2, 3));
    assert_eq!(report.first_broken, None);

    // A row inserted with the triggers off is neither sealed nor queued for sealing.
    superuser(&mut conn, "ALTER TABLE audit_log DISABLE TRIGGER USER");
    record_some(&mut conn, 1);
    let slipped = nth_id(&mut conn, 6);
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!(report.first_broken.map(|b| b.0), Some(slipped));
}

#[test]
fn concurrent_writers_and_sequencers_keep_one_unbroken_chain() {
    let db = TestDb::migrated();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sequencers: Vec<_> = (0..2)
        .map(|_| {
            let (url, stop) = (db.url.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    outpost::audit::seal::seal_batch(&mut conn).unwrap();
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || record_some(&mut PgConnection::establish(&url).unwrap(), 25))
        })
        .collect();
    writers.into_iter().for_each(|t| t.join().unwrap());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sequencers.into_iter().for_each(|t| t.join().unwrap());
    let mut conn = db.conn();
    seal(&mut conn);
    let report = outpost::audit::verify(&mut conn, None).unwrap();
    assert_eq!(
        report,
        outpost::audit::VerifyReport {
            rows_checked: 100,
            last_seq: 100,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_running_server_seals_what_it_writes_and_publishes_a_checkpoint() {
    let app = TestApp::builder().with_demo_world().start().await;
    app.signed_in("warehouse").await;
    let settings = app.state.settings.clone();
    let database = outpost::audit::checkpoint_store::database(&mut app.db.conn()).unwrap();
    let kept = outpost::audit::checkpoint_store::dir(&settings, &database);
    let mut sealed = None;
    for _ in 0..50 {
        let url = app.db.url.clone();
        let pending: i64 = tokio::task::spawn_blocking(move || {
            use outpost::schema::audit_pending;
            audit_pending::table
                .count()
                .get_result(&mut PgConnection::establish(&url).unwrap())
                .unwrap()
        })
        .await
        .unwrap();
        let checkpoint = outpost::audit::checkpoint_store::read_file(&kept);
        if pending == 0 && checkpoint.is_some() {
            sealed = checkpoint;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let checkpoint = sealed.expect("sealed within 5 s, with a checkpoint on disk");
    assert!(checkpoint.is_signed_by(&settings));
    let report = outpost::audit::verify(&mut app.db.conn(), Some(&checkpoint)).unwrap();
    assert_eq!(report.first_broken, None);
    assert!(report.rows_checked >= checkpoint.seq as u64);
    app.shutdown().await;
}

#[tokio::test]
async fn the_audit_page_filters_and_exports_csv() {
    let app = TestApp::builder().with_demo_world().start().await;
    app.signed_in("warehouse").await;
    app.browser().sign_in("warehouse", "not the password").await;
    let auditor = app.signed_in("auditor").await;
    let page = auditor
        .text("/audit?user=warehouse&action=auth.login")
        .await;
    // Actions in words, their codes kept for those who filter by them.
    assert!(
        page.contains("title=\"auth.login.succeeded\">Signed in<"),
        "{page}"
    );
    assert!(
        page.contains("title=\"auth.login.failed\">Sign-in failed<"),
        "{page}"
    );
    assert!(
        page.contains("Warehouse operator") && !page.contains(">WarehouseOp<"),
        "roles in words: {page}"
    );
    let failed_only = auditor
        .text("/audit?user=warehouse&action=auth.login.failed")
        .await;
    assert!(!failed_only.contains("title=\"auth.login.succeeded\""));
    // The filter takes the words the table shows, and offers them.
    let by_words = auditor.text("/audit?user=warehouse&action=Signed+in").await;
    assert!(
        by_words.contains("title=\"auth.login.succeeded\">Signed in<")
            && !by_words.contains("title=\"auth.login.failed\""),
        "{by_words}"
    );
    assert!(
        by_words.contains("<option value=\"Sign-in failed\" label=\"auth.login.failed\">"),
        "{by_words}"
    );
    let res = auditor.get("/audit.csv?user=warehouse").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,occurred_at,actor,role_at_capture,role_at_apply,action"));
    assert_eq!(lines.filter(|l| l.contains(",warehouse,")).count(), 2);
    // Dates the wrong way round are read the right way, and the page says so (they matched
    // nothing, silently); the CSV link carries them in order.
    let (today, past) = (chrono::Utc::now().date_naive(), "2020-01-01");
    let turned = auditor
        .text(&format!("/audit?user=warehouse&from={today}&to={past}"))
        .await;
    assert!(
        turned.contains(&format!(
            "The dates were the wrong way round: showing {past} to {today}."
        )) && turned.contains("title=\"auth.login.succeeded\""),
        "{turned}"
    );
    assert!(
        turned.contains(&format!("from={past}&#38;to={today}")),
        "{turned}"
    );
    let csv = auditor
        .text(&format!("/audit.csv?user=warehouse&from={today}&to={past}"))
        .await;
    assert_eq!(csv.lines().filter(|l| l.contains(",warehouse,")).count(), 2);
    // Bad filter values are a 400 with a message, not a 500.
    let res = auditor.get("/audit?from=yesterday").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("must be a date"));

    // Objects are words, linked to their page where the viewer may open one (issue 30).
    let kin = app.hub_id("KIN-MAIN");
    let intake = uuid::Uuid::new_v4();
    app.sync(&app.token("warehouse").await, serde_json::json!({ "operations": [{ "op_id": uuid::Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
        "payload": { "intake_id": intake, "hub_id": kin, "donor": "Audit Trail Trust", "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 1 }] } }] }))
        .await;
    let page = auditor.text("/audit?action=intake.create").await;
    let short = &intake.to_string()[..8];
    assert!(
        page.contains(&format!(
            "<a href=\"/hubs/{kin}/intakes/{intake}\">Intake {short}</a>"
        )),
        "{page}"
    );
    assert_eq!(
        auditor
            .get(&format!("/hubs/{kin}/intakes/{intake}"))
            .await
            .status(),
        200
    );
    let logins = auditor
        .text("/audit?user=warehouse&action=auth.login")
        .await;
    assert!(
        !logins.contains("href=\"/admin/users/"),
        "an auditor manages no users: {logins}"
    );
    app.shutdown().await;
}
