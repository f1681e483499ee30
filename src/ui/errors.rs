//! Renders every error response once: an HTML page for people, `application/problem+json`
//! (RFC 9457) for the API. Handlers only say *what* went wrong (`AppError`); actix's own
//! errors (no route, bad JSON, payload too large) come through here too.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use tracing_actix_web::RequestId;

use crate::error::{title_for, ErrorInfo};
use crate::ui::layout::Layout;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    title: String,
    detail: String,
    request_id: Option<String>,
}

pub fn handlers<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(render)
}

/// Whether the client should get JSON: the API namespace, or a client that asks only for JSON.
pub fn wants_json(req: &HttpRequest) -> bool {
    if req.path().starts_with("/api/") {
        return true;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("json") && !accept.contains("html")
}

fn render<B: 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let info = res.response().extensions().get::<ErrorInfo>().cloned();
    // A page that deliberately answers with an error status (a form with validation messages)
    // has already rendered itself.
    // So has `/metrics`, whose reader is a scraper (its refusals are plain text, no sign-in).
    if info.is_none()
        && (already_rendered(res.response().headers()) || res.request().path() == "/metrics")
    {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    // People who are not signed in are sent to the sign-in page, and back afterwards.
    if status == actix_web::http::StatusCode::UNAUTHORIZED && !wants_json(res.request()) {
        let next = res
            .request()
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let location = if next == "/" {
            "/login".to_string()
        } else {
            format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
            )
        };
        let (req, _) = res.into_parts();
        let redirect = HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish();
        return Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, redirect).map_into_right_body(),
        ));
    }
    let info = info.unwrap_or_else(|| ErrorInfo {
        title: title_for(status),
        detail: fallback_detail(&res),
    });
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string());
    let body = if wants_json(res.request()) {
        problem_json(
            status.as_u16(),
            &info,
            res.request().path(),
            request_id.as_deref(),
        )
    } else {
        // The signed-in person keeps their header and menu on an error page (a 403 must not
        // look as if they had been signed out).
        use actix_web::FromRequest;
        let layout =
            crate::ui::page::Page::from_request(res.request(), &mut actix_web::dev::Payload::None)
                .into_inner()
                .map(|page| {
                    let mut layout = page.layout(info.title);
                    // Who they are and the menu, but no hub names on a refusal.
                    if let Some(user) = layout.user.as_mut() {
                        user.hub_label.clear();
                    }
                    layout
                })
                .unwrap_or_else(|_| Layout::new(info.title));
        html_page(status.as_u16(), &info, request_id, layout)
    };
    let (req, old) = res.into_parts();
    let mut new = body;
    // Keep headers that matter to the client (Allow on 405, Retry-After, WWW-Authenticate).
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    *new.status_mut() = status;
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

fn already_rendered(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.starts_with("text/html")
                || ct.starts_with("application/problem+json")
                || ct.starts_with("application/json")
        })
        .unwrap_or(false)
}

fn fallback_detail<B>(res: &ServiceResponse<B>) -> String {
    let status = res.status();
    if status.is_server_error() {
        return "An unexpected error happened. It has been logged; please quote the reference below if you report it.".into();
    }
    match (status.as_u16(), res.response().error()) {
        (404, _) => "There is no page at this address.".into(),
        (_, Some(e)) => e.to_string(),
        _ => title_for(status).into(),
    }
}

fn problem_json(
    status: u16,
    info: &ErrorInfo,
    instance: &str,
    request_id: Option<&str>,
) -> HttpResponse<BoxBody> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": info.title,
        "status": status,
        "detail": info.detail,
        "instance": instance,
        "request_id": request_id,
    });
    let mut res = HttpResponse::with_body(
        actix_web::http::StatusCode::OK,
        BoxBody::new(body.to_string()),
    );
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

fn html_page(
    status: u16,
    info: &ErrorInfo,
    request_id: Option<String>,
    layout: Layout,
) -> HttpResponse<BoxBody> {
    let page = ErrorPage {
        layout,
        status,
        title: info.title.into(),
        detail: info.detail.clone(),
        request_id,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{status} {}", info.title));
    let mut res = HttpResponse::with_body(actix_web::http::StatusCode::OK, BoxBody::new(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}
