//! SQLite storage: connection set-up and migrations, the single writer, and the integrations
//! repository.

mod database;
mod error;
mod integrations;
mod writer;

pub use database::{migrate, open, Database, MIGRATOR};
pub use error::StoreError;
pub use integrations::{format_timestamp, IntegrationStore};
