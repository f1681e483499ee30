//! The server, over HTTP(S) only, with the station's token and code. The station never holds
//! PostgreSQL or Redis credentials.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// How a call to the server failed, in the design's categories.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Network errors, 5xx answers (a proxy's 502 included) and "not now" answers (408, 429):
    /// retry with backoff, keep the work meanwhile.
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
    /// 401/403: the token is wrong, revoked or not this station's. Retrying will not help.
    #[error("the server refused the station's token ({0}): register the station again or rotate its token")]
    Unauthorised(u16),
    /// Other 4xx (400, 404, 409, 422…): the server refused this request for good; sending it
    /// again would be refused again.
    #[error("the server refused: {1} ({0})")]
    Refused(u16, String),
}

/// A copy job, as the server sends it (the type both sides compile).
pub use outpost_station_wire::Job;

/// One item's outcome in a sync answer.
#[derive(Debug, Deserialize)]
pub struct ItemResult {
    pub op_id: Uuid,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// For a duplicate: what became of the first one.
    #[serde(default)]
    pub original_status: Option<String>,
}

impl ItemResult {
    /// Whether the server has the copy (now, or from an earlier send).
    pub fn landed(&self) -> bool {
        self.status == "applied"
            || (self.status == "duplicate" && self.original_status.as_deref() == Some("applied"))
    }
}

pub struct Server {
    http: Client,
    base: String,
    code: String,
    token: String,
}

impl Server {
    pub fn new(base: &str, code: &str, token: &str) -> Result<Server, NetError> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Long enough for the pickup's long poll.
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| NetError::Unreachable(e.to_string()))?;
        Ok(Server {
            http,
            base: base.trim_end_matches('/').to_string(),
            code: code.into(),
            token: token.into(),
        })
    }

    fn call(&self, req: RequestBuilder) -> Result<Response, NetError> {
        let res = req
            .bearer_auth(&self.token)
            .header("X-Station-Code", &self.code)
            .send()
            .map_err(|e| NetError::Unreachable(e.to_string()))?;
        let status = res.status();
        // Throttled or timed out: the same request may pass later.
        let not_now = matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        );
        if status.is_server_error() || not_now {
            return Err(NetError::Unreachable(format!(
                "the server answered {status}"
            )));
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(NetError::Unauthorised(status.as_u16()));
        }
        if status.is_client_error() {
            let detail = res
                .json::<Value>()
                .ok()
                .and_then(|p| p.get("detail").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| status.to_string());
            return Err(NetError::Refused(status.as_u16(), detail));
        }
        Ok(res)
    }

    fn json(res: Response) -> Result<Value, NetError> {
        res.json()
            .map_err(|e| NetError::Unreachable(format!("unreadable answer: {e}")))
    }

    /// The next copy for this station, waiting up to `wait` for one.
    pub fn next_job(&self, wait: Duration) -> Result<Option<Job>, NetError> {
        let url = format!(
            "{}/api/v1/stations/jobs/next?wait={}",
            self.base,
            wait.as_secs()
        );
        let res = self.call(self.http.get(url))?;
        if res.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = Server::json(res)?;
        serde_json::from_value(body["job"].clone())
            .map(Some)
            .map_err(|e| NetError::Unreachable(format!("unreadable job: {e}")))
    }

    /// Reports a copy's result (the server applies it once; a repeat answers as the first).
    pub fn report(&self, copy_id: Uuid, body: &Value) -> Result<(), NetError> {
        let url = format!("{}/api/v1/stations/copies/{copy_id}/result", self.base);
        self.call(self.http.post(url).json(body)).map(|_| ())
    }

    /// Sends operations through the sync API; one result per operation, in order.
    pub fn push(&self, operations: Vec<Value>) -> Result<Vec<ItemResult>, NetError> {
        let url = format!("{}/api/v1/sync", self.base);
        let body =
            json!({ "device_id": format!("station:{}", self.code), "operations": operations });
        let answer = Server::json(self.call(self.http.post(url).json(&body))?)?;
        answer["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| serde_json::from_value(r["result"].clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| NetError::Unreachable(format!("unreadable sync answer: {e}")))
    }

    /// The badges section of a pull: quotas, badges and a capture envelope (`limit=0`: none of
    /// the station account's operations, which grow with every copy it records).
    pub fn pull_badges(&self) -> Result<Value, NetError> {
        let url = format!("{}/api/v1/sync/pull?since=0&limit=0", self.base);
        Ok(Server::json(self.call(self.http.get(url))?)?["badges"].clone())
    }
}
