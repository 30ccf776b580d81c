//! SQLite storage: connection set-up and migrations, the single writer, checks on the
//! database file, and the integrations and API token repositories.

mod backup;
mod database;
mod error;
mod file_guard;
mod integrations;
mod outage;
mod reader;
mod token_reader;
mod tokens;
mod wal_index;
mod writer;

pub use backup::{backup, BackupSummary};
pub use database::{migrate, open, open_connection, Database, MIGRATOR};
pub use error::{StoreError, UnavailableReason};
pub use integrations::{format_timestamp, IntegrationStore};
pub use outage::log_unavailable;
pub use token_reader::{TokenReader, TokenSet};
pub use tokens::{
    insert_token, list_tokens, revoke_token, NewToken, RevokeOutcome, StoredToken, TokenStore,
};
pub use wal_index::{WalIndex, WalIndexHeader};
