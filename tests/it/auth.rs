//! Sign-in, sessions, CSRF, throttling, API tokens, flags and administration of users.

use outpost::demo::seed::DEMO_PASSWORD;

use crate::common::TestApp;

#[tokio::test]
async fn sign_in_rotates_the_session_and_the_csrf_cookie() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.browser();
    b.get("/login").await;
    let csrf_before = b
        .cookie("outpost_csrf")
        .expect("csrf cookie on first contact");
    assert!(b.cookie("outpost_session").is_none());
    assert_eq!(b.sign_in("warehouse", DEMO_PASSWORD).await.status(), 303);
    let first = b.cookie("outpost_session").expect("session cookie");
    assert_ne!(
        b.cookie("outpost_csrf").unwrap(),
        csrf_before,
        "csrf cookie replaced at sign-in"
    );
    assert_eq!(b.get("/").await.status(), 200);

    // Signing in again (even as the same user) issues a new session id and ends the old one.
    assert_eq!(b.sign_in("warehouse", DEMO_PASSWORD).await.status(), 303);
    let second = b.cookie("outpost_session").unwrap();
    assert_ne!(first, second);
    let stale = app.browser_with_cookie("outpost_session", &first);
    assert_eq!(
        stale.get("/").await.status(),
        303,
        "old session id no longer works"
    );

    // Session cookies are HttpOnly and SameSite=Lax.
    let b2 = app.browser();
    let res = b2.sign_in("warehouse", DEMO_PASSWORD).await;
    let set_cookie: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("outpost_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.signed_in("driver").await;
    let session = b.cookie("outpost_session").unwrap();
    let home = b.text("/").await;
    let token = crate::common::csrf_in(&home);
    let res = b.post_raw("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.browser_with_cookie("outpost_session", &session)
            .get("/")
            .await
            .status(),
        303
    );
    let login = b.text("/login").await;
    assert!(login.contains("You have signed out."));
    app.shutdown().await;
}

#[tokio::test]
async fn csrf_missing_or_wrong_is_refused_and_changes_nothing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("superadmin").await;
    let hubs_before = app.count("SELECT count(*) AS n FROM hubs");
    let fields = [
        ("organisation_id", "1"),
        ("code", "OCR-SUB"),
        ("name", "Ocho Rios Sub-Hub"),
        ("kind", "sub"),
    ];

    let res = admin.post_raw("/admin/hubs", &fields).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("nothing was saved"));
    let mut wrong = fields.to_vec();
    wrong.push(("csrf_token", "00ff00ff"));
    assert_eq!(admin.post_raw("/admin/hubs", &wrong).await.status(), 403);
    // A token from another browser is wrong for this one.
    let other = app.browser();
    let foreign = other.csrf().await;
    let mut foreign_fields = fields.to_vec();
    foreign_fields.push(("csrf_token", &foreign));
    assert_eq!(
        admin
            .post_raw("/admin/hubs", &foreign_fields)
            .await
            .status(),
        403
    );
    // htmx-style header with the wrong value.
    let res = admin
        .client
        .post(admin.url("/admin/hubs"))
        .header("X-CSRF-Token", "nope")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT count(*) AS n FROM hubs"), hubs_before);

    // With the right token it works, by form field or by header.
    assert_eq!(admin.post_form("/admin/hubs", &fields).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) AS n FROM hubs"), hubs_before + 1);
    let token = admin.csrf().await;
    let res = admin
        .client
        .post(admin.url("/admin/hubs"))
        .header("X-CSRF-Token", token)
        .form(&[
            ("organisation_id", "1"),
            ("code", "NEG-SUB"),
            ("name", "Negril Sub-Hub"),
            ("kind", "sub"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Sign-in itself needs the token too (login CSRF).
    let fresh = app.browser();
    assert_eq!(
        fresh
            .post_raw(
                "/login",
                &[("username", "admin"), ("password", DEMO_PASSWORD)]
            )
            .await
            .status(),
        403
    );
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_are_throttled_audited_and_reveal_nothing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.browser();
    let unknown = b.sign_in("nosuchuser", "whatever-password").await;
    let known = b.sign_in("sales", "wrong-password!").await;
    assert_eq!(unknown.status(), known.status());
    let (u, k) = (unknown.text().await.unwrap(), known.text().await.unwrap());
    assert!(
        u.contains("Unknown username or wrong password.")
            && k.contains("Unknown username or wrong password.")
    );

    // Three free failures for a username, then each failure locks it for a doubling time.
    for _ in 0..3 {
        b.sign_in("sales", "wrong-password!").await;
    }
    let res = b.sign_in("sales", DEMO_PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits while locked"
    );
    assert!(res.headers().get("retry-after").is_some());
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many sign-in attempts"));
    // An unknown name is throttled the same way.
    for _ in 0..5 {
        b.sign_in("ghost", "whatever-password").await;
    }
    assert_eq!(b.sign_in("ghost", "whatever-password").await.status(), 429);
    // Every failure is in the audit log, with the client address.
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login.failed' AND actor_name = 'sales' AND client_addr IS NOT NULL"), 4);
    // Other users are not affected.
    assert_eq!(
        app.browser()
            .sign_in("driver", DEMO_PASSWORD)
            .await
            .status(),
        303
    );
    app.shutdown().await;
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_and_lose_their_sessions() {
    let app = TestApp::builder().with_demo_world().start().await;
    let driver = app.signed_in("driver").await;
    let admin = app.signed_in("admin").await;
    let driver_id = app.id_of("SELECT id FROM users WHERE username = 'driver'");
    assert_eq!(
        admin
            .post_form(
                &format!("/admin/users/{driver_id}/active"),
                &[("active", "false")]
            )
            .await
            .status(),
        303
    );
    assert_eq!(driver.get("/").await.status(), 303, "signed out at once");
    let res = app.browser().sign_in("driver", DEMO_PASSWORD).await;
    assert_eq!(res.status(), 401);
    app.shutdown().await;
}

#[tokio::test]
async fn a_role_change_ends_the_users_other_sessions_and_tokens() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = app.signed_in("warehouse").await;
    let token = password_grant(&app, "warehouse").await;
    let admin = app.signed_in("admin").await;
    let id = app.id_of("SELECT id FROM users WHERE username = 'warehouse'");
    let kin = app.hub_id("KIN-MAIN").to_string();
    let res = admin
        .post_form(
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "Winston Reid"),
                ("role", "Driver"),
                ("hub", &kin),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(warehouse.get("/").await.status(), 303, "old session ended");
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "API tokens revoked");
    // The change is audited with before and after.
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'user.role.changed' AND before->>'role' = 'WarehouseOp' AND after->>'role' = 'Driver'"), 1);
    // Signing in again gives the new role.
    let again = app.signed_in("warehouse").await;
    let me: serde_json::Value = again.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "Driver");
    app.shutdown().await;
}

