//! Cloudflare's token verification routes, which tell a client whether its token works.

use actix_web::HttpResponse;
use serde::Serialize;

use super::envelope::{success_with_messages, Message};
use super::path::AccountPath;
use crate::auth::AuthenticatedToken;
use crate::store::format_timestamp;

/// The result of a verification, as Cloudflare returns it.
#[derive(Debug, Serialize)]
pub struct TokenStatusView {
    pub id: String,
    /// Always `active`: a token that is not gets a 401 before the handler runs.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
}

/// `GET /user/tokens/verify`.
pub async fn verify_token(token: AuthenticatedToken) -> HttpResponse {
    token_status(&token)
}

/// `GET /accounts/{account_id}/tokens/verify`. The token check has already rejected a token
/// that does not cover the account.
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
