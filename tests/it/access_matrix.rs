//! Every route × every demo user (one per role, plus an agency user and nobody): the answer
//! must match the permission matrix and the user's hub scope, and a refusal must leak nothing.

use outpost::auth::permissions::Permission;
use outpost::auth::roles::Role;

use crate::common::{Browser, TestApp};

/// (username, role, hub codes in scope) of the demo world.
const USERS: [(&str, Role, &[&str]); 10] = [
    (
        "superadmin",
        Role::SuperAdmin,
        &["KIN-MAIN", "MBJ-SUB", "MAN-SUB"],
    ),
    ("admin", Role::Admin, &["KIN-MAIN", "MBJ-SUB", "MAN-SUB"]),
    (
        "logistics",
        Role::LogisticsManager,
        &["KIN-MAIN", "MBJ-SUB", "MAN-SUB"],
    ),
    ("depot", Role::DepotManager, &["MBJ-SUB"]),
    ("warehouse", Role::WarehouseOp, &["KIN-MAIN"]),
    ("sales", Role::SalesRep, &["KIN-MAIN"]),
    ("driver", Role::Driver, &["MAN-SUB"]),
    (
        "auditor",
        Role::Auditor,
        &["KIN-MAIN", "MBJ-SUB", "MAN-SUB"],
    ),
    ("customer", Role::CustomerUser, &["KIN-MAIN"]),
    ("agency", Role::DepotManager, &["HRA-PORT"]),
];

const ALL_HUBS: [&str; 4] = ["KIN-MAIN", "MBJ-SUB", "MAN-SUB", "HRA-PORT"];

/// A GET route: its path (with `{hub}` for a hub id), the permission it needs, and whether it
/// is scoped to the hub in its path.
struct Route {
    path: &'static str,
    needs: Option<Permission>,
    api: bool,
}

const ROUTES: [Route; 16] = [
    Route {
        path: "/",
        needs: None,
        api: false,
    },
    Route {
        path: "/hubs",
        needs: Some(Permission::InventoryRead),
        api: false,
    },
    Route {
        path: "/hubs/{hub}",
        needs: Some(Permission::InventoryRead),
        api: false,
    },
    Route {
        path: "/audit",
        needs: Some(Permission::AuditRead),
        api: false,
    },
    Route {
        path: "/audit.csv",
        needs: Some(Permission::AuditRead),
        api: false,
    },
    Route {
        path: "/admin/users",
        needs: Some(Permission::UsersManage),
        api: false,
    },
    Route {
        path: "/admin/users/new",
        needs: Some(Permission::UsersManage),
        api: false,
    },
    Route {
        path: "/admin/organisations",
        needs: Some(Permission::HubsManage),
        api: false,
    },
    Route {
        path: "/admin/roles",
        needs: Some(Permission::RolesView),
        api: false,
    },
    Route {
        path: "/sales",
        needs: Some(Permission::SalesRead),
        api: false,
    },
    Route {
        path: "/badges/copies",
        needs: Some(Permission::BadgeCopiesRead),
        api: false,
    },
    Route {
        path: "/badges/copies.csv",
        needs: Some(Permission::BadgeCopiesRead),
        api: false,
    },
    Route {
        path: "/hubs/{hub}/adjustments/new",
        needs: Some(Permission::StockAdjust),
        api: false,
    },
    Route {
        path: "/api/v1/me",
        needs: None,
        api: true,
    },
    Route {
        path: "/api/v1/hubs",
        needs: Some(Permission::InventoryRead),
        api: true,
    },
    Route {
        path: "/api/v1/hubs/{hub}/stock",
        needs: Some(Permission::InventoryRead),
        api: true,
    },
];

fn expected(role: Role, scope: &[&str], route: &Route, hub: &str) -> u16 {
    if let Some(p) = route.needs {
        if !role.allows(p) {
            return 403;
        }
    }
    if route.path.contains("{hub}") && !scope.contains(&hub) {
        return 404;
    }
    200
}

