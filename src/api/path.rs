//! Extractors for the identifiers in API paths. Each parses its segment with the domain type
//! and rejects a malformed one with a 400 before the handler runs.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use percent_encoding::percent_decode_str;

use super::ApiError;
use crate::domain::{AccountTag, IntegrationId, ReferenceId};

/// The `{account_id}` of the path.
pub struct AccountPath(pub AccountTag);

/// The `{account_id}` and `{integration_id}` of the path.
pub struct IntegrationPath(pub AccountTag, pub IntegrationId);

/// The `{account_id}` and the percent-decoded `{reference_id}` of the path.
pub struct ReferencePath(pub AccountTag, pub ReferenceId);

impl FromRequest for AccountPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(account_tag(request).map(Self))
    }
}

impl FromRequest for IntegrationPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(integration_path(request))
    }
}

impl FromRequest for ReferencePath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(reference_path(request))
    }
}

fn account_tag(request: &HttpRequest) -> Result<AccountTag, ApiError> {
    let segment = request.match_info().get("account_id").unwrap_or_default();
    AccountTag::parse(segment).map_err(|_| {
        ApiError::InvalidIdentifier(format!(
            "account_id in the path must be a Cloudflare account tag: {}",
            AccountTag::FORMAT
        ))
    })
}

fn integration_path(request: &HttpRequest) -> Result<IntegrationPath, ApiError> {
    let account_tag = account_tag(request)?;
    let segment = request
        .match_info()
        .get("integration_id")
        .unwrap_or_default();
    let id = IntegrationId::parse(segment).map_err(|_| {
        ApiError::InvalidIdentifier(format!(
            "integration_id in the path must be {}",
            IntegrationId::FORMAT
        ))
    })?;
    Ok(IntegrationPath(account_tag, id))
}

/// The reference id is taken from the raw request path and percent-decoded exactly once,
/// because the router leaves some escapes (such as `%2F`) encoded and decodes others.
fn reference_path(request: &HttpRequest) -> Result<ReferencePath, ApiError> {
    let account_tag = account_tag(request)?;
    let raw = request.uri().path().rsplit('/').next().unwrap_or_default();
    Ok(ReferencePath(account_tag, decode_reference_id(raw)?))
}

/// Percent-decodes a `{reference_id}` path segment exactly once and parses the result, so
/// `team%2Fprod` is `team/prod` and `a%252F` is `a%2F`. Fails on escapes that do not decode
/// to UTF-8 and on text that `ReferenceId::parse` rejects.
pub fn decode_reference_id(segment: &str) -> Result<ReferenceId, ApiError> {
    let invalid = |message: String| {
        ApiError::InvalidIdentifier(format!("reference_id in the path is invalid: {message}"))
    };
    let decoded = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| invalid("it must be percent-encoded UTF-8".into()))?;
    ReferenceId::parse(&decoded).map_err(|error| invalid(error.message))
}
