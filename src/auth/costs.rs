//! `can_see_cost`: cost and margin are shown to nobody without the flag — in no page, JSON
//! answer or export. One middleware takes every cost field out of every JSON answer for such
//! a user, so no route (present or future) can forget it; the audit views strip the same
//! fields from the changes they show.

use std::sync::Arc;

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use serde_json::Value;

use super::principal::Principal;

/// Whether a JSON key carries a cost or a margin (`cost_basis`, `cost_cents`,
/// `total_cost_basis`, `margin`, …). The flags themselves (`can_see_cost`) are not costs.
pub fn is_cost_field(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !key.starts_with("can_") && (key.contains("cost") || key.contains("margin"))
}

/// Removes every cost field, at any depth.
pub fn strip_costs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_cost_field(k));
            map.values_mut().for_each(strip_costs);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_costs),
        _ => {}
    }
}

/// Whether the signed-in caller may see costs.
pub fn sees_costs(principal: Option<&Principal>) -> bool {
    principal.is_some_and(|p| p.flags.can_see_cost)
}

/// The middleware: JSON answers to a caller without `can_see_cost` leave without cost fields.
pub async fn hide_costs(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The API's own description names the fields; it holds no data.
    let hide = req.path() != "/api/openapi.json"
        && req
            .extensions()
            .get::<Arc<Principal>>()
            .is_some_and(|p| !p.flags.can_see_cost);
    let res = next.call(req).await?.map_into_boxed_body();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if !hide || !is_json {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("the answer could not be read"))?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            strip_costs(&mut value);
            serde_json::to_vec(&value).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    };
    head.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(body))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_cost_field_goes_at_any_depth() {
        let mut v = json!({ "items": [{ "sku": "X", "cost_basis": 4.5, "sale_price": 9.0 }], "total_cost_basis": 4.5, "count": 1, "flags": { "can_see_cost": false },
            "record": { "after": { "Cost_Cents": 450, "margin": 0.5, "location_code": "A1" } } });
        strip_costs(&mut v);
        assert_eq!(
            v,
            json!({ "items": [{ "sku": "X", "sale_price": 9.0 }], "count": 1, "flags": { "can_see_cost": false }, "record": { "after": { "location_code": "A1" } } })
        );
    }
}