/// Words that would reveal a hub the user may not see.
fn secrets_of(app: &TestApp, hub: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    use diesel::RunQueryDsl;
    let name: Name = diesel::sql_query(format!("SELECT name FROM hubs WHERE code = '{hub}'"))
        .get_result(&mut app.conn())
        .unwrap();
    vec![hub.to_string(), name.name]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_matrix_says_and_leaks_nothing() {
    let app = TestApp::builder().with_demo_world().start().await;
    let mut checked = 0;
    for (username, role, scope) in USERS {
        let browser: Browser = app.signed_in(username).await;
        for route in &ROUTES {
            let hubs: Vec<&str> = if route.path.contains("{hub}") {
                ALL_HUBS.to_vec()
            } else {
                vec!["KIN-MAIN"]
            };
            for hub in hubs {
                let path = route.path.replace("{hub}", &app.hub_id(hub).to_string());
                let res = browser.get(&path).await;
                let status = res.status().as_u16();
                let content_type = res
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let body = res.text().await.unwrap();
                let want = expected(role, scope, route, hub);
                assert_eq!(status, want, "{username} ({role}) GET {path}");
                checked += 1;
                if status != 200 {
                    if route.api {
                        assert_eq!(
                            content_type, "application/problem+json",
                            "{username} GET {path}"
                        );
                    } else {
                        assert!(
                            content_type.starts_with("text/html"),
                            "{username} GET {path}"
                        );
                    }
                    // Nothing of the refused hub appears: not its code, name, or id in a link.
                    for secret in secrets_of(&app, hub) {
                        assert!(
                            !body.contains(&secret),
                            "{username} GET {path} leaked '{secret}'"
                        );
                    }
                }
                // Hubs outside the scope never appear in any page or answer.
                for other in ALL_HUBS.iter().filter(|h| !scope.contains(h)) {
                    // A super admin administers every organisation's structure (not its stock).
                    if !(role == Role::SuperAdmin && route.path.starts_with("/admin")) {
                        for secret in secrets_of(&app, other) {
                            assert!(
                                !body.contains(&secret),
                                "{username} GET {path} shows out-of-scope hub '{secret}'"
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 150, "{checked} checks");
    app.shutdown().await;
}

#[tokio::test]
async fn nobody_signed_in_is_sent_to_sign_in_or_gets_401() {
    let app = TestApp::builder().with_demo_world().start().await;
    let b = app.browser();
    for route in &ROUTES {
        let path = route
            .path
            .replace("{hub}", &app.hub_id("KIN-MAIN").to_string());
        let res = b.get(&path).await;
        if route.api {
            assert_eq!(res.status(), 401, "{path}");
            assert!(res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"));
        } else {
            assert_eq!(res.status(), 303, "{path}");
            let location = res.headers()["location"].to_str().unwrap().to_string();
            let want = if path == "/" {
                "/login".to_string()
            } else {
                format!("/login?next={}", path.replace('/', "%2F"))
            };
            assert_eq!(location, want, "{path}");
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn refused_requests_are_audited() {
    let app = TestApp::builder().with_demo_world().start().await;
    let driver = app.signed_in("driver").await;
    assert_eq!(driver.get("/admin/users").await.status(), 403);
    assert_eq!(
        driver
            .get(&format!("/hubs/{}", app.hub_id("HRA-PORT")))
            .await
            .status(),
        404
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.permission.denied' AND actor_name = 'driver' AND object_id = '/admin/users'"), 1);
    // The out-of-scope hub is recorded only as the path, never as a hub reference.
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.scope.denied' AND actor_name = 'driver' AND hub_id IS NULL"), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn agency_data_stays_inside_the_agency() {
    let app = TestApp::builder().with_demo_world().start().await;
    // The agency's own user sees only the agency hub.
    let agency = app.signed_in("agency").await;
    let mine: serde_json::Value = agency.get("/api/v1/hubs").await.json().await.unwrap();
    let codes: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["hub"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["HRA-PORT"]);
    // Government users, however senior, do not see it, nor the agency's audit entries.
    for username in ["superadmin", "logistics", "auditor"] {
        let b = app.signed_in(username).await;
        let body = b.text("/api/v1/hubs").await;
        assert!(!body.contains("HRA-PORT"), "{username}");
    }
    let auditor = app.signed_in("auditor").await;
    let csv = auditor.text("/audit.csv").await;
    assert!(csv.contains("auth.login.succeeded"));
    assert!(
        !csv.lines().any(|l| l.contains(",agency,")),
        "agency user's sign-in visible to a government auditor"
    );
    app.shutdown().await;
}
