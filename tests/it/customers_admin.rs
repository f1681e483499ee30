//! Issue 11, customers: admins create, edit, deactivate customers and assign them to users,
//! audited; another organisation's admin cannot see them; a refused form keeps what was typed.

use crate::common::{hidden_in, TestApp};

#[tokio::test]
async fn admins_manage_customers_and_who_works_with_them() {
    let app = TestApp::builder().with_demo_world().start().await;
    let kin = app.hub_id("KIN-MAIN");
    let admin = app.signed_in("admin").await;
    let page = admin.text("/admin/customers").await;
    assert!(page.contains("Trench Town Community Shelter"), "{page}");
    let csrf = hidden_in(&page, "csrf_token");
    let kin_s = kin.to_string();

    // Created, audited, listed.
    let res = admin
        .post_raw(
            "/admin/customers",
            &[
                ("csrf_token", &csrf),
                ("code", "sth-01"),
                ("name", "Spanish Town Hospital"),
                ("contact_phone", "876-555-0101"),
                ("hub_id", &kin_s),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = app.id_of("SELECT id FROM customers WHERE code = 'STH-01'");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'customer.created' AND outcome = 'applied'"), 1);
    // The same code again, and a name with NUL: refused with the values kept, nothing written.
    let res = admin
        .post_raw(
            "/admin/customers",
            &[
                ("csrf_token", &csrf),
                ("code", "STH-01"),
                ("name", "Second Hospital"),
                ("hub_id", &kin_s),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("already exists") && body.contains("value=\"Second Hospital\""),
        "{body}"
    );
    let res = admin
        .post_raw(
            "/admin/customers",
            &[
                ("csrf_token", &csrf),
                ("code", "NUL-01"),
                ("name", "Bad\u{0}Name"),
                ("hub_id", &kin_s),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM customers WHERE code IN ('NUL-01')"),
        0
    );

    // Edited: renamed, the sales rep assigned, deactivated; audited with before and after; the
    // rep's session ends because their scope changed.
    let sales = app.signed_in("sales").await;
    assert_eq!(sales.get("/").await.status(), 200);
    let sales_id = app.id_of("SELECT id FROM users WHERE username = 'sales'");
    let form = admin.text(&format!("/admin/customers/{id}")).await;
    assert!(
        form.contains("Spanish Town Hospital") && form.contains(&format!("value=\"{sales_id}\"")),
        "{form}"
    );
    let res = admin
        .post_raw(
            &format!("/admin/customers/{id}"),
            &[
                ("csrf_token", &csrf),
                ("name", "Spanish Town Public Hospital"),
                ("contact_phone", ""),
                ("hub_id", &kin_s),
                ("active", "true"),
                ("user_id", &sales_id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM user_customers WHERE customer_id = {id} AND user_id = {sales_id}")), 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'customer.updated' AND before::text LIKE '%Spanish Town Hospital%' AND after::text LIKE '%Spanish Town Public Hospital%'"), 1);
    assert_eq!(
        sales.get("/").await.status(),
        303,
        "the rep's session ended with the change"
    );
    // A value the form never offers is refused, not read as "inactive" (an independent
    // tester's finding: `active=1` deactivated the customer).
    let sales_s = sales_id.to_string();
    let edit = |active: &'static str| {
        let fields = [
            ("csrf_token", csrf.clone()),
            ("name", "Spanish Town Public Hospital".to_string()),
            ("hub_id", kin_s.clone()),
            ("active", active.to_string()),
            ("user_id", sales_s.clone()),
        ];
        let (admin, path) = (&admin, format!("/admin/customers/{id}"));
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            admin.post_raw(&path, &fields).await.status()
        }
    };
    assert_eq!(edit("1").await, 422);
    assert!(!admin.text("/admin/customers").await.contains("Inactive"));
    assert_eq!(edit("false").await, 303);
    assert!(admin.text("/admin/customers").await.contains("Inactive"));

    // Another organisation's admin neither sees nor edits it.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE users SET role = 'Admin' WHERE username = 'agency'"),
        &mut app.conn(),
    )
    .unwrap();
    let agency = app.signed_in("agency").await;
    assert!(!agency
        .text("/admin/customers")
        .await
        .contains("Spanish Town"));
    assert_eq!(
        agency.get(&format!("/admin/customers/{id}")).await.status(),
        404
    );
    let res = agency
        .post_raw(
            &format!("/admin/customers/{id}"),
            &[
                (
                    "csrf_token",
                    &hidden_in(&agency.text("/admin/customers").await, "csrf_token"),
                ),
                ("name", "Taken over"),
                ("hub_id", &kin_s),
                ("active", "true"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM customers WHERE name = 'Taken over'"),
        0
    );
    app.shutdown().await;
}
