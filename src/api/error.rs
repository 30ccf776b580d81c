//! `ApiError`, the only error type that knows HTTP: each variant's status, stable code and
//! message. The table of codes in the README follows the `match` in `entries`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::envelope::{Envelope, ErrorEntry, ErrorSource};
use crate::domain::{FieldError, FieldErrorKind, TokenSecret};
use crate::store::{self, StoreError, UnavailableReason};

/// Header the official Cloudflare SDKs read to decide whether to retry a failed request.
pub const SHOULD_RETRY: &str = "x-should-retry";

/// Seconds a client should wait before retrying after a 503.
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body has invalid fields")]
    InvalidFields(Vec<FieldError>),
    #[error("request body is not a JSON object")]
    NotAnObject,
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("invalid path identifier: {0}")]
    InvalidIdentifier(String),
    #[error("integration not found")]
    NotFound,
    #[error("reference id already in use")]
    DuplicateReferenceId,
    #[error("account integration limit of {0} reached")]
    AccountLimitReached(u32),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request body not received within {timeout:?}")]
    BodyTimeout { timeout: std::time::Duration },
    #[error("rate limit of {requests} requests per {period_secs} seconds exceeded")]
    RateLimited {
        requests: u64,
        period_secs: u64,
        retry_after_secs: u64,
    },
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("no route for this path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("no Authorization header")]
    MissingCredentials,
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    #[error("global API key headers sent")]
    GlobalApiKey { email: bool, key: bool },
    #[error("unknown, revoked or expired API token")]
    InvalidToken,
    #[error("API token does not cover the account")]
    AccountNotAllowed,
    #[error("read-only API token on a write")]
    ReadOnlyToken,
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The envelope entries for this error: one per field for invalid fields, else one.
    pub fn entries(&self) -> Vec<ErrorEntry> {
        let entry = |code, message: String| ErrorEntry {
            code,
            message,
            source: None,
            error_chain: Vec::new(),
        };
        let single = match self {
            Self::InvalidFields(fields) => return fields.iter().map(field_entry).collect(),
            Self::NotAnObject => entry(1001, "request body must be a JSON object".into()),
            Self::MalformedJson(detail) => entry(6007, format!("malformed JSON: {detail}")),
            Self::InvalidIdentifier(message) => entry(7003, message.clone()),
            Self::NotFound => entry(1005, "integration not found".into()),
            Self::DuplicateReferenceId => entry(
                1006,
                "reference_id is already used by another integration of this account".into(),
            ),
            Self::AccountLimitReached(limit) => entry(
                1007,
                format!(
                    "the account already has the maximum of {limit} integrations; \
                     delete one before creating another"
                ),
            ),
            Self::PayloadTooLarge { limit } => {
                entry(1008, format!("request body must be at most {limit} bytes"))
            }
            Self::BodyTimeout { timeout } => entry(
                1012,
                format!(
                    "the request body was not received within {} ms; send it at once",
                    timeout.as_millis()
                ),
            ),
            // 971 is the code of Cloudflare's own API for its global rate limit.
            Self::RateLimited {
                requests,
                period_secs,
                ..
            } => entry(
                971,
                format!(
                    "More than {requests} requests per {period_secs} seconds reached. \
                     Please wait and consider throttling your request speed"
                ),
            ),
            Self::UnsupportedMediaType => entry(
                1009,
                "Content-Type must be application/json with a UTF-8 body".into(),
            ),
            Self::RouteNotFound => entry(7000, "No route for that URI".into()),
            Self::MethodNotAllowed { allow } => entry(
                7001,
                format!("Method not allowed for this route; allowed: {allow}"),
            ),
            Self::MissingCredentials => entry(
                9106,
                "Missing Authorization header: send Authorization: Bearer <API token>".into(),
            ),
            Self::MalformedAuthorization => ErrorEntry {
                error_chain: vec![entry(
                    6111,
                    format!(
                        "Invalid format for Authorization header: expected Bearer followed \
                         by an API token of {}",
                        TokenSecret::FORMAT
                    ),
                )],
                ..entry(6003, "Invalid request headers".into())
            },
            Self::GlobalApiKey { email, key } => {
                let unsupported = |code, header: &str| {
                    entry(
                        code,
                        format!(
                            "{header} is not supported: this server accepts API tokens only; \
                             send Authorization: Bearer <API token> instead of X-Auth-Email \
                             and X-Auth-Key"
                        ),
                    )
                };
                let mut chain = Vec::new();
                if *email {
                    chain.push(unsupported(6102, "X-Auth-Email"));
                }
                if *key {
                    chain.push(unsupported(6103, "X-Auth-Key"));
                }
                ErrorEntry {
                    error_chain: chain,
                    ..entry(6003, "Invalid request headers".into())
                }
            }
            Self::InvalidToken => entry(
                10000,
                "Authentication error: the API token is unknown, expired or revoked; send a \
                 valid token (an operator creates one with `ztrisk token create`)"
                    .into(),
            ),
            Self::AccountNotAllowed => entry(
                9109,
                "Unauthorized to access requested resource: the API token does not cover \
                 this account; use a token created for it (--account) or for all accounts"
                    .into(),
            ),
            Self::ReadOnlyToken => entry(
                10000,
                "Authentication error: the API token is read-only and allows only GET \
                 requests; use an edit token to create, update or delete"
                    .into(),
            ),
            Self::Unavailable(error) => entry(1010, unavailable_message(error).into()),
            Self::Internal(_) => entry(1011, "internal error; the request failed".into()),
        };
        let mut single = single;
        if let Self::DuplicateReferenceId = self {
            single.source = Some(ErrorSource {
                pointer: "/reference_id".into(),
            });
        }
        vec![single]
    }
}