#[tokio::test]
async fn admins_create_users_with_flags_off_by_default_and_only_in_their_organisation() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("admin").await;
    let mbj = app.hub_id("MBJ-SUB").to_string();
    let hra = app.hub_id("HRA-PORT").to_string();
    let gov = app
        .id_of("SELECT id FROM organisations WHERE kind = 'government'")
        .to_string();
    let agency_org = app
        .id_of("SELECT id FROM organisations WHERE kind = 'agency'")
        .to_string();
    let base = [
        ("username", "kemar"),
        ("display_name", "Kemar Brown"),
        ("role", "SalesRep"),
        ("password", "long enough password"),
    ];

    // A hub of another organisation is refused with a message; nothing is written.
    let mut bad = base.to_vec();
    bad.extend([("organisation_id", gov.as_str()), ("hub", hra.as_str())]);
    let res = admin.post_form("/admin/users", &bad).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("own organisation can be assigned"), "{body}");
    // An Admin cannot create accounts in the agency, nor hand out SuperAdmin.
    let mut other_org = base.to_vec();
    other_org.push(("organisation_id", agency_org.as_str()));
    assert_eq!(
        admin.post_form("/admin/users", &other_org).await.status(),
        422
    );
    let mut super_role = base.to_vec();
    super_role.retain(|(k, _)| *k != "role");
    super_role.extend([("role", "SuperAdmin"), ("organisation_id", gov.as_str())]);
    assert_eq!(
        admin.post_form("/admin/users", &super_role).await.status(),
        422
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE username = 'kemar'"),
        0
    );

    let mut good = base.to_vec();
    good.extend([("organisation_id", gov.as_str()), ("hub", mbj.as_str())]);
    assert_eq!(admin.post_form("/admin/users", &good).await.status(), 303);
    let kemar = app.browser();
    assert_eq!(
        kemar
            .sign_in("kemar", "long enough password")
            .await
            .status(),
        303
    );
    let me: serde_json::Value = kemar.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["role"], "SalesRep");
    assert_eq!(
        me["flags"],
        serde_json::json!({"can_change_price": false, "can_sell_below_cost": false, "can_add_foc": false, "can_see_cost": false})
    );
    assert_eq!(me["hubs"][0]["code"], "MBJ-SUB");
    // Stored flags that are null or unreadable still mean no.
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE users SET permission_flags = '{\"can_change_price\": null, \"can_see_cost\": \"yes\", \"can_add_foc\": true}' WHERE username = 'kemar'"), &mut app.conn()).unwrap();
    let me: serde_json::Value = kemar.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["flags"]["can_change_price"], false);
    assert_eq!(me["flags"]["can_see_cost"], false);
    assert_eq!(me["flags"]["can_add_foc"], true);
    // Non-admins cannot create users at all.
    let sales = app.signed_in("sales").await;
    let mut sneaky = good.clone();
    sneaky[0] = ("username", "sneaky");
    assert_eq!(sales.post_form("/admin/users", &sneaky).await.status(), 403);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM users WHERE username = 'sneaky'"),
        0
    );
    app.shutdown().await;
}

