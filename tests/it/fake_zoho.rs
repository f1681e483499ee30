//! A fake Zoho Inventory for the tests, built from Zoho's documented request and answer
//! shapes: the OAuth refresh-token endpoint, `POST /items`, `PUT /items/{id}` and
//! `GET /items?search_text=`, each checking `Authorization: Zoho-oauthtoken …` and
//! `organization_id`. Faults can be injected: an expired token, 429, 5xx, slow answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

pub const ORG: &str = "60012345";
pub const DUPLICATE_CODE: i64 = 1001;
pub const INVALID_TOKEN_CODE: i64 = 57;

#[derive(Clone, Debug)]
pub enum Fault {
    TooManyRequests,
    ServerError,
    ExpireToken,
    Slow(Duration),
    Refuse(i64, &'static str),
}

#[derive(Default)]
pub struct Books {
    pub items: Vec<Value>,
    pub tokens_issued: u32,
    pub valid_token: Option<String>,
    pub faults: VecDeque<Fault>,
    pub calls: Vec<String>,
    /// When each API call (not the token endpoint) arrived, for rate checks.
    pub call_times: Vec<std::time::Instant>,
    /// Refuse every item write with this (code, message), as Zoho does for a bad value.
    pub refusing: Option<(i64, &'static str)>,
    /// Refuse a second item with a name already taken (code 1001), as an organisation with
    /// unique item names does.
    pub unique_names: bool,
    /// Items actually created, and creations refused as duplicates.
    pub created: u32,
    pub duplicates_refused: u32,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeZoho {
    pub url: String,
    pub books: Arc<Mutex<Books>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeZoho {
    pub async fn start() -> FakeZoho {
        let books = Arc::new(Mutex::new(Books {
            next_id: 4_815_000_000_000,
            ..Default::default()
        }));
        let data = web::Data::new(books.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/oauth/v2/token", web::post().to(token))
                .route("/inventory/v1/items", web::post().to(create))
                .route("/inventory/v1/items", web::get().to(search))
                .route("/inventory/v1/items/{id}", web::put().to(update))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeZoho {
            url: format!("http://127.0.0.1:{port}"),
            books,
            handle,
        }
    }

    pub fn inject(&self, fault: Fault) {
        self.books.lock().unwrap().faults.push_back(fault);
    }

    pub fn items(&self) -> Vec<Value> {
        self.books.lock().unwrap().items.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.books.lock().unwrap().calls.clone()
    }

    pub fn tokens_issued(&self) -> u32 {
        self.books.lock().unwrap().tokens_issued
    }

    /// The settings an Outpost instance needs to talk to this fake.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OUTPOST_ZOHO_ORGANIZATION_ID", ORG.into()),
            ("OUTPOST_ZOHO_ACCOUNTS_URL", self.url.clone()),
            ("OUTPOST_ZOHO_API_URL", format!("{}/inventory/v1", self.url)),
            ("OUTPOST_ZOHO_CLIENT_ID", "1000.TESTCLIENT".into()),
            ("OUTPOST_ZOHO_CLIENT_SECRET", "test-secret".into()),
            ("OUTPOST_ZOHO_REFRESH_TOKEN", "1000.refresh.token".into()),
            ("OUTPOST_ZOHO_DUPLICATE_CODES", DUPLICATE_CODE.to_string()),
            (
                "OUTPOST_ZOHO_INVALID_TOKEN_CODES",
                INVALID_TOKEN_CODE.to_string(),
            ),
            ("OUTPOST_ZOHO_BACKOFF_MS", "20".into()),
            // Generous, so tests not about the budget are not slowed by its spacing.
            ("OUTPOST_ZOHO_REQUESTS_PER_MINUTE", "6000".into()),
            ("OUTPOST_ZOHO_MAX_ATTEMPTS", "4".into()),
        ]
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

type Shared = web::Data<Arc<Mutex<Books>>>;

fn envelope(status: u16, code: i64, message: &str, extra: Value) -> HttpResponse {
    let mut body = json!({ "code": code, "message": message });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

async fn token(req: HttpRequest, books: Shared) -> HttpResponse {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some("refresh_token")
        || get("refresh_token") != Some("1000.refresh.token")
        || get("client_id") != Some("1000.TESTCLIENT")
        || get("client_secret") != Some("test-secret")
    {
        return HttpResponse::Ok().json(json!({ "error": "invalid_code" }));
    }
    let mut b = books.lock().unwrap();
    b.tokens_issued += 1;
    let t = format!("1000.access.{}", b.tokens_issued);
    b.valid_token = Some(t.clone());
    b.calls.push("POST /oauth/v2/token".into());
    HttpResponse::Ok().json(json!({ "access_token": t, "expires_in": 3600, "api_domain": "https://www.zohoapis.com", "token_type": "Bearer" }))
}

/// Checks the token and organisation, applies the next injected fault. `Err` is the answer.
async fn gate(req: &HttpRequest, books: &Shared, call: String) -> Result<(), HttpResponse> {
    let (fault, refusing) = {
        let mut b = books.lock().unwrap();
        let write = !call.starts_with("GET");
        b.calls.push(call);
        b.call_times.push(std::time::Instant::now());
        (b.faults.pop_front(), b.refusing.filter(|_| write))
    };
    if let Some((code, message)) = refusing {
        return Err(envelope(400, code, message, json!({})));
    }
    match fault {
        Some(Fault::TooManyRequests) => return Err(HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "1"))
            .json(
                json!({ "code": 44, "message": "Maximum number of API calls per minute exceeded" }),
            )),
        Some(Fault::ServerError) => return Err(envelope(500, 500, "Internal error", json!({}))),
        Some(Fault::ExpireToken) => books.lock().unwrap().valid_token = None,
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::Refuse(code, message)) => return Err(envelope(400, code, message, json!({}))),
        None => {}
    }
    let auth = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let valid = books.lock().unwrap().valid_token.clone();
    if valid.is_none() || auth != format!("Zoho-oauthtoken {}", valid.unwrap()) {
        return Err(envelope(
            401,
            INVALID_TOKEN_CODE,
            "You are not authorized to perform this operation",
            json!({}),
        ));
    }
    if !req
        .query_string()
        .contains(&format!("organization_id={ORG}"))
    {
        return Err(envelope(400, 6041, "organization_id is invalid", json!({})));
    }
    Ok(())
}

async fn create(req: HttpRequest, books: Shared, body: web::Json<Value>) -> HttpResponse {
    if let Err(answer) = gate(&req, &books, "POST /items".into()).await {
        return answer;
    }
    let mut b = books.lock().unwrap();
    let sku = body["sku"].as_str().unwrap_or_default().to_string();
    if b.items.iter().any(|i| i["sku"] == sku) {
        b.duplicates_refused += 1;
        return envelope(400, DUPLICATE_CODE, "The SKU already exists.", json!({}));
    }
    if b.unique_names && b.items.iter().any(|i| i["name"] == body["name"]) {
        return envelope(
            400,
            DUPLICATE_CODE,
            "The item name already exists.",
            json!({}),
        );
    }
    b.created += 1;
    b.next_id += 1;
    let mut item = body.into_inner();
    item["item_id"] = json!(b.next_id.to_string());
    b.items.push(item.clone());
    envelope(201, 0, "The item has been added.", json!({ "item": item }))
}

async fn update(
    req: HttpRequest,
    books: Shared,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> HttpResponse {
    let id = path.into_inner();
    if let Err(answer) = gate(&req, &books, format!("PUT /items/{id}")).await {
        return answer;
    }
    let mut b = books.lock().unwrap();
    let Some(item) = b.items.iter_mut().find(|i| i["item_id"] == id) else {
        return envelope(404, 2006, "Item does not exist.", json!({}));
    };
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        item[k] = v;
    }
    let item = item.clone();
    envelope(
        200,
        0,
        "Item details have been saved.",
        json!({ "item": item }),
    )
}

async fn search(req: HttpRequest, books: Shared) -> HttpResponse {
    if let Err(answer) = gate(&req, &books, "GET /items".into()).await {
        return answer;
    }
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let text = q
        .iter()
        .find(|(k, _)| k == "search_text")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let items: Vec<Value> = books
        .lock()
        .unwrap()
        .items
        .iter()
        .filter(|i| i["sku"].as_str().is_some_and(|s| s.contains(&text)))
        .cloned()
        .collect();
    envelope(
        200,
        0,
        "success",
        json!({ "items": items, "page_context": { "page": 1, "per_page": 200, "has_more_page": false } }),
    )
}
