//! Reading a request body as a JSON object, and reading its fields one by one so that every
//! problem is reported at once.

use std::fmt;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{ApiError, AppState};
use crate::domain::FieldError;

/// A request body that is a JSON object, sent as `application/json`, within the body limit
/// and without duplicate top-level keys.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (limit, timeout) = request
            .app_data::<web::Data<AppState>>()
            .map_or((64 * 1024, Duration::from_secs(10)), |state| {
                (state.body_limit, state.body_read_timeout)
            });
        let checked = check_content_type(request).and_then(|()| check_length(request, limit));
        let payload = payload.take();
        Box::pin(async move {
            checked?;
            // One deadline for the whole body, so a client that trickles a byte at a time
            // cannot hold the connection past it.
            let body = actix_web::rt::time::timeout(timeout, read_body(payload, limit))
                .await
                .map_err(|_| ApiError::BodyTimeout { timeout })??;
            parse_object(&body)
        })
    }
}

async fn read_body(mut payload: Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn check_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let mime: mime::Mime = value
        .to_str()
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(ApiError::UnsupportedMediaType)?;
    let is_json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    let is_utf8 = mime
        .get_param(mime::CHARSET)
        .is_none_or(|charset| charset == mime::UTF_8);
    if is_json && is_utf8 {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

fn check_length(request: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match length {
        Some(length) if length > limit as u64 => Err(ApiError::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Parses `body` as one JSON object. Syntax errors, invalid UTF-8 and nesting deeper than
/// serde_json's limit of 128 are malformed JSON; valid JSON of another type is `NotAnObject`.
pub fn parse_object(body: &[u8]) -> Result<JsonObject, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    match serde_json::from_slice::<TopLevel>(body) {
        Ok(TopLevel::Object(map)) => Ok(JsonObject(map)),
        Ok(TopLevel::Other) => Err(ApiError::NotAnObject),
        Err(error) => Err(ApiError::MalformedJson(error.to_string())),
    }
}

/// The top-level JSON value: an object, checked for duplicate keys, or anything else.
enum TopLevel {
    Object(Map<String, Value>),
    Other,
}

impl<'de> de::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key \"{key}\"")));
            }
            let value = access.next_value::<Value>()?;
            map.insert(key, value);
        }
        Ok(TopLevel::Object(map))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
        while access.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_unit<E>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
}

/// Reads fields of a JSON object and collects a `FieldError` for each problem.
pub struct FieldReader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

/// A field that may be absent or `null`.
pub enum Optional<T> {
    /// Absent or `null`.
    Unset,
    Set(T),
    /// Present with a problem already recorded.
    Invalid,
}

impl<'a> FieldReader<'a> {
    pub fn new(object: &'a JsonObject) -> Self {
        Self {
            object: &object.0,
            errors: Vec::new(),
        }
    }

    /// A string field that must be present and not `null`.
    pub fn required_str(&mut self, field: &str) -> Option<&'a str> {
        match self.optional_str(field) {
            Optional::Set(value) => Some(value),
            Optional::Unset => self.reject(FieldError::missing(field)),
            Optional::Invalid => None,
        }
    }

    pub fn optional_str(&mut self, field: &str) -> Optional<&'a str> {
        match self.object.get(field) {
            None | Some(Value::Null) => Optional::Unset,
            Some(Value::String(value)) => Optional::Set(value.as_str()),
            Some(_) => {
                self.errors.push(FieldError::wrong_type(field, "a string"));
                Optional::Invalid
            }
        }
    }

    /// A boolean field that may be `null`; `Err(())` if it is absent.
    pub fn nullable_bool(&mut self, field: &str) -> Result<Optional<bool>, ()> {
        match self.object.get(field) {
            None => Err(()),
            Some(Value::Null) => Ok(Optional::Unset),
            Some(Value::Bool(value)) => Ok(Optional::Set(*value)),
            Some(_) => {
                self.errors
                    .push(FieldError::wrong_type(field, "true or false"));
                Ok(Optional::Invalid)
            }
        }
    }

    /// Keeps the value of a successful parse, or records its error.
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|error| self.errors.push(error)).ok()
    }

    pub fn reject<T>(&mut self, error: FieldError) -> Option<T> {
        self.errors.push(error);
        None
    }

    /// Returns `value` if no problem was recorded, else every problem.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if !self.errors.is_empty() {
            return Err(ApiError::InvalidFields(self.errors));
        }
        value().ok_or_else(|| ApiError::Internal("field reader lost a field error".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_object_classifies_bodies() {
        let cases: [(&str, &[u8], &str); 9] = [
            ("object", br#"{"a": 1}"#, "object"),
            ("empty object", b"{}", "object"),
            ("array", b"[1, 2]", "not an object"),
            ("string", br#""text""#, "not an object"),
            ("null", b"null", "not an object"),
            ("empty", b"", "malformed"),
            ("truncated", br#"{"a": "#, "malformed"),
            ("duplicate key", br#"{"a": 1, "a": 2}"#, "malformed"),
            ("invalid UTF-8", b"{\"a\": \"\xff\"}", "malformed"),
        ];
        for (label, body, expected) in cases {
            let outcome = match parse_object(body) {
                Ok(_) => "object",
                Err(ApiError::NotAnObject) => "not an object",
                Err(ApiError::MalformedJson(_)) => "malformed",
                Err(other) => panic!("{label}: unexpected {other:?}"),
            };
            assert_eq!(outcome, expected, "{label}");
        }
    }

    #[test]
    fn parse_object_rejects_deep_nesting() {
        let body = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));

        let outcome = parse_object(body.as_bytes());

        assert!(matches!(outcome, Err(ApiError::MalformedJson(_))));
    }
}
