//! `/healthz`: the process is up. `/readyz`: it can do useful work (database and Redis answer),
//! so a load balancer stops sending traffic to an instance that cannot.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Resources (not bare routes) so a wrong method gets 405 with an Allow header, not 404.
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (db, redis) = futures_util::join!(check_database(&state), check_redis(&state));
    let ready = db.is_ok() && redis.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": { "database": describe(&db), "redis": describe(&redis) },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(body)
    }
}

fn describe(result: &Result<(), String>) -> serde_json::Value {
    match result {
        Ok(()) => json!("ok"),
        Err(e) => json!(e),
    }
}

async fn check_database(state: &AppState) -> Result<(), String> {
    let pool = state.db.clone();
    let check = web::block(move || -> Result<(), String> {
        let mut conn = pool
            .get_timeout(CHECK_TIMEOUT)
            .map_err(|_| "unreachable".to_string())?;
        crate::db::ping(&mut conn).map_err(|_| "query failed".to_string())
    });
    match tokio::time::timeout(CHECK_TIMEOUT + Duration::from_millis(500), check).await {
        Ok(Ok(r)) => r,
        _ => Err("timed out".into()),
    }
}

async fn check_redis(state: &AppState) -> Result<(), String> {
    let mut conn = state.redis.clone();
    let cmd = redis::cmd("PING");
    match tokio::time::timeout(CHECK_TIMEOUT, cmd.query_async::<String>(&mut conn)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err("unreachable".into()),
        Err(_) => Err("timed out".into()),
    }
}
