//! Issue 12, first part: badges and copy quotas kept by administrators and seen by the
//! customer's own users; the quota reset job resets once per period, late or twice run, and
//! catches up on periods missed while the workers were down.

use chrono::Utc;
use diesel::prelude::*;

use crate::common::TestApp;
use crate::sales::{customer, texts};

fn quota(app: &TestApp, customer: i64) -> String {
    texts(app, &format!("SELECT copy_limit || '/' || remaining || '/' || period AS t FROM badge_quotas WHERE customer_id = {customer}"))
        .pop()
        .unwrap_or_default()
}

#[tokio::test]
async fn administrators_keep_badges_and_quotas_and_customers_see_only_their_own() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (shelter, clinic) = (customer(&app, "TT-SHELTER"), customer(&app, "STA-CLINIC"));
    let admin = app.signed_in("admin").await;
    let add = |c: i64, uid: &'static str, label: &'static str| {
        let admin = &admin;
        async move {
            admin
                .post_form(
                    &format!("/admin/customers/{c}/badges"),
                    &[
                        ("uid", uid),
                        ("badge_type", "mifare_classic_1k"),
                        ("label", label),
                    ],
                )
                .await
        }
    };
    assert_eq!(
        add(shelter, "04:ab:12:cd:34:56:78", "Front desk")
            .await
            .status(),
        303
    );
    add(clinic, "04AB99CD", "").await;
    // Refused, with nothing saved: a taken UID, a malformed UID, a control character.
    add(clinic, "04AB12CD345678", "").await;
    add(shelter, "not-a-uid", "").await;
    add(shelter, "04AB12CE", "bad\u{0}label").await;
    assert_eq!(
        texts(&app, "SELECT uid AS t FROM badges ORDER BY uid"),
        vec!["04AB12CD345678", "04AB99CD"]
    );
    let page = admin
        .text(&format!("/admin/customers/{shelter}/badges"))
        .await;
    assert!(
        page.contains("04AB12CD345678")
            && page.contains("Front desk")
            && !page.contains("04AB99CD"),
        "{page}"
    );

    // A quota: new ones start full; a lower limit keeps what was used.
    assert_eq!(
        admin
            .post_form(
                &format!("/admin/customers/{shelter}/quota"),
                &[("copy_limit", "10"), ("period", "month")]
            )
            .await
            .status(),
        303
    );
    assert_eq!(quota(&app, shelter), "10/10/month");
    diesel::sql_query(format!(
        "UPDATE badge_quotas SET remaining = 7 WHERE customer_id = {shelter}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    admin
        .post_form(
            &format!("/admin/customers/{shelter}/quota"),
            &[("copy_limit", "5"), ("period", "month")],
        )
        .await;
    assert_eq!(quota(&app, shelter), "5/2/month");
    for bad in ["-1", "abc", "2000000"] {
        admin
            .post_form(
                &format!("/admin/customers/{shelter}/quota"),
                &[("copy_limit", bad), ("period", "month")],
            )
            .await;
    }
    admin
        .post_form(
            &format!("/admin/customers/{shelter}/quota"),
            &[("copy_limit", "3"), ("period", "fortnight")],
        )
        .await;
    assert_eq!(quota(&app, shelter), "5/2/month");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action IN ('badge.created', 'badge.quota_set')"), 4);

    // The customer user sees their own account's badges and quota, nothing of the clinic's.
    let customer_user = app.signed_in("customer").await;
    let own = customer_user.text("/badges").await;
    assert!(
        own.contains("04AB12CD345678")
            && own.contains("2</strong> of 5")
            && !own.contains("04AB99CD"),
        "{own}"
    );
    // Badges are kept by administrators only.
    for user in ["customer", "sales", "depot"] {
        let b = app.signed_in(user).await;
        let res = b.get(&format!("/admin/customers/{shelter}/badges")).await;
        assert_eq!(res.status(), 403, "{user}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_quota_is_reset_once_per_period_however_late_or_often_the_job_runs() {
    let app = TestApp::builder().with_demo_world().start().await;
    let shelter = customer(&app, "TT-SHELTER");
    let admin = app.signed_in("admin").await;
    admin
        .post_form(
            &format!("/admin/customers/{shelter}/quota"),
            &[("copy_limit", "4"), ("period", "day")],
        )
        .await;
    // Used up, and the workers were down for three days.
    diesel::sql_query(format!(
        "UPDATE badge_quotas SET remaining = 0, period_start = now() - interval '3 days 1 hour', next_reset_at = now() - interval '2 days 1 hour' WHERE customer_id = {shelter}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let now = Utc::now();
    // Two workers at once, then one late again: one reset in all.
    let (a, b) = std::thread::scope(|s| {
        let one = s.spawn(|| {
            outpost::badges::quota::reset_due(&mut app.conn(), now)
                .unwrap()
                .resets
        });
        let two = s.spawn(|| {
            outpost::badges::quota::reset_due(&mut app.conn(), now)
                .unwrap()
                .resets
        });
        (one.join().unwrap(), two.join().unwrap())
    });
    let again = outpost::badges::quota::reset_due(&mut app.conn(), now)
        .unwrap()
        .resets;
    assert_eq!(a.len() + b.len() + again.len(), 1, "{a:?} {b:?} {again:?}");
    let reset = a.into_iter().chain(b).next().unwrap();
    assert_eq!(reset.skipped, 2, "two whole days passed without a reset");
    assert!(reset.period_start <= now && now - reset.period_start < chrono::Duration::days(1));
    assert_eq!(quota(&app, shelter), "4/4/day");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM badge_quota_resets WHERE customer_id = {shelter}"
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'badge.quota_reset'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox WHERE topic = 'badge.quota_reset'"),
        1
    );
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM badge_quotas WHERE customer_id = {shelter} AND next_reset_at > now()")), 1);
    // Used again; the next day's run resets it again, once.
    diesel::sql_query(format!(
        "UPDATE badge_quotas SET remaining = 1 WHERE customer_id = {shelter}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let tomorrow = now + chrono::Duration::days(1);
    assert_eq!(
        outpost::badges::quota::reset_due(&mut app.conn(), tomorrow)
            .unwrap()
            .resets
            .len(),
        1
    );
    assert_eq!(
        outpost::badges::quota::reset_due(&mut app.conn(), tomorrow)
            .unwrap()
            .resets
            .len(),
        0
    );
    assert_eq!(quota(&app, shelter), "4/4/day");
    // Its reset time goes back into a period already reset into (a restore, an edit): the
    // copies used since are not given back a second time, and that is audited too.
    diesel::sql_query(format!(
        "UPDATE badge_quotas SET remaining = 1, next_reset_at = period_start + interval '1 second' WHERE customer_id = {shelter}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let later = tomorrow + chrono::Duration::hours(1);
    assert!(outpost::badges::quota::reset_due(&mut app.conn(), later)
        .unwrap()
        .resets
        .is_empty());
    assert_eq!(
        quota(&app, shelter),
        "4/1/day",
        "not refilled twice in one period"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'badge.quota_reset_skipped'"),
        1
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM badge_quotas WHERE customer_id = {shelter} AND next_reset_at > '{}'", later.to_rfc3339())),
        1,
        "due again only at the period's end"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn one_quota_that_cannot_be_read_does_not_hold_up_the_others() {
    let app = TestApp::builder().with_demo_world().start().await;
    let (shelter, clinic) = (customer(&app, "TT-SHELTER"), customer(&app, "STA-CLINIC"));
    for (who, uid) in [(shelter, "04AB12CD"), (clinic, "04AB12CE")] {
        crate::badge_copies::badge_with_quota(&mut app.conn(), who, uid, 3);
    }
    // Both due; one restored or edited by hand into a time no program can read.
    diesel::sql_query("UPDATE badge_quotas SET remaining = 0, period_start = now() - interval '40 days', next_reset_at = now() - interval '1 second'")
        .execute(&mut app.conn())
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE badge_quotas SET period_start = '-infinity' WHERE customer_id = {}",
        shelter.min(clinic)
    ))
    .execute(&mut app.conn())
    .unwrap();
    let run = outpost::badges::quota::reset_due(&mut app.conn(), Utc::now()).unwrap();
    let reset: Vec<i64> = run.resets.iter().map(|r| r.customer_id).collect();
    assert_eq!(reset, vec![shelter.max(clinic)], "{run:?}");
    assert_eq!(run.failed.len(), 1, "{run:?}");
    assert_eq!(run.failed[0].0, shelter.min(clinic));
    assert_eq!(quota(&app, shelter.max(clinic)), "3/3/month");
    app.shutdown().await;
}
