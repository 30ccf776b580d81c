//! SQLite storage: connection set-up and migrations, the single writer, and the integrations
//! and API token repositories.

mod database;
mod error;
mod integrations;
mod token_reader;
mod tokens;
mod writer;

pub use database::{migrate, open, open_connection, Database, MIGRATOR};
pub use error::StoreError;
pub use integrations::{format_timestamp, IntegrationStore};
pub use token_reader::{TokenReader, TokenSet};
pub use tokens::{
    insert_token, list_tokens, revoke_token, NewToken, RevokeOutcome, StoredToken, TokenStore,
};
