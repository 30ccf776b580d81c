//! API tokens: the check every API request passes, recording when tokens are used, the first
//! token of a new database, and the `ztrisk token` commands.

mod authority;
mod commands;
mod first_token;
mod last_used;
mod rejection_log;

use chrono::{DateTime, Utc};

pub use authority::{AuthenticatedToken, AuthenticationError, TokenAuthority};
pub use commands::{
    issue_token, parse_duration, revoke, run as run_token_command, IssuedToken, TokenCommand,
};
pub use first_token::{create_first_token, token_file_path};
pub use last_used::LastUsedRecorder;

use crate::domain::{AccountScope, Permission, TokenHash, TokenId, TokenSecret};
use crate::store::NewToken;

/// Makes a token with a new id and secret, created now. Only the secret's hash goes into the
/// returned `NewToken`.
pub(crate) fn new_token(
    name: &str,
    permission: Permission,
    scope: AccountScope,
    expires_at: Option<DateTime<Utc>>,
) -> (NewToken, TokenSecret) {
    let secret = TokenSecret::generate();
    let secret_hash: TokenHash = secret.hash();
    let token = NewToken {
        id: TokenId::generate(),
        name: name.to_owned(),
        secret_hash,
        permission,
        scope,
        created_at: Utc::now(),
        expires_at,
    };
    (token, secret)
}
