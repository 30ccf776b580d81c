//! SQLite storage: connection set-up and migrations, the single writer, checks on the
//! database file, and the integrations repository.

mod backup;
mod database;
mod error;
mod file_guard;
mod integrations;
mod outage;
mod writer;

pub use backup::{backup, BackupSummary};
pub use database::{migrate, open, Database, MIGRATOR};
pub use error::{StoreError, UnavailableReason};
pub use integrations::{format_timestamp, IntegrationStore};
pub use outage::log_unavailable;
