//! Cloudflare's token verification routes, which tell a client whether its token works.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::{success_with_messages, Message};
use super::path::AccountPath;
use crate::auth::AuthenticatedToken;
use crate::store::format_timestamp;

/// The result of a verification, as Cloudflare returns it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TokenStatus)]
pub struct TokenStatusView {
    /// The token's id.
    pub id: String,
    /// Always `active`: a token that is not gets a 401 before the handler runs.
    #[schema(value_type = super::openapi::TokenStatusName)]
    pub status: &'static str,
    /// When the token expires, in RFC 3339; absent for a token without expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub expires_on: Option<String>,
}

/// `GET /user/tokens/verify`.
#[utoipa::path(
    get,
    path = "/user/tokens/verify",
    operation_id = "user-api-tokens-verify-token",
    tag = "User API Tokens",
    summary = "Verify Token",
    description = "Returns the id and status of the token the request carries.",
    responses(
        (status = 200, description = "The token is valid and active.",
         body = super::openapi::TokenStatusEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn verify_token(token: AuthenticatedToken) -> HttpResponse {
    token_status(&token)
}

/// `GET /accounts/{account_id}/tokens/verify`. The token check has already rejected a token
/// that does not cover the account.
#[utoipa::path(
    get,
    path = "/accounts/{account_id}/tokens/verify",
    operation_id = "account-api-tokens-verify-token",
    tag = "Account Owned API Tokens",
    summary = "Verify Token",
    description = "Returns the id and status of the token the request carries, if it covers \
                   the account.",
    params(super::openapi::AccountPathParams),
    responses(
        (status = 200, description = "The token is valid, active and covers the account.",
         body = super::openapi::TokenStatusEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn verify_account_token(
    _account: AccountPath,
    token: AuthenticatedToken,
) -> HttpResponse {
    token_status(&token)
}

fn token_status(token: &AuthenticatedToken) -> HttpResponse {
    let view = TokenStatusView {
        id: token.id().to_string(),
        status: "active",
        expires_on: token.expires_at().as_ref().map(format_timestamp),
    };
    let message = Message {
        code: 10000,
        message: "This API Token is valid and active".into(),
        kind: None,
    };
    success_with_messages(view, &[message])
}