async fn password_grant(app: &TestApp, username: &str) -> serde_json::Value {
    let res = app
        .client
        .post(app.url("/api/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn api_tokens_expire_refresh_with_rotation_and_revoke() {
    let app = TestApp::builder().with_demo_world().start().await;
    let pair = password_grant(&app, "logistics").await;
    assert_eq!(pair["token_type"], "bearer");
    assert_eq!(pair["expires_in"], 3600);
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    let me = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/api/v1/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let res = me(access.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["username"],
        "logistics"
    );
    // Only hashes are stored.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM api_tokens WHERE token_hash = '{access}'"
        )),
        0
    );

    // Refresh: a new pair; the old access and refresh tokens stop working.
    let res = app
        .client
        .post(app.url("/api/v1/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let second: serde_json::Value = res.json().await.unwrap();
    let access2 = second["access_token"].as_str().unwrap().to_string();
    assert_ne!(access2, access);
    assert_eq!(me(access.clone()).await.status(), 401);
    assert_eq!(me(access2.clone()).await.status(), 200);
    // Reusing the rotated refresh token is refused and revokes the family.
    let res = app
        .client
        .post(app.url("/api/v1/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        me(access2.clone()).await.status(),
        401,
        "family revoked after reuse"
    );

    // Expiry.
    let pair = password_grant(&app, "logistics").await;
    let access3 = pair["access_token"].as_str().unwrap().to_string();
    assert_eq!(me(access3.clone()).await.status(), 200);
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE kind = 'access' AND revoked_at IS NULL"), &mut app.conn()).unwrap();
    assert_eq!(me(access3).await.status(), 401);

    // Revocation.
    let pair = password_grant(&app, "logistics").await;
    let access4 = pair["access_token"].as_str().unwrap().to_string();
    let res = app
        .client
        .post(app.url("/api/v1/token/revoke"))
        .form(&[("token", access4.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(me(access4).await.status(), 401);

    // Bad requests get RFC 6749 errors, never a 500.
    for (form, error) in [
        (
            vec![
                ("grant_type", "password"),
                ("username", "logistics"),
                ("password", "wrong-password"),
            ],
            "invalid_grant",
        ),
        (
            vec![("grant_type", "client_credentials")],
            "unsupported_grant_type",
        ),
        (vec![("username", "x")], "invalid_request"),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "opr_garbage"),
            ],
            "invalid_grant",
        ),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{form:?}");
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["error"],
            error
        );
    }
    let garbage = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth("opa_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    assert_eq!(
        garbage.headers()["content-type"],
        "application/problem+json"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn station_tokens_work_only_for_their_own_station() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = {
        let mut conn = app.conn();
        outpost::auth::tokens::issue_station_token(&mut conn, "KIN-BADGE-1").unwrap()
    };
    let res = app
        .client
        .get(app.url("/api/v1/stations/me"))
        .bearer_auth(&token)
        .header("X-Station-Code", "KIN-BADGE-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/api/v1/stations/me"))
        .bearer_auth(&token)
        .header("X-Station-Code", "OTHER")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A station token is not a user: user endpoints refuse it.
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "a station token opens only the station and sync APIs"
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM nfc_stations WHERE last_seen_at IS NOT NULL"),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_age() {
    let app = TestApp::builder()
        .with_demo_world()
        .setting("OUTPOST_SESSION_IDLE_MINUTES", "30")
        .start()
        .await;
    let b = app.signed_in("depot").await;
    let mut redis = app.state.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:session:*", app.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        (1700..=1800).contains(&ttl),
        "idle expiry follows the setting: {ttl}"
    );
    assert_eq!(b.get("/").await.status(), 200);

    // A session older than the absolute limit ends even while in use.
    let raw: String = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&raw).unwrap();
    data["created_at"] = serde_json::json!(chrono::Utc::now().timestamp() - 8 * 24 * 3600);
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg(data.to_string())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(b.get("/").await.status(), 303);
    app.shutdown().await;
}

#[tokio::test]
async fn cookies_are_secure_when_configured_for_tls() {
    let app = TestApp::builder()
        .with_demo_world()
        .setting("OUTPOST_SECURE_COOKIES", "true")
        .start()
        .await;
    let b = app.browser();
    let res = b.get("/login").await;
    let csrf_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("outpost_csrf="))
        .unwrap();
    assert!(
        csrf_cookie.contains("Secure") && csrf_cookie.contains("HttpOnly"),
        "{csrf_cookie}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn one_address_guessing_many_usernames_is_throttled() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.browser();
    // 20 failures from one address are free (a shared office NAT); the next ones wait.
    for i in 0..21 {
        b.sign_in(&format!("guess{i}"), "whatever-password").await;
    }
    let res = b.sign_in("admin", DEMO_PASSWORD).await;
    assert_eq!(res.status(), 429);
    app.shutdown().await;
}