/// Returns the client's message for a 503: what failed, in user terms, without paths or SQL.
fn unavailable_message(error: &StoreError) -> &'static str {
    match error.unavailable_reason() {
        Some(UnavailableReason::StorageFull) => {
            "database storage is full; the request was not applied, retry later"
        }
        Some(UnavailableReason::ReadOnly) => {
            "database is read-only; the request was not applied, retry later"
        }
        Some(UnavailableReason::Locked) => {
            "database is locked by another process; the request was not applied, retry later"
        }
        Some(UnavailableReason::FileMissing) => {
            "database file is missing or was replaced; the request was not applied, retry later"
        }
        Some(UnavailableReason::Other) | None => {
            "database unavailable; the request was not applied, retry later"
        }
    }
}

fn field_entry(field: &FieldError) -> ErrorEntry {
    let code = match field.kind {
        FieldErrorKind::Missing => 1002,
        FieldErrorKind::WrongType => 1003,
        FieldErrorKind::Invalid => 1004,
    };
    ErrorEntry {
        code,
        message: field.message.clone(),
        source: Some(ErrorSource {
            pointer: field.pointer.clone(),
        }),
        error_chain: Vec::new(),
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateReferenceId => Self::DuplicateReferenceId,
            StoreError::AccountLimitReached(limit) => Self::AccountLimitReached(limit),
            StoreError::InvalidRow(column) => {
                Self::Internal(format!("stored row has an invalid {column}"))
            }
            other => Self::Unavailable(other),
        }
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::InvalidFields(errors)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidFields(_)
            | Self::NotAnObject
            | Self::MalformedJson(_)
            | Self::InvalidIdentifier(_)
            | Self::AccountLimitReached(_)
            | Self::MissingCredentials
            | Self::MalformedAuthorization
            | Self::GlobalApiKey { .. } => StatusCode::BAD_REQUEST,
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::AccountNotAllowed | Self::ReadOnlyToken => StatusCode::FORBIDDEN,
            Self::NotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::DuplicateReferenceId => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            log_server_error(self);
        }

        let mut response = HttpResponse::build(status);
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS));
            }
            Self::BodyTimeout { .. } => {
                // The rest of the body may still arrive, so the connection cannot carry
                // another request.
                response.force_close();
                response.insert_header((SHOULD_RETRY, "false"));
            }
            Self::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, *retry_after_secs));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
                response.insert_header((SHOULD_RETRY, "false"));
            }
            Self::InvalidToken => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
                response.insert_header((SHOULD_RETRY, "false"));
            }
            _ => {
                response.insert_header((SHOULD_RETRY, "false"));
            }
        }
        response.json(Envelope::<()> {
            success: false,
            errors: &self.entries(),
            messages: &[],
            result: None,
        })
    }
}

fn log_server_error(error: &ApiError) {
    let mut causes = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push_str(": ");
        causes.push_str(&cause.to_string());
        source = cause.source();
    }
    match error {
        ApiError::Internal(detail) => tracing::error!(detail = %detail, "request failed"),
        // Under a full disk or a lock every request fails alike, so these are rate-limited.
        ApiError::Unavailable(store_error) => {
            let reason = store_error
                .unavailable_reason()
                .unwrap_or(UnavailableReason::Other);
            store::log_unavailable(reason, causes.trim_start_matches(": "));
        }
        _ => tracing::error!(error = %error, causes = %causes, "request failed"),
    }
}
