//! The audit log cannot be changed through the database, and `outpost audit verify` notices
//! when a superuser changes it behind the triggers' back.

use diesel::prelude::*;

use crate::common::{TestApp, TestDb};

fn record_some(conn: &mut PgConnection, n: usize) {
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

#[test]
fn update_delete_and_truncate_are_refused_by_the_database() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 3);
    for sql in [
        "UPDATE audit_log SET outcome = 'rejected'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(outpost::audit::verify(&mut conn).unwrap().rows_checked, 3);
}

#[test]
fn verify_detects_a_row_changed_or_removed_behind_its_back() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 5);
    let report = outpost::audit::verify(&mut conn).unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.rows_checked, 5);

    // A superuser disables the triggers and edits a row.
    diesel::sql_query("ALTER TABLE audit_log DISABLE TRIGGER USER")
        .execute(&mut conn)
        .unwrap();
    let third = nth_id(&mut conn, 3);
    diesel::sql_query(format!(
        "UPDATE audit_log SET after = '{{\"i\": 99}}' WHERE id = {third}"
    ))
    .execute(&mut conn)
    .unwrap();
    let report = outpost::audit::verify(&mut conn).unwrap();
    assert_eq!(report.first_broken.as_ref().map(|b| b.0), Some(third));

    // The CLI says so and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["audit", "verify"])
        .env("OUTPOST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("broken at row {third}")));
}

#[test]
fn verify_detects_a_deleted_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    record_some(&mut conn, 4);
    diesel::sql_query("ALTER TABLE audit_log DISABLE TRIGGER USER")
        .execute(&mut conn)
        .unwrap();
    let (second, third) = (nth_id(&mut conn, 2), nth_id(&mut conn, 3));
    diesel::sql_query(format!("DELETE FROM audit_log WHERE id = {second}"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        outpost::audit::verify(&mut conn)
            .unwrap()
            .first_broken
            .map(|b| b.0),
        Some(third)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["audit", "verify"])
        .env("OUTPOST_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn concurrent_writers_keep_one_unbroken_chain() {
    let db = TestDb::migrated();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || record_some(&mut PgConnection::establish(&url).unwrap(), 25))
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = outpost::audit::verify(&mut db.conn()).unwrap();
    assert_eq!(
        report,
        outpost::audit::VerifyReport {
            rows_checked: 100,
            first_broken: None
        }
    );
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
    assert!(page.contains("auth.login.succeeded") && page.contains("auth.login.failed"));
    assert!(
        !page.contains("<code>auth.login.succeeded</code></td>\n    <td></td>\n    <td>rejected")
    );
    let failed_only = auditor
        .text("/audit?user=warehouse&action=auth.login.failed")
        .await;
    assert!(!failed_only.contains("auth.login.succeeded"));
    let res = auditor.get("/audit.csv?user=warehouse").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,occurred_at,actor,role_at_capture,role_at_apply,action"));
    assert_eq!(lines.filter(|l| l.contains(",warehouse,")).count(), 2);
    // Bad filter values are a 400 with a message, not a 500.
    let res = auditor.get("/audit?from=yesterday").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("must be a date"));
    app.shutdown().await;
}
