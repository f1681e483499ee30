//! `GET /events`: Server-Sent Events for the signed-in viewer. Each event carries its stream id
//! (so a reconnecting browser's `Last-Event-ID` resumes where it left off), a name —
//! `activity` for things people did or that happened to their work, `changed` for figures that
//! moved (stock) — and its payload as JSON. A comment line every 30 s keeps proxies from closing
//! an idle stream and tells the server when a viewer has gone, freeing what it held.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::header::{self, ContentEncoding};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::follow::since;
use super::{parse_id, visible, LiveEvent};
use crate::auth::extract::CurrentUser;
use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::events::stream_key;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(30);
/// Missed events given to a viewer that reconnects, at most.
const CATCH_UP: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events").get(events));
}

/// Topics that are figures rather than things done: they update counters, not the log.
fn event_name(topic: &str) -> &'static str {
    match topic {
        "stock" => "changed",
        _ => "activity",
    }
}

fn frame(event: &LiveEvent) -> Bytes {
    let mut data = event.payload.clone();
    if let Some(map) = data.as_object_mut() {
        map.insert("topic".into(), json!(event.topic));
    }
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.id,
        event_name(&event.topic),
        data
    ))
}

/// Streams events to one viewer until they go. `after`: the last event id they had.
async fn feed(
    state: web::Data<AppState>,
    viewer: std::sync::Arc<Principal>,
    after: Option<String>,
    out: mpsc::Sender<Bytes>,
) {
    let live = state.service::<super::follow::Live>();
    live.viewers.fetch_add(1, Ordering::SeqCst);
    // Subscribe before catching up, so nothing falls between the two.
    let mut rx = live.subscribe(&state);
    let mut seen = after.as_deref().and_then(parse_id).unwrap_or((0, 0));
    let _ = out.send(Bytes::from_static(b"retry: 2000\n\n")).await;
    if let Some(after) = after {
        let mut conn = state.redis.clone();
        if let Ok(missed) = since(&mut conn, &stream_key(&state), &after, CATCH_UP).await {
            for event in missed {
                seen = seen.max(parse_id(&event.id).unwrap_or_default());
                if visible(&viewer, &event) && out.send(frame(&event)).await.is_err() {
                    live.viewers.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
        }
    }
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Ok(event) => {
                    let id = parse_id(&event.id).unwrap_or_default();
                    if id <= seen {
                        continue;
                    }
                    seen = id;
                    if visible(&viewer, &event) && out.send(frame(&event)).await.is_err() {
                        break;
                    }
                }
                // Too slow to keep up: the page reloads its figures from the server.
                Err(RecvError::Lagged(_)) => {
                    if out.send(Bytes::from_static(b"event: changed\ndata: {\"topic\":\"lagged\"}\n\n")).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            _ = beat.tick() => {
                if out.send(Bytes::from_static(b": heartbeat\n\n")).await.is_err() {
                    break;
                }
            }
            _ = out.closed() => break,
        }
    }
    live.viewers.fetch_sub(1, Ordering::SeqCst);
}

/// `GET /events` (text/event-stream).
async fn events(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let after = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .filter(|id| parse_id(id).is_some())
        .map(str::to_string);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    actix_web::rt::spawn(feed(state, user.0.clone(), after, tx));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Sent as it comes: no compression buffering, no proxy buffering.
        .insert_header(ContentEncoding::Identity)
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
