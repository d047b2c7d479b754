use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The largest request body the REST endpoints take, unless a scope sets a
/// `BodyLimit` of its own.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Per-scope limit on request bodies, set as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A request body that is a JSON object, with accessors whose errors name
/// the offending field. Any Content-Type is accepted, so `curl -d` works.
#[derive(Debug)]
pub struct JsonObject(Map<String, Value>);

impl From<Map<String, Value>> for JsonObject {
    fn from(map: Map<String, Value>) -> JsonObject {
        JsonObject(map)
    }
}

impl JsonObject {
    pub fn parse(bytes: &[u8]) -> Result<JsonObject, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid(
                "the request body is empty; send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(other) => Err(ApiError::invalid(format!(
                "the request body must be a JSON object, not {}",
                json_type(&other)
            ))),
            Err(e) => Err(ApiError::invalid(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// A string field; absent is `None`, and null is refused (for fields
    /// where null would mean nothing the API document can say).
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.nullable_str(name)? {
            None => Ok(None),
            Some(Some(s)) => Ok(Some(s)),
            Some(None) => Err(ApiError::invalid_field(
                name,
                format!("`{name}` must be a string, not null"),
            )),
        }
    }

    /// A string field that may be null: absent is `None`, null `Some(None)`.
    pub fn nullable_str(&self, name: &str) -> Result<Option<Option<&str>>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(other) => Err(ApiError::invalid_field(
                name,
                format!("`{name}` must be a string, not {}", json_type(other)),
            )),
        }
    }

    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        self.optional_str(name)?
            .ok_or_else(|| ApiError::invalid_field(name, format!("`{name}` is required")))
    }

    /// An array-of-strings field; missing and null are `None`.
    pub fn optional_str_array(&self, name: &str) -> Result<Option<Vec<&str>>, ApiError> {
        let items = match self.0.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(ApiError::invalid_field(
                    name,
                    format!(
                        "`{name}` must be an array of strings, not {}",
                        json_type(other)
                    ),
                ))
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(ApiError::invalid_field(
                    format!("{name}[{i}]"),
                    format!("`{name}[{i}]` must be a string, not {}", json_type(other)),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|len| len > limit) {
                return Err(ApiError::too_large(limit));
            }
            let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(crate::http::body_read_error)?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            JsonObject::parse(&body)
        })
    }
}
