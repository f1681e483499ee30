//! Health checks, error pages in both renderings, static assets and the sign-in page.

use actix_web::web;
use outpost::error::AppError;

use crate::common::TestApp;

fn failing_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/boom",
        web::get().to(|| async {
            Err::<String, _>(AppError::internal(anyhow::anyhow!(
                "secret internal detail"
            )))
        }),
    )
    .route(
        "/api/v1/boom",
        web::get().to(|| async {
            Err::<String, _>(AppError::internal(anyhow::anyhow!(
                "secret internal detail"
            )))
        }),
    )
    .route(
        "/api/v1/gone",
        web::get().to(|| async { Err::<String, _>(AppError::not_found("No such widget.")) }),
    );
}

#[tokio::test]
async fn healthz_and_readyz_answer_when_services_are_up() {
    let app = TestApp::start().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
    app.shutdown().await;
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_unreachable() {
    // Nothing listens on port 1: connections are refused at once.
    let app = TestApp::builder()
        .database_url("postgres://postgres@127.0.0.1:1/outpost")
        .start()
        .await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_ne!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
    // The process itself is still up.
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn not_found_is_html_for_people_and_problem_json_for_the_api() {
    let app = TestApp::builder()
        .extra_routes(failing_routes)
        .start()
        .await;

    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<h1 id=\"error-title\">Not found</h1>"),
        "{html}"
    );
    assert!(html.contains("Reference:"));

    let res = app.get("/api/v1/no-such-thing").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["title"], "Not found");
    assert_eq!(problem["instance"], "/api/v1/no-such-thing");
    assert!(problem["request_id"].is_string());

    // A handler's own message reaches the client.
    let problem: serde_json::Value = app.get("/api/v1/gone").await.json().await.unwrap();
    assert_eq!(problem["detail"], "No such widget.");
    app.shutdown().await;
}

#[tokio::test]
async fn internal_errors_render_without_leaking_details() {
    let app = TestApp::builder()
        .extra_routes(failing_routes)
        .start()
        .await;

    let res = app.get("/boom").await;
    assert_eq!(res.status(), 500);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong"));
    assert!(!html.contains("secret internal detail"));

    let res = app.get("/api/v1/boom").await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let text = res.text().await.unwrap();
    assert!(!text.contains("secret internal detail"));
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], 500);

    // A client that asks only for JSON outside /api gets JSON too.
    let res = app.get_accept("/boom", "application/json").await;
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_method_keeps_its_allow_header_and_is_rendered() {
    let app = TestApp::start().await;
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    app.shutdown().await;
}

#[tokio::test]
async fn assets_have_hashed_urls_and_long_cache_lifetimes() {
    let app = TestApp::start().await;
    let html = app.get("/login").await.text().await.unwrap();
    for name in ["app.css", "htmx.min.js", "icon.svg"] {
        let url = outpost::ui::assets::url(name);
        assert!(html.contains(url), "page links {url}");
        let res = app.get(url).await;
        assert_eq!(res.status(), 200, "{url}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    // The vendored htmx is served from this origin: no CDN anywhere in the page.
    assert!(!html.contains("unpkg") && !html.contains("cdn"));
    assert_eq!(app.get("/assets/app.00000000.css").await.status(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn the_sign_in_page_is_accessible_and_the_start_page_leads_to_it() {
    let app = TestApp::start().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    let res = app.get("/login").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-security-policy").is_some());
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<label for=\"username\">") && html.contains("id=\"username\""));
    assert!(
        html.contains("<label for=\"password\">")
            && html.contains("autocomplete=\"current-password\"")
    );
    assert!(html.contains("class=\"skip-link\""));
    app.shutdown().await;
}

#[tokio::test]
async fn every_request_gets_a_request_id_header_in_errors() {
    let app = TestApp::start().await;
    let a: serde_json::Value = app.get("/api/x").await.json().await.unwrap();
    let b: serde_json::Value = app.get("/api/x").await.json().await.unwrap();
    assert_ne!(a["request_id"], b["request_id"]);
    app.shutdown().await;
}

/// The Content-Security-Policy forbids inline styles and scripts; no template may use them.
#[test]
fn templates_use_no_inline_styles_or_scripts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("style=\""),
                "{} has an inline style",
                path.display()
            );
            assert!(
                !text.contains("<script>") && !text.contains(" onclick="),
                "{} has inline script",
                path.display()
            );
        }
    }
}

/// Found by schemathesis: text with a NUL byte, and values the database's CHECK constraints
/// refuse, are the caller's bad input (4xx), never a 500.
#[tokio::test]
async fn nul_bytes_and_constraint_violations_are_bad_input() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let res = app
        .client
        .get(app.url("/api/v1/hubs/1/stock?q=D%00x"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app.client.post(app.url("/api/v1/devices/report")).bearer_auth(&token).json(&serde_json::json!({ "device_id": "M\u{8d}\u{d6}\u{a9}7i", "pending_count": 1, "highest_seq": 1 })).send().await.unwrap();
    assert_eq!(res.status(), 400, "six characters, though more bytes");
    // Found by schemathesis: the largest count a JSON number can carry is bad input, not an
    // overflow in the loss arithmetic.
    for body in [
        serde_json::json!({ "device_id": "dev-tablet-0009", "pending_count": 3, "highest_seq": i64::MAX, "discarded_count": 14740 }),
        serde_json::json!({ "device_id": "dev-tablet-0009", "pending_count": 0, "highest_seq": 5, "discarded_count": i64::MAX }),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/devices/report"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    app.shutdown().await;
}

/// Found by schemathesis: an absurd page number is an empty page, not an overflow.
#[tokio::test]
async fn absurd_page_numbers_give_empty_pages() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("warehouse").await;
    let res = app
        .client
        .get(app.url("/api/v1/hubs/1/stock?page=9223372036854775807"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let b = app.signed_in("auditor").await;
    assert_eq!(b.get("/audit?page=9223372036854775807").await.status(), 200);
    assert_eq!(
        b.get("/catalog?page=9223372036854775807").await.status(),
        200
    );
    app.shutdown().await;
}
